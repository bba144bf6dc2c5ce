"""Requests of regslo's image inspector (User-Agent regslo-inspector/...) are not user traffic: every log
format skips them (counted as ignored lines), on real distribution 2.8 logs whose skopeo requests are
rewritten to carry the inspector's User-Agent."""

from __future__ import annotations

import json

import pytest

from regslo.sli.log_metrics import LogMetrics
from regslo.sources.logs.classify import INSPECTOR_USER_AGENT
from regslo.sources.logs.formats import make_parser
from regslo.sources.logs.formats.notifications import NotificationParser
from tests.unit.logs.support import run_lines, total


def _as_inspector(text: str, quoted: bool) -> str:
    ua = INSPECTOR_USER_AGENT
    if quoted:  # logfmt quotes a value with spaces
        text = text.replace("http.request.useragent=skopeo/1.9.3", f'http.request.useragent="{ua}"')
    return text.replace('"skopeo/1.9.3"', json.dumps(ua))


@pytest.mark.parametrize("name, fmt", [("r1-json-mixed.log", "distribution"), ("r2-text-mixed.log", "distribution"),
                                       ("r1-json-mixed.log", "distribution-json"),
                                       ("r2-text-mixed.log", "distribution-text")])
def test_distribution_formats_skip_inspector_requests(samples, name, fmt):
    text = (samples / name).read_text()
    quoted = "text" in name
    before, _ = run_lines(fmt, text.encode())
    after, _ = run_lines(fmt, _as_inspector(text, quoted).encode())
    if fmt == "distribution":  # requests come from the access lines
        skopeo = sum(1 for line in text.splitlines() if line.endswith('"skopeo/1.9.3"'))
    else:  # requests come from the completion lines
        skopeo = sum(1 for line in text.splitlines() if "response completed" in line and "skopeo/1.9.3" in line)
    assert skopeo > 5
    assert total(after, "regslo_registry_requests_total") == total(before, "regslo_registry_requests_total") - skopeo
    assert total(after, "regslo_log_lines_total", outcome="malformed") == total(before, "regslo_log_lines_total",
                                                                                outcome="malformed")


def test_access_formats_skip_inspector_requests(samples):
    access = [line for line in (samples / "r1-json-mixed.log").read_text().splitlines() if not line.startswith("{")]
    text = "\n".join(access) + "\n"
    skopeo = sum(1 for line in access if line.endswith('"skopeo/1.9.3"'))
    for fmt, extra in (("combined", ""), ("nginx", " 0.001 0.001")):
        data = "\n".join(line + extra for line in _as_inspector(text, False).splitlines()) + "\n"
        reg, _ = run_lines(fmt, data.encode())
        assert total(reg, "regslo_registry_requests_total") == len(access) - skopeo
        assert total(reg, "regslo_log_lines_total", outcome="ignored") == skopeo


def test_notification_events_of_the_inspector_are_not_counted(samples):
    doc = json.loads((samples / "notification_pull_manifest.json").read_text())
    metrics = LogMetrics()
    parser = make_parser("notifications")
    assert isinstance(parser, NotificationParser)
    sink = metrics.sink("r1", "n")
    parser.feed_document(doc, sink)
    counted = sum(metrics.state["events"].values())
    for i, event in enumerate(doc["events"]):
        event["id"] = f"own-{i}"
        event.setdefault("request", {})["useragent"] = INSPECTOR_USER_AGENT
    parser.feed_document(doc, sink)
    assert counted >= 1 and sum(metrics.state["events"].values()) == counted
