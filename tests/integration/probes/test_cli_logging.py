"""`regslo run --log.format json|logfmt --log.level`: the log lines of a real process, stopped with SIGTERM."""

import json
import signal
import subprocess
import sys
import time

import httpx

from tests.support.configs import registry_entry, write_config
from tests.support.registry import free_port


def _run(cfg, port, *flags):
    proc = subprocess.Popen([sys.executable, "-m", "regslo", "run", "-c", str(cfg), "--web.listen-address",
                             f"127.0.0.1:{port}", *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("regslo run did not become ready")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err.splitlines()


def test_json_lines_with_structured_fields(registry, tmp_path):
    cfg = write_config(tmp_path / "c.yml", [registry_entry(registry)], probes={"interval": "1s", "timeout": "1s"})
    lines = _run(cfg, free_port(), "--log.level", "info", "--log.format", "json")
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert records and all(list(r)[:4] == ["ts", "level", "logger", "msg"] for r in records)
    start = next(r for r in records if r["msg"].startswith("probing 1 registries"))
    assert start["level"] == "info" and start["logger"].startswith("regslo")
    assert start["registries"] == 1 and start["interval_seconds"] == 1.0 and start["jobs"] >= 3
    assert any(r["msg"] == "stopped" for r in records)


def test_logfmt_by_default_and_the_old_flag(registry, tmp_path):
    cfg = write_config(tmp_path / "c.yml", [registry_entry(registry)], probes={"interval": "1s", "timeout": "1s"})
    lines = _run(cfg, free_port(), "--log-level", "warning")  # warn and above: a clean start logs nothing
    assert lines == [], lines
    lines = _run(cfg, free_port())
    assert lines and all(line.startswith("ts=") and " level=" in line and " logger=" in line and " msg=" in line
                         for line in lines), lines
    assert any(" registries=1 " in line for line in lines)
