"""The status page served by ``regslo run`` itself: a registry with the wrong password shows as failing
with reason ``auth``, and neither the right nor the wrong password appears anywhere in the page or the JSON."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.support.configs import registry_entry, write_config
from tests.support.registry import free_port, make_htpasswd

USER, RIGHT, WRONG = "prober", "right-Passw0rd-42", "wrong-Passw0rd-17"


def test_run_serves_the_page_and_keeps_passwords_out(registries, tmp_path):
    good = registries("good")[0]
    locked = registries("locked", htpasswd=make_htpasswd(tmp_path / "htpasswd", USER, RIGHT))[0]
    port = free_port()
    cfg = write_config(tmp_path / "c.yml", [
        registry_entry(good), registry_entry(locked, auth={"username": USER, "password_env": "LOCKED_PASSWORD"})],
        probes={"interval": "1s", "timeout": "1s"})
    env = dict(os.environ, LOCKED_PASSWORD=WRONG)
    proc = subprocess.Popen([sys.executable, "-m", "regslo", "run", "-c", str(cfg), "--web.listen-address",
                             f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, status = time.monotonic() + 20, {}
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"{base}/api/v1/status", timeout=2).json()
            except httpx.HTTPError:
                status = {}
            regs = {r["name"]: r for r in status.get("registries", [])}
            # the pull probe has nothing to pull while pushes fail: ping and push are what we get
            if len(regs.get("locked", {}).get("probes", [])) >= 2 and regs["good"]["status"] == "ok":
                break
            time.sleep(0.25)
        else:
            raise AssertionError(f"no results from regslo run after 20s: {str(status)[:2000]}")
        locked_entry = next(r for r in status["registries"] if r["name"] == "locked")
        assert locked_entry["status"] == "critical"
        assert {p["reason"] for p in locked_entry["probes"]} == {"auth"}
        page = httpx.get(f"{base}/", timeout=5)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert 'data-registry="locked" data-region="region-locked" data-status="critical"' in page.text
        assert 'data-reason="auth"' in page.text
        assert 'id="no-slos"' in page.text and 'id="no-replication"' in page.text  # said, not left empty
        api = httpx.get(f"{base}/api/v1/status", timeout=5).text
        for text in (page.text, api):
            assert WRONG not in text and RIGHT not in text
            assert locked.url in text  # the URL itself is shown
        assert httpx.head(f"{base}/", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert WRONG not in err  # nor in the logs
