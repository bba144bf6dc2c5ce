"""In-process SLO evaluation for users without recording rules, and for the status page.

``SLOState(slos, source_registry, target_registry)`` samples regslo's own counters (found by metric name
and labels, the public contract, via the same selectors the rules use) every ``interval`` seconds into
numpy buffers, and serves ``regslo_slo_objective_ratio{slo}``, ``regslo_slo_error_budget_remaining_ratio{slo}``
and ``regslo_slo_burn_rate{slo,window}`` from a custom collector in ``target_registry``.

The arithmetic mirrors the generated rules: a window's error ratio is the counter increase between the
newest sample and the newest sample at or before ``now - window`` (bad / valid, nothing when valid is 0);
the period ratio is the sum of the 5-minute increases at every 5-minute boundary in ``[now - period, now]``,
which telescopes to cumulative values at two boundaries, so only one value per 5 minutes is kept for it.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Iterator

import numpy as np
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from regslo.slo.model import SLO, period_text
from regslo.slo.sli import EventQuery, bad_count, event_query
from regslo.units import format_duration

STEP = 300.0  # the 5-minute increases the period SLI sums


class _Buffer:
    """Append-only (time, valid, bad) columns keeping the newest ``capacity`` rows, contiguous for bisect."""

    def __init__(self, capacity: int):
        self.capacity = max(2, capacity)
        self.data = np.zeros((3, 2 * self.capacity))
        self.start = self.end = 0

    def __len__(self) -> int:
        return self.end - self.start

    def append(self, t: float, valid: float, bad: float) -> None:
        if self.end == self.data.shape[1]:  # compact: move the newest capacity-1 rows to the front
            keep = self.capacity - 1
            self.data[:, :keep] = self.data[:, self.end - keep:self.end]
            self.start, self.end = 0, keep
        self.data[:, self.end] = (t, valid, bad)
        self.end += 1
        if self.end - self.start > self.capacity:
            self.start += 1

    def last(self) -> np.ndarray:
        return self.data[:, self.end - 1]

    def at_or_before(self, t: float) -> int | None:
        """Absolute index of the newest row with time <= t, or None when t is before the first row."""
        times = self.data[0, self.start:self.end]
        i = int(np.searchsorted(times, t, side="right")) - 1
        return None if i < 0 else self.start + i

    def row(self, index: int) -> np.ndarray:
        return self.data[:, index]


class _Tracker:
    """The buffers of one SLO."""

    def __init__(self, slo: SLO, interval: float):
        self.slo = slo
        self.query: EventQuery = event_query(slo.sli)
        longest = max([*slo.windows(), STEP])
        self.fine = _Buffer(int(math.ceil(longest / interval)) + 4)
        self.coarse = _Buffer(int(slo.period // STEP) + 4)  # cumulative values at 5-minute boundaries
        self.first: np.ndarray | None = None

    def add(self, t: float, valid: float, bad: float) -> None:
        if len(self.fine):
            prev_t, prev_v, prev_b = self.fine.last()
            b = math.floor(prev_t / STEP) * STEP + STEP
            while b < t:  # boundaries passed since the previous sample hold the previous values
                self.coarse.append(b, prev_v, prev_b)
                b += STEP
        else:
            self.first = np.array([t, valid, bad])
        if t % STEP == 0:
            self.coarse.append(t, valid, bad)
        self.fine.append(t, valid, bad)

    def window(self, seconds: float) -> float | None:
        if len(self.fine) < 2:
            return None
        now = self.fine.last()
        j = self.fine.at_or_before(now[0] - seconds)
        then = self.fine.row(self.fine.start if j is None else j)
        if then[0] == now[0]:
            return None
        return _ratio(now[1] - then[1], now[2] - then[2])

    def period_ratio(self) -> float | None:
        if len(self.fine) < 2 or not len(self.coarse):
            return None
        t = self.fine.last()[0]
        end = self.coarse.at_or_before(math.floor(t / STEP) * STEP)
        if end is None:
            return None
        begin = self.coarse.at_or_before(math.ceil((t - self.slo.period) / STEP) * STEP - STEP)
        then = self.first if begin is None else self.coarse.row(begin)
        now = self.coarse.row(end)
        return _ratio(now[1] - then[1], now[2] - then[2])


def _ratio(valid: float, bad: float) -> float | None:
    valid, bad = float(valid), float(bad)  # plain floats: snapshots go to JSON (status page)
    if not valid > 0:
        return None
    return max(bad, 0.0) / valid


class SLOState(Collector):
    """Samples ``source_registry`` every ``interval`` s; ``start()``/``stop()`` run it in a daemon thread."""

    def __init__(self, slos: list[SLO], source_registry: CollectorRegistry,
                 target_registry: CollectorRegistry | None = None, interval: float = 15.0,
                 clock: Callable[[], float] = time.time):
        self.slos = list(slos)
        self.source = source_registry
        self.interval = interval
        self.clock = clock
        self.lock = threading.Lock()
        self.trackers = {slo.name: _Tracker(slo, interval) for slo in self.slos}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reading = threading.local()  # set while sampling: source and target may be one registry
        self._by_metric: dict[str, list[tuple[str, int, Any]]] = {}  # sample name -> (slo, column, selector)
        for name, tracker in self.trackers.items():
            q = tracker.query
            for k, sel in enumerate((q.valid, q.bad, q.good)):
                if sel is not None:
                    self._by_metric.setdefault(sel.metric, []).append((name, k, sel))
        if target_registry is not None:
            target_registry.register(self)

    # -- sampling ---------------------------------------------------------------------------------------
    def read_counts(self) -> dict[str, tuple[float, float] | None]:
        """Current cumulative (valid, bad) events per SLO; None when no valid series exists yet."""
        sums: dict[str, list[float | None]] = {slo.name: [None, None, None] for slo in self.slos}
        self._reading.active = True
        try:
            families = list(self.source.collect())
        finally:
            self._reading.active = False
        for family in families:
            for sample in family.samples:
                for name, k, sel in self._by_metric.get(sample.name, ()):
                    if sel.matches(sample.name, sample.labels):
                        acc = sums[name]
                        acc[k] = (acc[k] or 0.0) + float(sample.value)
        queries = [(name, t.query) for name, t in self.trackers.items()]
        out: dict[str, tuple[float, float] | None] = {}
        for name, q in queries:
            valid, bad, good = sums[name]
            out[name] = None if valid is None else (valid, bad_count(q, valid, bad, good))
        return out

    def sample(self, now: float | None = None) -> None:
        t = self.clock() if now is None else now
        counts = self.read_counts()
        with self.lock:
            for name, value in counts.items():
                if value is not None:
                    self.trackers[name].add(t, *value)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="regslo-slo-state", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception:  # a broken collector elsewhere must not kill SLO evaluation; retry next time
                pass
            self._stop.wait(self.interval)

    # -- results ----------------------------------------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        """Per SLO: objective, period SLI, budget remaining, burn rate per window, tiers and status."""
        out = []
        with self.lock:
            for slo in self.slos:
                tr = self.trackers[slo.name]
                period = tr.period_ratio()
                burns = {format_duration(w): _div(tr.window(w), slo.error_budget) for w in slo.windows()}
                tiers = []
                for tier in slo.tiers:
                    lb = burns[format_duration(tier.long_window)]
                    sb = burns[format_duration(tier.short_window)]
                    firing = lb is not None and sb is not None and lb > tier.burn_rate and sb > tier.burn_rate
                    tiers.append({"severity": tier.severity, "long_window": format_duration(tier.long_window),
                                  "short_window": format_duration(tier.short_window),
                                  "burn_rate": tier.burn_rate, "firing": firing})
                firing = {t["severity"] for t in tiers if t["firing"]}
                status = ("page" if "page" in firing else "ticket" if "ticket" in firing
                          else "no data" if period is None else "ok")
                out.append({"slo": slo.name, "name": slo.name, "description": slo.description, "objective": slo.objective,
                            "objective_ratio": slo.objective_ratio, "period": period_text(slo.period),
                            "sli": None if period is None else 1 - period,
                            "error_budget_remaining": None if period is None else 1 - period / slo.error_budget,
                            "burn_rates": burns, "tiers": tiers, "status": status})
        return out

    def describe(self) -> Iterator:
        return iter(())

    def collect(self) -> Iterator:
        if getattr(self._reading, "active", False):  # our own sampling pass: nothing to read here
            return
        objective = GaugeMetricFamily("regslo_slo_objective_ratio", "SLO objective as a ratio.", labels=["slo"])
        budget = GaugeMetricFamily("regslo_slo_error_budget_remaining_ratio",
                                   "Share of the period's error budget left (negative when overspent).",
                                   labels=["slo"])
        burn = GaugeMetricFamily("regslo_slo_burn_rate", "Error ratio over the window / (1 - objective).",
                                 labels=["slo", "window"])
        for item in self.snapshot():
            objective.add_metric([item["slo"]], item["objective_ratio"])
            if item["error_budget_remaining"] is not None:
                budget.add_metric([item["slo"]], item["error_budget_remaining"])
            for window, value in item["burn_rates"].items():
                if value is not None:
                    burn.add_metric([item["slo"], window], value)
        yield from (objective, budget, burn)


def _div(ratio: float | None, budget: float) -> float | None:
    return None if ratio is None else ratio / budget
