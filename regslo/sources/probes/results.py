"""Kept for existing imports: the event types live in :mod:`regslo.events`, which sources and sinks both use."""

from regslo.events import PHASES, ProbeResult, ReplicationResult, Sink

__all__ = ["PHASES", "ProbeResult", "ReplicationResult", "Sink"]
