"""Probe and replication results -> Prometheus metrics (the public metric contract of the probes).

Every label set that can ever appear is created at start-up with value zero, so ``rate(failures)/rate(runs)``
is 0, not empty, before the first failure, and label values come only from the config and fixed sets.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from regslo import __version__
from regslo.config import Config
from regslo.events import PHASES, ProbeResult, ReplicationResult
from regslo.oci.errors import REASONS
from regslo.sli.buckets import PROBE_DURATION_BUCKETS, REPLICATION_LAG_BUCKETS

# phases each probe reports (auth only when the registry asks for credentials)
PROBE_PHASES = {"ping": ("auth",), "push": ("auth", "blob_upload", "manifest_put"),
                "pull": ("auth", "manifest_get", "blob_get")}


class ProbeMetrics:
    """A sink for probe results, registering its metrics in ``registry``."""

    def __init__(self, config: Config, registry: CollectorRegistry):
        r = registry
        self.runs = Counter("regslo_probe_runs", "Probe runs, by registry and probe.",
                            ["registry", "region", "probe"], registry=r)
        self.failures = Counter("regslo_probe_failures", "Failed probe runs, by bounded reason.",
                                ["registry", "region", "probe", "reason"], registry=r)
        self.duration = Histogram("regslo_probe_duration_seconds", "Duration of successful probe runs.",
                                  ["registry", "region", "probe"], buckets=PROBE_DURATION_BUCKETS, registry=r)
        self.phase = Histogram("regslo_probe_phase_duration_seconds",
                               "Duration of the phases of successful probe runs.",
                               ["registry", "region", "probe", "phase"], buckets=PROBE_DURATION_BUCKETS,
                               registry=r)
        self.last_success = Gauge("regslo_probe_last_success_timestamp_seconds",
                                  "Unix time of the last successful run of each probe.",
                                  ["registry", "region", "probe"], registry=r)
        self.repl_checks = Counter("regslo_replication_checks",
                                   "Replication checks made (the source push succeeded): completed or timed out.",
                                   ["source", "destination"], registry=r)
        self.repl_timeouts = Counter("regslo_replication_timeouts",
                                     "Replication checks whose image did not reach the destination in time.",
                                     ["source", "destination"], registry=r)
        self.repl_errors = Counter("regslo_replication_errors",
                                   "Replication checks not made because the push to the source failed.",
                                   ["source", "destination", "reason"], registry=r)
        self.repl_mismatches = Counter("regslo_replication_digest_mismatches",
                                       "Replication checks whose destination served another digest under the "
                                       "probe's tag (copied, but not the same bytes).",
                                       ["source", "destination"], registry=r)
        self.repl_lag = Histogram("regslo_replication_lag_seconds",
                                  "Time from a completed push to the source until the destination serves it.",
                                  ["source", "destination"], buckets=REPLICATION_LAG_BUCKETS, registry=r)
        self.build_info = Gauge("regslo_build_info", "Always 1; the version label says which regslo runs.",
                                ["version"], registry=r)
        self.build_info.labels(__version__).set(1)
        self.registry_info = Gauge("regslo_registry_info",
                                   "Always 1 per configured registry: its region (dashboards join on registry).",
                                   ["registry", "region"], registry=r)
        for reg in config.registries:
            self.registry_info.labels(reg.name, reg.region).set(1)
        self._init_series(config)

    def _init_series(self, config: Config) -> None:
        for reg in config.registries:
            for probe in config.probes.enabled:
                self.runs.labels(reg.name, reg.region, probe)
                self.duration.labels(reg.name, reg.region, probe)
                self.last_success.labels(reg.name, reg.region, probe)
                for reason in REASONS:
                    self.failures.labels(reg.name, reg.region, probe, reason)
                for phase in PROBE_PHASES[probe]:
                    self.phase.labels(reg.name, reg.region, probe, phase)
        for pair in config.replication:
            self.repl_checks.labels(pair.source, pair.destination)
            self.repl_timeouts.labels(pair.source, pair.destination)
            self.repl_mismatches.labels(pair.source, pair.destination)
            self.repl_lag.labels(pair.source, pair.destination)
            for reason in REASONS:
                self.repl_errors.labels(pair.source, pair.destination, reason)

    def probe_result(self, result: ProbeResult) -> None:
        labels = (result.registry, result.region, result.probe)
        self.runs.labels(*labels).inc()
        if not result.ok:
            self.failures.labels(*labels, result.reason or "other").inc()
            return
        self.duration.labels(*labels).observe(result.duration)
        self.last_success.labels(*labels).set(result.timestamp)
        for phase, seconds in result.phases.items():
            if phase in PHASES:
                self.phase.labels(*labels, phase).observe(seconds)

    def replication_result(self, result: ReplicationResult) -> None:
        pair = (result.source, result.destination)
        if result.outcome == "error":
            self.repl_errors.labels(*pair, result.reason or "other").inc()
            return
        self.repl_checks.labels(*pair).inc()
        if result.outcome == "timeout":
            self.repl_timeouts.labels(*pair).inc()
            return
        if result.outcome == "digest_mismatch":
            self.repl_mismatches.labels(*pair).inc()
        if result.lag is not None:
            self.repl_lag.labels(*pair).observe(result.lag)
