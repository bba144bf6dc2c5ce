"""The probe counters of the public metric contract, built by name in a fresh registry (no engine needed)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


def probe_counters(registry: CollectorRegistry) -> tuple[Counter, Counter, Histogram]:
    """regslo_probe_runs_total, regslo_probe_failures_total and regslo_probe_duration_seconds (le 1, 2, 5)."""
    runs = Counter("regslo_probe_runs", "", ["registry", "region", "probe"], registry=registry)
    fails = Counter("regslo_probe_failures", "", ["registry", "region", "probe", "reason"], registry=registry)
    hist = Histogram("regslo_probe_duration_seconds", "", ["registry", "region", "probe"], registry=registry,
                     buckets=(1.0, 2.0, 5.0))
    return runs, fails, hist
