"""The traffic: section (RegsloTrafficSurge / RegsloRateLimiting thresholds)."""

import subprocess
import sys

import pytest

from regslo.config import ConfigError, parse_config
from regslo.outputs.extras import traffic

BASE = """
registries: [{name: us, url: 'http://127.0.0.1:5000'}]
logs: [{path: /var/log/r/*.log, format: distribution-json, registry: us}]
"""


def test_defaults_and_forms(tmp_path):
    t = parse_config(BASE, base_dir=tmp_path).traffic
    assert (t.surge_factor, t.surge_min_rate, t.rate_limited_ratio) == (5.0, 1.0, 0.05)
    t = parse_config(BASE + "traffic: {surge_factor: 3, surge_min_rate: 0, rate_limited_ratio: '2.5%'}",
                     base_dir=tmp_path).traffic
    assert (t.surge_factor, t.surge_min_rate, t.rate_limited_ratio) == (3.0, 0.0, 0.025)
    assert parse_config(BASE + "traffic: {rate_limited_ratio: 0.1}", base_dir=tmp_path).traffic.rate_limited_ratio == 0.1


@pytest.mark.parametrize("section,key", [
    ("{surge_factor: 1}", "traffic.surge_factor"),
    ("{surge_factor: fast}", "traffic.surge_factor"),
    ("{surge_min_rate: -1}", "traffic.surge_min_rate"),
    ("{rate_limited_ratio: 150%}", "traffic.rate_limited_ratio"),
    ("{rate_limited_ratio: 0}", "traffic.rate_limited_ratio"),
    ("{rate_limited_ratio: lots}", "traffic.rate_limited_ratio"),
    ("{burst: 3}", "traffic.burst"),
])
def test_bad_values_name_the_key(tmp_path, section, key):
    with pytest.raises(ConfigError) as exc:
        parse_config(BASE + f"traffic: {section}", base_dir=tmp_path)
    assert any(p.startswith(key) for p in exc.value.problems), exc.value.problems


def test_check_config_exits_2_with_one_line(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text(BASE + "traffic: {rate_limited_ratio: 2}\n")
    res = subprocess.run([sys.executable, "-m", "regslo", "check-config", "-c", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert [line for line in res.stderr.splitlines() if "traffic" in line][0].count("traffic.rate_limited_ratio") == 1


def test_rules_follow_the_config_and_need_request_logs(tmp_path):
    cfg = parse_config(BASE + "traffic: {surge_factor: 3, rate_limited_ratio: 10%}", base_dir=tmp_path)
    rules = {r.get("alert") or r["record"]: r for g in traffic.groups(cfg) for r in g["rules"]}
    assert "> 3 * (regslo:registry_requests:rate1d offset 10m)" in rules["RegsloTrafficSurge"]["expr"]
    assert rules["RegsloRateLimiting"]["expr"].endswith("> 0.1")
    assert rules["RegsloRateLimiting"]["for"] == "10m" and rules["RegsloRateLimiting"]["labels"] == {"severity": "ticket"}
    no_logs = parse_config("registries: [{name: us, url: 'http://127.0.0.1:5000'}]", base_dir=tmp_path)
    assert traffic.groups(no_logs) == [] and traffic.tests(no_logs) == [] and traffic.panels(no_logs, "debug") == []
    notifications_only = parse_config("registries: [{name: us, url: 'http://127.0.0.1:5000'}]\n"
                                      "logs: [{format: notifications, registry: us}]", base_dir=tmp_path)
    assert traffic.groups(notifications_only) == []
