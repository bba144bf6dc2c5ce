"""Schedules the probes with apscheduler and fans their results out to sinks.

One job per (registry, probe) and per replication pair; a job never overlaps itself (max_instances=1);
start-up is staggered over one interval plus jitter so N registries don't all push at the same second.

Start-up never waits on a registry: the scheduler starts and ``ready`` is set at once, and the sweep of
earlier leftovers runs in a background thread, each registry's bounded by its own deadlines. ``stop()`` is
bounded too: running probes end by their deadlines (at most ``probes.timeout``), runs not yet started are
skipped, a replication check stops waiting, and deleting what was pushed gets ``CLEANUP_GRACE`` seconds
more -- every request of every client is capped at ``timeout + CLEANUP_GRACE`` from the stop, so a
registry that hangs cannot hold the process.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Iterable

from apscheduler.executors.pool import ThreadPoolExecutor as APThreadPool
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from regslo.config import Config
from regslo.events import ProbeResult, ReplicationResult, Sink
from regslo.sources.probes.image import default_instance
from regslo.sources.probes.probes import RegistryProber, ReplicationProber

log = logging.getLogger("regslo.engine")
ORDER = {"ping": 0, "push": 1, "pull": 2}
CLEANUP_GRACE = 3.0  # seconds after running probes must have ended, for deleting what they pushed


class ProbeEngine:
    def __init__(self, config: Config, sinks: Iterable[Sink] = (), instance: str | None = None):
        self.config = config
        self.sinks = list(sinks)
        self.instance = instance or config.probes.instance or default_instance()
        self._stopping = threading.Event()
        self.probers = {reg.name: RegistryProber(reg, config.probes, self.instance, stopping=self._stopping)
                        for reg in config.registries}
        self.replications = [ReplicationProber(pair, self.probers[pair.source], self.probers[pair.destination])
                             for pair in config.replication]
        self._scheduler: BackgroundScheduler | None = None
        self._sink_lock = threading.Lock()
        self._sweeper: threading.Thread | None = None
        self.ready = threading.Event()

    # -- results ----------------------------------------------------------------------------------
    def _emit(self, result: ProbeResult | ReplicationResult | None) -> None:
        if result is None:
            return
        with self._sink_lock:
            for sink in self.sinks:
                try:
                    if isinstance(result, ProbeResult):
                        sink.probe_result(result)
                    else:
                        sink.replication_result(result)
                except Exception:  # noqa: BLE001 - one broken sink must not stop the probes
                    log.exception("sink %s failed", type(sink).__name__)

    def run_probe(self, registry: str, probe: str) -> ProbeResult | None:
        result = self.probers[registry].run(probe)
        self._emit(result)
        return result

    def run_replication(self, index: int) -> ReplicationResult | None:
        result = self.replications[index].run()
        self._emit(result)
        return result

    # -- one round (probe --once) -----------------------------------------------------------------
    def run_once(self) -> tuple[list[ProbeResult], list[ReplicationResult]]:
        """Every probe of every registry once (ping, push, pull in order per registry, registries in
        parallel), then every replication pair; then clean up what was pushed."""
        enabled = sorted(self.config.probes.enabled, key=ORDER.get)

        def one_registry(name: str) -> list[ProbeResult]:
            out = []
            for probe in enabled:
                res = self.run_probe(name, probe)
                if res is not None:
                    out.append(res)
            return out

        workers = max(1, min(8, len(self.probers) + len(self.replications)))
        with ThreadPoolExecutor(workers) as pool:
            results = [r for rs in pool.map(one_registry, list(self.probers)) for r in rs]
            repl = [r for r in pool.map(self.run_replication, range(len(self.replications))) if r is not None]
        self.cleanup()
        return results, repl

    # -- scheduled service ------------------------------------------------------------------------
    def sweep(self) -> int:
        """Delete leftovers of earlier runs on every registry, in parallel, bounded by the probe timeout."""
        if not self.config.probes.cleanup or not self.probers:
            return 0
        with ThreadPoolExecutor(min(8, len(self.probers))) as pool:
            return sum(pool.map(lambda p: p.sweep(), self.probers.values()))

    def _background_sweep(self) -> None:
        try:
            removed = self.sweep()
            if removed:
                log.info("start-up sweep removed %d leftover probe images", removed)
        except Exception:  # noqa: BLE001 - a failed sweep leaves images for the next one, nothing more
            log.exception("start-up sweep failed")

    def start(self, sweep: bool = True) -> None:
        settings = self.config.probes
        # (group, order within group, id, function, args): a group is one registry or one replication pair
        jobs: list[tuple[int, int, str, object, tuple]] = []
        for g, name in enumerate(self.probers):
            for k, probe in enumerate(sorted(settings.enabled, key=ORDER.get)):
                jobs.append((g, k, f"{name}/{probe}", self.run_probe, (name, probe)))
        for i, rp in enumerate(self.replications):
            jobs.append((len(self.probers) + i, 0, f"replication/{rp.pair.source}->{rp.pair.destination}",
                         self.run_replication, (i,)))
        groups = len(self.probers) + len(self.replications)
        workers = max(4, len(jobs) + 2)
        sched = BackgroundScheduler(executors={"default": APThreadPool(workers)}, timezone=timezone.utc,
                                    job_defaults={"coalesce": True, "max_instances": 1,
                                                  "misfire_grace_time": max(1, int(settings.interval))})
        now = datetime.now(timezone.utc)
        jitter = settings.jitter * settings.interval
        for group, order, job_id, fn, args in jobs:
            # groups spread evenly over one interval; within a registry ping, push, pull a moment apart
            offset = group * settings.interval / groups + order * 0.2 + random.uniform(0, jitter / 2)
            first = now + timedelta(seconds=offset)
            sched.add_job(fn, IntervalTrigger(seconds=settings.interval, jitter=jitter or None, start_date=first),
                          args=args, id=job_id, name=job_id, next_run_time=first)
        sched.start()
        self._scheduler = sched
        self.ready.set()
        if sweep and settings.cleanup and self.probers:
            self._sweeper = threading.Thread(target=self._background_sweep, name="regslo-sweep", daemon=True)
            self._sweeper.start()
        log.info("probing %d registries (%d jobs) every %gs as instance %s", len(self.probers), len(jobs),
                 settings.interval, self.instance,
                 extra={"registries": len(self.probers), "jobs": len(jobs), "interval_seconds": settings.interval,
                        "instance": self.instance})

    def stop(self) -> None:
        """Stop scheduling, let running probes finish, delete what was pushed: all within
        ``probes.timeout + CLEANUP_GRACE`` seconds, whatever the registries do (see the module doc)."""
        t0 = time.monotonic()
        self._stopping.set()
        not_after = t0 + self.config.probes.timeout + CLEANUP_GRACE
        for prober in self.probers.values():
            prober.client.not_after = not_after
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
            log.info("probes stopped in %.1fs", time.monotonic() - t0)
        if self._sweeper is not None:
            self._sweeper.join(max(0.0, not_after - time.monotonic()))
        self.cleanup()
        for prober in self.probers.values():
            prober.close()

    def cleanup(self) -> int:
        """Delete every image the probers hold, registries in parallel."""
        if not self.config.probes.cleanup or not self.probers:
            return 0
        with ThreadPoolExecutor(min(8, len(self.probers))) as pool:
            return sum(pool.map(lambda p: p.cleanup_all(), self.probers.values()))
