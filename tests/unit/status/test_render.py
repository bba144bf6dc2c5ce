"""The HTML page and its SVG charts: escaped, self-contained, and showing what the model says."""

from __future__ import annotations

import re

from regslo.config import parse_config
from regslo.events import ProbeResult, ReplicationResult
from regslo.outputs import svg
from regslo.outputs.status import build_status, render_html
from regslo.outputs.status_slo import slo_entry
from regslo.sli.recent import RecentResults
from tests.unit.status.dom import Elements

NOW = 1_800_000_000.0
CONFIG = """
registries:
  - {name: us, url: "http://127.0.0.1:5001", region: us-east}
  - {name: eu, url: "http://127.0.0.1:5002", region: eu-west}
probes: {interval: 10s, timeout: 5s}
replication:
  - {source: us, destination: eu}
"""


def page(results=(), slos=(), message="connection refused"):
    config = parse_config(CONFIG)
    recent = RecentResults(config)
    for r in results:
        (recent.probe_result if isinstance(r, ProbeResult) else recent.replication_result)(r)
    recent.probe_result(ProbeResult("eu", "eu-west", "ping", False, 0.002, "connect", message, timestamp=NOW - 1))
    status = build_status(config, recent.snapshot(), [slo_entry(s) for s in slos], now=NOW)
    return status, render_html(status)


def test_page_is_self_contained_and_refreshes():
    _, html = page()
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)="(https?:)?//', html), "no external assets or absolute links"
    assert re.search(r'<meta http-equiv="refresh" content="15">', html)
    assert "<style>" in html and "<link" not in html


def test_everything_from_outside_is_escaped():
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    status, html = page(message=evil)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert status["registries"][1]["probes"][0]["message"] == evil  # escaped on output, not mangled in data


def test_rows_carry_machine_readable_values():
    results = [ProbeResult("us", "us-east", "push", True, 0.25, phases={"blob_upload": 0.2, "manifest_put": 0.04},
                           timestamp=NOW - 4),
               ReplicationResult("us", "eu", "ok", 3.5, timestamp=NOW - 8)]
    slos = [{"name": "pull-availability", "objective": 99.9, "sli": 0.9991, "error_budget_remaining": 0.1,
             "burn_rates": {"1h": 0.9, "5m": 16.0}}]
    _, html = page(results, slos)
    doc = Elements(html)
    (us,) = doc.find("tr", class_="registry", data_registry="us")
    assert us["data-status"] == "unknown" and us["data-region"] == "us-east"  # ping and pull have not run
    (push,) = doc.find("td", class_="probe", data_probe="push")[:1]
    assert push["data-ok"] == "true" and float(push["data-duration"]) == 0.25
    (eu_ping,) = [a for a in doc.find("td", class_="probe", data_probe="ping") if a.get("data-reason")]
    assert eu_ping["data-ok"] == "false" and eu_ping["data-reason"] == "connect"
    (slo,) = doc.find("tr", class_="slo")
    assert slo["data-slo"] == "pull-availability" and slo["data-status"] == "critical"
    assert doc.find("span", class_="burn", data_window="5m")[0]["data-rate"] == "16.0"
    (rep,) = doc.find("tr", class_="replication")
    assert (rep["data-source"], rep["data-destination"], rep["data-lag"]) == ("us", "eu", "3.5")
    assert doc.find("td", data_phase="blob_upload", data_seconds="0.2")
    assert doc.find("tr", class_="failure", data_registry="eu", data_reason="connect")
    text = "".join(doc.text)
    assert "2027-01-15T07:59:56Z" in text and "4 s ago" in text  # UTC ISO time and age


def test_without_slos_the_page_says_so():
    _, html = page()
    doc = Elements(html)
    assert doc.find("p", id="no-slos") and not doc.find("table", id="slo-table")


def test_line_chart_scales_splits_gaps_and_drops_points_outside_the_window():
    series = [svg.Series("push", [(90, 5.0), (110, 0.2), (120, 0.4), (130, None), (140, 0.3), (150, 0.1)],
                         marks=[130])]
    out = str(svg.line_chart(series, 100, 200, width=144, height=60, label="us <probe>"))
    assert out.startswith("<svg") and "us &lt;probe&gt;" in out
    assert out.count("<polyline") == 2, "the None at t=130 splits the line"
    assert 'class="mark bad"' in out
    assert ">500 ms<" in out, "axis top is the next 1-2-5 step above the largest value in the window (0.4 s)"
    assert "no data yet" in str(svg.line_chart([svg.Series("push", [])], 100, 200))


def test_nice_max():
    assert [svg.nice_max(v) for v in (0, 0.004, 0.4, 1.0, 1.2, 3, 7, 140)] == [1, 0.005, 0.5, 1, 2, 5, 10, 200]


def test_status_strip_draws_failures_on_top():
    out = str(svg.status_strip([(110, True), (120, False), (130, True), (50, False)], 100, 200))
    assert out.count('class="ok"') == 2 and out.count('class="bad"') == 1  # t=50 is outside the window
    assert out.rindex('class="bad"') > out.rindex('class="ok"')


def test_repeated_failures_fold_into_one_row_with_a_count():
    results = [ProbeResult("us", "us-east", "push", False, 0.1, "auth", "401", timestamp=NOW - 30 + i)
               for i in range(5)]
    _, html = page(results)
    rows = Elements(html).find("tr", class_="failure")
    assert [(r["data-registry"], r["data-reason"], r["data-count"]) for r in rows] == [
        ("eu", "connect", "1"), ("us", "auth", "5")]
    assert "since 2027-01-15T07:59:30Z" in html


def test_budget_bar_follows_the_budget_and_a_spent_budget_reads_red():
    slos = [{"name": n, "objective": 99.0, "sli": 0.99, "error_budget_remaining": b, "burn_rates": {"1h": 0.1}}
            for n, b in (("full", 0.9), ("low", 0.1), ("spent", -0.5))]
    _, html = page(slos=slos)
    bars = [a["class"] for a in Elements(html).tags_inside("div", "budgetbar")]
    assert bars == ["ok", "warn", "critical"]
    assert '<span class="spent">-50 %</span>' in html
