"""The events that flow from sources to sinks: typed probe and replication results.

Neutral ground: sources (the probe engine) produce these, sinks (metrics, recent results, status page, demo
console) consume them, and neither side imports the other. Probes only measure; sinks subscribe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

PHASES = ("auth", "blob_upload", "manifest_put", "manifest_get", "blob_get")


@dataclass
class ProbeResult:
    registry: str
    region: str
    probe: str  # ping | push | pull
    ok: bool
    duration: float
    reason: str | None = None  # one of regslo.oci.errors.REASONS when not ok
    message: str = ""
    phases: dict[str, float] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)


@dataclass
class ReplicationResult:
    source: str
    destination: str
    outcome: str  # ok | timeout | error (error: the push to the source failed; no check was made)
    lag: float | None = None
    reason: str | None = None
    message: str = ""
    timestamp: float = field(default_factory=time.time)


class Sink(Protocol):
    def probe_result(self, result: ProbeResult) -> None: ...

    def replication_result(self, result: ReplicationResult) -> None: ...
