"""``regslo run`` with a logs section against a real registry: the live tailer (thread, checkpoints,
webhook on the exporter) ends with exactly the totals ``regslo logs replay`` computes from the same files."""

import json
import os
import signal
import subprocess
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from regslo.sources.logs.replay import replay
from tests.support.configs import registry_entry, write_config
from tests.support.registry import free_port
from tests.unit.logs.support import series

KEEP = ("regslo_registry_requests_total", "regslo_registry_response_bytes_total",
        "regslo_registry_request_duration_seconds_count")


def scrape(url: str) -> dict:
    out = {}
    for fam in text_string_to_metric_families(httpx.get(url, timeout=5).text):
        for s in fam.samples:
            if s.name in KEEP:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_run_tails_logs_and_receives_notifications(registries, tmp_path):
    port = free_port()
    (reg,) = registries("r1", notify_url=f"http://127.0.0.1:{port}/notifications/r1")
    cfg = write_config(tmp_path / "c.yml", [registry_entry(reg)], probes={"interval": "1s", "timeout": "1s"},
                       logs={"checkpoint_dir": str(tmp_path / "state"), "start_at": "beginning", "poll_interval": "0.1s",
                             "sources": [{"path": str(reg.access_log), "format": "distribution", "registry": "r1"},
                                         {"path": str(reg.app_log), "format": "distribution", "registry": "r1"},
                                         {"format": "notifications", "registry": "r1"}]})
    proc = subprocess.Popen([sys.executable, "-m", "regslo", "run", "-c", str(cfg), "--web.listen-address",
                             f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, events = time.monotonic() + 30, {}
        while time.monotonic() < deadline:  # the probes push and pull: the registry notifies regslo
            try:
                text = httpx.get(f"{base}/metrics", timeout=2).text
            except httpx.HTTPError:
                text = ""
            events = {s.labels["action"]: s.value for fam in text_string_to_metric_families(text)
                      for s in fam.samples if s.name == "regslo_registry_events_total"}
            if events.get("push", 0) >= 2 and events.get("pull", 0) >= 1:
                break
            time.sleep(0.25)
        assert events.get("push", 0) >= 2, events
        for _ in range(3):
            httpx.get(f"{reg.url}/v2/nothing/manifests/here", timeout=5)  # 404s from "users"
        envelope = json.dumps({"events": []}).encode()
        r = httpx.post(f"{base}/notifications/r1", content=envelope,
                       headers={"Content-Type": "application/vnd.docker.distribution.events.v1+json"}, timeout=5)
        assert r.status_code == 200
        assert httpx.post(f"{base}/notifications/nope", content=envelope, timeout=5).status_code == 404
    finally:
        reg.stop()  # no new lines from here on
        time.sleep(1.0)  # a few tailer rounds
        live = scrape(f"{base}/metrics")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err[-3000:]
    offline = replay([str(reg.access_log), str(reg.app_log)], "distribution", "r1")
    expected = {}
    for name in KEEP:
        for labels, value in series(offline, name).items():
            expected[name, labels] = value
    got = {(name, tuple(v for _k, v in labels)): value for (name, labels), value in live.items()}
    assert got == expected and expected[("regslo_registry_requests_total", ("404", "pull", "r1"))] >= 3
