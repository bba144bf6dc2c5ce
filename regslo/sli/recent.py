"""A bounded memory of recent probe results for humans (status page, JSON API, demo summary lines)."""

from __future__ import annotations

import threading
from collections import deque

from regslo.config import Config
from regslo.events import ProbeResult, ReplicationResult

HISTORY = 720  # per (registry, probe): 6 hours at a 30 s interval
FAILURES = 50


class RecentResults:
    """Sink keeping the last results per probe, a history for charts and the latest failures."""

    def __init__(self, config: Config, history: int = HISTORY):
        self._lock = threading.Lock()
        self.latest: dict[tuple[str, str], ProbeResult] = {}
        self.history: dict[tuple[str, str], deque[ProbeResult]] = {}
        self.replication: dict[tuple[str, str], ReplicationResult] = {}
        self.replication_history: dict[tuple[str, str], deque[ReplicationResult]] = {}
        self.failures: deque[ProbeResult | ReplicationResult] = deque(maxlen=FAILURES)
        self._size = history
        self.listeners: list = []

    def probe_result(self, result: ProbeResult) -> None:
        key = (result.registry, result.probe)
        with self._lock:
            self.latest[key] = result
            self.history.setdefault(key, deque(maxlen=self._size)).append(result)
            if not result.ok:
                self.failures.append(result)
        for fn in list(self.listeners):
            fn(result)

    def replication_result(self, result: ReplicationResult) -> None:
        key = (result.source, result.destination)
        with self._lock:
            self.replication[key] = result
            self.replication_history.setdefault(key, deque(maxlen=self._size)).append(result)
            if result.outcome != "ok":
                self.failures.append(result)
        for fn in list(self.listeners):
            fn(result)

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "latest": dict(self.latest),
                "history": {k: list(v) for k, v in self.history.items()},
                "replication": dict(self.replication),
                "replication_history": {k: list(v) for k, v in self.replication_history.items()},
                "failures": list(self.failures),
            }
