"""`regslo backtest` against a Prometheus that is hard to reach or misbehaves: one error line, exit 1 for a
failed query and 2 for usage, never a traceback; every answer read up to a cap and within --timeout.

A real Prometheus behind TLS and basic auth (its own --web.config.file) shows the documented ways in. A
Prometheus that answers HTML, the wrong JSON, endless or dripping bodies cannot be made to run here, so a
small in-process HTTP server stands in for it (marked below).
"""

from __future__ import annotations

import http.server
import io
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from regslo.slo.backtest_sources import PrometheusSource, QueryError
from tests.conftest import require
from tests.integration.slo.conftest import serve
from tests.support.backtest_history import CONFIG
from tests.support.tls import make_ca, make_server_cert

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "backtest-password-42"
RANGE = ["--start", "2026-01-01T00:00:00Z", "--end", "2026-01-02T00:00:00Z"]


def _cli(args: list[str], env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env or {}), "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run([sys.executable, "-m", "regslo", "backtest", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _one_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture
def config(tmp_path) -> str:
    (tmp_path / "c.yml").write_text(CONFIG)
    return str(tmp_path / "c.yml")


# -- stand-in for a misbehaving Prometheus (cannot run a real one that does this) ---------------------------
@contextmanager
def misbehaving(handler):
    """An HTTP server on 127.0.0.1 whose GET is ``handler(request_handler)``; stopped on exit."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            try:
                handler(self)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _answer(status: int, body: bytes, content_type: str = "application/json", length: int | None = None):
    def handler(h):
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body) if length is None else length))
        h.end_headers()
        h.wfile.write(body)
    return handler


CASES = [
    ("html", _answer(200, b"<html><body>Sign in</body></html>", "text/html"), "without a JSON object"),
    ("json list", _answer(200, b"[1, 2]"), "without a JSON object"),
    ("data not a result", _answer(200, json.dumps({"status": "success", "data": [1]}).encode()),
     "not a query result"),
    ("result items not objects",
     _answer(200, json.dumps({"status": "success", "data": {"result": [1, 2]}}).encode()), "not a query result"),
    ("error JSON", _answer(422, json.dumps({"status": "error", "errorType": "execution",
                                            "error": "query processing would load too many samples"}).encode()),
     "HTTP 422: execution: query processing would load too many samples"),
    ("401", _answer(401, b"Unauthorized\n", "text/plain"), "wants credentials"),
    ("announced huge", _answer(200, b"{}", length=10 * 1024 ** 3), "announced an answer of 10,737,418,240 bytes"),
]


@pytest.mark.parametrize("name,handler,text", CASES, ids=[c[0] for c in CASES])
def test_a_misbehaving_prometheus_is_one_line_and_exit_1(config, name, handler, text):
    with misbehaving(handler) as url:
        result = _cli(["-c", config, "--prometheus", url, *RANGE])
    assert result.returncode == 1
    assert text in _one_line(result)


def _endless(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.end_headers()  # no length: read until closed
    h.wfile.write(b'{"status":"success","data":{"result":[')
    chunk = b'{"metric":{},"values":[]},' * 4096
    while True:
        h.wfile.write(chunk)


def test_an_endless_answer_is_cut_at_the_cap():
    with misbehaving(_endless) as url:
        source = PrometheusSource(url, timeout=30, progress=io.StringIO(), max_body=1024 * 1024)
        try:
            with pytest.raises(QueryError, match="more than the 1 MiB regslo reads"):
                source.check()
        finally:
            source.close()


def test_a_dripping_answer_ends_at_the_timeout_for_the_whole_answer():
    """Each byte arrives well within the per-read timeout; the whole answer does not within --timeout."""
    def drip(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.end_headers()
        for _ in range(200):
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(0.1)

    with misbehaving(drip) as url:
        source = PrometheusSource(url, timeout=1, progress=io.StringIO())
        began = time.monotonic()
        try:
            with pytest.raises(QueryError, match="cannot reach Prometheus.*ReadTimeout.*longer than --timeout"):
                source.check()
        finally:
            source.close()
    assert time.monotonic() - began < 15, "20 s of dripping must not hold the query open (1 s timeout, slack)"


# -- usage problems: exit 2, one line ------------------------------------------------------------------------
USAGE = [
    (["--start", "nan", "--end", "now"], "'nan' is not a time between 1970 and 9999"),
    (["--start", "now-1d", "--end", "inf"], "'inf' is not a time between 1970 and 9999"),
    (["--start", "1e20", "--end", "1"], "'1e20' is not a time between 1970 and 9999"),
    (["--start=-7d", "--end", "now"], "or now-7d, got '-7d'"),
    (["--start", "2026-13-01", "--end", "now"], "expected Unix seconds, RFC 3339"),
    (["--start", "now-1x", "--end", "now"], "expected a duration"),
    (["--start", "now", "--end", "now-1d"], "must be before --end"),
    (["--start", "now-1d", "--end", "now", "--step", "10m"], "longer than the 5m window"),
    (["--start", "now-1s", "--end", "now", "--step", "0.0001s"], "--step: must be at least 1s"),
    (["--start", "now-1d", "--end", "now", "--step", "0s"], "--step: must be positive"),
    (["--start", "now-1d", "--end", "now", "--slo", "nope"], "unknown SLO 'nope'"),
    (["--start", "now-1d", "--end", "now", "--timeout", "0s"], "--timeout: must be positive"),
]


@pytest.mark.parametrize("args,text", USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_usage_problems_with_prometheus_are_one_line_and_exit_2(config, args, text):
    result = _cli(["-c", config, "--prometheus", "http://127.0.0.1:1", *args])
    assert result.returncode == 2
    assert text in _one_line(result)


def test_bad_prometheus_url_and_ca_file_are_exit_2_and_hide_the_password(config, tmp_path):
    (tmp_path / "not.pem").write_text("not a certificate\n")
    cases = [
        (["--prometheus", f"bob:{PASSWORD}@prometheus:9090"], "expected a URL like http://prometheus:9090"),
        (["--prometheus", "ftp://prometheus"], "expected a URL like"),
        (["--prometheus", "https://127.0.0.1:1", "--ca-file", str(tmp_path / "missing.pem")], "cannot read"),
        (["--prometheus", "https://127.0.0.1:1", "--ca-file", str(tmp_path / "not.pem")], "not PEM CA"),
        (["--logs", f"nginx:us:{tmp_path / 'x.log'}", "--ca-file", str(tmp_path / "not.pem")],
         "--ca-file goes with --prometheus"),
    ]
    for args, text in cases:
        result = _cli(["-c", config, *args, *RANGE])
        assert result.returncode == 2, (args, result.stderr)
        assert text in _one_line(result), args
        assert PASSWORD not in result.stderr + result.stdout


# -- a real Prometheus behind TLS and basic auth -------------------------------------------------------------
@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """(https URL, CA file) of a Prometheus (empty TSDB) that wants TLS and basic auth."""
    work = tmp_path_factory.mktemp("guarded")
    ca = make_ca(work / "pki")
    server = make_server_cert(ca, work / "pki")
    hashed = subprocess.run([require("htpasswd"), "-nbBC", "10", "backtest", PASSWORD], capture_output=True,
                            text=True, check=True).stdout.strip().split(":", 1)[1]
    (work / "web.yml").write_text(yaml.safe_dump({
        "tls_server_config": {"cert_file": str(server.cert_file), "key_file": str(server.key_file)},
        "basic_auth_users": {"backtest": hashed}}))
    (work / "prometheus.yml").write_text("global: {scrape_interval: 1m}\nscrape_configs: []\n")
    with serve([require("prometheus"), f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}", f"--web.config.file={work / 'web.yml'}"]) as url:
        url = url.replace("http://", "https://")
        deadline = time.monotonic() + 60  # the port opens before the TSDB is ready (503 until then)
        while httpx.get(f"{url}/-/ready", auth=("backtest", PASSWORD), verify=ssl.create_default_context(
                cafile=str(ca.cert_file)), timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "Prometheus did not become ready"
            time.sleep(0.2)
        yield url, str(ca.cert_file)


def test_tls_and_basic_auth_from_the_url_or_the_environment(config, guarded):
    url, ca_file = guarded
    with_user = url.replace("https://", f"https://backtest:{PASSWORD}@")
    # through: the empty server answers every query, so the run ends at "no regslo samples" (exit 1)
    for args, env in (([with_user, "--ca-file", ca_file], {}),
                      ([url.replace("https://", "https://backtest@"), "--ca-file", ca_file],
                       {"REGSLO_PROMETHEUS_PASSWORD": PASSWORD})):
        result = _cli(["-c", config, "--prometheus", *args, *RANGE], env=env)
        assert result.returncode == 1
        line = _one_line(result)
        assert f"Prometheus at {url} has no regslo samples" in line
        assert PASSWORD not in result.stderr + result.stdout
    refused = [
        ([url, "--ca-file", ca_file], "wants credentials"),
        ([with_user.replace(PASSWORD, "wrong-password"), "--ca-file", ca_file], "wants credentials"),
        ([with_user], "CERTIFICATE_VERIFY_FAILED"),
    ]
    for args, text in refused:
        result = _cli(["-c", config, "--prometheus", *args, *RANGE])
        assert result.returncode == 1, (args, result.stderr)
        line = _one_line(result)
        assert text in line, args
        assert PASSWORD not in result.stderr + result.stdout


def _counts(value: str):
    """Answers sizing queries with ``value`` as the sample count, anything else with an empty result."""
    def handler(h):
        result = [{"metric": {}, "value": [1, value]}] if "count_over_time" in h.path else []
        _answer(200, json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})
                .encode())(h)
    return handler


@pytest.mark.parametrize("value,text", [("+Inf", "a sample count that is not one: inf"),
                                        ("NaN", "a sample count that is not one: nan"),
                                        ("1e300", "a sample count that is not one: 1e+300"),
                                        ("1e14", "more than regslo fetches: use a shorter range")])
def test_an_implausible_sample_count_is_one_line_not_a_hang_or_traceback(config, value, text):
    with misbehaving(_counts(value)) as url:
        result = _cli(["-c", config, "--prometheus", url, *RANGE], timeout=60)
    assert result.returncode == 1
    assert text in _one_line(result)


def test_a_nan_counter_sample_gives_strict_json(config):
    """Prometheus stores NaN samples as written (a bad exporter); they spread into sums: null, not NaN."""
    start = 1767225600

    def handler(h):
        from urllib.parse import parse_qs, urlparse
        query = parse_qs(urlparse(h.path).query)["query"][0]
        if "count_over_time" in query:
            result = [{"metric": {}, "value": [start, "100"]}]
        elif query == "vector(1)" or "regslo_probe_runs_total" not in query:
            result = []
        else:
            values = [[start - 3600 + 15 * i, "NaN" if i == 479 else str(i)] for i in range(480)]
            result = [{"metric": {"__name__": "regslo_probe_runs_total", "registry": "us"}, "values": values}]
        _answer(200, json.dumps({"status": "success", "data": {"result": result}}).encode())(h)

    with misbehaving(handler) as url:
        result = _cli(["-c", config, "--slo", "pull-availability", "--prometheus", url, "--start", str(start),
                       "--end", str(start + 3600), "--format", "json"], timeout=60)
    assert result.returncode == 0, result.stderr
    assert "NaN" not in result.stdout
    report = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert report["slos"][0]["name"] == "pull-availability" and report["slos"][0]["sli"] is None
