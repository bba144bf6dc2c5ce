"""Generated rules: selectors per SLI kind, guarded divisions, one identity per tier, operator format."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from regslo.config import load_config
from regslo.outputs import rules
from regslo.outputs.generate import render

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "regslo.yml"


@pytest.fixture(scope="module")
def config():
    return load_config(EXAMPLE, check_secrets=False)


def group(config, name):
    slo = next(s for s in config.slos if s.name == name)
    return slo, yaml.safe_load(rules.rules_file(slo, config))["groups"][0]["rules"]


def record(rule_list, name, window=None):
    return next(r for r in rule_list if r.get("record") == name and (window is None or r["labels"].get("window") == window))


def test_output_is_deterministic(config):
    assert render(config) == render(config)


def test_every_ratio_divides_by_a_guarded_denominator_or_a_constant(config):
    for slo in config.slos:
        for rule in yaml.safe_load(rules.rules_file(slo, config))["groups"][0]["rules"]:
            for denominator in re.split(r"\s/\s", rule["expr"])[1:]:
                assert re.match(r"\(.*> 0\)$", denominator, re.S) or re.match(r"\d", denominator), rule


def test_selectors_per_sli_kind(config):
    _, r = group(config, "user-pull-availability")
    assert 'regslo_registry_requests_total{operation="pull",code=~"5..|429"}' in record(r, rules.BAD_5M)["expr"]
    assert 'regslo_registry_requests_total{operation="pull",code=~"429|[^4].*"}' in record(r, rules.VALID_5M)["expr"]
    _, r = group(config, "pull-latency")
    assert record(r, rules.BAD_5M)["expr"] == (
        'clamp_min(sum(increase(regslo_probe_runs_total{probe="pull"}[5m])) - '
        '(sum(increase(regslo_probe_duration_seconds_bucket{probe="pull",le="2.0"}[5m])) or vector(0)), 0)')
    _, r = group(config, "replication-freshness")
    assert 'regslo_replication_lag_seconds_bucket{source="us",le="30.0"}' in record(r, rules.BAD_5M)["expr"]
    assert record(r, rules.VALID_5M)["expr"] == 'sum(increase(regslo_replication_checks_total{source="us"}[5m]))'
    _, r = group(config, "user-pull-latency-eu")
    assert 'registry=~"eu"' in record(r, rules.VALID_5M)["expr"]


def test_period_sli_sums_5m_increases_and_budget_uses_exact_decimal(config):
    _, r = group(config, "pull-availability")
    assert record(r, rules.PERIOD_ERROR_RATIO)["expr"] == (
        'sum_over_time(regslo_slo:bad:increase5m{slo="pull-availability"}[30d:5m])\n/\n'
        '(sum_over_time(regslo_slo:valid:increase5m{slo="pull-availability"}[30d:5m]) > 0)')
    assert record(r, rules.BUDGET_REMAINING)["expr"] == '1 - regslo_slo:period_error_ratio{slo="pull-availability"} / 0.001'
    assert record(r, rules.OBJECTIVE)["expr"] == "vector(0.999)"


def test_each_tier_is_its_own_alert_identity_with_annotations(config):
    slo, r = group(config, "pull-availability")
    alerts = [x for x in r if "alert" in x]
    identities = {tuple(sorted(a["labels"].items())) for a in alerts}
    assert len(identities) == len(alerts) == len(slo.tiers) + 1
    page = alerts[0]
    assert page["alert"] == "RegsloBurnRatePage"
    assert page["labels"] == {"slo": "pull-availability", "team": "platform", "severity": "page",
                              "long_window": "1h", "short_window": "5m", "burn_rate": "14.4"}
    assert page["expr"] == ('max without (window) (regslo_slo:burn_rate{slo="pull-availability",window="1h"}) > 14.4\n'
                            'and ignoring (window)\nregslo_slo:burn_rate{slo="pull-availability",window="5m"} > 14.4')
    ann = page["annotations"]
    assert "{{ $value" in ann["description"] and "error budget is left" in ann["description"]
    assert ann["runbook_url"].endswith("/probe-availability.md")
    assert ann["dashboard"] == "https://grafana.example.com/d/regslo-oncall/regslo-on-call?var-slo=pull-availability"
    assert alerts[-1]["alert"] == "RegsloSLINoData" and alerts[-1]["labels"]["severity"] == "ticket"


def test_selector_labels_land_on_rules_for_grouping(config):
    _, r = group(config, "push-availability-us")
    assert record(r, rules.BURN_RATE, "1h")["labels"] == {"slo": "push-availability-us", "registry": "us",
                                                            "team": "platform", "window": "1h"}


def test_prometheus_operator_format_holds_the_same_groups(config):
    files = render(config, "prometheus-operator")
    assert not any(k.endswith(("_test.yml", ".rules.yml")) for k in files)
    doc = yaml.safe_load(files["alerts/regslo.prometheusrule.yml"])
    assert (doc["apiVersion"], doc["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    plain = [yaml.safe_load(rules.rules_file(s, config))["groups"][0] for s in config.slos]
    from regslo.outputs import extras
    assert doc["spec"]["groups"] == plain + extras.groups(config)
