"""Helpers for the log tests: read exposed samples, and an independent request classifier to check against."""

from __future__ import annotations

import re
from collections import Counter

from prometheus_client import CollectorRegistry

from regslo.sli.log_metrics import LogMetrics
from regslo.sources.logs.formats import make_parser
from regslo.sources.logs.pipeline import LineSplitter, feed_lines


def series(registry: CollectorRegistry, name: str) -> dict[tuple, float]:
    """``{(label values sorted by label name): value}`` of one exposed sample name."""
    out = {}
    for family in registry.collect():
        for s in family.samples:
            if s.name == name:
                out[tuple(v for _, v in sorted(s.labels.items()))] = s.value
    return out


def total(registry: CollectorRegistry, name: str, **match: str) -> float:
    out = 0.0
    for family in registry.collect():
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in match.items()):
                out += s.value
    return out


def run_lines(fmt: str, data: bytes, registry_name: str = "r1", source: str = "test", **options):
    """Feed ``data`` through the real pipeline; returns (CollectorRegistry, LogMetrics)."""
    reg = CollectorRegistry()
    metrics = LogMetrics(reg, top_k=options.pop("top_k", 100))
    parser = make_parser(fmt, options)
    sink = metrics.sink(registry_name, source)
    lines, _ = LineSplitter(options.get("max_line_bytes", 65536)).feed(data, final=True)
    with metrics.lock:
        feed_lines(lines, parser, sink)
    metrics.publish()
    return reg, metrics


# An independent classifier (regexes, written separately from regslo.sources.logs.classify).
_RULES = [
    (r"^/v2/$", {"GET": "ping", "HEAD": "ping"}),
    (r"^/v2/_catalog$", {"GET": "list", "HEAD": "list"}),
    (r"^/v2/.+/tags/list$", {"GET": "list", "HEAD": "list"}),
    (r"^/v2/.+/referrers/[^/]+$", {"GET": "list", "HEAD": "list"}),
    (r"^/v2/.+/blobs/uploads/?[^/]*$", {m: "push" for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")}),
    (r"^/v2/.+/manifests/[^/]+$", {"GET": "pull", "HEAD": "pull", "PUT": "push", "DELETE": "delete"}),
    (r"^/v2/.+/blobs/[a-z\d]+([._+-][a-z\d]+)*:[\da-fA-F]{32}[\da-fA-F]*$", {"GET": "pull", "HEAD": "pull", "DELETE": "delete"}),
]


def expected_operation(method: str, uri: str) -> str:
    path = uri.split("?")[0]
    for pattern, table in _RULES:
        if re.match(pattern, path):
            return table.get(method, "other")
    return "other"


def access_fields(line: str) -> tuple[str, str, str, int]:
    """(method, uri, status, bytes) of a combined line, by plain splitting."""
    parts = line.split('"')
    method, uri = parts[1].split(" ")[:2]
    status, size = parts[2].split()
    return method, uri, status, int(size)


def count_by(items) -> Counter:
    return Counter(items)
