"""Config -> Grafana dashboards (exec, on-call, debug) from the jinja2 templates in templates/dashboards/.

Templates say what each panel shows; this module gives the SLOs to them, parses the result as JSON (a
template mistake fails here, not in Grafana), assigns panel ids and grid positions left to right, and
writes stable, indented JSON. Every query names only metrics regslo exports or rules it generates
(tests/integration/slo/test_dashboards.py runs each one through a real Prometheus).
"""

from __future__ import annotations

import json
from typing import Any

import jinja2

from regslo.slo.model import SLO, number, period_text
from regslo.units import format_duration

DASHBOARDS = {"regslo-exec.json": "exec.json.j2", "regslo-oncall.json": "oncall.json.j2",
              "regslo-debug.json": "debug.json.j2"}
GRID_WIDTH = 24
TIER_COLOURS = {"page": "red", "ticket": "orange"}
# Grafana's current dashboard JSON model: defaultDashboard.schemaVersion of @grafana/schema 13.2.3, whose
# types tests/integration/slo/test_dashboard_schema.py checks every dashboard against
SCHEMA_VERSION = 42
# Each panel type's options as @grafana/schema declares them (required fields included); a table has no
# reduceOptions, a stat no legend. Extra panels (regslo/outputs/extras) get these where they leave them out.
PANEL_OPTIONS: dict[str, dict[str, Any]] = {
    "timeseries": {"legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True},
                   "tooltip": {"mode": "multi", "sort": "desc"}},
    "stat": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "orientation": "auto",
             "colorMode": "value", "graphMode": "none", "justifyMode": "auto", "textMode": "auto",
             "wideLayout": True, "showPercentChange": False, "percentChangeColorMode": "standard"},
    "table": {"frameIndex": 0, "showHeader": True, "cellHeight": "sm"},
}


class DashboardError(RuntimeError):
    """A template rendered something that is not a valid dashboard (a bug in regslo, never user input)."""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("regslo", "templates/dashboards"),
                             extensions=["jinja2.ext.do"], undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True)
    env.globals.update(panel_options=lambda kind: PANEL_OPTIONS.get(kind, {}), schema_version=SCHEMA_VERSION)
    return env


def slo_context(slo: SLO) -> dict[str, Any]:
    tiers = sorted(slo.tiers, key=lambda t: t.burn_rate)
    steps = [["green", None]] + [[TIER_COLOURS[t.severity], t.burn_rate] for t in tiers]
    text = "; ".join(f"{t.severity} when {format_duration(t.long_window)} and {format_duration(t.short_window)} "
                     f"burn over {number(t.burn_rate)}x" for t in slo.tiers)
    return {"name": slo.name, "description": slo.description, "period": period_text(slo.period),
            "objective_ratio": slo.objective_ratio, "steps": steps, "tiers_text": text}


def layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give panels ids and flow them into Grafana's 24-column grid; rows start a new line."""
    x = y = line_height = 0
    for pid, panel in enumerate(panels, start=1):
        grid = panel["gridPos"]
        w, h = grid["w"], grid["h"]
        if panel["type"] == "row" or x + w > GRID_WIDTH:
            y += line_height
            x = line_height = 0
        panel["id"] = pid
        panel["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x += w
        line_height = max(line_height, h)
        if panel["type"] == "row":
            y += h
            x = line_height = 0
    return panels


def render(template: str, config: Any) -> str:
    from regslo.outputs import extras
    text = _environment().get_template(template).render(slos=[slo_context(s) for s in config.slos])
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DashboardError(f"{template} rendered invalid JSON: {exc}") from None
    for panel in extras.panels(config, template.split(".", 1)[0]):
        defaults = PANEL_OPTIONS.get(panel["type"])
        if defaults:  # rows (and other option-less types) get no options object
            options = panel.setdefault("options", {})
            for key, value in defaults.items():
                options.setdefault(key, json.loads(json.dumps(value)))
        doc["panels"].append(panel)
    layout(doc["panels"])
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_all(config: Any) -> dict[str, str]:
    return {name: render(template, config) for name, template in DASHBOARDS.items()}


def queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard: panel targets and query variables (label_values inner)."""
    out = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            out.append(var["query"]["query"])
    return out
