"""Property-based fuzzing: no parser raises on any input, and every line gets exactly one outcome."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from regslo.sli.log_metrics import OUTCOMES, LogMetrics
from regslo.sources.logs.formats import FORMATS, make_parser
from tests.conftest import SAMPLES
from tests.unit.logs.support import run_lines, series


def _real_lines() -> list[str]:
    lines = []
    for name in ("r1-json-mixed.log", "r2-text-mixed.log", "r4-htpasswd-access.stdout.log", "registry_notifications.jsonl"):
        path = Path(SAMPLES) / name
        if path.exists():
            lines += [line for line in path.read_text().splitlines() if line][:40]
    return lines or ['{"msg":"response completed"}']


REAL = _real_lines()


@st.composite
def mutated_line(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(REAL)).encode())
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        if op == "flip":
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos:pos + draw(st.integers(1, 40))]
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from([b'"', b"\\", b"=", b" ", b"{", b"}", b"\xc2\xb5", b"\xff", b"-", b"999"]))
        else:
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 40))]
    return bytes(data).replace(b"\n", b" ")


def _check(fmt: str, lines: list[bytes]) -> None:
    parser = make_parser(fmt)
    sink = LogMetrics(None).sink("r1", "direct")
    for line in lines:  # the parser itself must not raise (the pipeline would hide it as malformed)
        assert parser.feed(line.decode("utf-8", "replace"), sink) in OUTCOMES
    data = b"".join(line + b"\n" for line in lines)
    reg, _ = run_lines(fmt, data)
    outcomes = series(reg, "regslo_log_lines_total")
    assert sum(outcomes.values()) == len(lines)  # one outcome per line, whatever it was


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b" ")), min_size=1, max_size=8))
def test_arbitrary_bytes_never_raise(fmt, lines):
    _check(fmt, lines)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(mutated_line(), min_size=1, max_size=6))
def test_mutated_real_lines_never_raise(fmt, lines):
    _check(fmt, lines)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=200).map(lambda s: s.replace("\n", " ").replace("\r", " ")))
def test_arbitrary_text_never_raises(fmt, text):
    _check(fmt, [text.encode()])


def test_garbage_is_counted_malformed():
    reg, _ = run_lines("distribution", b"\x00\x01binary\xff\n{not json\n")
    assert series(reg, "regslo_log_lines_total")[("malformed", "test")] == 2


_VARS = ["$remote_addr", "$remote_user", "$time_local", "$request", "$status", "$body_bytes_sent", "$request_time",
         "$upstream_response_time", "$http_user_agent", "${host}", "$request_method", "$request_uri"]


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(st.one_of(st.sampled_from(_VARS), st.sampled_from([" ", " - ", '"', "[", "]", " rt=", "|", "\t"])),
                      max_size=14))
def test_any_nginx_log_format_compiles_or_is_refused_and_its_lines_never_raise(parts):
    from regslo.sources.logs.formats.access import AccessParser, compile_log_format
    fmt = "".join(parts)
    try:
        compile_log_format(fmt)
    except ValueError:
        return  # refused with a message (no $status or no request)
    values = {"$request": "GET /v2/a/manifests/v1 HTTP/1.1", "$request_method": "GET", "$request_uri": "/v2/a/manifests/v1",
              "$status": "200", "$body_bytes_sent": "17", "$request_time": "0.250", "$time_local": "27/Nov/2026:07:45:10 +0000"}
    line = fmt
    for var in sorted(_VARS, key=len, reverse=True):
        line = line.replace(var, values.get(var, "x"))
    sink = LogMetrics(None).sink("r1", "s")
    outcome = AccessParser.nginx(fmt).feed(line, sink)
    assert outcome in OUTCOMES  # never raises; the formats are ambiguous enough that a match is not promised
