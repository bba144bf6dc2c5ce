"""kill -9 the tailer (a real subprocess) while it reads and while lines keep coming; after restarts from
its checkpoint the totals equal the lines written: none lost, none counted twice."""

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.registry import free_port, wait_port

TOTAL = 60_000


def line(i: int) -> bytes:
    status = (200, 201, 404, 500)[i % 4]
    return (f'127.0.0.1 - - [27/Nov/2026:07:45:10 +0000] "GET /v2/app{i % 7}/manifests/v{i} HTTP/1.1" '
            f'{status} {i % 1000} "" "t"\n').encode()


def scrape(port: int) -> dict:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name in ("regslo_registry_requests_total", "regslo_registry_response_bytes_total"):
                key = (s.name, s.labels.get("code", ""))
                out[key] = out.get(key, 0) + s.value
    return out


def start(config, port):
    with open(config.parent / "follow.err", "ab") as err:
        proc = subprocess.Popen([sys.executable, "-m", "regslo.sources.logs.follow", "-c", str(config),
                                 "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=err)
    wait_port(port, timeout=20)
    return proc


def test_kill_9_and_restart_is_exact(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    config = tmp_path / "regslo.yml"
    config.write_text("""
registries: [{name: r1, url: 'http://127.0.0.1:5000'}]
logs:
  checkpoint_dir: state
  start_at: beginning
  poll_interval: 0.05s
  sources: [{path: logs/*.log, format: combined, registry: r1}]
""")
    log = logs / "access.log"
    log.write_bytes(b"".join(line(i) for i in range(TOTAL // 2)))  # a backlog to be killed in the middle of

    def writer():  # the rest arrives while the tailer is killed and restarted, with a rotation halfway
        with open(log, "ab") as f:
            for i in range(TOTAL // 2, TOTAL * 3 // 4):
                f.write(line(i))
                if i % 500 == 0:
                    f.flush()
                    time.sleep(0.01)
        os.rename(log, logs / "access.log.1")
        with open(log, "ab") as f:
            for i in range(TOTAL * 3 // 4, TOTAL):
                f.write(line(i))
                if i % 500 == 0:
                    f.flush()
                    time.sleep(0.01)

    port = free_port()
    proc = start(config, port)
    thread = threading.Thread(target=writer)
    thread.start()
    seen_before_kill = []
    try:
        for _kill in range(3):
            before = seen_before_kill[-1] if seen_before_kill else 0
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:  # kill right after a checkpoint moved the totals
                now = scrape(port).get(("regslo_registry_requests_total", "200"), 0)
                if now > before:
                    break
                time.sleep(0.01)
            seen_before_kill.append(now)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            proc = start(config, port)
        thread.join(60)
        expected = {("regslo_registry_requests_total", str(c)): TOTAL / 4 for c in (200, 201, 404, 500)}
        expected[("regslo_registry_response_bytes_total", "")] = float(sum(i % 1000 for i in range(TOTAL)))
        deadline = time.monotonic() + 60
        got = scrape(port)
        while got != expected and time.monotonic() < deadline:
            time.sleep(0.2)
            got = scrape(port)
        assert got == expected, (tmp_path / "follow.err").read_text()[-3000:]
        time.sleep(0.5)
        assert scrape(port) == expected  # and nothing more arrives later
        assert 0 < seen_before_kill[0] < TOTAL / 4  # the first kill really hit the middle of the backlog
        err = (tmp_path / "follow.err").read_text()
        assert "Traceback" not in err and "ignoring log checkpoint" not in err, err[-3000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
