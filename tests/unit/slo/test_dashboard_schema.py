"""Generated Grafana dashboards against Grafana's published types (@grafana/schema 13.2.3, vendored in
tests/data/grafana-schema with its Apache-2.0 licence; see the README there).

The TypeScript declarations are read by tests/support/tstypes.py. Checked: the dashboard against
``Dashboard`` (every key declared, required keys present, values of the declared types, enums), every
panel against ``Panel`` / ``RowPanel``, each panel's ``options`` against its plugin's ``Options`` (stat,
table, timeseries: so no stat-only ``reduceOptions`` on a table), ``fieldConfig.defaults.custom`` against
the plugin's ``FieldConfig`` (a stat has none), and ``schemaVersion`` equal to the package's
``defaultDashboard.schemaVersion``. The last test breaks dashboards on purpose: the checker must notice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from regslo.config import load_config, parse_config
from regslo.demo.configs import embedded_config
from regslo.outputs.dashboards import SCHEMA_VERSION, render_all
from tests.support.tstypes import check, parse_module

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "tests" / "data" / "grafana-schema"
PLUGINS = ("stat", "table", "timeseries")


@pytest.fixture(scope="module")
def types():
    common = parse_module((SCHEMA / "common.gen.d.ts").read_text())
    dashboard = parse_module((SCHEMA / "dashboard.types.gen.d.ts").read_text())
    plugins = {p: parse_module((SCHEMA / f"panelcfg.{p}.types.gen.d.ts").read_text(), {"common": common, "ui": common})
               for p in PLUGINS}
    return dashboard, plugins


def problems(doc: dict, types) -> list[str]:
    dashboard, plugins = types
    out = check(doc, ("ref", "Dashboard"), dashboard)
    for panel in doc.get("panels") or []:
        if panel.get("type") == "row":
            continue
        where = f"panel {panel.get('title')!r} ({panel.get('type')})"
        if panel.get("type") not in plugins:
            out.append(f"{where}: a panel type this test has no types for")
            continue
        plugin = plugins[panel["type"]]
        out += check(panel.get("options", {}), ("ref", "Options"), plugin, f"{where}.options")
        custom = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("custom")
        if custom is not None:
            if "FieldConfig" not in plugin.decls:
                out.append(f"{where}: fieldConfig.defaults.custom on a panel type without custom field config")
            else:
                out += check(custom, ("ref", "FieldConfig"), plugin, f"{where}.custom")
    return out


def _dashboards():
    example = load_config(ROOT / "examples" / "regslo.yml", check_secrets=False)
    demo = parse_config(yaml.safe_dump(embedded_config()), check_secrets=False)
    return [(f"{label}/{name}", json.loads(text)) for label, config in (("example", example), ("demo", demo))
            for name, text in render_all(config).items()]


def test_schema_version_is_the_current_one():
    mjs = (SCHEMA / "dashboard.types.gen.mjs").read_text()
    default = re.search(r"const defaultDashboard = \{[^}]*schemaVersion: (\d+)", mjs)
    assert default and SCHEMA_VERSION == int(default.group(1))


@pytest.mark.parametrize("name, doc", _dashboards(), ids=lambda v: v if isinstance(v, str) else "")
def test_generated_dashboards_match_grafanas_types(name, doc, types):
    assert doc["schemaVersion"] == SCHEMA_VERSION
    assert {p["type"] for p in doc["panels"]} <= {"row", *PLUGINS}
    assert problems(doc, types) == []


def test_committed_dashboards_are_the_checked_ones(types):
    for path in sorted((ROOT / "dashboards").glob("*.json")):
        assert problems(json.loads(path.read_text()), types) == [], path.name


@pytest.mark.parametrize("edit, expected", [
    (lambda d: _first(d, "table")["options"].update(reduceOptions={"calcs": ["lastNotNull"]}),
     "options.reduceOptions: not declared"),
    (lambda d: _first(d, "stat")["options"].pop("colorMode"), "options.colorMode: required, missing"),
    (lambda d: _first(d, "stat")["fieldConfig"]["defaults"].update(custom={"drawStyle": "line"}),
     "panel type without custom field config"),
    (lambda d: _first(d, "timeseries")["options"]["tooltip"].update(mode="sometimes"), "is not one of"),
    (lambda d: d.update(schemaVersion="42"), "expected number"),
    (lambda d: d.update(style="dark"), "$.style: not declared"),
    (lambda d: d["panels"][1]["gridPos"].pop("w"), "gridPos.w: required, missing"),
])
def test_the_checker_catches_broken_dashboards(edit, expected, types):
    docs = {name: doc for name, doc in _dashboards()}
    doc = json.loads(json.dumps(docs["example/regslo-exec.json"]))  # stat and timeseries panels, plus a table:
    doc["panels"] += [p for p in docs["example/regslo-oncall.json"]["panels"] if p["type"] == "table"]
    edit(doc)
    found = problems(doc, types)
    assert any(expected in p for p in found), found


def _first(doc: dict, kind: str) -> dict:
    return next(p for p in doc["panels"] if p["type"] == kind)
