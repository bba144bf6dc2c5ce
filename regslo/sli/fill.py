"""When will the filesystem be full? A robust straight line through recent used-bytes samples.

Method (docs/metrics.md, "Storage"):

1. Samples ``(t, used)`` from the last ``window`` (default 6 h). Everything up to the last *drop* — used
   bytes falling by more than ``DROP_FRACTION`` of capacity between two samples, which is what a garbage
   collection or a cleanup does — is discarded: growth before a GC says little about growth after it, and a
   line fitted across the step would point down.
2. With at least ``MIN_SAMPLES`` left, the slope is the Theil-Sen estimate: the median of the slopes between
   every pair of samples (numpy, at most ``MAX_POINTS`` evenly spaced points, so the work is bounded). A
   median ignores bursts: up to about 29 % of the pairs can be arbitrary without moving it much, so one big
   push does not turn into "full in 20 minutes".
3. ``full_in = available / slope`` when the slope is positive, ``+Inf`` otherwise (flat or shrinking).

Limits: it is a straight line. Growth that accelerates (a new team onboarding) is underestimated until the
window has seen it; a weekly GC makes the estimate restart after each run; a window shorter than the push
cadence is noise. Nothing is estimated from fewer than ``MIN_SAMPLES`` samples after the last drop.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

MIN_SAMPLES = 5
MAX_POINTS = 240  # Theil-Sen costs O(n^2): 240 points are 28,680 pairs
DROP_FRACTION = 0.001  # a fall of more than 0.1 % of capacity between two samples starts a new segment


def theil_sen_slope(t: np.ndarray, y: np.ndarray) -> float:
    """Median of the pairwise slopes (pairs with equal times are skipped)."""
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    keep = dt > 0
    if not keep.any():
        return 0.0
    return float(np.median((y[j] - y[i])[keep] / dt[keep]))


def segment_start(used: np.ndarray, capacity: float) -> int:
    """Index of the first sample after the last drop (0 when there was none)."""
    if len(used) < 2:
        return 0
    falls = np.nonzero(np.diff(used) < -DROP_FRACTION * capacity)[0]
    return int(falls[-1]) + 1 if len(falls) else 0


def growth_rate(times: Sequence[float], used: Sequence[float], capacity: float) -> float | None:
    """Bytes per second of growth since the last drop; None with too few samples."""
    t = np.asarray(times, dtype=float)
    y = np.asarray(used, dtype=float)
    start = segment_start(y, capacity)
    t, y = t[start:], y[start:]
    if len(t) < MIN_SAMPLES:
        return None
    if len(t) > MAX_POINTS:
        pick = np.unique(np.linspace(0, len(t) - 1, MAX_POINTS).round().astype(int))
        t, y = t[pick], y[pick]
    return theil_sen_slope(t - t[0], y)


def full_in_seconds(times: Sequence[float], used: Sequence[float], capacity: float, available: float) -> float | None:
    """Seconds until ``available`` is used up at the fitted rate; +Inf when not growing, None when unknown."""
    rate = growth_rate(times, used, capacity)
    if rate is None:
        return None
    if rate <= 0:
        return math.inf
    return max(0.0, available) / rate
