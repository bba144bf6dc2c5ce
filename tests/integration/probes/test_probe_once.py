"""`regslo probe` (with or without `--once`) against real registries: the first thing a user runs."""

import json
import subprocess
import sys

import httpx

from tests.support.configs import registry_entry, write_config


def run_cli(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "regslo", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_probe_once_table_two_regions(registries, tmp_path):
    us, eu = registries("us", "eu")
    cfg = write_config(tmp_path / "c.yml", [registry_entry(us), registry_entry(eu)])
    res = run_cli("probe", "-c", str(cfg))  # one round without --once (issue 8); the JSON test keeps --once
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split()[:6] == ["REGISTRY", "REGION", "PROBE", "RESULT", "REASON", "TOTAL"]
    rows = {(line.split()[0], line.split()[2]): line.split() for line in lines[1:]}
    for reg in ("us", "eu"):
        for probe in ("ping", "push", "pull"):
            assert rows[(reg, probe)][3] == "ok", lines
    # push timed its phases; pull verified 2 blobs
    assert rows[("us", "push")][7] != "-" and rows[("us", "push")][8] != "-"
    assert "2 blobs verified" in " ".join(rows[("eu", "pull")])
    # what the round pushed is deleted again
    for reg in (us, eu):
        tags = httpx.get(f"{reg.url}/v2/regslo/probe/tags/list").json().get("tags") or []
        assert tags == []


def test_probe_once_json_and_failure_exit_code(registries, tmp_path):
    (us,) = registries("us")
    dead = {"name": "dead", "url": "http://127.0.0.1:9", "region": "nowhere"}
    cfg = write_config(tmp_path / "c.yml", [registry_entry(us), dead])
    res = run_cli("probe", "--once", "-c", str(cfg), "--output", "json")
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    by = {(p["registry"], p["probe"]): p for p in doc["probes"]}
    assert by[("us", "pull")]["ok"] is True
    assert by[("dead", "ping")]["ok"] is False and by[("dead", "ping")]["reason"] == "connect"
    assert by[("dead", "push")]["reason"] == "connect"
    # the pull of a registry that cannot take a push is skipped, not counted as a second failure
    assert ("dead", "pull") not in by
