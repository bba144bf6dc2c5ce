"""Storage of registries on a local filesystem: statvfs gauges, a background walk, the fill projection.

One daemon thread serves every registry with ``storage:``. It never blocks a probe or a scrape: scrapes read
the last published numbers (plain floats), and the walk of the registry root runs in small rate-limited
slices (at most ``scan_rate`` entries per second, one open directory per level of depth), so a store with
millions of blobs costs a steady trickle of ``stat`` calls instead of a burst. Each registry:

- every ``sample_interval``: ``statvfs`` -> capacity and available bytes, a (time, used) sample in a
  bounded history of ``window``, and the projection (regslo.sli.fill);
- continuously, paused ``scan_interval`` between walks: the allocated bytes under the root (like ``du``),
  published when a walk completes, with its end time.

``start()``/``stop()`` are idempotent and ``stop()`` unregisters the collector, so a config reload can
throw the monitor away and build a new one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from regslo.sli.fill import full_in_seconds

log = logging.getLogger("regslo.storage")
TICK = 0.1  # seconds per walk slice
MAX_SAMPLES = 20_000  # history bound per registry, whatever window/sample_interval say
# open directories per walk (one per level): a registry tree is ~12 levels plus one per component of a
# repository name, and a name (at most 255 characters) has at most 128 components
MAX_DEPTH = 160


def statvfs(path: str) -> tuple[int, int]:
    """(capacity, available) bytes as ``df`` shows them: Size and Avail (what a non-root writer can use)."""
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


class Walk:
    """An incremental ``du``: allocated bytes of every file and directory under ``root``.

    ``step(n)`` examines at most ``n`` entries and returns True when the walk is complete. Entries that
    vanish meanwhile (a GC or an upload finishing) are skipped; symlinks are not followed, so a link can
    neither loop nor lead out of the root. Directories that cannot be read (permission denied) and
    directories deeper than ``MAX_DEPTH`` are skipped and counted in ``errors``: the walk holds one open
    directory per level, so the depth bound is also its bound on file descriptors and memory. ``failed`` is
    True when the root itself could not be read (nothing was measured).
    """

    def __init__(self, root: str):
        self.root = root
        self.bytes = 0
        self.entries = 0
        self.errors = 0
        self.failed = False
        self._stack: list[Any] = []
        self._done = False
        try:
            self.bytes += os.lstat(root).st_blocks * 512
            self._stack.append(os.scandir(root))
        except OSError:
            self.errors += 1
            self.failed = True
            self._done = True

    def step(self, budget: int) -> bool:
        stack = self._stack
        while budget > 0 and stack:
            try:
                entry = next(stack[-1], None)
            except OSError:
                entry = None
                self.errors += 1
            if entry is None:
                stack.pop().close()
                continue
            budget -= 1
            self.entries += 1
            try:
                st = entry.stat(follow_symlinks=False)
                self.bytes += st.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    if len(stack) >= MAX_DEPTH:
                        self.errors += 1  # its own size is counted, its contents are not
                    else:
                        stack.append(os.scandir(entry.path))
            except FileNotFoundError:
                continue
            except OSError:
                self.errors += 1
        self._done = self._done or not stack
        return self._done

    def close(self) -> None:
        while self._stack:
            self._stack.pop().close()


@dataclass
class Tracked:
    name: str
    settings: Any  # StorageConfig
    samples: deque = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))  # (time, used, available)
    capacity: float | None = None
    available: float | None = None
    full_in: float | None = None
    registry_bytes: float | None = None
    scan_timestamp: float | None = None
    scan_duration: float | None = None
    scan_errors: float | None = None
    walk: Walk | None = None
    walk_started: float = 0.0
    credit: float = 0.0  # entries the walk may still examine: scan_rate * TICK per tick (fractions carry)
    next_walk: float = 0.0
    next_sample: float = 0.0
    errors: int = 0


class StorageMonitor(Collector):
    def __init__(self, registries: list, registry: CollectorRegistry | None = None, clock=time.time):
        self.tracked = [Tracked(r.name, r.storage) for r in registries if getattr(r, "storage", None)]
        self._by_name = {t.name: t for t in self.tracked}
        self.lock = threading.Lock()
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._registry = registry
        if registry is not None:
            registry.register(self)

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None and self.tracked:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="regslo-storage", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        for t in self.tracked:
            if t.walk is not None:
                t.walk.close()
                t.walk = None
        if self._registry is not None:
            try:
                self._registry.unregister(self)
            except KeyError:
                pass
            self._registry = None

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.tick()
            except Exception:  # one bad round must not end monitoring; the next tick retries
                log.exception("storage monitor round failed")
            self._stop.wait(max(0.0, TICK - (time.monotonic() - began)))

    # -- work -------------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Sample whatever is due, then walk one slice (``scan_rate * TICK`` entries) per registry."""
        now = time.monotonic()
        for t in self.tracked:
            if now >= t.next_sample:
                t.next_sample = now + t.settings.sample_interval
                self.sample(t)
            self._walk_slice(t, now)

    def sample(self, t: Tracked) -> None:
        try:
            capacity, available = statvfs(str(t.settings.path))
        except OSError as exc:
            t.errors += 1
            if t.errors == 1 or t.errors % 100 == 0:
                log.warning("storage of %s: statvfs %s failed: %s", t.name, t.settings.path, exc.strerror)
            return
        when = self.clock()
        with self.lock:
            t.capacity, t.available = float(capacity), float(available)
            t.samples.append((when, float(capacity - available), float(available)))
            horizon = when - t.settings.window
            while t.samples and t.samples[0][0] < horizon:  # the deque itself keeps at most MAX_SAMPLES
                t.samples.popleft()
            times = [s[0] for s in t.samples]
            used = [s[1] for s in t.samples]
        full_in = full_in_seconds(times, used, float(capacity), float(available))
        with self.lock:
            t.full_in = full_in

    def _walk_slice(self, t: Tracked, now: float) -> None:
        if t.walk is None:
            if now < t.next_walk:
                return
            t.walk = Walk(str(t.settings.path))
            t.walk_started = now
        per_tick = t.settings.scan_rate * TICK
        t.credit = min(t.credit + per_tick, per_tick + 1.0)
        budget = int(t.credit)
        if budget < 1:
            return  # below 10 entries a second: not every tick may examine one
        t.credit -= budget
        if t.walk.step(budget):
            walk, t.walk = t.walk, None
            walk.close()
            t.next_walk = time.monotonic() + t.settings.scan_interval
            if walk.failed:  # nothing measured: keep the last total and its (ageing) timestamp
                t.errors += 1
                if t.errors == 1 or t.errors % 100 == 0:
                    log.warning("storage of %s: cannot read the registry root %s", t.name, walk.root)
                return
            with self.lock:
                t.registry_bytes = float(walk.bytes)
                t.scan_timestamp = self.clock()
                t.scan_duration = time.monotonic() - t.walk_started
                t.scan_errors = float(walk.errors)
            if walk.errors:
                log.warning("storage of %s: walk of %s skipped %d unreadable entries", t.name, walk.root,
                            walk.errors)

    def reclaimed(self, registry: str, started: float, ended: float | None) -> float | None:
        """A GC run's gain: available bytes at the first sample from ``ended`` on (or now, when the run ended
        after the newest sample) minus at the last sample before ``started``. A run the tailer reads late
        (a backlog after a restart) is not credited with what changed after it. None when this registry
        is not measured or no sample precedes the run."""
        t = self._by_name.get(registry)
        if t is None:
            return None
        with self.lock:
            before = next((s for s in reversed(t.samples) if s[0] <= started), None)
            after = next((s for s in t.samples if s[0] >= ended), None) if ended is not None else None
        if before is None:
            return None
        if after is not None:
            return after[2] - before[2]
        try:
            _capacity, available = statvfs(str(t.settings.path))
        except OSError:
            return None
        return float(available) - before[2]

    # -- exposition -------------------------------------------------------------------------------------
    def describe(self) -> Iterator:
        return iter(())

    def collect(self) -> Iterator:
        specs = (
            ("capacity", "regslo_storage_capacity_bytes", "Size of the filesystem holding the registry root (statvfs)."),
            ("available", "regslo_storage_available_bytes",
             "Bytes still writable by the registry on that filesystem (statvfs f_bavail)."),
            ("registry_bytes", "regslo_storage_registry_bytes",
             "Allocated bytes under the registry root, from the last complete walk."),
            ("scan_timestamp", "regslo_storage_scan_timestamp_seconds", "End of the last complete walk."),
            ("scan_duration", "regslo_storage_scan_duration_seconds", "How long the last complete walk took."),
            ("scan_errors", "regslo_storage_scan_skipped_entries",
             "Entries the last complete walk skipped: unreadable (e.g. permission denied) or too deep."),
            ("full_in", "regslo_storage_full_in_seconds",
             "Seconds until the filesystem is full at the recent growth rate (+Inf when not growing)."),
        )
        with self.lock:
            rows = [(t.name, {attr: getattr(t, attr) for attr, _n, _d in specs}) for t in self.tracked]
        for attr, name, doc in specs:
            fam = GaugeMetricFamily(name, doc, labels=["registry"])
            for reg, values in rows:
                if values[attr] is not None:
                    fam.add_metric([reg], values[attr])
            yield fam
