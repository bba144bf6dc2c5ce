"""The demo's pure parts and its process handling, without starting the whole stack."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from regslo.config import parse_config
from regslo.demo import bounds, configs
from regslo.demo.console import Console
from regslo.demo.procs import Child, PortTaken, check_port
from regslo.demo.receiver import ReceivedAlert
from regslo.demo.stack import Ports, Timing
from regslo.events import ProbeResult, ReplicationResult
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[3]


def test_embedded_config_is_valid_and_has_per_registry_page_tiers(tmp_path):
    doc = configs.embedded_config()
    for reg in doc["registries"]:
        (tmp_path / reg["name"]).mkdir()
    config = parse_config(yaml.safe_dump(doc), base_dir=tmp_path)
    assert [r.name for r in config.registries] == ["us", "eu"]
    assert {s.name for s in config.slos} >= {"pull-us", "pull-eu", "push-us", "push-eu", "replication-us-eu"}
    for slo in config.slos:
        assert any(t.severity == "page" for t in slo.tiers), slo.name
        assert max(t.long_window for t in slo.tiers if t.severity == "page") <= 60  # pages within a minute


def test_page_bound_of_the_demo_is_the_sum_of_its_intervals(tmp_path):
    doc = configs.embedded_config()
    for reg in doc["registries"]:
        (tmp_path / reg["name"]).mkdir()
    config = parse_config(yaml.safe_dump(doc), base_dir=tmp_path)
    bound = bounds.page_bound(config, Timing(), "pull-us")
    # 5 s probes + 4 s timeout + 0.01 x 6 x 30 s + 5 s scrape + 5 s evaluation + 5 s group_wait
    assert bound.total == pytest.approx(25.8)
    assert "detection 1.8s" in bound.explain()
    assert bounds.resolve_bound(config, Timing(), "pull-us").total == pytest.approx(50)


def test_alertmanager_config_keeps_routing_and_points_every_receiver_at_the_webhook(tmp_path):
    generated = yaml.safe_load((ROOT / "alerts" / "alertmanager.yml").read_text())
    cfg = configs.alertmanager_config("http://127.0.0.1:9097", generated, group_wait=1, group_interval=2,
                                      repeat_interval=60)
    assert cfg["inhibit_rules"] == generated["inhibit_rules"]
    assert [r["name"] for r in cfg["receivers"]] == [r["name"] for r in generated["receivers"]]
    for r in cfg["receivers"]:
        assert r["webhook_configs"] == [{"url": f"http://127.0.0.1:9097/{r['name']}", "send_resolved": True}]
    assert (cfg["route"]["group_wait"], cfg["route"]["group_interval"], cfg["route"]["repeat_interval"]) == \
        ("1s", "2s", "60s")
    for child in cfg["route"]["routes"]:
        assert "group_wait" not in child and "repeat_interval" not in child
        assert child["matchers"]  # routing untouched
    assert generated["route"]["routes"][0].get("group_wait")  # the input was not modified
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(cfg))
    res = subprocess.run([require("amtool"), "check-config", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_rule_files_are_the_rule_groups_only(tmp_path):
    (tmp_path / "a.rules.yml").write_text(yaml.safe_dump({"groups": []}))
    (tmp_path / "a_test.yml").write_text(yaml.safe_dump({"rule_files": ["a.rules.yml"], "tests": []}))
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump({"route": {}}))
    assert configs.rule_files(tmp_path) == [tmp_path / "a.rules.yml"]


def test_registry_config_has_json_logs_deletes_a_secret_and_loopback_only(tmp_path):
    cfg = configs.registry_config("us", 5001, tmp_path, [("replicator", "http://127.0.0.1:5003/events")])
    assert cfg["http"]["addr"] == "127.0.0.1:5001" and len(cfg["http"]["secret"]) >= 32
    assert cfg["log"]["formatter"] == "json" and cfg["storage"]["delete"]["enabled"] is True
    assert cfg["notifications"]["endpoints"][0]["url"] == "http://127.0.0.1:5003/events"


def test_a_taken_port_is_named_with_its_flag():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortTaken, match=f"port {port} for prometheus is taken.*--prometheus-port"):
            check_port(port, "prometheus", "--prometheus-port")
    check_port(port, "prometheus", "--prometheus-port")  # free again


def test_port_offset_moves_every_port():
    ports = Ports().offset(100)
    assert ports.registries == (5101, 5102) and ports.prometheus == 9190 and ports.receiver == 9197
    assert len({p for p, _, _ in ports.named()}) == 7


def test_child_stop_ends_the_whole_process_group(tmp_path):
    child = Child("sleepers", ["sh", "-c", "sleep 300 & sleep 300 & wait"], stdout=tmp_path / "out.log").start()
    time.sleep(0.3)
    members = subprocess.run(["pgrep", "-g", str(child.pid)], capture_output=True, text=True).stdout.split()
    assert len(members) == 3  # the shell and both sleeps
    child.freeze()
    child.stop(timeout=2)  # SIGCONT first, so a frozen group still gets its SIGTERM
    deadline = time.monotonic() + 3
    while _live_members(int(members[0])) and time.monotonic() < deadline:
        time.sleep(0.05)  # orphaned members may linger as zombies until init reaps them
    assert not _live_members(int(members[0]))
    assert (tmp_path / "sleepers.pid").read_text().strip() == members[0]


def _live_members(pgid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def test_round_line_and_commands():
    regions = {"us": SimpleNamespace(state="up"), "eu": SimpleNamespace(state="stopped")}
    stack = SimpleNamespace(regions=regions, service=None, receiver=None,
                            break_region=lambda name, how: (_ for _ in ()).throw(KeyError(f"unknown region {name!r}")))
    console = Console(stack, interval=5)
    console.on_result(ProbeResult("us", "us-east", "pull", True, 0.031))
    console.on_result(ProbeResult("us", "us-east", "ping", True, 0.004))
    console.on_result(ProbeResult("eu", "eu-west", "push", False, 0.0, reason="connect"))
    console.on_result(ReplicationResult("us", "eu", "ok", lag=2.5))
    console.on_alert(ReceivedAlert("regslo-pager", "firing", {"alertname": "RegsloBurnRatePage", "slo": "pull-eu",
                                                              "registry": "eu", "severity": "page"}, {}, ""))
    line = console.round_line()
    assert "us: ping 4ms, pull 31ms | eu [stopped]: push FAIL(connect) | us->eu lag 2.5s | pages: pull-eu/eu" in line
    assert "error: " in console.handle("break mars") and "unknown region" in console.handle("break mars")
    assert "commands:" in console.handle("what")
