"""The fill projection: finite while growing, +Inf when flat or shrinking, robust to bursts and GC drops."""

import math

import numpy as np
import pytest

from regslo.sli.fill import MIN_SAMPLES, full_in_seconds, growth_rate

CAP = 1e12


def test_steady_growth_projects_exactly():
    t = np.arange(0, 3600, 30.0)
    used = 1e11 + 1e6 * t  # 1 MB/s
    available = CAP - used[-1]
    assert full_in_seconds(t, used, CAP, available) == pytest.approx(available / 1e6, rel=1e-9)


def test_flat_and_shrinking_are_infinite():
    t = np.arange(0, 600, 30.0)
    assert full_in_seconds(t, np.full(len(t), 5e11), CAP, 5e11) == math.inf
    assert full_in_seconds(t, 5e11 - 10 * t, CAP, 5e11) == math.inf


def test_too_few_samples_give_no_estimate():
    t = np.arange(MIN_SAMPLES - 1) * 30.0
    assert full_in_seconds(t, 1e6 * t, CAP, 1e11) is None


def test_bursts_do_not_move_the_median_slope():
    rng = np.random.default_rng(7)
    t = np.arange(0, 6 * 3600, 30.0)
    used = 1e11 + 2e5 * t
    bursts = rng.choice(len(t), size=len(t) // 10, replace=False)
    used[bursts] += 5e8  # 10 % of samples 0.5 GB high (uploads in flight, purged), below the drop threshold
    assert growth_rate(t, used, CAP) == pytest.approx(2e5, rel=0.05)
    ordinary = np.polyfit(t, used, 1)[0]  # what least squares would say, for contrast
    assert abs(ordinary - 2e5) > abs(growth_rate(t, used, CAP) - 2e5)


def test_a_gc_drop_restarts_the_fit():
    t = np.arange(0, 7200, 60.0)
    used = 1e11 + 1e6 * t
    used[60:] -= 5e10  # GC freed 50 GB (5 % of capacity) an hour in; growth continues at 1 MB/s
    assert growth_rate(t, used, CAP) == pytest.approx(1e6, rel=1e-6)
    assert growth_rate(t[:63], used[:63], CAP) is None  # only 3 samples since the drop


def test_work_is_bounded_for_long_histories():
    t = np.arange(0, 200_000, 1.0)
    assert growth_rate(t, 3.0 * t, CAP) == pytest.approx(3.0)
