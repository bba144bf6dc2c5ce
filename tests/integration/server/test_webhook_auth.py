"""Issue 9 item 7: the notifications webhook takes a bearer token, and a real distribution registry sends it
(``notifications.endpoints[].headers``). Before the fix anyone who could reach the port could forge events.
"""

import json
import os
import socket
import subprocess
import sys
import time

import httpx

from tests.integration.server.support import CT, regslo_run, status_of, value, write_config
from tests.support.configs import registry_entry
from tests.support.registry import free_port

TOKEN = "s3cr3t-webhook-token-0123456789"


def events(samples: dict) -> dict[str, float]:
    return {dict(labels)["action"]: v for (name, labels), v in samples.items()
            if name == "regslo_registry_events_total" and dict(labels).get("registry") == "r1"}


def rejected(samples: dict, reason: str) -> float | None:
    return value(samples, "regslo_notifications_rejected_total", registry="r1", reason=reason)


def envelope(*evs: dict) -> bytes:
    return json.dumps({"events": list(evs)}).encode()


def event(i: int, action: str = "pull", event_id: str | None = None) -> dict:
    return {"id": event_id or f"forged-{i}", "action": action,
            "target": {"repository": "x", "digest": f"sha256:{i:064x}",
                       "mediaType": "application/vnd.oci.image.manifest.v1+json"}}


def test_registry_sends_the_token_and_forged_posts_count_nothing(registries, tmp_path):
    port = free_port()
    (reg,) = registries("r1", notify_url=f"http://127.0.0.1:{port}/notifications/r1",
                        notify_headers={"Authorization": [f"Bearer {TOKEN}"]})
    token_file = tmp_path / "webhook-token"
    token_file.write_text(TOKEN + "\n")
    cfg = write_config(tmp_path / "c.yml", registries=[registry_entry(reg)],
                       probes={"interval": "1s", "timeout": "1s", "enabled": ["ping", "push", "pull"]},
                       logs={"sources": [{"format": "notifications", "registry": "r1", "token_file": str(token_file)}]})
    with regslo_run(cfg, port=port) as r:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and events(r.samples()).get("push", 0) < 2:
            time.sleep(0.3)
        before = r.samples()
        assert events(before).get("push", 0) >= 2, "the registry's authenticated notifications were not counted"
        url = f"{r.base}/notifications/r1"
        forged = envelope(*(event(i) for i in range(50)))
        assert httpx.post(url, content=forged, headers={"Content-Type": CT}, timeout=5).status_code == 401
        for wrong in ("Bearer nope", f"Bearer {TOKEN}x", f"Basic {TOKEN}", f"Bearer {TOKEN[:-1]}"):
            resp = httpx.post(url, content=forged, headers={"Content-Type": CT, "Authorization": wrong}, timeout=5)
            assert resp.status_code == 401, wrong
        # an unauthenticated 4 MB body is never read: the 401 comes before a byte of it is sent
        with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
            s.sendall(f"POST /notifications/r1 HTTP/1.1\r\nHost: x\r\nContent-Type: {CT}\r\n"
                      f"Content-Length: 4000000\r\n\r\n".encode())
            assert status_of(s.recv(4096)) == 401
        ok = {"Content-Type": CT, "Authorization": f"Bearer {TOKEN}"}
        # an event id over 256 bytes, or more than 1000 events in one envelope: refused as a whole
        resp = httpx.post(url, content=envelope(event(1, event_id="i" * 257)), headers=ok, timeout=5)
        assert resp.status_code == 400
        resp = httpx.post(url, content=envelope(*(event(i) for i in range(1001))), headers=ok, timeout=10)
        assert resp.status_code == 400
        after = r.samples()
        # only the probes' own pulls (one a second) were counted meanwhile, none of the 50 forged ones
        assert events(after).get("pull", 0) - events(before).get("pull", 0) < 20
        assert rejected(after, "missing_token") == 3  # no Authorization (twice), or not a bearer token
        assert rejected(after, "wrong_token") == 3
        assert rejected(after, "event_id_too_long") == 1 and rejected(after, "too_many_events") == 1
        # with the token, a hand-made envelope counts
        resp = httpx.post(url, content=envelope(event(7, "mount", "hand-made-1")), headers=ok, timeout=5)
        assert resp.status_code == 200
        deadline = time.monotonic() + 10  # published with the next checkpoint round
        while events(r.samples()).get("mount") != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert events(r.samples()).get("mount") == 1
    assert "Traceback" not in r.stderr_text and TOKEN not in r.stderr_text


def test_check_config_warns_about_a_webhook_without_token_and_reads_token_env(tmp_path):
    cfg = write_config(tmp_path / "c.yml", logs={"sources": [{"format": "notifications", "registry": "r1"}]})
    res = subprocess.run([sys.executable, "-m", "regslo", "check-config", "-c", str(cfg)], capture_output=True,
                         text=True, timeout=60, cwd=str(tmp_path))
    assert res.returncode == 0
    assert "warning: logs.sources[0]: notifications webhook without token_file or token_env" in res.stderr
    cfg = write_config(tmp_path / "c.yml", logs={"sources": [{"format": "notifications", "registry": "r1",
                                                              "token_env": "REGSLO_TEST_WEBHOOK_TOKEN"}]})
    res = subprocess.run([sys.executable, "-m", "regslo", "check-config", "-c", str(cfg)], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, REGSLO_TEST_WEBHOOK_TOKEN=TOKEN), cwd=str(tmp_path))
    assert res.returncode == 0 and "warning" not in res.stderr, res.stderr
    res = subprocess.run([sys.executable, "-m", "regslo", "check-config", "-c", str(cfg)], capture_output=True,
                         text=True, timeout=60, env={k: v for k, v in os.environ.items()
                                                     if k != "REGSLO_TEST_WEBHOOK_TOKEN"}, cwd=str(tmp_path))
    assert res.returncode == 2
    assert res.stderr.strip() == ("error: logs.sources[0].token_env: environment variable "
                                  "REGSLO_TEST_WEBHOOK_TOKEN is not set")
    with regslo_run(cfg, env={"REGSLO_TEST_WEBHOOK_TOKEN": TOKEN}) as r:
        url = f"{r.base}/notifications/r1"
        assert httpx.post(url, content=envelope(event(1)), headers={"Content-Type": CT}, timeout=5).status_code == 401
        resp = httpx.post(url, content=envelope(event(1)), timeout=5,
                          headers={"Content-Type": CT, "Authorization": f"bearer {TOKEN}"})
        assert resp.status_code == 200
