"""Small helpers shared by the extras modules: runbook links and promtool test cases."""

from __future__ import annotations

import re
from typing import Any

from regslo.outputs.rules import settings_of


def runbook(config: Any, page: str) -> str:
    """The runbook URL of ``page`` under ``alerting.runbook_base_url`` (docs/runbooks by default)."""
    return f"{settings_of(config)[0]}/{page}"


def alert_annotations(config: Any, page: str, summary: str, description: str) -> dict[str, str]:
    """An alert's summary, description, runbook URL and, when ``dashboards.url`` is set, its on-call dashboard."""
    runbooks, dashboards = settings_of(config)
    out = {"summary": summary, "description": description, "runbook_url": f"{runbooks}/{page}"}
    if dashboards:
        out["dashboard"] = f"{dashboards}/d/regslo-oncall"
    return out


def expected_alert(rule: dict, labels: dict[str, str]) -> dict:
    """promtool's ``exp_alerts`` entry for ``rule`` firing with ``labels``: annotations with their
    ``{{ $labels.x }}`` templates filled in, as Prometheus renders them."""
    def fill(text: str) -> str:
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), text)
    return {"exp_labels": {**labels, **rule["labels"]},
            "exp_annotations": {k: fill(v) for k, v in rule["annotations"].items()}}


def promtool_case(name: str, series: list[tuple[str, str]], checks: list[tuple[str, str, list[dict]]]) -> dict:
    """One promtool test: input ``(series, values)`` at 1m intervals and ``(eval_time, alertname,
    exp_alerts)`` checks."""
    return {"name": name, "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series],
            "alert_rule_test": [{"eval_time": t, "alertname": a, "exp_alerts": e} for t, a, e in checks]}


def first_registry(config: Any) -> str:
    """A registry name for test series: the config's first, or ``r1``."""
    return config.registries[0].name if config.registries else "r1"
