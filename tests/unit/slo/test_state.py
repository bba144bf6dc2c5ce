"""SLOState: samples counters by name and labels from one registry, serves SLO gauges from another."""

from __future__ import annotations

import math
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from regslo.slo.model import SLISpec, SLO, Tier
from regslo.slo.state import SLOState, _Buffer
from regslo.units import format_duration
from tests.unit.slo.contract import probe_counters

TIERS = (Tier("page", 3600, 300, 14.4), Tier("ticket", 86400, 7200, 3.0))


def make_slo(name="pull", kind="availability", threshold=None, period=30 * 86400.0) -> SLO:
    return SLO(name=name, sli=SLISpec(kind=kind, source="probe", operation="pull", registry="us",
                                      threshold=threshold), objective=99.9, period=period, tiers=TIERS)


@pytest.fixture
def probes():
    reg = CollectorRegistry()
    return (reg, *probe_counters(reg))


def values(registry: CollectorRegistry) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in registry.collect() for s in f.samples}


def test_buffer_keeps_the_newest_rows_in_time_order():
    buf = _Buffer(5)
    for t in range(23):
        buf.append(float(t), t * 2.0, 0.0)
    assert len(buf) == 5 and buf.row(buf.start)[0] == 18 and buf.last()[0] == 22
    assert buf.at_or_before(20.5) is not None and buf.row(buf.at_or_before(20.5))[0] == 20
    assert buf.at_or_before(3) is None


def test_no_traffic_gives_no_data_never_nan(probes):
    reg, runs, _, _ = probes
    runs.labels("us", "us-east", "pull")
    target = CollectorRegistry()
    state = SLOState([make_slo()], reg, target)
    for t in range(0, 3600, 60):
        state.sample(now=t)
    (snap,) = state.snapshot()
    assert snap["sli"] is None and snap["error_budget_remaining"] is None and snap["status"] == "no data"
    assert set(snap["burn_rates"].values()) == {None}
    exposed = values(target)
    assert exposed == {("regslo_slo_objective_ratio", (("slo", "pull"),)): 0.999}
    assert "NaN" not in generate_latest(target).decode()


def test_an_outage_burns_and_only_matching_series_count(probes):
    reg, runs, fails, _ = probes
    target = CollectorRegistry()
    state = SLOState([make_slo()], reg, target)
    for i, t in enumerate(range(0, 7200 + 1, 60)):
        runs.labels("us", "us-east", "pull").inc(10)
        runs.labels("eu", "eu-west", "pull").inc(10)
        fails.labels("eu", "eu-west", "pull", "timeout").inc(10)  # another registry: ignored
        if t > 6600:
            fails.labels("us", "us-east", "pull", "timeout").inc(10)
        state.sample(now=t)
    (snap,) = state.snapshot()
    assert snap["burn_rates"]["5m"] == pytest.approx(1000.0)  # 100 % errors over the last 5 minutes
    assert snap["burn_rates"]["1h"] == pytest.approx(10 / 60 * 1000)
    assert snap["status"] == "page" and snap["tiers"][0]["firing"] is True
    # period: 5-minute boundaries 0..7200 -> cumulative at 7200 minus at 0
    assert snap["sli"] == pytest.approx(1 - 100 / 1200)
    assert snap["error_budget_remaining"] == pytest.approx(1 - (100 / 1200) / 0.001)
    exposed = values(target)
    assert exposed[("regslo_slo_burn_rate", (("slo", "pull"), ("window", "5m")))] == pytest.approx(1000.0)


def test_latency_counts_runs_outside_the_bucket_as_bad(probes):
    reg, runs, _, hist = probes
    state = SLOState([make_slo(kind="latency", threshold=2.0)], reg)
    for t in range(0, 601, 60):
        runs.labels("us", "us-east", "pull").inc(4)  # 4 runs: 3 fast successes, 1 failure
        for _ in range(3):
            hist.labels("us", "us-east", "pull").observe(1.5)
        state.sample(now=t)
    (snap,) = state.snapshot()
    assert snap["burn_rates"]["5m"] == pytest.approx(0.25 / 0.001)


def test_start_and_stop_run_a_daemon_thread(probes):
    reg, runs, _, _ = probes
    runs.labels("us", "us-east", "pull").inc()
    state = SLOState([make_slo()], reg, interval=0.05)
    state.start()
    try:
        deadline = time.monotonic() + 5
        while len(state.trackers["pull"].fine) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(state.trackers["pull"].fine) >= 3
        assert state._thread is not None and state._thread.daemon
    finally:
        state.stop()
    assert state._thread is None
    count = len(state.trackers["pull"].fine)
    time.sleep(0.2)
    assert len(state.trackers["pull"].fine) == count


def test_snapshot_values_are_plain_json_numbers(probes):
    import json
    reg, runs, _, _ = probes
    state = SLOState([make_slo()], reg)
    for t in range(0, 601, 60):
        runs.labels("us", "us-east", "pull").inc()
        state.sample(now=t)
    text = json.dumps(state.snapshot())
    assert "NaN" not in text and not math.isnan(json.loads(text)[0]["sli"])


def test_one_registry_can_be_both_source_and_target(probes):
    reg, runs, _, _ = probes
    state = SLOState([make_slo()], reg, reg)  # as `regslo run` wires it
    for t in range(0, 601, 60):
        runs.labels("us", "us-east", "pull").inc()
        state.sample(now=t)
    exposed = values(reg)
    assert exposed[("regslo_slo_burn_rate", (("slo", "pull"), ("window", "5m")))] == 0.0
    assert exposed[("regslo_probe_runs_total", (("probe", "pull"), ("region", "us-east"), ("registry", "us")))] == 11


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 400), st.integers(0, 20), st.integers(0, 20)), min_size=2, max_size=120),
       st.sampled_from([300.0, 1800.0, 3600.0]))
def test_window_ratio_matches_a_naive_replay(steps, window):
    """Irregular sample times: the buffer's window equals 'newest minus newest at or before now - window'."""
    reg = CollectorRegistry()
    runs, fails, _ = probe_counters(reg)
    state = SLOState([SLO(name="p", sli=SLISpec("availability", "probe", "pull"), objective=99.0,
                          period=3600.0, tiers=(Tier("page", window, 300, 14.4),))], reg)
    t, history = 0, []
    for gap, n_runs, n_fail in steps:
        t += gap
        runs.labels("us", "us-east", "pull").inc(n_runs + n_fail)
        fails.labels("us", "us-east", "pull", "dns").inc(n_fail)
        state.sample(now=t)
        history.append((t, sum(s[1] + s[2] for s in steps[:len(history) + 1]), sum(s[2] for s in steps[:len(history) + 1])))
    now = history[-1]
    older = [h for h in history if h[0] <= now[0] - window] or [history[0]]
    then = older[-1]
    valid, bad = now[1] - then[1], now[2] - then[2]
    expected = None if then[0] == now[0] or valid <= 0 else bad / valid / 0.01
    got = state.snapshot()[0]["burn_rates"][format_duration(window)]
    assert got == (pytest.approx(expected) if expected is not None else None)
