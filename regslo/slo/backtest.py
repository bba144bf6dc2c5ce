"""SLO backtesting: what the generated rules would have done over a stretch of counter history.

The input is raw counter samples (per series: millisecond timestamps and values), as Prometheus stores them
or as a replay of registry logs produces them, and a grid of evaluation times (one every ``step``, like
``promtool tsdb create-blocks-from rules``). The output is, per SLO, the window error ratios at every
evaluation, the alerts each tier would have raised, and the SLI and budget spent per period.

Exactness: the windows reproduce PromQL's ``increase()`` of Prometheus 2.x sample by sample, vectorised
over all evaluation times at once:

- the range ``[t - W, t]`` holds the samples with timestamps in it (both ends included, as in 2.x);
- fewer than two samples: the series contributes nothing (``sum`` of nothing is no sample);
- a drop in value is a counter reset: the value before the drop is added back;
- the raw difference is extrapolated to the range edges: by the distance to an edge when that is less than
  1.1 average sample intervals, else by half an interval; towards the start never past the point where the
  counter would have been zero.

The SLO arithmetic on top is the generated rules' (regslo/outputs/rules.py): ``sum`` over matching series,
a missing bad series counts 0 (``or vector(0)``), good-based SLIs use ``clamp_min(valid - good, 0)``, and no
valid events is no sample (``> 0``), never NaN; a tier fires when both windows burn above its rate, after
the alert's ``for:`` (none as generated). Tests compare all of this with real Prometheus evaluating the
generated rules over the same blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Iterable

import numpy as np

from regslo.outputs import rules
from regslo.slo.burn import default_tiers
from regslo.slo.model import SLO, Tier
from regslo.slo.sli import EventQuery, Selector, event_query
from regslo.units import format_duration, parse_duration

MS = 1000
ROLES = ("valid", "bad", "good")


@dataclass
class Counter:
    """One counter series: ``t`` int64 milliseconds (increasing), ``v`` float64 values."""

    labels: dict[str, str]
    t: np.ndarray
    v: np.ndarray

    def __post_init__(self) -> None:
        self.t = np.asarray(self.t, dtype=np.int64)
        self.v = np.asarray(self.v, dtype=np.float64)
        if len(self.t) > 1 and np.any(np.diff(self.t) <= 0):
            order = np.argsort(self.t, kind="stable")
            t, v = self.t[order], self.v[order]
            keep = np.ones(len(t), dtype=bool)
            keep[1:] = t[1:] != t[:-1]  # one sample per timestamp (chunk overlaps)
            self.t, self.v = t[keep], v[keep]

    @cached_property
    def corr(self) -> np.ndarray:
        """``v`` reset-corrected, computed once (every period and window reads it)."""
        return reset_corrected(self.v)


def reset_corrected(v: np.ndarray) -> np.ndarray:
    """Values with every reset undone: ``c[j] - c[i]`` is what ``increase()`` sums between samples i and j
    before extrapolation (the difference plus the value before each drop)."""
    v = np.asarray(v, dtype=np.float64)
    if len(v) < 2:
        return v.copy()
    add = np.zeros_like(v)
    drops = v[1:] < v[:-1]
    add[1:][drops] = v[:-1][drops]
    return v + np.cumsum(add)


class _Group:
    """Series scraped together share timestamps: stacked (k x n) so index searches happen once per group.
    Keeps the reset-corrected values and, per evaluation grid, the index of the last sample at each time."""

    def __init__(self, counters: list[Counter]):
        self.t = counters[0].t
        self.values = np.vstack([c.v for c in counters])
        self.corr = np.vstack([c.corr for c in counters])
        self._hi: tuple[np.ndarray, np.ndarray] | None = None

    def last_index(self, evals: np.ndarray) -> np.ndarray:
        if self._hi is None or self._hi[0] is not evals:
            self._hi = (evals, np.searchsorted(self.t, evals, side="right") - 1)
        return self._hi[1]


def groups_of(counters: Iterable[Counter]) -> list[_Group]:
    by_times: dict[bytes, list[Counter]] = {}
    for c in counters:
        if len(c.t):
            by_times.setdefault(c.t.tobytes(), []).append(c)
    return [_Group(cs) for cs in by_times.values()]


def increase(t: np.ndarray, values: np.ndarray, evals: np.ndarray, window_ms: int,
             corr: np.ndarray | None = None, hi: np.ndarray | None = None) -> np.ndarray:
    """``increase(x[window])`` at each evaluation time, for ``values`` (k series x n samples at times ``t``).

    Returns k x len(evals); NaN where a series has fewer than two samples in the range (no result)."""
    values = np.atleast_2d(values)
    k, m = values.shape[0], len(evals)
    out = np.full((k, m), np.nan)
    if len(t) < 2 or m == 0:
        return out
    if corr is None:
        corr = np.vstack([reset_corrected(row) for row in values])
    if hi is None:
        hi = np.searchsorted(t, evals, side="right") - 1
    lo = np.searchsorted(t, evals - window_ms, side="left")
    count = hi - lo + 1
    ok = count >= 2
    if ok.all():
        ev = evals
    elif ok.any():
        lo, hi, count, ev = lo[ok], hi[ok], count[ok], evals[ok]
    else:
        return out
    first_t, last_t = t[lo], t[hi]
    sampled = (last_t - first_t) / 1000.0
    average = sampled / (count - 1)  # the average interval between samples
    half = average / 2
    threshold = average * 1.1
    to_start = (first_t - (ev - window_ms)) / 1000.0
    to_end = (ev - last_t) / 1000.0
    raw = corr[:, hi] - corr[:, lo]  # k x m'
    first_v = values[:, lo]
    with np.errstate(divide="ignore", invalid="ignore"):
        to_zero = sampled * (first_v / raw)
    start = np.where((raw > 0) & (first_v >= 0) & (to_zero < to_start), to_zero, to_start)
    span = sampled + np.where(start < threshold, start, half) + np.where(to_end < threshold, to_end, half)
    out[:, ok] = raw * (span / sampled)
    return out


def sum_increase(counters: list[Counter] | list[_Group], evals: np.ndarray, window_ms: int) -> np.ndarray:
    """``sum(increase(sel[window]))``: NaN (no sample) where no series has a result."""
    groups = counters if counters and isinstance(counters[0], _Group) else groups_of(counters)
    total = np.zeros(len(evals))
    seen = np.zeros(len(evals), dtype=bool)
    for g in groups:
        inc = increase(g.t, g.values, evals, window_ms, g.corr, g.last_index(evals))
        if inc.shape[0] == 1:
            row = inc[0]
            has = ~np.isnan(row)
            total += np.where(has, row, 0.0)
            seen |= has
        else:
            has = ~np.isnan(inc)
            total += np.where(has, inc, 0.0).sum(axis=0)
            seen |= has.any(axis=0)
    return np.where(seen, total, np.nan)


def events_between(counters: list[Counter], a_ms: int, b_ms: int) -> float:
    """Events counted in ``(a, b]``: reset-aware counter growth, a series first seen inside counts from 0."""
    total = 0.0
    for c in counters:
        if not len(c.t):
            continue
        corr = c.corr
        i = int(np.searchsorted(c.t, a_ms, side="right")) - 1
        j = int(np.searchsorted(c.t, b_ms, side="right")) - 1
        if j < 0:
            continue
        total += float(corr[j] - (corr[i] if i >= 0 else 0.0))
    return total


def budget_of(objective: float) -> float:
    """1 - objective as a ratio, in decimal like ``SLO.error_budget``."""
    return float((Decimal(100) - Decimal(repr(float(objective)))) / Decimal(100))


def eval_times(start: float, end: float, step: float, offset: float = 0.0) -> np.ndarray:
    """Evaluation times in ms: every ``offset + k * step`` in [start, end]. Prometheus evaluates a rule group
    on such a grid, its offset within the step derived from a hash of the group's name and file."""
    step_ms = int(round(step * MS))
    offset_ms = int(round(offset * MS)) % step_ms
    first = -(-(int(round(start * MS)) - offset_ms) // step_ms) * step_ms + offset_ms
    return np.arange(first, int(round(end * MS)) + 1, step_ms, dtype=np.int64)


def for_duration(slo: SLO, tier: Tier) -> float:
    """The ``for:`` of the tier's generated alert (the generator writes none: it fires at once)."""
    value = rules.tier_alert(slo, tier, "").get("for")
    return parse_duration(value) if value else 0.0


def tiers_for(slo: SLO, objective: float, min_window: float) -> tuple[Tier, ...]:
    """The tiers the SLO would have at ``objective``: re-derived when they are the defaults, else the same."""
    if objective == slo.objective:
        return slo.tiers
    defaults, _ = default_tiers(slo.period, slo.error_budget, min_window)
    if tuple(defaults) == tuple(slo.tiers):
        return tuple(default_tiers(slo.period, budget_of(objective), min_window)[0])
    return slo.tiers


@dataclass
class Alert:
    severity: str
    long_window: float
    short_window: float
    threshold: float
    start: float  # first evaluation at which it fires (Unix seconds)
    end: float  # first evaluation at which it no longer fires, or the range end while still firing
    peak_burn_rate: float  # highest long-window burn (the alert's value) while firing
    ongoing: bool = False

    def json(self) -> dict:
        return {"severity": self.severity, "long_window": format_duration(self.long_window),
                "short_window": format_duration(self.short_window), "burn_rate_threshold": self.threshold,
                "start": _num(self.start), "end": _num(self.end), "peak_burn_rate": self.peak_burn_rate,
                "ongoing": self.ongoing}


@dataclass
class Period:
    start: float
    end: float
    valid: float
    bad: float
    budget: float

    @property
    def sli(self) -> float | None:
        return None if not self.valid > 0 else 1 - self.bad / self.valid

    @property
    def budget_consumed(self) -> float | None:
        return None if not self.valid > 0 else self.bad / self.valid / self.budget

    def json(self) -> dict:
        return {"start": _num(self.start), "end": _num(self.end), "valid": self.valid, "bad": self.bad,
                "sli": self.sli, "budget_consumed": self.budget_consumed}


def _num(seconds: float) -> float | int:
    return int(seconds) if float(seconds).is_integer() else float(seconds)


def fire_intervals(firing: np.ndarray, times_ms: np.ndarray, for_ms: int = 0) -> list[tuple[int, int, int, bool]]:
    """(first firing index, last firing index, end time ms, ongoing) per alert, with ``for:`` semantics:
    an alert is pending from the first true evaluation and fires once it has been true for ``for_ms``."""
    out = []
    f = np.concatenate(([False], firing.astype(bool), [False]))
    edges = np.flatnonzero(f[1:] != f[:-1])
    for a, b in zip(edges[::2], edges[1::2]):  # true on [a, b)
        active_at = times_ms[a]
        first = int(np.searchsorted(times_ms, active_at + for_ms, side="left"))
        if first >= b:
            continue
        ongoing = bool(b == len(times_ms))
        end = times_ms[-1] if ongoing else times_ms[b]
        out.append((first, b - 1, int(end), ongoing))
    return out


@dataclass
class SLOBacktest:
    """All windows of one SLO evaluated once; alerts for any objective derive from the same ratios."""

    slo: SLO
    series: dict[str, list[Counter]]  # role (valid/bad/good) -> matching series
    times: np.ndarray  # evaluation times, ms
    min_window: float = 60.0
    ratios: dict[float, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.query: EventQuery = event_query(self.slo.sli)
        self._groups = {role: groups_of(series) for role, series in self.series.items()}
        for window in self.slo.windows():
            self.ratios[window] = self.error_ratio(window)

    def error_ratio(self, window: float) -> np.ndarray:
        """The generated ``regslo_slo:error_ratio{window}`` at every evaluation; NaN = no sample."""
        w = int(round(window * MS))
        valid = sum_increase(self._groups.get("valid", []), self.times, w)
        if self.query.bad is not None:
            bad = np.nan_to_num(sum_increase(self._groups.get("bad", []), self.times, w), nan=0.0)
        else:
            good = np.nan_to_num(sum_increase(self._groups.get("good", []), self.times, w), nan=0.0)
            bad = np.maximum(valid - good, 0.0)  # NaN where valid is missing
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(valid > 0, bad / valid, np.nan)

    def burn(self, window: float, budget: float | None = None) -> np.ndarray:
        if window not in self.ratios:  # a what-if objective can bring back a tier the SLO's own one dropped
            self.ratios[window] = self.error_ratio(window)
        return self.ratios[window] / (self.slo.error_budget if budget is None else budget)

    def alerts(self, objective: float | None = None) -> list[Alert]:
        objective = self.slo.objective if objective is None else objective
        budget = budget_of(objective)
        out: list[Alert] = []
        for tier in tiers_for(self.slo, objective, self.min_window):
            long_b, short_b = self.burn(tier.long_window, budget), self.burn(tier.short_window, budget)
            with np.errstate(invalid="ignore"):
                firing = (long_b > tier.burn_rate) & (short_b > tier.burn_rate)
            for_ms = int(round(for_duration(self.slo, tier) * MS))
            for first, last, end, ongoing in fire_intervals(firing, self.times, for_ms):
                out.append(Alert(tier.severity, tier.long_window, tier.short_window, tier.burn_rate,
                                 int(self.times[first]) / MS, end / MS, float(np.nanmax(long_b[first:last + 1])), ongoing))
        out.sort(key=lambda a: (a.start, a.severity != "page", a.long_window))
        return out

    def counts(self, a_ms: int, b_ms: int) -> tuple[float, float]:
        """(valid, bad) events in (a, b], as the rules count them (bad = valid - good for good-based SLIs)."""
        valid = events_between(self.series.get("valid", []), a_ms, b_ms)
        if self.query.bad is not None:
            bad = events_between(self.series.get("bad", []), a_ms, b_ms)
        else:
            bad = max(valid - events_between(self.series.get("good", []), a_ms, b_ms), 0.0)
        return valid, bad

    def periods(self, start: float, end: float, objective: float | None = None) -> list[Period]:
        """The range cut into SLO periods from ``start`` (the last one may be shorter)."""
        budget = budget_of(self.slo.objective if objective is None else objective)
        out = []
        a = start
        while a < end:
            b = min(a + self.slo.period, end)
            valid, bad = self.counts(int(round(a * MS)), int(round(b * MS)))
            out.append(Period(a, b, valid, bad, budget))
            a = b
        return out


def selectors(query: EventQuery) -> dict[str, Selector]:
    return {role: sel for role, sel in zip(ROLES, (query.valid, query.bad, query.good)) if sel is not None}
