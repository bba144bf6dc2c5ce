"""The slos:, alerting: and dashboards: sections: what check-config accepts, warns about and rejects."""

from __future__ import annotations



import pytest
import yaml

from regslo.config import ConfigError, parse_config

BASE = {
    "registries": [{"name": "us", "url": "https://us.example", "region": "us-east"},
                   {"name": "eu", "url": "https://eu.example", "region": "eu-west"}],
    "replication": [{"source": "us", "destination": "eu"}],
}


def config_with(*slos: dict, **top) -> str:
    return yaml.safe_dump({**BASE, "slos": list(slos), **top})


def slo(**overrides) -> dict:
    base = {"name": "pull", "sli": {"kind": "availability", "source": "probe", "operation": "pull"},
            "objective": 99.9, "period": "30d"}
    base.update(overrides)
    return base


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, check_secrets=False)
    return exc.value.problems


def test_a_valid_slo_gets_the_workbook_tiers_for_30_days():
    config = parse_config(config_with(slo(labels={"team": "platform"})), check_secrets=False)
    (s,) = config.slos
    assert s.error_budget == 0.001
    assert [(t.severity, t.long_window, t.short_window, t.burn_rate) for t in s.tiers] == [
        ("page", 3600, 300, 14.4), ("page", 21600, 1800, 6.0), ("ticket", 86400, 7200, 3.0),
        ("ticket", 259200, 21600, 1.0)]
    assert s.rule_labels() == {"slo": "pull", "team": "platform"}
    assert s.runbook_url == "docs/runbooks/probe-availability.md"


@pytest.mark.parametrize("objective", [100, 0, -1, 100.5])
def test_objectives_outside_0_100_are_rejected(objective):
    (problem,) = problems(config_with(slo(objective=objective)))
    assert problem.startswith("slos[0].objective: must be a percentage between 0 and 100")


def test_four_nines_or_more_warns():
    config = parse_config(config_with(slo(objective=99.99)), check_secrets=False)
    assert any(w.startswith("slos[0].objective: 99.99% leaves") for w in config.warnings)


def test_a_tier_that_can_never_fire_is_rejected():
    tiers = [{"severity": "page", "long_window": "1h", "burn_rate": 14.4}]
    (problem,) = problems(config_with(slo(objective=93, tiers=tiers)))
    assert problem == ("slos[0].tiers[0]: burn rate 14.4 can never be reached at objective 93% "
                       "(the maximum, a 100% error ratio, is 14.29)")
    parse_config(config_with(slo(objective=95, tiers=tiers)), check_secrets=False)  # max 20: fine


def test_default_tiers_that_can_never_fire_are_left_out_with_a_warning():
    config = parse_config(config_with(slo(objective=90)), check_secrets=False)
    assert [t.burn_rate for t in config.slos[0].tiers] == [6.0, 3.0, 1.0]
    assert any("burn rate 14.4 can never be reached" in w for w in config.warnings)


def test_latency_threshold_must_be_a_bucket_bound_and_the_error_lists_them():
    sli = {"kind": "latency", "source": "probe", "operation": "pull", "threshold": "3s"}
    (problem,) = problems(config_with(slo(sli=sli)))
    assert problem.startswith("slos[0].sli.threshold: 3s is not a bucket bound of regslo_probe_duration_seconds; "
                              "bounds: 5ms, 10ms, 25ms")
    assert "2s, 2s500ms, 5s" in problem


def test_alert_window_longer_than_the_period_is_rejected():
    tiers = [{"severity": "ticket", "long_window": "3d", "short_window": "6h", "burn_rate": 1}]
    (problem,) = problems(config_with(slo(period="2d", tiers=tiers)))
    assert problem == "slos[0].tiers[0].long_window: 3d is longer than the period 2d"


def test_unknown_selectors_are_named():
    found = problems(config_with(
        slo(sli={"kind": "availability", "source": "probe", "operation": "pull", "registry": "ap"}),
        slo(name="b", sli={"kind": "availability", "source": "logs", "region": "mars"}),
        slo(name="c", sli={"kind": "freshness", "source": "eu", "destination": "us", "threshold": "30s"}),
        slo(name="d", sli={"kind": "availability", "source": "probe", "operation": "fetch"})))
    assert found == [
        "slos[0].sli.registry: unknown registry 'ap' (known: us, eu)",
        "slos[1].sli.region: unknown region 'mars' (known: eu-west, us-east)",
        "slos[2].sli: no replication pair eu -> us is configured (pairs: us -> eu)",
        "slos[3].sli.operation: unknown probe 'fetch' (known: ping, push, pull)",
    ]


def test_structural_mistakes_each_get_a_key_path():
    found = problems(config_with(
        slo(name="Bad Name", labels={"slo": "x", "9x": "y"}, period="10m", extra=1),
        slo(name="dup"), slo(name="dup"),
        slo(name="t", sli={"kind": "availability", "source": "probe", "operation": "pull", "threshold": "1s"}),
        slo(name="u", description="pulls {{ fail }}")))
    assert "slos[4].description: must not contain {{ or }}: it goes into Prometheus alert templates" in found
    assert "slos[0].extra: unknown key (known: description, labels, name, no_data_after, " \
           "objective, period, runbook_url, sli, tiers)" in found
    assert any(p.startswith("slos[0].name: must be lowercase") for p in found)
    assert any(p.startswith("slos[0].labels.slo: is set by regslo itself") for p in found)
    assert any(p.startswith("slos[0].labels.9x: must be a Prometheus label name") for p in found)
    assert "slos[0].period: must be at least 1h and a whole number of 5m, got 10m" in found
    assert "slos[2].name: duplicate SLO name 'dup' (also slos[1])" in found
    assert "slos[3].sli.threshold: only latency and freshness SLIs take a threshold" in found


def test_garbage_never_crashes():
    for text in ("slos: 3", "slos: [1, null, {sli: 5}]", "slos: [{name: x, sli: {kind: speed}}]",
                 "slos: [{name: x, tiers: nope, sli: {kind: latency, source: logs, threshold: fast}}]"):
        found = problems(yaml.safe_dump(BASE) + text + "\n")
        assert found and all(p.startswith("slos") for p in found), found


def test_freshness_reads_source_and_destination_as_registries():
    sli = {"kind": "freshness", "source": "us", "destination": "eu", "threshold": "30s"}
    (s,) = parse_config(config_with(slo(sli=sli)), check_secrets=False).slos
    assert (s.sli.replication_source, s.sli.destination, s.sli.threshold) == ("us", "eu", 30.0)
    assert s.rule_labels() == {"slo": "pull", "registry": "eu", "source": "us", "destination": "eu"}
    assert s.runbook_url.endswith("/freshness.md")


def test_logs_region_selects_the_registries_of_that_region():
    sli = {"kind": "latency", "source": "logs", "operation": "pull", "region": "eu-west", "threshold": "1s"}
    config = parse_config(config_with(slo(sli=sli)), check_secrets=False)
    assert config.slos[0].sli.regions_registries == ("eu",)
    assert any("no logs: section" in w for w in config.warnings)


def test_alerting_and_dashboards_sections():
    text = config_with(slo(), alerting={"min_window": "2m", "maintenance": [
        {"weekdays": ["sunday", "monday:friday"], "times": [{"start_time": "01:00", "end_time": "02:30"}]}]},
        dashboards={"url": "https://grafana.example/"})
    config = parse_config(text, check_secrets=False)
    assert config.alerting.min_window == 120 and config.dashboards.url == "https://grafana.example"
    bad = config_with(slo(), alerting={"maintenance": [{"weekdays": ["caturday"],
                                                        "times": [{"start_time": "5pm", "end_time": "04:00"}]}]},
                      dashboards={"url": "grafana"})
    assert problems(bad) == [
        "alerting.maintenance[0].weekdays[0]: must be a weekday or range like monday:friday, got 'caturday'",
        "alerting.maintenance[0].times[0].start_time: must be HH:MM (UTC), got '5pm'",
        "dashboards.url: must be an http:// or https:// URL, got 'grafana'",
    ]


def test_the_example_config_is_valid():
    from pathlib import Path
    from regslo.config import load_config
    config = load_config(Path(__file__).resolve().parents[3] / "examples" / "regslo.yml", check_secrets=False)
    assert len(config.slos) >= 6
    assert {s.sli.kind for s in config.slos} == {"availability", "latency", "freshness"}
    assert {s.sli.source for s in config.slos} == {"probe", "logs", "replication"}


def test_budget_share_tiers_scale_with_the_period():
    tiers = [{"severity": "page", "long_window": "1h", "budget_share": 2}]
    (s,) = parse_config(config_with(slo(period="7d", tiers=tiers)), check_secrets=False).slos
    assert s.tiers[0].burn_rate == 3.36 and s.tiers[0].short_window == 300





from hypothesis import given, settings, strategies as st  # noqa: E402

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                     st.sampled_from(["", "pull", "logs", "probe", "latency", "freshness", "availability", "1h",
                                      "30d", "2s", "us", "eu", "page", "ticket", "99.9", "x{{y}}"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["kind", "source", "operation", "registry", "threshold", "severity", "long_window",
                     "burn_rate", "budget_share", "team"]), inner, max_size=4), max_leaves=8)
_SLO_KEYS = ["name", "description", "sli", "objective", "period", "labels", "runbook_url", "tiers", "no_data_after"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(_SLO_KEYS), _VALUES, max_size=6), max_size=3))
def test_any_slos_section_gives_a_config_or_key_path_errors(slos):
    text = yaml.safe_dump({**BASE, "slos": slos})
    try:
        config = parse_config(text, check_secrets=False)
    except ConfigError as exc:
        assert all(p.startswith("slos") for p in exc.problems), exc.problems
    else:
        assert len(config.slos) == len(slos)
