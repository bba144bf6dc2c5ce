"""Burn-rate math: tiers derived from budget share for any period, window scaling for short periods."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from regslo.slo.burn import DAY, default_tiers, scale_factor
from regslo.slo.model import Tier


def tiers(period: float, budget: float = 0.001, min_window: float = 60.0):
    return [(t.severity, t.long_window, t.short_window, t.burn_rate) for t in default_tiers(period, budget, min_window)[0]]


def test_30_days_reproduce_the_workbook_table():
    assert tiers(30 * DAY) == [("page", 3600, 300, 14.4), ("page", 21600, 1800, 6.0),
                               ("ticket", 86400, 7200, 3.0), ("ticket", 259200, 21600, 1.0)]


@pytest.mark.parametrize("days,burns", [(28, [13.44, 5.6, 2.8, 0.9333]), (7, [3.36, 1.4, 0.7, 0.2333]),
                                        (90, [43.2, 18.0, 9.0, 3.0])])
def test_other_periods_keep_the_budget_share(days, burns):
    assert [t[3] for t in tiers(days * DAY)] == burns
    for tier in default_tiers(days * DAY, 0.001, 60)[0]:  # the share spent when firing stays the workbook's
        assert tier.budget_spent(days * DAY) == pytest.approx({3600: 0.02, 21600: 0.05}.get(tier.long_window, 0.10), rel=1e-3)


def test_one_day_scales_windows_by_period_over_30_days_and_floors_them():
    assert scale_factor(DAY) == pytest.approx(1 / 30) and scale_factor(DAY + 1) == 1
    # 1h/30 = 2m, 5m/30 = 10s -> floor 1m, 6h/30 = 12m, 30m/30 = 1m, 1d/30 = 48m, 2h/30 = 4m, 3d/30 = 2h24m
    assert tiers(DAY) == [("page", 120, 60, 14.4), ("page", 720, 60, 6.0), ("ticket", 2880, 240, 3.0),
                          ("ticket", 8640, 720, 1.0)]


def test_one_hour_demo_pages_within_seconds():
    (fast, *_), _ = default_tiers(3600, 0.01, 60)
    assert (fast.long_window, fast.short_window, fast.burn_rate) == (60, 60, 14.4)
    assert fast.detection_time(0.01) == pytest.approx(8.64)  # + one evaluation interval in the tests


def test_two_day_period_drops_the_three_day_tier():
    found, notes = default_tiers(2 * DAY, 0.001, 60)
    assert [t.long_window for t in found] == [3600, 21600, 86400]
    assert notes == ["default tier ticket 3d/6h left out: its long window is longer than the period"]


def test_detection_time_matches_the_workbook():
    assert Tier("page", 3600, 300, 14.4).detection_time(0.001) == pytest.approx(51.84)
    assert Tier("page", 21600, 1800, 6).detection_time(0.001) == pytest.approx(129.6)
    assert Tier("ticket", 86400, 7200, 3).detection_time(0.001) == pytest.approx(259.2)


@given(period=st.integers(min_value=12, max_value=365 * 288).map(lambda n: n * 300.0),
       budget=st.sampled_from([0.1, 0.05, 0.01, 0.005, 0.001, 0.0001]))
def test_every_default_tier_can_fire_and_fits_the_period(period, budget):
    for tier in default_tiers(period, budget, 60)[0]:
        assert tier.burn_rate < 1 / budget
        assert 60 <= tier.short_window <= tier.long_window <= period
        assert tier.long_window % 15 == 0 and tier.short_window % 15 == 0


def test_detection_bound_of_an_slo():
    from regslo.slo.burn import detection_bound
    from regslo.slo.model import SLISpec, SLO
    found, _ = default_tiers(DAY, 0.01, 60)
    slo = SLO(name="d", sli=SLISpec("availability", "probe", "ping"), objective=99, period=DAY, tiers=found)
    assert detection_bound(slo) == pytest.approx(17.28)  # the docs' example: 0.01 x 14.4 x 120 s
    assert detection_bound(slo, "ticket") == pytest.approx(0.01 * 3 * 2880)
    assert detection_bound(SLO(name="n", sli=slo.sli, objective=99, period=DAY, tiers=())) is None
