"""The status model: results fed through the real RecentResults sink become the dict /api/v1/status serves."""

from __future__ import annotations

import json

import pytest

from regslo.config import parse_config
from regslo.events import ProbeResult, ReplicationResult
from regslo.outputs.status import Redactor, ago, build_status, public_url, worst
from regslo.outputs.status_slo import slo_entry, slo_snapshot
from regslo.sli.recent import RecentResults

NOW = 1_800_000_000.0
PASSWORD = "hunter2-very-secret"
CONFIG = f"""
registries:
  - {{name: us, url: "http://127.0.0.1:5001", region: us-east}}
  - name: eu
    url: "https://eu.example.test"
    region: eu-west
    auth: {{username: probe, password: "{PASSWORD}"}}
probes: {{interval: 10s, timeout: 5s}}
replication:
  - {{source: us, destination: eu, timeout: 30s}}
"""


@pytest.fixture
def config():
    return parse_config(CONFIG)


def ok(registry, probe, t, duration=0.05, **phases):
    return ProbeResult(registry, "r", probe, True, duration, phases=phases, timestamp=t)


def failed(registry, probe, t, reason="connect", message="connection refused"):
    return ProbeResult(registry, "r", probe, False, 0.001, reason=reason, message=message, timestamp=t)


def model(config, results, slos=(), now=NOW, **kw):
    recent = RecentResults(config)
    for r in results:
        (recent.probe_result if isinstance(r, ProbeResult) else recent.replication_result)(r)
    return build_status(config, recent.snapshot(), list(slos), now=now, **kw)


def test_every_registry_is_listed_with_region_and_latest_results(config):
    s = model(config, [ok("us", "ping", NOW - 20, 0.5), ok("us", "ping", NOW - 5, 0.004),
                       ok("us", "push", NOW - 4, 0.2, blob_upload=0.15, manifest_put=0.03),
                       ok("us", "pull", NOW - 3, 0.1, manifest_get=0.02, blob_get=0.07)])
    us, eu = s["registries"]
    assert (us["name"], us["region"], eu["name"], eu["region"]) == ("us", "us-east", "eu", "eu-west")
    assert [p["probe"] for p in us["probes"]] == ["ping", "push", "pull"]
    ping = us["probes"][0]
    assert ping["duration_seconds"] == 0.004 and ping["age_seconds"] == 5.0  # the latest, not the first
    assert ping["time"] == "2027-01-15T07:59:55Z" and ping["timestamp"] == NOW - 5
    assert us["probes"][1]["phases"] == {"blob_upload": 0.15, "manifest_put": 0.03}
    assert us["status"] == "ok"
    assert eu["status"] == "unknown" and eu["probes"] == []  # no result yet is not "ok"
    json.dumps(s)  # the model is what the API serves: it must be plain JSON


def test_a_failed_latest_result_makes_the_registry_critical_with_its_reason(config):
    s = model(config, [ok("eu", "ping", NOW - 3), failed("eu", "push", NOW - 2, "auth", "401 unauthorized"),
                       ok("eu", "pull", NOW - 1)])
    eu = s["registries"][1]
    assert eu["status"] == "critical" and s["status"] == "critical"
    push = eu["probes"][1]
    assert (push["ok"], push["reason"], push["message"]) == (False, "auth", "401 unauthorized")


def test_recovery_clears_the_registry_but_keeps_the_failure_listed(config):
    s = model(config, [failed("us", "ping", NOW - 30), ok("us", "ping", NOW - 2), ok("us", "push", NOW - 2),
                       ok("us", "pull", NOW - 2)])
    assert s["registries"][0]["status"] == "ok"
    assert [(f["kind"], f["registry"], f["reason"]) for f in s["failures"]] == [("probe", "us", "connect")]


def test_stale_results_warn(config):
    stale = 3 * 10 + 5 + 1  # three intervals plus the timeout
    s = model(config, [ok("us", p, NOW - stale) for p in ("ping", "push", "pull")])
    assert s["registries"][0]["status"] == "warn"
    assert {p["status"] for p in s["registries"][0]["probes"]} == {"warn"}


def test_failures_are_newest_first_and_cover_replication(config):
    s = model(config, [failed("us", "ping", NOW - 50), failed("eu", "pull", NOW - 10, "timeout", "read timed out"),
                       ReplicationResult("us", "eu", "timeout", None, "timeout", "not replicated within 30s",
                                         timestamp=NOW - 30)])
    assert [f["age_seconds"] for f in s["failures"]] == [10, 30, 50]
    rep = s["failures"][1]
    assert (rep["kind"], rep["source"], rep["destination"], rep["reason"]) == ("replication", "us", "eu", "timeout")


def test_replication_lag_status_and_history(config):
    s = model(config, [ReplicationResult("us", "eu", "ok", 2.5, timestamp=NOW - 40),
                       ReplicationResult("us", "eu", "timeout", None, "timeout", timestamp=NOW - 20),
                       ReplicationResult("us", "eu", "ok", 1.25, timestamp=NOW - 5)])
    (pair,) = s["replication"]
    assert (pair["source"], pair["destination"], pair["status"], pair["lag_seconds"]) == ("us", "eu", "ok", 1.25)
    assert pair["history"] == [[NOW - 40, 2.5, "ok"], [NOW - 20, None, "timeout"], [NOW - 5, 1.25, "ok"]]
    s = model(config, [ReplicationResult("us", "eu", "timeout", None, "timeout", timestamp=NOW - 5)])
    assert s["replication"][0]["status"] == "critical" and s["status"] == "critical"
    assert model(config, [])["replication"][0]["status"] == "unknown"


def test_history_keeps_only_the_window_and_can_be_left_out(config):
    results = [ok("us", "ping", NOW - 3 * 3600 - 1, 9.0), ok("us", "ping", NOW - 60, 0.1),
               failed("us", "ping", NOW - 30)]
    s = model(config, results, hours=3)
    assert s["registries"][0]["history"]["ping"] == [[NOW - 60, 0.1, True], [NOW - 30, 0.001, False]]
    assert s["history_window_seconds"] == 3 * 3600
    assert "history" not in model(config, results, history=False)["registries"][0]


def test_secrets_never_reach_the_model(config):
    leak = f"GET https://probe:{PASSWORD}@eu.example.test/v2/ failed; Authorization: Bearer abcdef0123456789xyz"
    s = model(config, [failed("eu", "ping", NOW - 1, "auth", leak)])
    text = json.dumps(s)
    assert PASSWORD not in text and "abcdef0123456789xyz" not in text
    assert "<redacted>" in s["registries"][1]["probes"][0]["message"]
    assert "eu.example.test" in text  # the URL itself is fine


def test_redactor_and_public_url():
    redact = Redactor(["s3cret-pass"])
    assert redact("user s3cret-pass in http://a:b@h:5000/v2/ token Basic dXNlcjpwYXNzd29yZA==") == \
        "user <redacted> in http://<redacted>@h:5000/v2/ token Basic <redacted>"
    assert redact(None) == ""
    assert public_url("https://user:pw@registry.example:8443") == "https://registry.example:8443"


@pytest.mark.parametrize("raw, status", [
    ({"name": "a", "objective": 99.9, "sli": 0.9995, "error_budget_remaining": 0.5, "burn_rates": {"1h": 0.4}}, "ok"),
    ({"name": "a", "objective": 99.9, "sli": 0.999, "error_budget_remaining": 0.2, "burn_rates": {"1h": 0.4}}, "warn"),
    ({"name": "a", "objective": 99.9, "sli": 0.999, "error_budget_remaining": 0.8, "burn_rates": {"1h": 2.0}}, "warn"),
    ({"name": "a", "objective": 99.9, "sli": 0.99, "error_budget_remaining": -0.3, "burn_rates": {}}, "critical"),
    ({"name": "a", "objective": 99.9, "error_budget_remaining": 0.9, "burn_rates": {"5m": 20.0}}, "critical"),
    ({"name": "a", "objective": 99, "error_budget_remaining": 0.9,
      "burn_rates": [{"window": "6h", "rate": 7.0, "threshold": 6.0}]}, "critical"),
    ({"name": "a", "objective": 99.9, "sli": None, "error_budget_remaining": None, "burn_rates": {}}, "unknown"),
])
def test_slo_status_thresholds(raw, status):
    assert slo_entry(raw)["status"] == status


def test_slo_values_are_ratios_whether_given_as_percent_or_ratio():
    a = slo_entry({"name": "x", "objective": 99.5, "sli": 99.75, "error_budget_remaining": 0.5})
    b = slo_entry({"name": "x", "objective_ratio": 0.995, "sli_ratio": 0.9975, "error_budget_remaining": 0.5})
    assert a["objective_ratio"] == pytest.approx(0.995) == b["objective_ratio"]
    assert a["sli_ratio"] == pytest.approx(0.9975) == b["sli_ratio"]
    nan = slo_entry({"name": "x", "objective": 99.0, "sli": float("nan"), "error_budget_remaining": float("inf")})
    assert nan["sli_ratio"] is None and nan["error_budget_remaining_ratio"] is None and nan["status"] == "unknown"


def test_slo_snapshot_tolerates_no_state():
    assert slo_snapshot(None) == []

    class State:
        def snapshot(self):
            return [{"name": "pull", "objective": 99.9, "sli": 1.0, "error_budget_remaining": 1.0,
                     "burn_rates": {"5m": 0.0, "1h": 0.0}}]

    (entry,) = slo_snapshot(State())
    assert entry["name"] == "pull" and entry["status"] == "ok"
    assert [b["window"] for b in entry["burn_rates"]] == ["5m", "1h"]


def test_overall_status_and_ages():
    assert worst(["ok", "warn", "unknown"]) == "warn" and worst([]) == "unknown"
    assert worst(["ok", "critical"]) == "critical"
    assert [ago(x) for x in (0.4, 59, 130, 7300, None)] == ["0 s ago", "59 s ago", "2 min ago", "2 h ago", "never"]


def test_burn_windows_read_like_config_and_a_broken_state_hides_only_the_slos():
    entry = slo_entry({"name": "x", "objective": 99.9, "burn_rates": {300: 1.0, 3600.0: 0.5, 90: 0.1, "6h": 2}})
    assert [b["window"] for b in entry["burn_rates"]] == ["5m", "1h", "90s", "6h"]

    class Broken:
        def snapshot(self):
            raise RuntimeError("window not filled")

    assert slo_snapshot(Broken()) == []


def test_overall_status_ignores_what_has_no_data_yet(config):
    results = [ok(r, p, NOW - 1) for r in ("us", "eu") for p in ("ping", "push", "pull")]
    results.append(ReplicationResult("us", "eu", "ok", 1.0, timestamp=NOW - 2))
    quiet = slo_entry({"name": "logs", "objective": 99.9, "sli": None, "error_budget_remaining": None,
                       "burn_rates": {"5m": None}})
    assert quiet["status"] == "unknown"
    assert model(config, results, [quiet])["status"] == "ok"
    assert model(config, [], [quiet])["status"] == "unknown"
