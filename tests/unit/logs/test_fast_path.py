"""The distribution-json hot path (``JsonParser.feed_batch``: orjson, aggregated totals) and the text scan
(``_fast_fields``) against the full ``json.loads`` path, on every line of the recorded test data."""

import json
from pathlib import Path

from hypothesis import given, settings, strategies as st
from prometheus_client import CollectorRegistry

from regslo.sli.log_metrics import LogMetrics
from regslo.sources.logs.classify import parse_go_duration
from regslo.sources.logs.formats.distribution import JsonParser, _fast_fields
from regslo.sources.logs.pipeline import LineSplitter, feed_lines

DATA = Path(__file__).resolve().parents[2] / "data"


def _all_lines() -> list[str]:
    out = []
    for path in sorted(DATA.rglob("*")):
        if path.is_file() and path.suffix in (".log", ".jsonl", ".json"):
            out += path.read_text(encoding="utf-8").splitlines()
    return out


def _state(metrics: LogMetrics) -> dict:
    return {kind: dict(values) for kind, values in metrics.state.items() if kind != "last_line"}


def _per_line(lines: list[bytes]) -> tuple[dict, list[str]]:
    """The reference: ``feed`` (json.loads for anything the scan does not take) one decoded line at a time."""
    metrics, parser = LogMetrics(CollectorRegistry()), JsonParser()
    sink = metrics.sink("r1", "s")
    outcomes = []
    for raw in lines:
        try:
            outcomes.append(parser.feed(raw.decode("utf-8"), sink))
        except UnicodeDecodeError:
            outcomes.append("malformed")
    return _state(metrics), outcomes


def _batched(lines: list[bytes]) -> tuple[dict, tuple[int, int, int]]:
    metrics, parser = LogMetrics(CollectorRegistry()), JsonParser()
    sink = metrics.sink("r1", "s")
    counts = parser.feed_batch(lines, sink)
    return _state(metrics), counts


def test_text_scan_agrees_with_json_loads_on_every_line_of_the_test_data():
    lines = _all_lines()
    checked = 0
    for line in lines:
        fast = _fast_fields(line)
        try:
            d = json.loads(line)
        except ValueError:
            assert fast is None
            continue
        if fast is None:
            continue
        assert fast == (d["http.request.method"], d["http.request.uri"], d["http.response.duration"],
                        str(d["http.response.status"]), d["http.response.written"])
        checked += 1
    assert len(lines) > 500 and checked > 150


def test_batch_path_agrees_with_per_line_path_on_every_line_of_the_test_data():
    lines = [line.encode() for line in _all_lines()]
    for raw in lines:  # line by line: identical totals and outcome
        ref, outcomes = _per_line([raw])
        got, counts = _batched([raw])
        assert got == ref, raw
        assert counts == tuple(outcomes.count(o) for o in ("parsed", "ignored", "malformed")), raw
    for path in sorted(DATA.rglob("*.log")):  # whole files: one batch, error-line de-duplication across lines
        raw_lines, _ = LineSplitter().feed(path.read_bytes(), final=True)
        ref, outcomes = _per_line(raw_lines)
        got, counts = _batched(raw_lines)
        assert {k: v for k, v in got.items() if k != "dur_sum"} == {k: v for k, v in ref.items() if k != "dur_sum"}
        assert got["dur_sum"].keys() == ref["dur_sum"].keys()
        for key, value in ref["dur_sum"].items():
            assert abs(got["dur_sum"][key] - value) < 1e-9
        assert counts == tuple(outcomes.count(o) for o in ("parsed", "ignored", "malformed")), path.name


_MESSAGES = ["response completed", "response completed with error", "response completed later",
             "response completedX", "Response completed", "authorized request"]
_UNITS = ["ns", "\u00b5s", "\u03bcs", "us", "ms", "s", "m", "h", "x", ""]


@settings(max_examples=400, deadline=None)
@given(st.text("0123456789.", max_size=14), st.sampled_from(_UNITS), st.sampled_from(_UNITS),
       st.sampled_from([200, 201, 404, 429, 500, 99, 1000]), st.one_of(st.none(), st.integers(-5, 10**9)),
       st.sampled_from(_MESSAGES))
def test_batch_path_agrees_on_any_duration_and_field_values(number, unit, unit2, status, written, msg):
    """Odd durations (several units, too many digits, no digits), out-of-range fields and other messages
    (the batch path compares the two the registry writes whole): same outcome and the same totals, to the
    bit, as the per-line path (which uses parse_go_duration)."""
    fields = {"http.request.id": "id-1", "http.request.method": "GET", "http.request.uri": "/v2/a/manifests/v1",
              "http.response.duration": number + unit + ("1" + unit2 if unit2 else ""),
              "http.response.status": status, "level": "info", "msg": msg}
    if written is not None:
        fields["http.response.written"] = written
    raw = json.dumps(dict(sorted(fields.items())), ensure_ascii=False).encode()
    ref, outcomes = _per_line([raw])
    got, counts = _batched([raw])
    assert got == ref
    assert counts == tuple(outcomes.count(o) for o in ("parsed", "ignored", "malformed"))
    if outcomes == ["parsed"]:
        seconds = parse_go_duration(fields["http.response.duration"])
        assert got["dur_sum"][("r1", "pull")] == seconds


def test_garbage_undecodable_and_crlf_lines_in_the_batch_path(samples):
    line = next(x for x in (samples / "r4-htpasswd-json.stderr.log").read_bytes().splitlines()
                if b'"msg":"response completed"' in x)
    data = b"x" * 300 + b"\n\xff\xfe{\n" + line + b"\r\n" + b"{}\n" + b"not json\n\n"
    lines, _ = LineSplitter(max_line_bytes=1024).feed(data, final=True)
    metrics, parser = LogMetrics(CollectorRegistry()), JsonParser()
    sink = metrics.sink("r1", "s")
    with metrics.lock:
        assert feed_lines(lines, parser, sink) == (1, 2, 3)  # parsed the CRLF line; {} and "" ignored
    assert sum(metrics.state["requests"].values()) == 1


_NOT_REQUESTS = [b'{"level":"info","msg":"authorized request","time":"2026-11-27T07:44:59Z"}', b"{}", b"{not json}",
                 b"{}\r", b" {} ", b"\x1c{}", b"{\xff}", b"{\xc3\xa9}", b"[]", b"{", b"}", b"", b"   ", b"plain text",
                 b'{"msg":"\\u0072esponse completed","http.response.status":200}', b"\xef\xbb\xbf{}", b"{}\x85"]


def test_lines_without_the_completion_phrase_skip_the_parse_and_agree_with_feed():
    """The batch path decides a line without ``response completed`` without parsing it (or hands it to
    ``feed``): the outcome of each, and of all of them in one batch, is feed()'s."""
    for raw in _NOT_REQUESTS:
        ref, outcomes = _per_line([raw])
        got, counts = _batched([raw])
        assert got == ref and counts == tuple(outcomes.count(o) for o in ("parsed", "ignored", "malformed")), raw
    ref, outcomes = _per_line(_NOT_REQUESTS)
    assert 0 < outcomes.count("malformed") < outcomes.count("ignored")
    assert _batched(_NOT_REQUESTS)[1] == tuple(outcomes.count(o) for o in ("parsed", "ignored", "malformed"))
