"""`regslo run` as a user runs it: a real process scraped over HTTP, stopped with SIGTERM."""

import platform
import signal
import subprocess
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require
from tests.support.configs import registry_entry, write_config
from tests.support.registry import free_port
from tests.support.wait import wait_until as wait_for


def scrape(port):
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return text, samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_run_serves_metrics_and_stops_clean(registries, tmp_path):
    us, eu = registries("us", "eu")
    port = free_port()
    cfg = write_config(tmp_path / "c.yml", [registry_entry(us), registry_entry(eu)],
                       probes={"interval": "1s", "timeout": "1s"},
                       replication=[{"source": "us", "destination": "eu", "timeout": "1s", "poll_interval": "0.2s"}],
                       server={"listen_address": "127.0.0.1:1"})  # overridden by the flag below
    proc = subprocess.Popen([sys.executable, "-m", "regslo", "run", "-c", str(cfg),
                             "--web.listen-address", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _ok(port, "/-/healthy"), 10)
        # counters exist at zero before any failure: ratios work from the first scrape
        text, samples = scrape(port)
        for reason in ("timeout", "connect", "auth", "digest_mismatch", "other"):
            assert value(samples, "regslo_probe_failures_total", registry="us", region="region-us", probe="push",
                         reason=reason) is not None
        build = [dict(labels) for (name, labels), v in samples.items() if name == "regslo_build_info" and v == 1.0]
        assert len(build) == 1 and build[0]["version"] == __import__("regslo").__version__
        assert build[0]["pythonversion"] == platform.python_version()
        assert len(build[0]["revision"]) == 40  # run from a git checkout: the commit it runs
        assert value(samples, "regslo_registry_info", registry="us", region="region-us") == 1.0
        assert value(samples, "regslo_registry_info", registry="eu", region="region-eu") == 1.0
        wait_for(lambda: _ok(port, "/-/ready"), 10)

        def enough():
            _, s = scrape(port)
            runs = [value(s, "regslo_probe_runs_total", registry=r, region=f"region-{r}", probe=p) or 0
                    for r in ("us", "eu") for p in ("ping", "push", "pull")]
            return min(runs) >= 3 and s
        samples = wait_for(enough, 20)
        for r in ("us", "eu"):
            for p in ("ping", "push", "pull"):
                labels = dict(registry=r, region=f"region-{r}", probe=p)
                fails = sum(v for (n, l), v in samples.items()
                            if n == "regslo_probe_failures_total" and dict(l).items() >= labels.items())
                assert fails == 0, (r, p)
                assert value(samples, "regslo_probe_duration_seconds_count", **labels) >= 3
                assert time.time() - value(samples, "regslo_probe_last_success_timestamp_seconds", **labels) < 10
        assert value(samples, "regslo_probe_phase_duration_seconds_count", registry="us", region="region-us",
                     probe="push", phase="blob_upload") >= 3
        # no replicator between these two: every check is a timeout, and counted as one
        assert value(samples, "regslo_replication_checks_total", source="us", destination="eu") >= 1
        assert value(samples, "regslo_replication_timeouts_total", source="us", destination="eu") == \
            value(samples, "regslo_replication_checks_total", source="us", destination="eu")
        text, _ = scrape(port)
        check = subprocess.run([require("promtool"), "check", "metrics"], input=text, capture_output=True, text=True)
        assert check.returncode == 0 and check.stdout.strip() == "" and check.stderr.strip() == "", check
        assert httpx.get(f"http://127.0.0.1:{port}/nope").status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    # nothing left behind: everything the probes pushed is deleted on shutdown
    for reg in (us, eu):
        assert (httpx.get(f"{reg.url}/v2/regslo/probe/tags/list").json().get("tags") or []) == []


def _ok(port, path):
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_port_in_use_is_a_clear_error(registry, tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    cfg = write_config(tmp_path / "c.yml", [registry_entry(registry)])
    res = subprocess.run([sys.executable, "-m", "regslo", "run", "-c", str(cfg), "--web.listen-address",
                          f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=20)
    s.close()
    assert res.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in res.stderr and "Traceback" not in res.stderr
