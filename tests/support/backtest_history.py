"""A counter history with known incidents, as Prometheus would have scraped regslo's probe counters.

Two targets (registries ``us`` and ``eu``), scraped every 15 s with up to ±1.5 s of jitter, 4 pull probes per
scrape each. What happens (offsets from ``t0``):

- us: 100 % failures 10:00-10:20 (pages); 50 % of pulls slower than 2 s 14:00-15:00 (latency page);
  regslo restarts at 18:00 (every us counter drops to 0; the failure series disappears until the next
  failure); no scrapes 1d12:00-1d12:30 (a gap); 10 % failures 1d02:00-1d06:00 (slow burn: 6h page, ticket).
- eu: the series start at 06:00 and stop at 1d20:00; 50 % failures 1d08:00-1d08:10.
- both: a baseline of random failures (0.05 %), so failure series appear mid-range at odd values.
"""

from __future__ import annotations

import numpy as np

H = 3600
DAY = 86400
SCRAPE = 15
RUNS = 4

CONFIG = """
registries:
  - {name: us, url: "http://127.0.0.1:1", region: us-east}
  - {name: eu, url: "http://127.0.0.1:2", region: eu-west}
probes: {interval: 15s, timeout: 10s}
slos:
  - name: pull-availability
    sli: {kind: availability, source: probe, operation: pull}
    objective: 99.5
    period: 1d
    tiers: &tiers
      - {severity: page, long_window: 1h, short_window: 5m, burn_rate: 14.4}
      - {severity: page, long_window: 6h, short_window: 30m, burn_rate: 6}
      - {severity: ticket, long_window: 1d, short_window: 2h, burn_rate: 3}
  - name: pull-latency
    sli: {kind: latency, source: probe, operation: pull, threshold: 2s}
    objective: 99
    period: 1d
    tiers: *tiers
  - name: pull-availability-eu
    sli: {kind: availability, source: probe, operation: pull, registry: eu}
    objective: 99.9
    period: 1d
    tiers:
      - {severity: page, long_window: 1h, short_window: 5m, burn_rate: 14.4}
      - {severity: ticket, long_window: 6h, short_window: 30m, burn_rate: 6}
"""

FAMILIES = {"regslo_probe_runs": "counter", "regslo_probe_failures": "counter",
            "regslo_probe_duration_seconds": "histogram"}


def _frac(t: np.ndarray, t0: float, spans: list[tuple[float, float, float]]) -> np.ndarray:
    out = np.zeros(len(t))
    for a, b, f in spans:
        out[(t >= (t0 + a) * 1000) & (t < (t0 + b) * 1000)] = f
    return out


def _target(rng, t0: float, start: float, end: float, gaps, fail_spans, slow_spans, resets, labels: str):
    base = np.arange(int((t0 + start) * 1000), int((t0 + end) * 1000), SCRAPE * 1000, dtype=np.int64)
    t = base + rng.integers(-1500, 1500, len(base))
    for a, b in gaps:
        t = t[(t < (t0 + a) * 1000) | (t >= (t0 + b) * 1000)]
    fail_p = np.maximum(_frac(t, t0, fail_spans), 0.0005)
    fails = rng.binomial(RUNS, fail_p).astype(float)
    slow = rng.binomial((RUNS - fails).astype(int), _frac(t, t0, slow_spans)).astype(float)
    fast = RUNS - fails - slow
    segment = np.searchsorted(np.array([(t0 + r) * 1000 for r in resets]), t, side="right")
    out = {}
    runs_v = np.zeros(len(t))
    fail_v = np.zeros(len(t))
    fast_v = np.zeros(len(t))
    present = np.zeros(len(t), dtype=bool)
    for s in np.unique(segment):
        m = segment == s
        runs_v[m] = np.cumsum(np.full(m.sum(), float(RUNS)))
        fail_v[m] = np.cumsum(fails[m])
        fast_v[m] = np.cumsum(fast[m])
        present[m] = fail_v[m] > 0  # the failure series is created by the first failure after a start
    out[f"regslo_probe_runs_total{{{labels}}}"] = (t, runs_v)
    out[f'regslo_probe_failures_total{{{labels},reason="timeout"}}'] = (t[present], fail_v[present])
    out[f'regslo_probe_duration_seconds_bucket{{{labels},le="2.0"}}'] = (t, fast_v)
    return out


def history(t0: float, seed: int = 7) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    series = {}
    series.update(_target(rng, t0, 0, 2 * DAY, gaps=[(DAY + 12 * H, DAY + 12.5 * H)],
                          fail_spans=[(10 * H, 10 * H + 1200, 1.0), (DAY + 2 * H, DAY + 6 * H, 0.1)],
                          slow_spans=[(14 * H, 15 * H, 0.5)], resets=[18 * H],
                          labels='probe="pull",region="us-east",registry="us"'))
    series.update(_target(rng, t0, 6 * H, DAY + 20 * H, gaps=[], fail_spans=[(DAY + 8 * H, DAY + 8 * H + 600, 0.5)],
                          slow_spans=[], resets=[], labels='probe="pull",region="eu-west",registry="eu"'))
    return series
