"""A Grafana panel as a dict, shaped like the templates' ``m.panel`` macro (for extras modules)."""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def panel(title: str, queries: list[tuple[str, str]], *, type: str = "timeseries", unit: str = "short",
          w: int = 12, h: int = 8, description: str = "", max: float | None = None,
          steps: list[tuple[str, float | None]] | None = None) -> dict[str, Any]:
    instant = type in ("stat", "table")
    targets = []
    for i, (expr, legend) in enumerate(queries):
        target = {"refId": "ABCDEFGHIJ"[i], "datasource": dict(DATASOURCE), "expr": expr,
                  "legendFormat": legend or "__auto"}
        if instant:
            target.update({"instant": True, "format": "table"})
        targets.append(target)
    defaults: dict[str, Any] = {"unit": unit}
    if max is not None:
        defaults["min"] = 0
        defaults["max"] = max
    defaults["thresholds"] = {"mode": "absolute", "steps": [{"color": c, "value": v}
                                                            for c, v in (steps or [("green", None)])]}
    defaults["mappings"] = []
    if steps and type == "timeseries":
        defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
    options: dict[str, Any] = {}  # each panel type's options come from dashboards.PANEL_OPTIONS
    return {"type": type, "title": title, "description": description, "datasource": dict(DATASOURCE),
            "gridPos": {"w": w, "h": h}, "targets": targets, "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options}


def row(title: str) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"w": 24, "h": 1}}
