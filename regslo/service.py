"""Wires the stages of ``regslo run`` together: probes and log tailers -> metrics -> HTTP server.

Only this module knows all stages; each stage knows nothing of the others. Optional stages (logs, SLO state,
status page) are attached when configured.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry

from regslo.config import Config
from regslo.outputs import status
from regslo.outputs.server import ExporterServer, Request, Response
from regslo.sli.probe_metrics import ProbeMetrics
from regslo.sli.recent import RecentResults
from regslo.slo.state import SLOState
from regslo.sources.probes.engine import ProbeEngine

log = logging.getLogger("regslo")


class Service:
    def __init__(self, config: Config, listen_address: str | None = None, instance: str | None = None):
        # _created series double the series count and carry no SLI value; leave them out
        prometheus_client.disable_created_metrics()
        self.config = config
        self.registry = CollectorRegistry()
        self.recent = RecentResults(config)
        self.metrics = ProbeMetrics(config, self.registry)
        self.engine = ProbeEngine(config, [self.metrics, self.recent], instance=instance)
        self.logs: Any = None
        self.slo_state: Any = None
        self.consistency: Any = None
        self.storage: Any = None
        self.inspector: Any = None
        self.server = ExporterServer(self.registry, listen_address or config.server.listen_address,
                                     ready=self.engine.ready.is_set)
        self._stopped = threading.Event()
        self._attach_logs()
        self._attach_storage()
        self._attach_inspector()
        self._attach_slos()
        self._attach_integrity()
        self._attach_status()

    def _attach_logs(self) -> None:
        if not self.config.logs:
            return
        from regslo.sources.logs.service import LogService

        self.logs = LogService(self.config.logs, self.registry, protected=self.config.immutable_tags)
        names = {r.name for r in self.config.registries}

        def notifications(req: Request) -> Response:
            name = req.path.rstrip("/").rsplit("/", 1)[-1]
            if name not in names:
                return Response(404, b"unknown registry\n")
            status, body = self.logs.handle_notification(req.body, req.headers, name)
            return Response(status, body)

        self.server.route("POST", "/notifications", notifications, prefix=True)

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

        TokenRequests(self.engine.probers, self.registry)
        if self.config.consistency:
            clients = {name: prober.client for name, prober in self.engine.probers.items()}
            self.consistency = ConsistencyChecker(self.config.consistency, clients, self.registry,
                                                  timeout=self.config.probes.timeout)

    def _attach_status(self) -> None:
        status.register(self)

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
        log.info("serving metrics on http://%s:%d/metrics", *self.server.httpd.server_address[:2])
        self.engine.start()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("stopping: waiting for running probes, then deleting what they pushed")
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
