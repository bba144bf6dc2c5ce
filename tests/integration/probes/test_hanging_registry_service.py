"""`regslo run` with one registry that hangs (issue 9, item 2, process side): the start-up sweep runs in the
background, `/-/ready` does not wait for it, the healthy registry keeps being probed, the hanging one is
recorded as timeouts, SIGTERM ends the process within probes.timeout + 5 s and a second signal at once.

The hanging registry is a HostileServer answering every request one header byte per second, for ever.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.configs import registry_entry, write_config
from tests.support.hostile import Reply
from tests.support.registry import free_port
from tests.support.wait import wait_until as wait_for


def start(tmp_path, regs, timeout: str):
    port = free_port()
    cfg = write_config(tmp_path / "c.yml", regs, probes={"interval": timeout, "timeout": timeout})
    proc = subprocess.Popen([sys.executable, "-m", "regslo", "run", "-c", str(cfg), "--web.listen-address",
                             f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, port


def get(port, path):
    time.sleep(0)
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1)
    except httpx.HTTPError:
        return None


def samples(port):
    out = {}
    for fam in text_string_to_metric_families(get(port, "/metrics").text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def counter(s, name, **labels):
    return sum(v for (n, ls), v in s.items() if n == name and dict(ls).items() >= labels.items())


def hanging(hostile):
    srv = hostile()
    srv.route("*", "/*", Reply(200, header_drip=1.0, headers_forever=True))
    return {"name": "hang", "url": srv.url, "region": "region-hang"}


def test_a_hanging_registry_does_not_hold_up_readiness_other_probes_or_sigterm(registry, hostile, tmp_path):
    timeout = 2.0
    proc, port = start(tmp_path, [registry_entry(registry), hanging(hostile)], timeout="2s")
    try:
        t0 = time.monotonic()
        wait_for(lambda: (r := get(port, "/-/healthy")) is not None and r.status_code == 200, 15)
        wait_for(lambda: get(port, "/-/ready").status_code == 200, 5)
        ready_after = time.monotonic() - t0
        # the healthy registry is probed; the hanging one is counted as timeouts, not silently stuck
        wait_for(lambda: counter(samples(port), "regslo_probe_runs_total", registry="r1", probe="ping") >= 2, 15)
        wait_for(lambda: counter(samples(port), "regslo_probe_failures_total", registry="hang",
                                 reason="timeout") >= 1, 15)
        s = samples(port)
        assert counter(s, "regslo_probe_failures_total", registry="r1") == 0
        assert counter(s, "regslo_probe_failures_total", registry="hang") == \
            counter(s, "regslo_probe_failures_total", registry="hang", reason="timeout")
    finally:
        t1 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        stopped_after = time.monotonic() - t1
    print(f"ready after {ready_after:.1f}s; SIGTERM -> exit in {stopped_after:.1f}s (timeout {timeout}s)")
    assert stopped_after < timeout + 5, err[-2000:]
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err


def test_a_second_signal_exits_at_once(hostile, tmp_path):
    proc, port = start(tmp_path, [hanging(hostile)], timeout="30s")
    try:
        wait_for(lambda: (r := get(port, "/-/ready")) is not None and r.status_code == 200, 15)
        time.sleep(1.5)  # a ping is now hanging, with 28 s left
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.poll() is None  # the first signal waits for the running probe (bounded by its timeout)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
            raise AssertionError("a second signal did not end the process")
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    print(f"second signal -> exit in {elapsed:.2f}s, code {proc.returncode}")
    assert elapsed < 5.0  # at once, with slack for a loaded machine: the hanging ping had ~28 s left
    assert proc.returncode != 0
    assert "Traceback" not in err
