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


def test_cache_status_from_nginx_and_a_cdn_log():
    from tests.unit.logs.support import series

    fmt = '$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $upstream_cache_status'
    lines = [f'1.2.3.4 - - [29/Nov/2026:10:00:00 +0000] "GET /v2/a/blobs/sha256:{"0" * 64} HTTP/1.1" 200 5 "-" "c" {s}'
             for s in ("HIT", "HIT", "MISS", "-", "EXPIRED", "STALE", "WEIRD")]
    reg, _ = run_lines("nginx", ("\n".join(lines) + "\n").encode(), log_format=fmt)
    got = {status: v for (op, _r, status), v in series(reg, "regslo_registry_cache_requests_total").items()}
    assert got == {"HIT": 2, "MISS": 1, "EXPIRED": 1, "STALE": 1, "none": 2}
    # CloudFront's tab-separated standard log, described as a log_format (x-edge-result-type at the status)
    cf = ("$date\t$time\t$edge\t$body_bytes_sent\t$remote_addr\t$request_method\t$host\t$request_uri\t$status\t"
          "$http_referer\t$http_user_agent\t$query\t$cookie\t$upstream_cache_status")
    rows = [f"2026-11-29\t10:00:00\tFRA56-C1\t5\t1.2.3.4\tGET\td1.cloudfront.net\t/v2/a/blobs/sha256:{'0' * 64}\t200\t-\t"
            f"containerd/1.7\t-\t-\t{r}" for r in ("Hit", "Miss", "RefreshHit", "Error")]
    reg, _ = run_lines("nginx", ("\n".join(rows) + "\n").encode(), log_format=cf)
    got = {status: v for (op, _r, status), v in series(reg, "regslo_registry_cache_requests_total").items()}
    assert got == {"HIT": 1, "MISS": 1, "REVALIDATED": 1, "none": 1}


def test_every_nginx_cache_status_quoted_or_not_and_formats_without_it():
    from tests.unit.logs.support import series

    blob = f"/v2/a/blobs/sha256:{'0' * 64}"
    statuses = ("HIT", "MISS", "EXPIRED", "BYPASS", "STALE", "UPDATING", "REVALIDATED", "-", "")
    for quote in ("", '"'):
        fmt = ('$remote_addr - - [$time_local] "$request" $status $body_bytes_sent '
               f'{quote}$upstream_cache_status{quote} $request_time')
        lines = [f'1.2.3.4 - - [29/Nov/2026:10:00:00 +0000] "GET {blob} HTTP/1.1" 200 5 {quote}{s}{quote} 0.010'
                 for s in statuses if s or quote]  # an empty unquoted field is not something nginx writes
        reg, _ = run_lines("nginx", ("\n".join(lines) + "\n").encode(), log_format=fmt)
        got = {status: v for (_op, _r, status), v in series(reg, "regslo_registry_cache_requests_total").items() if v}
        want = {s: 1 for s in statuses[:7]} | {"none": 2 if quote else 1}
        assert got == want, (quote, got)
        assert sum(series(reg, "regslo_registry_requests_total").values()) == len(lines)  # none malformed
    # a log_format without $upstream_cache_status: requests counted, no cache series at all
    reg, _ = run_lines("nginx", f'1.2.3.4 - - [29/Nov/2026:10:00:00 +0000] "GET {blob} HTTP/1.1" 200 5 "-" "c" 0.1 0.1\n'.encode())
    assert sum(series(reg, "regslo_registry_requests_total").values()) == 1
    assert not any(series(reg, "regslo_registry_cache_requests_total").values())
