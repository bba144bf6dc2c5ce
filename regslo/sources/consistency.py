"""Cross-region consistency of users' tags: does every region serve one digest under a tag?

For each configured ``consistency`` entry, every ``interval`` each tag is resolved on each listed registry
with a manifest ``HEAD`` (``Accept`` covering OCI and Docker manifests and indexes, so a multi-arch tag
resolves to its index digest, as clients see it). The outcome per (repository, tag):

- ``regslo_tag_digests``: distinct digests served (0 when no registry has the tag);
- ``regslo_tag_consistent``: 1 when every registry agrees (all serve the same digest, or none has the tag),
  0 when digests differ or the tag is missing on some registries but not all.

A registry that cannot answer (down, auth refused) leaves the tag's gauges at their last value and counts
``regslo_tag_consistency_errors_total{registry}``: an outage is the probes' business, not a content
disagreement. One that times out or cannot be reached is skipped for the rest of that round (one error, one
timeout per round, however many tags the entry lists). Label values come only from the config.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge

from regslo.config.consistency import ConsistencyCheck
from regslo.oci.client import RegistryClient
from regslo.oci.errors import classify, short_message

log = logging.getLogger("regslo.consistency")
STOP_WAIT = 1.0  # seconds stop() waits for the checker thread
UNREACHABLE = ("timeout", "connect", "dns", "tls")  # failures that skip the registry for the rest of a round


@dataclass
class TagState:
    repository: str
    tag: str
    digests: dict[str, str | None] = field(default_factory=dict)  # registry -> digest (None: absent)
    consistent: bool | None = None
    checked_at: float | None = None
    inconsistent_since: float | None = None


def judge(digests: Mapping[str, str | None]) -> tuple[bool, int]:
    """(consistent, number of distinct digests) of one tag's resolution on every registry."""
    distinct = {d for d in digests.values() if d is not None}
    present = sum(d is not None for d in digests.values())
    return (len(distinct) == 1 and present == len(digests)) or present == 0, len(distinct)


class ConsistencyChecker:
    """Resolves the configured tags on schedule in one background thread."""

    def __init__(self, checks: list[ConsistencyCheck], clients: Mapping[str, RegistryClient],
                 registry: CollectorRegistry, timeout: float = 20.0):
        self.checks = list(checks)
        self.clients = clients
        self.timeout = timeout
        self.consistent = Gauge("regslo_tag_consistent",
                                "1 when every configured registry serves one digest under the tag (or none "
                                "has it), 0 when they differ.", ["repository", "tag"], registry=registry)
        self.digests = Gauge("regslo_tag_digests", "Distinct digests the configured registries serve under the "
                             "tag (0: absent everywhere).", ["repository", "tag"], registry=registry)
        self.errors = Counter("regslo_tag_consistency_errors", "Tag resolutions that failed (registry down, "
                              "auth refused): the tag keeps its last state.", ["registry"], registry=registry)
        names = sorted({n for c in self.checks for n in c.registries})
        for name in names:
            self.errors.labels(name)
        self.states = {(c.repository, t): TagState(c.repository, t) for c in self.checks for t in c.tags}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reconfigure(self, checks: list[ConsistencyCheck], clients: Mapping[str, RegistryClient]) -> None:
        """After a config reload (call while stopped): new checks and clients; tags still checked keep
        their state and series, those no longer checked lose them."""
        self.checks = list(checks)
        self.clients = clients
        keep = {(c.repository, t) for c in self.checks for t in c.tags}
        for key in [k for k in self.states if k not in keep]:
            del self.states[key]
            for gauge in (self.consistent, self.digests):
                try:
                    gauge.remove(*key)
                except KeyError:
                    pass
        for key in keep - set(self.states):
            self.states[key] = TagState(*key)
        for name in sorted({n for c in self.checks for n in c.registries}):
            self.errors.labels(name)

    # -- one check ------------------------------------------------------------------------------------
    def check(self, check: ConsistencyCheck, stop: threading.Event | None = None) -> list[TagState]:
        """Resolve every tag of ``check`` on each of its registries now; update the gauges. ``stop`` is the
        calling thread's own stop signal (default: the current one)."""
        stop = stop or self._stop
        out = []
        unreachable: set[str] = set()  # registries that timed out or could not be reached in this round
        for tag in check.tags:
            if stop.is_set():  # shutting down: start no new request
                break
            digests: dict[str, str | None] = {}
            failed = False
            for name in check.registries:
                if stop.is_set() or name in unreachable:  # a hanging region costs one timeout a round,
                    failed = True                                # not one per tag
                    continue
                try:
                    digests[name] = self._resolve(self.clients[name], check.repository, tag)
                except Exception as exc:  # noqa: BLE001 - a broken registry is a counted error, never a crash
                    failed = True
                    self.errors.labels(name).inc()
                    if classify(exc) in UNREACHABLE:
                        unreachable.add(name)
                    log.info("consistency: cannot resolve %s:%s on %s: %s", check.repository, tag, name,
                             short_message(exc))
            state = self.states[(check.repository, tag)]
            if not failed and not stop.is_set():
                consistent, distinct = judge(digests)
                now = time.time()
                with self._lock:
                    state.digests, state.checked_at = digests, now
                    if not consistent and (state.consistent or state.consistent is None):
                        state.inconsistent_since = now
                    elif consistent:
                        state.inconsistent_since = None
                    state.consistent = consistent
                self.consistent.labels(check.repository, tag).set(int(consistent))
                self.digests.labels(check.repository, tag).set(distinct)
            out.append(state)
        return out

    def _resolve(self, client: RegistryClient, repository: str, tag: str) -> str | None:
        deadline = time.monotonic() + self.timeout
        digest = client.head_manifest(repository, tag, deadline)
        if digest is not None and not digest.startswith("sha256:"):  # no Docker-Content-Digest: hash the body
            digest = client.get_manifest(repository, tag, deadline).digest
        return digest

    def snapshot(self) -> list[dict]:
        """Per tag: whether registries agree and what each serves (for /api/v1/status)."""
        with self._lock:
            return [{"repository": s.repository, "tag": s.tag, "consistent": s.consistent,
                     "digests": dict(s.digests), "checked_at": s.checked_at,
                     "inconsistent_since": s.inconsistent_since} for s in self.states.values()]

    # -- schedule -------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.checks and self._thread is None:
            # each thread gets a stop signal of its own: one that outlived stop()'s wait (stuck in a request
            # to a hanging registry) must still end, even after a reload has started its successor
            stop = self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(stop,), name="regslo-consistency", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop scheduling; wait at most ``STOP_WAIT`` seconds. A resolution in flight against a hanging
        registry ends by its own deadline in the (daemon) thread: shutdown does not wait for it, so the
        probes' bound on SIGTERM (``probes.timeout`` + a few seconds) is not spent here first. Its result
        is not recorded."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT)
            self._thread = None

    def _run(self, stop: threading.Event) -> None:
        checks = self.checks  # a reload replaces the list; this thread keeps the one it was started with
        due = [time.monotonic()] * len(checks)
        while not stop.is_set():
            now = time.monotonic()
            for i, check in enumerate(checks):
                if due[i] <= now and not stop.is_set():
                    try:
                        self.check(check, stop)
                    except Exception:  # noqa: BLE001 - the next round retries
                        log.exception("consistency check of %s failed", check.repository)
                    due[i] = max(due[i] + check.interval, time.monotonic())
            stop.wait(max(0.0, min(due) - time.monotonic()))
