"""The backtest engine on hand-computed cases (the integration tests compare it with real Prometheus)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from regslo.slo.backtest import (Counter, SLOBacktest, budget_of, eval_times, fire_intervals, increase,
                                 reset_corrected, sum_increase, tiers_for)
from regslo.slo.backtest_sources import PrometheusSource, QueryError, line_time, parse_time
from regslo.slo.burn import default_tiers
from regslo.slo.model import SLISpec, SLO, Tier


def inc(t_s, v, at_s, window_s):
    t = np.array([round(x * 1000) for x in t_s], dtype=np.int64)
    out = increase(t, np.array([v], dtype=float), np.array([round(at_s * 1000)], dtype=np.int64), round(window_s * 1000))
    return out[0, 0]


def test_samples_on_both_edges_need_no_extrapolation():
    assert inc([0, 15, 30, 45, 60], [10, 11, 12, 13, 14], 60, 60) == pytest.approx(4.0)


def test_extrapolates_to_the_edges_when_they_are_near():
    # samples at 5..55 every 10 s, +1 each: raw 5 over 50 s; 5 s to each edge < 1.1 x 10 s -> 60 s -> 6
    assert inc([5, 15, 25, 35, 45, 55], [100, 101, 102, 103, 104, 105], 60, 60) == pytest.approx(6.0)


def test_far_edges_extrapolate_half_an_interval():
    # samples at 30..50 every 10 s in a 60 s window: start edge 30 s away (> 11 s) -> +5 s; end 10 s -> +10 s
    assert inc([30, 40, 50], [100, 101, 102], 60, 60) == pytest.approx(2 * (20 + 5 + 10) / 20)


def test_never_extrapolates_below_zero():
    # a counter born mid-window: samples 5 s apart from t=20, values 1, 3, 5: raw 4 over 10 s; the line
    # through them reaches 0 at 20 - 10 * (1 / 4) = 17.5 s, nearer than the window start (20 s away) and
    # within 1.1 intervals (5.5 s): extrapolate 2.5 s back, 0 s forward -> 4 * 12.5 / 10
    assert inc([20, 25, 30], [1, 3, 5], 30, 30) == pytest.approx(4 * 12.5 / 10)


def test_a_reset_adds_the_value_before_it():
    assert inc([0, 10, 20, 30], [5, 8, 2, 4], 30, 30) == pytest.approx((4 - 5 + 8))
    assert list(reset_corrected(np.array([5.0, 8, 2, 4]))) == [5, 8, 10, 12]


def test_fewer_than_two_samples_is_no_result_and_edges_are_inclusive():
    assert np.isnan(inc([0, 100], [1, 2], 50, 30))
    assert inc([0, 30], [1, 2], 30, 30) == pytest.approx(1.0)  # both edges inside [t - w, t]


def test_sum_skips_series_without_result_and_is_nan_when_none_has_one():
    a = Counter({"a": "1"}, [0, 30_000], [0, 3])
    b = Counter({"a": "2"}, [0], [7])
    got = sum_increase([a, b], np.array([30_000, 90_000]), 30_000)
    assert got[0] == pytest.approx(3.0) and np.isnan(got[1])
    assert np.isnan(sum_increase([], np.array([1]), 10)[0])


def test_fire_intervals_with_and_without_for():
    times = np.arange(0, 10) * 30_000
    firing = np.array([0, 1, 1, 1, 0, 0, 1, 0, 1, 1], dtype=bool)
    assert fire_intervals(firing, times) == [(1, 3, 120_000, False), (6, 6, 210_000, False), (8, 9, 270_000, True)]
    # for: 60s -> only runs lasting 60 s after they became active fire, starting 2 steps late
    assert fire_intervals(firing, times, 60_000) == [(3, 3, 120_000, False)]


def test_eval_grid_and_offset():
    assert list(eval_times(10, 100, 30)) == [30_000, 60_000, 90_000]
    assert list(eval_times(10, 100, 30, offset=7.5)) == [37_500, 67_500, 97_500]
    assert list(eval_times(37.5, 97.5, 30, offset=7.5)) == [37_500, 67_500, 97_500]


def _slo(tiers=None, objective=99.9):
    budget = budget_of(objective)
    return SLO(name="s", sli=SLISpec("availability", "probe", "pull"), objective=objective, period=30 * 86400.0,
               tiers=tiers or default_tiers(30 * 86400.0, budget, 60.0)[0])


def test_what_if_re_derives_default_tiers_and_keeps_custom_ones():
    slo = _slo()
    assert tiers_for(slo, 99.9, 60.0) == slo.tiers
    at_90 = tiers_for(slo, 90, 60.0)
    assert 14.4 not in [t.burn_rate for t in at_90]  # can never fire at 90 %: left out like the generator does
    custom = _slo(tiers=(Tier("page", 3600, 300, 5.0),))
    assert tiers_for(custom, 99, 60.0) == custom.tiers


def test_alerts_and_periods_from_counters():
    step = 60_000
    t = np.arange(0, 4 * 3600_000 + 1, 15_000)
    runs = np.arange(len(t)) * 10.0
    outage = (t > 3600_000) & (t <= 3600_000 + 900_000)
    fails = np.cumsum(np.where(outage, 10.0, 0.0))
    slo = _slo(tiers=(Tier("page", 3600, 300, 14.4),), objective=99.0)
    bt = SLOBacktest(slo, {"valid": [Counter({}, t, runs)], "bad": [Counter({}, t, fails)]},
                     np.arange(0, 4 * 3600_000 + 1, step))
    (alert,) = bt.alerts()
    # 100 % errors: the 1h window passes 14.4 % after 518 s; the 5m window clears 5 min after the end
    assert 3600 + 518 <= alert.start <= 3600 + 518 + 60 and 3600 + 900 + 240 <= alert.end <= 3600 + 900 + 360
    assert alert.peak_burn_rate == pytest.approx(25, rel=0.05)
    assert bt.alerts(90) == []  # custom tiers stay: 14.4 cannot be reached with a 10 % budget
    assert [a.severity for a in bt.alerts(99.9)] == ["page"]
    assert bt.alerts(99.9)[0].start < alert.start  # a smaller budget pages sooner
    periods = bt.periods(0, 4 * 3600)
    assert len(periods) == 1 and periods[0].bad == 600 and periods[0].valid == runs[-1]
    assert periods[0].budget_consumed == pytest.approx(600 / runs[-1] / 0.01)


def test_line_time_formats():
    assert line_time('1.2.3.4 - - [27/Nov/2026:07:45:40 +0000] "GET /v2/ HTTP/1.1" 200 2') == 1795765540
    assert line_time('1.2.3.4 - - [27/Nov/2026:08:45:40 +0100] "GET /v2/ HTTP/1.1" 200 2') == 1795765540
    assert line_time('time="2026-11-27T07:45:40.5Z" level=info msg="response completed"') == 1795765540.5
    assert line_time('{"msg":"x","time":"2026-11-27T07:45:40.25+00:00"}') == 1795765540.25
    assert line_time("no time here") is None


def test_parse_time():
    now = lambda: 1_000_000.0  # noqa: E731
    assert parse_time("now", now) == 1_000_000 and parse_time("now-1h", now) == 1_000_000 - 3600
    assert parse_time("1767225600", now) == 1767225600
    assert parse_time("2026-01-01T00:00:00Z", now) == 1767225600
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_time("yesterday", now)
    assert parse_time("2026-01-01T01:00:00+01:00", now) == 1767225600
    assert parse_time("2026-01-01T00:00:00", now) == 1767225600  # no zone: UTC
    for text in ("nan", "inf", "-inf", "-5", "1e20", "now-100y"):  # no traceback further on, one line instead
        with pytest.raises(ValueError, match="not a time between 1970 and 9999"):
            parse_time(text, now)
    with pytest.raises(ValueError, match="now-7d"):
        parse_time("-7d", now)  # relative times are written now-7d


def test_an_unreachable_prometheus_is_a_query_error():
    from tests.support.registry import free_port
    source = PrometheusSource(f"http://127.0.0.1:{free_port()}", timeout=2, progress=io.StringIO())
    with pytest.raises(QueryError, match="cannot reach Prometheus"):
        source.check()


def test_timed_sink_places_batched_totals_at_the_line_time():
    from regslo.sli.buckets import REQUEST_DURATION_BUCKETS
    from regslo.slo.backtest_sources import _TimedSink

    sink = _TimedSink()
    sink.now = 100.0
    hist = sink.new_buckets()
    hist[REQUEST_DURATION_BUCKETS.index(1.0)] = 2
    hist[-1] = 1  # over the largest bound
    sink.add({("pull", "200", "a/b"): 3, ("pull", "503", None): 1}, {"pull": 100}, {"pull": hist}, {"pull": 9.0})
    sink.request("push", "201", None, None, 0.2)
    sink.cache("pull", "HIT")  # reported by some parsers, feeds no SLI: ignored
    sink.tag_overwrite(repository="a", tag="b")
    assert sorted(sink.requests) == [(100.0, "pull", "200")] * 3 + [(100.0, "pull", "503"), (100.0, "push", "201")]
    assert sorted(d[2] for d in sink.durations) == [0.2, 1.0, 1.0, float("inf")]


def test_slo_filter_keeps_order_names_each_once_and_refuses_unknown_names():
    from types import SimpleNamespace

    from regslo.commands.backtest import Usage, _pick

    config = SimpleNamespace(slos=[SimpleNamespace(name="a"), SimpleNamespace(name="b")])
    assert [s.name for s in _pick(config, ["b", "a", "b"])] == ["b", "a"]
    assert [s.name for s in _pick(config, [])] == ["a", "b"]
    with pytest.raises(Usage, match="unknown SLO 'c'"):
        _pick(config, ["c"])


def test_a_what_if_objective_evaluates_tiers_the_slo_itself_dropped():
    """An SLO at 90 % has no 1h/5m page (14.4 × 10 % cannot be reached); a what-if at 99.9 % brings that tier
    back. Its windows had no precomputed ratio, and ``regslo backtest --objective 99.9`` died with KeyError."""
    t = np.arange(0, 4 * 3600_000 + 1, 15_000)
    runs = np.arange(len(t)) * 10.0
    fails = np.cumsum(np.where((t > 3600_000) & (t <= 3600_000 + 900_000), 10.0, 0.0))
    slo = _slo(objective=90.0)
    bt = SLOBacktest(slo, {"valid": [Counter({}, t, runs)], "bad": [Counter({}, t, fails)]},
                     np.arange(0, 4 * 3600_000 + 1, 60_000))
    assert 3600.0 not in slo.windows()
    pages = [a for a in bt.alerts(99.9) if a.severity == "page"]
    assert pages and 3600 < pages[0].start < 3600 + 900  # the 15-minute total outage pages at 99.9 %
