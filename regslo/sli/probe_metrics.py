"""Probe and replication results -> Prometheus metrics (the public metric contract of the probes).

Every label set that can ever appear is created at start-up with value zero, so ``rate(failures)/rate(runs)``
is 0, not empty, before the first failure, and label values come only from the config and fixed sets.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from regslo.config import Config
from regslo.events import PHASES, ProbeResult, ReplicationResult
from regslo.oci.errors import REASONS
from regslo.sli import build_info
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
        self.build_info = build_info.register(r)
        self.registry_info = Gauge("regslo_registry_info",
                                   "Always 1 per configured registry: its region (dashboards join on registry).",
                                   ["registry", "region"], registry=r)
        self._init_series(config)

    def _series(self, config: Config) -> dict[object, set[tuple[str, ...]]]:
        """Every label set each metric has for ``config`` (created at zero, removed when it goes away)."""
        out: dict[object, set[tuple[str, ...]]] = {m: set() for m in (
            self.runs, self.duration, self.last_success, self.failures, self.phase,
            self.repl_checks, self.repl_timeouts, self.repl_mismatches, self.repl_lag, self.repl_errors)}
        for reg in config.registries:
            for probe in config.probes.enabled:
                labels = (reg.name, reg.region, probe)
                for metric in (self.runs, self.duration, self.last_success):
                    out[metric].add(labels)
                out[self.failures].update((*labels, reason) for reason in REASONS)
                out[self.phase].update((*labels, phase) for phase in PROBE_PHASES[probe])
        for pair in config.replication:
            labels = (pair.source, pair.destination)
            for metric in (self.repl_checks, self.repl_timeouts, self.repl_mismatches, self.repl_lag):
                out[metric].add(labels)
            out[self.repl_errors].update((*labels, reason) for reason in REASONS)
        return out

    def _init_series(self, config: Config) -> None:
        self._current = self._series(config)
        for metric, label_sets in self._current.items():
            for labels in label_sets:
                metric.labels(*labels)
        self._set_registry_info(config)

    def _set_registry_info(self, config: Config) -> None:
        """One series per configured registry, value 1; a registry removed or moved to another region loses its old one."""
        wanted = {(reg.name, reg.region) for reg in config.registries}
        for labels in getattr(self, "_info", set()) - wanted:
            try:
                self.registry_info.remove(*labels)
            except KeyError:
                pass
        for labels in wanted:
            self.registry_info.labels(*labels).set(1)
        self._info = wanted

    def reconfigure(self, config: Config) -> None:
        """After a reload: series of registries, probes and pairs still configured keep their values (no
        counter reset), those no longer configured disappear, new ones start at zero."""
        old = self._current
        self._current = self._series(config)
        for metric, label_sets in self._current.items():
            for labels in old.get(metric, set()) - label_sets:
                try:
                    metric.remove(*labels)
                except KeyError:
                    pass
            for labels in label_sets:
                metric.labels(*labels)
        self._set_registry_info(config)

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
