"""The probes: ping, push, pull against one registry, and replication between two.

A probe run never raises: every outcome becomes a ``ProbeResult`` with a bounded ``reason``. Each run has a
deadline (``probes.timeout``) that bounds every request it makes, so a frozen registry costs one timeout.
What a run pushes is deleted again: the push probe keeps the newest two images (the pull probe reads the
newest; a pull that started just before a push still finds its image) and deletes older ones, the
replication probe deletes its image on both sides, and ``sweep()`` removes leftovers of earlier processes
(never an image being pushed or checked right now: those are "in flight").

Shutdown (``stopping`` set, ``client.not_after`` set by the engine): runs not yet started are skipped, a
replication check stops waiting, and cleanup requests end by ``not_after`` like everything else.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from regslo.config import ProbeSettings, ReplicationPair, Registry
from regslo.events import ProbeResult, ReplicationResult
from regslo.oci.client import RegistryClient
from regslo.oci.errors import OCIError, classify, short_message
from regslo.sources.probes.image import TestImage, build_image, parse_tag

log = logging.getLogger("regslo.probes")
KEEP_IMAGES = 2
_STOPPED = object()  # a replication wait ended by shutdown
STALE_FOREIGN_SECONDS = 3600.0  # another instance's probe image older than this is an orphan


@dataclass(frozen=True)
class PushedImage:
    tag: str
    manifest_digest: str
    blob_digests: tuple[str, ...]


class PhaseClock:
    """Accumulates phase durations; time spent obtaining credentials is moved to the ``auth`` phase."""

    def __init__(self, client: RegistryClient):
        self.client = client
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        auth0 = self.client.auth_seconds
        t0 = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - t0
            auth = max(0.0, min(elapsed, self.client.auth_seconds - auth0))
            self.phases[name] = self.phases.get(name, 0.0) + elapsed - auth
            if auth:
                self.phases["auth"] = self.phases.get("auth", 0.0) + auth


def _blobs(manifest: bytes) -> list[tuple[str, int | None]]:
    """(digest, size) of the config and every layer of an image manifest: what a pull must fetch."""
    try:
        doc = json.loads(manifest)
        descriptors = [doc["config"]] + list(doc.get("layers", []))
        return [(d["digest"], d.get("size") if isinstance(d.get("size"), int) else None) for d in descriptors]
    except (ValueError, KeyError, TypeError) as exc:
        raise OCIError("other", f"unreadable manifest: {type(exc).__name__}") from None


def _blob_digests(manifest: bytes) -> list[str]:
    return [digest for digest, _size in _blobs(manifest)]


class RegistryProber:
    """Runs the probes of one registry; thread-safe (the scheduler runs ping, push and pull concurrently)."""

    def __init__(self, registry: Registry, settings: ProbeSettings, instance: str,
                 client: RegistryClient | None = None, stopping: threading.Event | None = None):
        self.registry = registry
        self.settings = settings
        self.instance = instance
        self.repo = settings.repository
        self.client = client or RegistryClient(registry, timeout=settings.timeout,
                                               chunk_threshold=settings.chunk_threshold,
                                               chunk_size=settings.chunk_size)
        self._lock = threading.Lock()
        self._images: deque[PushedImage] = deque()
        self._inflight: set[str] = set()  # tags being pushed or checked: sweep() leaves them alone
        self._push_runs = 0
        self.stopping = stopping or threading.Event()

    @contextmanager
    def in_flight(self, tag: str) -> Iterator[None]:
        """Mark ``tag`` as in use for the duration of the block (a concurrent sweep skips it)."""
        with self._lock:
            self._inflight.add(tag)
        try:
            yield
        finally:
            with self._lock:
                self._inflight.discard(tag)

    # -- running ----------------------------------------------------------------------------------
    def run(self, probe: str) -> ProbeResult | None:
        """Run one probe. None means the run was skipped (pull with nothing to pull: see ``_seed``; or
        shutting down)."""
        if self.stopping.is_set():
            return None
        if probe == "pull" and not self._seed():
            return None
        fn: Callable[[float, PhaseClock], str] = {"ping": self._ping, "push": self._push, "pull": self._pull}[probe]
        clock = PhaseClock(self.client)
        t0 = time.perf_counter()
        deadline = time.monotonic() + self.settings.timeout
        try:
            message = fn(deadline, clock)
            ok, reason = True, None
        except Exception as exc:  # noqa: BLE001 - a probe reports every failure, never raises
            ok, reason, message = False, classify(exc), short_message(exc)
            if reason == "other":
                log.warning("probe %s/%s failed unexpectedly: %s", self.registry.name, probe, message,
                            exc_info=not isinstance(exc, OCIError),
                            extra={"registry": self.registry.name, "probe": probe})
        duration = time.perf_counter() - t0
        return ProbeResult(registry=self.registry.name, region=self.registry.region, probe=probe, ok=ok,
                           duration=duration, reason=reason, message=message, phases=clock.phases)

    def _ping(self, deadline: float, clock: PhaseClock) -> str:
        with clock.phase("ping"):
            self.client.ping(deadline)
        clock.phases.pop("ping", None)
        return "GET /v2/ ok"

    def _push(self, deadline: float, clock: PhaseClock) -> str:
        image = build_image(self.instance, self.settings.blob_size)
        with self.in_flight(image.tag):
            pushed = self.push_image(image, deadline, clock)
            with self._lock:
                self._images.append(pushed)
                stale = []
                # on shutdown the older images stay listed: cleanup_all() deletes them within its bound
                while len(self._images) > KEEP_IMAGES and not self.stopping.is_set():
                    stale.append(self._images.popleft())
                self._push_runs += 1
                sweep_due = self._push_runs % 50 == 0
        if self.settings.cleanup:
            for old in stale:
                self.delete_image(old, deadline)
            if sweep_due:
                self.sweep(deadline=deadline)
        return f"pushed {image.tag} ({len(image.layer)} B layer)"

    def _pull(self, deadline: float, clock: PhaseClock) -> str:
        with self._lock:
            latest = self._images[-1] if self._images else None
        if latest is None:
            raise OCIError("other", "no image to pull")
        with clock.phase("manifest_get"):
            manifest = self.client.get_manifest(self.repo, latest.tag, deadline)
        if manifest.digest != latest.manifest_digest:
            raise OCIError("digest_mismatch", f"tag {latest.tag} resolves to {manifest.digest}, "
                                              f"pushed {latest.manifest_digest}")
        blobs = _blobs(manifest.body)
        total = 0
        with clock.phase("blob_get"):
            for digest, size in blobs:
                got = self.client.get_blob(self.repo, digest, deadline, size=size)
                if size is not None and got != size:
                    raise OCIError("digest_mismatch", f"blob {digest[:19]} has {got} bytes, manifest says {size}")
                total += got
        return f"pulled {latest.tag} ({total} B, {len(blobs)} blobs verified)"

    def _seed(self) -> bool:
        """Make sure there is an image to pull. Normally the push probe's; if it has not run yet (start-up)
        push one untimed. If that fails too the pull run is skipped: the push probe reports the failure, and
        a pull probe counting "nothing to pull" would double it."""
        with self._lock:
            if self._images:
                return True
        if self.stopping.is_set():
            return False
        clock = PhaseClock(self.client)
        image = build_image(self.instance, self.settings.blob_size)
        with self.in_flight(image.tag):
            try:
                pushed = self.push_image(image, time.monotonic() + self.settings.timeout, clock)
            except Exception as exc:  # noqa: BLE001
                log.info("pull probe of %s skipped: no image to pull (%s)", self.registry.name, short_message(exc))
                return False
            with self._lock:
                self._images.append(pushed)
        return True

    # -- building blocks shared with replication ----------------------------------------------------
    def push_image(self, image: TestImage, deadline: float, clock: PhaseClock) -> PushedImage:
        with clock.phase("blob_upload"):
            self.client.push_blob(self.repo, image.layer, deadline, digest=image.layer_digest)
            self.client.push_blob(self.repo, image.config, deadline, digest=image.config_digest)
        with clock.phase("manifest_put"):
            self.client.put_manifest(self.repo, image.tag, image.manifest, deadline=deadline)
        return PushedImage(image.tag, image.manifest_digest, image.blob_digests)

    def delete_image(self, image: PushedImage, deadline: float | None = None) -> bool:
        """Delete manifest (which drops its tags) and the blob links; errors are logged, not raised."""
        try:
            self.client.delete_manifest(self.repo, image.manifest_digest, self._cleanup_deadline(deadline))
            for digest in image.blob_digests:
                self.client.delete_blob(self.repo, digest, self._cleanup_deadline(deadline))
            return True
        except Exception as exc:  # noqa: BLE001
            log.warning("cleanup of %s on %s failed: %s", image.tag, self.registry.name, short_message(exc))
            return False

    def _cleanup_deadline(self, deadline: float | None) -> float:
        # cleanup of a run that used up its deadline still gets a bounded moment of its own
        floor = time.monotonic() + min(5.0, self.settings.timeout)
        return max(deadline or 0.0, floor)

    def sweep(self, now: float | None = None, deadline: float | None = None) -> int:
        """Delete probe images left by earlier runs: this instance's (except live and in-flight ones) and
        stale foreign ones. Bounded: listing by ``deadline`` (default ``timeout`` from now), no new image
        started after it or on shutdown, each deletion bounded as in ``delete_image``."""
        now = now or time.time()
        deadline = deadline or time.monotonic() + self.settings.timeout
        removed = 0
        try:
            tags = self.client.list_tags(self.repo, deadline)
        except Exception as exc:  # noqa: BLE001
            log.warning("sweep of %s failed: %s", self.registry.name, short_message(exc))
            return 0
        for tag in tags:
            parsed = parse_tag(tag)
            with self._lock:
                live = tag in self._inflight or any(img.tag == tag for img in self._images)
            if parsed is None or live:
                continue
            if self.stopping.is_set() or time.monotonic() >= deadline:
                log.info("sweep of %s stopped at its deadline; the rest is left for the next sweep",
                         self.registry.name)
                break
            instance, ts = parsed
            if instance != self.instance and now - ts < STALE_FOREIGN_SECONDS:
                continue
            try:
                manifest = self.client.get_manifest(self.repo, tag, self._cleanup_deadline(deadline))
                blobs = tuple(_blob_digests(manifest.body))
            except Exception as exc:  # noqa: BLE001
                log.warning("sweep: cannot read %s on %s: %s", tag, self.registry.name, short_message(exc))
                continue
            if self.delete_image(PushedImage(tag, manifest.digest, blobs), deadline):
                removed += 1
        if removed:
            log.info("swept %d leftover probe images from %s/%s", removed, self.registry.name, self.repo)
        return removed

    def cleanup_all(self) -> int:
        """Delete every image this prober still holds (on shutdown)."""
        with self._lock:
            images = list(self._images)
            self._images.clear()
        return sum(self.delete_image(img) for img in images)

    def close(self) -> None:
        self.client.close()


class ReplicationProber:
    """Push a fresh image to the source, then poll the destination by tag until the tag appears.

    Lag is the time until the destination serves the tag. Then the digests are compared: a different
    digest under the tag means the replicator copied the image but not its bytes (it rewrote the manifest
    or recompressed a layer); that check has outcome ``digest_mismatch``, still with its lag.
    """

    def __init__(self, pair: ReplicationPair, source: RegistryProber, destination: RegistryProber):
        self.pair = pair
        self.source = source
        self.destination = destination

    def run(self) -> ReplicationResult | None:
        """One check; None when shutdown interrupted it (neither a success nor a timeout: not recorded)."""
        settings = self.source.settings
        if self.source.stopping.is_set():
            return None
        image = build_image(self.source.instance, min(settings.blob_size, 64 * 1024), purpose="replication")
        with self.source.in_flight(image.tag), self.destination.in_flight(image.tag):
            clock = PhaseClock(self.source.client)
            try:
                pushed = self.source.push_image(image, time.monotonic() + settings.timeout, clock)
            except Exception as exc:  # noqa: BLE001
                return ReplicationResult(self.pair.source, self.pair.destination, "error", reason=classify(exc),
                                         message="push to source failed: " + short_message(exc))
            pushed_at = time.monotonic()
            seen: str | None = None
            try:
                lag, seen = self._wait(pushed, pushed_at)
            finally:
                if settings.cleanup:
                    self.source.delete_image(pushed)
                    self.destination.delete_image(pushed)
                    if seen and seen != pushed.manifest_digest:  # the copy's own manifest; blobs may differ too
                        self.destination.delete_image(PushedImage(pushed.tag, seen, ()))
        if lag is _STOPPED:
            return None
        src, dst = self.pair.source, self.pair.destination
        if lag is None:
            return ReplicationResult(src, dst, "timeout", reason="timeout",
                                     message=f"tag {pushed.tag} not in {dst} after {self.pair.timeout:g}s")
        if seen != pushed.manifest_digest:
            return ReplicationResult(src, dst, "digest_mismatch", lag=lag, reason="digest_mismatch",
                                     message=f"replicated in {lag:.2f}s but {dst} serves {str(seen)[:19]} "
                                             f"under the tag, pushed {pushed.manifest_digest[:19]}")
        return ReplicationResult(src, dst, "ok", lag=lag, message=f"replicated in {lag:.2f}s")

    def _wait(self, pushed: PushedImage, pushed_at: float) -> tuple[Any, str | None]:
        """(lag, digest the destination serves under the tag), (None, None) when it never appeared, or
        (_STOPPED, None) when shutdown ended the wait."""
        end = pushed_at + self.pair.timeout
        client = self.destination.client
        repo = self.destination.repo
        stopping = self.source.stopping
        while True:
            now = time.monotonic()
            if stopping.is_set():
                return _STOPPED, None
            if now >= end:
                return None, None
            try:
                poll_deadline = min(end, now + self.source.settings.timeout)
                digest = client.head_manifest(repo, pushed.tag, poll_deadline)
                if digest is not None:
                    lag = time.monotonic() - pushed_at
                    if not digest.startswith("sha256:"):  # no Docker-Content-Digest header: hash the body
                        digest = client.get_manifest(repo, pushed.tag, poll_deadline).digest
                    return lag, digest
            except Exception as exc:  # noqa: BLE001 - destination trouble counts against freshness
                log.debug("replication poll %s: %s", self.pair.destination, short_message(exc))
            stopping.wait(max(0.0, min(self.pair.poll_interval, end - time.monotonic())))
