"""Wires the stages of ``regslo run`` together: probes and log tailers -> metrics -> HTTP server.

Only this module knows all stages; each stage knows nothing of the others. Optional stages (logs, SLO state,
status page) are attached when configured and present. ``reload()`` (SIGHUP, ``POST /-/reload``) swaps in a
new config stage by stage; the metric objects outlive the stages, so counters never reset on a reload.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Gauge

from regslo.config import Config, ConfigError, load_config
from regslo.outputs import status
from regslo.outputs.server import ExporterServer, Request, Response
from regslo.sli.probe_metrics import ProbeMetrics
from regslo.sli.recent import RecentResults
from regslo.slo.state import SLOState
from regslo.sources.probes.engine import ProbeEngine

log = logging.getLogger("regslo")
_PROBE_PARTS = ("registries", "probes", "replication")  # a change in any restarts the probe engine


class ReloadMetrics:
    """``regslo_config_last_reload_successful`` and its timestamp (Prometheus' own names and meaning)."""

    def __init__(self, registry: CollectorRegistry):
        self.successful = Gauge("regslo_config_last_reload_successful",
                                "1 if the last config reload succeeded (or none was tried), 0 if it failed.",
                                registry=registry)
        self.timestamp = Gauge("regslo_config_last_reload_success_timestamp_seconds",
                               "Unix time of the last successful config load (start-up or reload).",
                               registry=registry)
        self.succeeded()

    def succeeded(self) -> None:
        self.successful.set(1)
        self.timestamp.set(time.time())

    def failed(self) -> None:
        self.successful.set(0)


def register_runtime_collectors(registry: CollectorRegistry) -> None:
    """process_* (CPU, memory, file descriptors) and python_* (GC, version), as every exporter has."""
    prometheus_client.ProcessCollector(registry=registry)
    prometheus_client.PlatformCollector(registry=registry)
    prometheus_client.GCCollector(registry=registry)


class Service:
    def __init__(self, config: Config, listen_address: str | None = None, instance: str | None = None,
                 web_config: Any = None, enable_lifecycle: bool = False):
        # _created series double the series count and carry no SLI value; leave them out
        prometheus_client.disable_created_metrics()
        self.config = config
        self.instance = instance
        self.registry = CollectorRegistry()
        register_runtime_collectors(self.registry)
        self.reloads = ReloadMetrics(self.registry)
        self.recent = RecentResults(config)
        self.metrics = ProbeMetrics(config, self.registry)
        self.engine = ProbeEngine(config, [self.metrics, self.recent], instance=instance)
        self.logs: Any = None
        self.slo_state: Any = None
        self.consistency: Any = None
        self.storage: Any = None
        self.token_requests: Any = None
        self.inspector: Any = None
        self.server = ExporterServer(self.registry, listen_address or config.server.listen_address,
                                     ready=lambda: self.engine.ready.is_set(), web_config=web_config)
        self._stopped = threading.Event()
        self._started = False
        self._reload_lock = threading.Lock()
        self._attach_logs()
        self._attach_storage()
        self._attach_inspector()
        self._attach_slos()
        self._attach_integrity()
        self._attach_status()
        self._attach_lifecycle(enable_lifecycle)

    # -- stages -----------------------------------------------------------------------------------------
    def _attach_logs(self) -> None:
        self._route_notifications()
        if self.config.logs:
            from regslo.sources.logs.service import LogService

            self.logs = LogService(self.config.logs, self.registry, protected=self.config.immutable_tags)

    def _route_notifications(self) -> None:
        from regslo.sources.logs.route import route_notifications

        route_notifications(self.server, lambda: self.logs)

    def _attach_storage(self) -> None:
        if not any(r.storage for r in self.config.registries):
            return
        from regslo.sources.storage import StorageMonitor

        self.storage = StorageMonitor(self.config.registries, self.registry)
        if self.logs is not None:  # GC runs read their reclaimed bytes from the storage samples
            self.logs.metrics.reclaimed = self.storage.reclaimed

    def _attach_inspector(self) -> None:
        if not getattr(self.config, "inspect", None):
            return
        from regslo.sources.inspect.inspector import Inspector

        self.inspector = Inspector(self.config, self.registry)
        if self.logs is not None:
            self.logs.subscribe(self.inspector.submit)

    def _attach_slos(self) -> None:
        if not self.config.slos:
            return
        self.slo_state = SLOState(self.config.slos, self.registry, self.registry)

    def _attach_integrity(self) -> None:
        from regslo.sli.integrity import TokenRequests
        from regslo.sources.consistency import ConsistencyChecker

        self.token_requests = TokenRequests(self.engine.probers, self.registry)
        if self.config.consistency:
            self.consistency = ConsistencyChecker(self.config.consistency, self._clients(), self.registry,
                                                  timeout=self.config.probes.timeout)

    def _clients(self) -> dict[str, Any]:
        return {name: prober.client for name, prober in self.engine.probers.items()}

    def _attach_status(self) -> None:
        status.register(self)

    def _attach_lifecycle(self, enabled: bool) -> None:
        if not enabled:
            return

        def reload(req: Request) -> Response:
            ok, problems = self.reload()
            if ok:
                return Response(200, b"config reloaded\n")
            return Response(500, ("failed to reload config:\n" + "\n".join(problems) + "\n").encode())

        self.server.route("POST", "/-/reload", reload)
        self.server.route("PUT", "/-/reload", reload)

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        self.server.start()
        if self.logs is not None:
            self.logs.start()
        if self.storage is not None:
            self.storage.start()
        if self.inspector is not None:
            self.inspector.start()
        if self.slo_state is not None:
            self.slo_state.start()
        if self.consistency is not None:
            self.consistency.start()
        host, port = self.server.address
        log.info("serving metrics on %s://%s:%d/metrics", self.server.scheme, f"[{host}]" if ":" in host else host, port)
        self._started = True
        self.engine.start()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("stopping: waiting for running probes, then deleting what they pushed")
        with self._reload_lock:  # a reload in progress finishes first
            if self.consistency is not None:
                self.consistency.stop()
            self.engine.stop()
            if self.logs is not None:
                self.logs.stop()
            if self.storage is not None:
                self.storage.stop()
            if self.inspector is not None:
                self.inspector.stop()
            if self.slo_state is not None:
                self.slo_state.stop()
        self.server.stop()
        log.info("stopped")

    # -- reload -----------------------------------------------------------------------------------------
    def reload(self) -> tuple[bool, list[str]]:
        """Read the config file again and apply it. On problems the running config stays, every problem is
        logged and ``regslo_config_last_reload_successful`` drops to 0. Returns (ok, problems)."""
        with self._reload_lock:
            if self._stopped.is_set():
                return False, ["regslo is stopping"]
            path = self.config.path
            if path is None:
                self.reloads.failed()
                return False, ["the config was not read from a file"]
            try:
                new = load_config(path)
            except ConfigError as exc:
                for problem in exc.problems:
                    log.error("reload: %s", problem)
                log.error("reload failed: still running the previous config")
                self.reloads.failed()
                return False, exc.problems
            for warning in new.warnings:
                log.warning("reload: %s", warning)
            running = self.config
            try:
                self._apply(new)
            except Exception as exc:  # noqa: BLE001 - a stage that cannot take the new config
                # the stages before the failing one run the new config; remembering the old one as current
                # makes the next reload compare against it and rebuild every changed stage, the failed one too
                self.config = running
                log.exception("reload failed while applying the new config")
                self.reloads.failed()
                return False, [f"applying the new config: {type(exc).__name__}"]
            self.reloads.succeeded()
            log.info("config reloaded from %s", path)
            return True, []

    def _apply(self, new: Config) -> None:
        """Each stage whose part of the config changed is stopped and restarted with the new part; its
        metrics stay registered (series of what is still configured keep counting)."""
        old = self.config
        self.config = new
        probes_changed = any(getattr(old, part) != getattr(new, part) for part in _PROBE_PARTS)
        if probes_changed or old.consistency != new.consistency or old.probes.timeout != new.probes.timeout:
            self._stop_consistency()
        if probes_changed:
            self._reload_probes(new)
        if old.logs != new.logs:
            self._reload_logs(new)
        if self.logs is not None:
            self.logs.metrics.protected = new.immutable_tags
        if [(r.name, r.storage) for r in old.registries] != [(r.name, r.storage) for r in new.registries]:
            self._reload_storage()
        if old.slos != new.slos:
            self._reload_slos()
        if getattr(old, "inspect", None) != getattr(new, "inspect", None):
            self._reload_inspector(new)
        elif self.inspector is not None:
            self.inspector.update_registries(new)  # rotated credentials, a new URL
        if probes_changed or old.consistency != new.consistency or old.probes.timeout != new.probes.timeout:
            self._reload_consistency(new)
        self._attach_status()  # the status page reads the config it was given

    def _reload_probes(self, new: Config) -> None:
        """Stop the engine (running probes finish, pushed images are deleted), keep the metric objects."""
        self.engine.stop()
        self.metrics.reconfigure(new)
        self.engine = ProbeEngine(new, [self.metrics, self.recent], instance=self.instance)
        if self.token_requests is not None:
            self.token_requests.probers = self.engine.probers
        if self._started:
            self.engine.start(sweep=False)

    def _stop_consistency(self) -> None:
        if self.consistency is not None:
            self.consistency.stop()

    def _reload_consistency(self, new: Config) -> None:
        if self.consistency is None:
            from regslo.sources.consistency import ConsistencyChecker

            if not new.consistency:
                return
            self.consistency = ConsistencyChecker(new.consistency, self._clients(), self.registry,
                                                  timeout=new.probes.timeout)
        else:
            self.consistency.reconfigure(new.consistency, self._clients())
            self.consistency.timeout = new.probes.timeout
        if self._started:
            self.consistency.start()

    def _reload_storage(self) -> None:
        if self.storage is not None:
            self.storage.stop()  # unregisters its collector
            self.storage = None
            if self.logs is not None:  # GC runs must not read the stopped monitor's last samples
                self.logs.metrics.reclaimed = None
        self._attach_storage()
        if self.storage is not None and self._started:
            self.storage.start()

    def _reload_logs(self, new: Config) -> None:
        from regslo.sources.logs.service import LogService

        previous = self.logs
        if new.logs is None:
            if previous is not None:
                previous.stop()
                previous.metrics.unregister()
            self.logs = None
            return
        self.logs = LogService(new.logs, self.registry, protected=new.immutable_tags, previous=previous)
        if previous is None and self.inspector is not None:
            self.logs.subscribe(self.inspector.submit)
        if self.storage is not None:
            self.logs.metrics.reclaimed = self.storage.reclaimed
        if self._started:
            self.logs.start()

    def _reload_inspector(self, new: Config) -> None:
        """inspect: added (start one), removed (stop it, drop its series) or changed (apply in place: its
        counters, duplicate memory and queue carry on)."""
        if getattr(new, "inspect", None) is None:
            if self.inspector is not None:
                self.inspector.stop()
                if self.logs is not None:
                    self.logs.unsubscribe(self.inspector.submit)
                self.inspector.metrics.unregister()
                self.inspector = None
            return
        if self.inspector is not None:
            self.inspector.reconfigure(new)
            return
        self._attach_inspector()
        if self._started:
            self.inspector.start()

    def _reload_slos(self) -> None:
        if self.slo_state is not None:
            self.slo_state.stop()
            try:
                self.registry.unregister(self.slo_state)
            except KeyError:
                pass
            self.slo_state = None
        self._attach_slos()
        if self.slo_state is not None and self._started:
            self.slo_state.start()
