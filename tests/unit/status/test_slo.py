"""The SLO table from the real SLOState, fed by the real probe metrics sink: no hand-written snapshot shape."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry

from regslo.config import parse_config
from regslo.events import ProbeResult
from regslo.outputs.status import build_status, render_html
from regslo.outputs.status_slo import slo_snapshot
from regslo.sli.probe_metrics import ProbeMetrics
from regslo.sli.recent import RecentResults
from regslo.slo.state import SLOState
from tests.unit.status.dom import Elements

CONFIG = """
registries:
  - {name: us, url: "http://127.0.0.1:5001", region: us-east}
probes: {interval: 10s, timeout: 5s}
slos:
  - name: pull-availability
    description: Test images can be pulled
    sli: {kind: availability, source: probe, operation: pull}
    objective: 99
    period: 1d
"""


def run(outage_from: float, until: float = 3 * 3600):
    """Probe results every 10 s; pulls fail from ``outage_from``; SLO state sampled every 15 s."""
    config = parse_config(CONFIG)
    registry = CollectorRegistry()
    metrics, recent = ProbeMetrics(config, registry), RecentResults(config)
    state = SLOState(config.slos, registry, None, interval=15)
    t = 0.0
    while t <= until:
        result = ProbeResult("us", "us-east", "pull", t < outage_from, 0.05,
                             None if t < outage_from else "connect", timestamp=t)
        metrics.probe_result(result)
        recent.probe_result(result)
        if t % 30 == 0:
            state.sample(now=t)
        t += 10
    return config, recent, state


def test_healthy_slo_is_ok_with_full_budget():
    config, recent, state = run(outage_from=float("inf"))
    (slo,) = slo_snapshot(state)
    assert (slo["name"], slo["period"], slo["status"], slo["alert"]) == ("pull-availability", "1d", "ok", None)
    assert slo["objective_ratio"] == 0.99 and slo["sli_ratio"] == 1.0 and slo["error_budget_remaining_ratio"] == 1.0
    assert slo["burn_rates"] and all(b["rate"] == 0.0 for b in slo["burn_rates"])
    assert all(b["level"] is None for b in slo["burn_rates"])
    assert {t["severity"] for t in slo["tiers"]} == {"page", "ticket"} and not any(t["firing"] for t in slo["tiers"])
    json.dumps(slo)


def test_an_outage_pages_and_the_page_shows_it():
    config, recent, state = run(outage_from=2 * 3600)
    (slo,) = slo_snapshot(state)
    assert slo["alert"] == "page" and slo["status"] == "critical"
    assert slo["sli_ratio"] < 0.99 and slo["error_budget_remaining_ratio"] < 0
    # a window is "page" when its rate exceeds the factor of a page tier that uses it
    page_tiers = [t for t in slo["tiers"] if t["severity"] == "page"]
    for b in slo["burn_rates"]:
        reaches = any(b["window"] in (t["long_window"], t["short_window"]) and b["rate"] > t["burn_rate"]
                      for t in page_tiers)
        assert (b["level"] == "page") == reaches, b
    assert any(b["level"] == "page" for b in slo["burn_rates"])

    status = build_status(config, recent.snapshot(), [slo], now=3 * 3600)
    doc = Elements(render_html(status))
    (row,) = doc.find("tr", class_="slo", data_slo="pull-availability")
    assert row["data-status"] == "critical" and row["data-alert"] == "page"
    assert float(doc.find("td", class_="sli")[0]["data-value"]) == slo["sli_ratio"]
    assert doc.find("span", class_="hot", data_level="page")  # a window burning at page level stands out
    assert doc.find("span", class_="tier", data_severity="page", data_firing="true")
