"""The image inspector: reads each pushed image of the selected repositories once, ``delay`` after its push.

Fed by manifest push events (the notifications webhook or a notifications file, through
``LogService.subscribe``). ``submit`` never blocks and never does I/O: it filters the event and appends it
to a bounded queue (overflow is counted in ``regslo_inspect_dropped_total``). One worker thread takes the
queue in push order, waits until an event is ``delay`` old, keeps to ``max_per_minute``, and reads:

1. the manifest (for an index, each platform manifest): size = distinct config + layer bytes it references;
2. the artifacts that refer to it: the OCI 1.1 referrers API, else the referrers tag schema
   (``sha256-<hex>``), and cosign's tags (``sha256-<hex>.sig``, ``.att``, ``.sbom``); docker buildx
   attestation manifests inside an index count too.

Every read of one image shares one deadline; a failure is counted with a bounded reason and the image is
not tried again. Artifacts (signatures, SBOMs, attestations, anything with a subject or non-image layers)
are never counted as images. All requests carry ``INSPECTOR_USER_AGENT`` so log-derived SLIs skip them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from regslo.config.inspect import InspectConfig
from regslo.oci.errors import REASONS, OCIError
from regslo.oci.names import valid_digest, valid_repository
from regslo.sli.buckets import IMAGE_SIZE_BUCKETS
from regslo.sources.inspect.kinds import (COSIGN_SUFFIXES, INDEX_TYPES, KINDS, MANIFEST_TYPES,
                                          descriptor_kind, is_artifact_tag, kind_of, manifest_is_artifact)
from regslo.sources.logs.classify import INSPECTOR_USER_AGENT
from regslo.sources.logs.formats.notifications import BoundedLRU

log = logging.getLogger("regslo.inspect")
STOP_WAIT = 1.0  # seconds stop() waits for the worker
FAILURE_REASONS = (*REASONS, "invalid_manifest")
SKIP_REASONS = ("not_selected", "untagged", "artifact", "duplicate", "invalid")
MAX_PLATFORMS = 64  # platform manifests read per index
MAX_BLOBS = 20_000  # distinct config + layer blobs of one image, all platforms (Docker allows 127 layers)
MAX_REFERRERS = 10_000  # descriptors of artifacts referring to one image, over all referrers API pages
MAX_DESCRIPTOR_SIZE = 2**63 - 1  # the OCI image spec: size is an int64
DUPLICATE_MEMORY = 50_000  # hashes of (registry, repository, digest) remembered to inspect each image once
class InvalidManifest(Exception):
    """A manifest regslo cannot read as an OCI/Docker image manifest or index."""


@dataclass(frozen=True)
class Push:
    registry: str
    repository: str
    digest: str
    tag: str
    due: float  # time.monotonic() when it may be read


@dataclass
class Inspection:
    size: int = 0
    kinds: set[str] = field(default_factory=set)


class InspectMetrics:
    def __init__(self, registry: CollectorRegistry, registries: tuple[str, ...]):
        r = registry
        self.size = Histogram("regslo_pushed_image_size_bytes",
                              "Bytes of the config and layers of each inspected pushed image (all platforms "
                              "of an index, each blob once).", ["registry"], buckets=IMAGE_SIZE_BUCKETS, registry=r)
        self.inspected = Counter("regslo_pushed_images_inspected", "Pushed images the inspector read.",
                                 ["registry"], registry=r)
        self.with_artifact = Counter("regslo_pushed_images_with_artifact",
                                     "Inspected pushed images with at least one artifact of the kind attached.",
                                     ["registry", "kind"], registry=r)
        self.failures = Counter("regslo_inspect_failures", "Pushed images the inspector could not read, by reason.",
                                ["registry", "reason"], registry=r)
        self.dropped = Counter("regslo_inspect_dropped", "Manifest pushes dropped because the inspector queue "
                                                         "was full.", ["registry"], registry=r)
        self.skipped = Counter("regslo_inspect_skipped", "Manifest pushes not inspected, by reason (not_selected, "
                                                         "untagged, artifact, duplicate, invalid).",
                               ["registry", "reason"],
                               registry=r)
        self.queue = Gauge("regslo_inspect_queue_length", "Manifest pushes waiting for the inspector.", registry=r)
        self._registry = registry
        self.declare(registries)

    def declare(self, registries: tuple[str, ...]) -> None:
        """Every series of these registries, at 0, so that rates over them exist from the start."""
        for name in registries:
            self.size.labels(name)
            self.inspected.labels(name)
            self.dropped.labels(name)
            for kind in KINDS:
                self.with_artifact.labels(name, kind)
            for reason in SKIP_REASONS:
                self.skipped.labels(name, reason)
            for reason in FAILURE_REASONS:
                self.failures.labels(name, reason)

    def unregister(self) -> None:
        for metric in (self.size, self.inspected, self.with_artifact, self.failures, self.dropped, self.skipped,
                       self.queue):
            try:
                self._registry.unregister(metric)
            except KeyError:
                pass


class Inspector:
    def __init__(self, config: Any, registry: CollectorRegistry, clients: dict[str, Any] | None = None):
        self.settings: InspectConfig = config.inspect
        self.registries = {r.name: r for r in config.registries if r.name in self.settings.registries}
        self.metrics = InspectMetrics(registry, tuple(self.registries))
        self._clients = dict(clients or {})
        self._queue: deque[Push] = deque()
        self._cond = threading.Condition()
        self._seen = BoundedLRU(DUPLICATE_MEMORY)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._spacing = 60.0 / self.settings.max_per_minute
        self._next_start = 0.0
        self.metrics.queue.set_function(lambda: len(self._queue))

    # -- intake (called by the notification parser, under the log metrics lock: O(1), no I/O) ------------
    def submit(self, registry: str, repository: str, tag: str | None, digest: str, media_type: str | None = None) -> bool:
        """Queue one manifest push; True if queued."""
        if registry not in self.registries:
            return False
        m = self.metrics
        if not valid_repository(repository) or not valid_digest(digest):
            m.skipped.labels(registry, "invalid").inc()  # never a URL: it could name another repository
            return False
        if not self.settings.selects(repository):
            m.skipped.labels(registry, "not_selected").inc()
            return False
        if not tag:
            m.skipped.labels(registry, "untagged").inc()  # platform manifests of an index, referrers artifacts
            return False
        if is_artifact_tag(tag):
            m.skipped.labels(registry, "artifact").inc()
            return False
        with self._cond:
            if len(self._queue) >= self.settings.queue_size:
                m.dropped.labels(registry).inc()
                return False
            if self._seen.seen(hash((registry, repository, digest))):  # an int: a few MB for all of them
                m.skipped.labels(registry, "duplicate").inc()  # the same image under another tag
                return False
            self._queue.append(Push(registry, repository, digest, tag, time.monotonic() + self.settings.delay))
            self._cond.notify()
        return True

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="regslo-inspect", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop; wait at most ``STOP_WAIT`` seconds. An inspection in flight against a hanging registry ends
        by its own deadline in the (daemon) worker: shutdown does not wait ``inspect.timeout`` for it on top
        of the probes' own bound (``probes.timeout`` + a few seconds). Its clients are then left to it;
        the reads after it fail at once (``not_after``)."""
        self._stop.set()
        for client in list(self._clients.values()):
            if hasattr(client, "not_after"):
                client.not_after = time.monotonic()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT)
            if self._thread.is_alive():
                return
            self._thread = None
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def update_registries(self, config: Any) -> None:
        """A reload: the inspected registries' new settings (URL, credentials, TLS). The worker replaces a
        registry's client before its next inspection, so rotated credentials are used without a restart."""
        self.registries = {r.name: r for r in config.registries if r.name in self.settings.registries}

    def reconfigure(self, config: Any) -> None:
        """A reload with a changed ``inspect:`` section. New selections, rate, timeout and registries apply
        to the next inspection. Queued pushes keep their due time; those the new section no longer selects
        leave the queue (counted as skipped ``not_selected``), and if the queue is now over ``queue_size``
        the newest are dropped (counted as ``dropped``)."""
        settings: InspectConfig = config.inspect
        registries = {r.name: r for r in config.registries if r.name in settings.registries}
        self.metrics.declare(tuple(registries))
        m = self.metrics
        with self._cond:
            self.settings, self.registries = settings, registries
            self._spacing = 60.0 / settings.max_per_minute
            kept: deque[Push] = deque()
            for push in self._queue:
                if push.registry in registries and settings.selects(push.repository):
                    if len(kept) < settings.queue_size:
                        kept.append(push)
                    else:
                        m.dropped.labels(push.registry).inc()
                else:
                    m.skipped.labels(push.registry, "not_selected").inc()
            self._queue = kept
            self._cond.notify_all()

    def _client(self, name: str) -> Any:
        client = self._clients.get(name)
        registry = self.registries.get(name)
        if registry is None:
            raise OCIError("client_error", f"registry {name!r} is no longer configured")
        if client is not None and (getattr(client, "registry", registry) != registry
                                   or getattr(client, "timeout", self.settings.timeout) != self.settings.timeout):
            client.close()  # settings changed by a reload (only this worker thread uses the clients)
            client = None
        if client is None:
            from regslo.oci.client import RegistryClient
            client = self._clients[name] = RegistryClient(registry, timeout=self.settings.timeout,
                                                          user_agent=INSPECTOR_USER_AGENT)
        return client

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._queue and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                head = self._queue[0]
            now = time.monotonic()
            start = max(head.due, self._next_start)
            if start > now:
                with self._cond:  # woken early by stop() or a reload that changes the queue
                    if not self._stop.is_set() and self._queue and self._queue[0] is head:
                        self._cond.wait(start - now)
                continue  # re-check stop and the head
            with self._cond:
                if not self._queue or self._queue[0] is not head:
                    continue  # a reload took it out of the queue meanwhile
                push = self._queue.popleft()
            self._next_start = time.monotonic() + self._spacing
            try:
                self.inspect_one(push)
            except Exception:  # noqa: BLE001 - whatever a registry sent, the worker must live on
                self.metrics.failures.labels(push.registry, "other").inc()
                log.exception("inspecting %s@%s on %s", push.repository, push.digest, push.registry)

    def inspect_one(self, push: Push) -> Inspection | None:
        """Read one pushed image and count what was found; None if it failed or is an artifact."""
        m = self.metrics
        deadline = time.monotonic() + self.settings.timeout
        try:
            result = inspect_image(self._client(push.registry), push.repository, push.digest, deadline)
        except OCIError as exc:
            m.failures.labels(push.registry, exc.reason).inc()
            log.info("inspecting %s@%s on %s failed: %s", push.repository, push.digest, push.registry, exc)
            return None
        except InvalidManifest as exc:
            m.failures.labels(push.registry, "invalid_manifest").inc()
            log.info("inspecting %s@%s on %s: %s", push.repository, push.digest, push.registry, exc)
            return None
        except Exception:  # noqa: BLE001 - a bug must not stop the inspector; counted, logged
            m.failures.labels(push.registry, "other").inc()
            log.exception("inspecting %s@%s on %s", push.repository, push.digest, push.registry)
            return None
        if result is None:
            m.skipped.labels(push.registry, "artifact").inc()
            return None
        m.inspected.labels(push.registry).inc()
        m.size.labels(push.registry).observe(result.size)
        for kind in sorted(result.kinds):
            m.with_artifact.labels(push.registry, kind).inc()
        return result


# -- reading one image ----------------------------------------------------------------------------------
def _manifest(client: Any, repo: str, reference: str, deadline: float) -> tuple[str, dict]:
    got = client.get_manifest(repo, reference, deadline=deadline)  # capped at oci.limits.MANIFEST
    try:
        doc = json.loads(got.body)
    except ValueError:
        raise InvalidManifest(f"manifest {reference} is not JSON") from None
    if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
        raise InvalidManifest(f"manifest {reference} is not a schema 2 manifest or index")
    media = doc.get("mediaType") if isinstance(doc.get("mediaType"), str) else got.media_type
    return media, doc


def _optional_manifest(client: Any, repo: str, reference: str, deadline: float) -> dict | None:
    try:
        return _manifest(client, repo, reference, deadline)[1]
    except OCIError as exc:
        if exc.reason == "not_found":
            return None
        raise


def _blobs(doc: dict) -> dict[str, int]:
    """digest -> size of the config and layers of an image manifest."""
    out: dict[str, int] = {}
    descs = [doc.get("config")] + list(doc.get("layers") or [])
    for desc in descs:
        if not isinstance(desc, dict):
            raise InvalidManifest("manifest has a malformed descriptor")
        digest, size = desc.get("digest"), desc.get("size")
        if not isinstance(digest, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidManifest("manifest descriptor without digest or size")
        if size > MAX_DESCRIPTOR_SIZE:  # JSON allows 4,300-digit sizes; the histogram cannot take their sum
            raise InvalidManifest(f"manifest descriptor size over {MAX_DESCRIPTOR_SIZE}")
        out[digest] = size
    return out


def _layer_kinds(doc: dict, default: str) -> set[str]:
    layers = [x for x in doc.get("layers") or [] if isinstance(x, dict)]
    return {kind_of(x.get("mediaType"), x.get("annotations"), default) for x in layers} or {default}


def inspect_image(client: Any, repo: str, digest: str, deadline: float) -> Inspection | None:
    """Size and attached artifact kinds of the image ``repo@digest``; None when it is an artifact."""
    media, doc = _manifest(client, repo, digest, deadline)
    result = Inspection()
    blobs: dict[str, int] = {}
    if media in INDEX_TYPES or (media not in MANIFEST_TYPES and isinstance(doc.get("manifests"), list)):
        if doc.get("subject") or doc.get("artifactType"):
            return None
        if not isinstance(doc.get("manifests"), list):
            raise InvalidManifest("index without a manifests list")
        entries = [e for e in doc["manifests"] if isinstance(e, dict)]
        if len(entries) > MAX_PLATFORMS:
            raise InvalidManifest(f"index lists {len(entries)} manifests (more than {MAX_PLATFORMS})")
        images = 0
        read: set[str] = set()
        for entry in entries:
            ref = entry.get("digest")
            if not valid_digest(ref):  # a path such as "../../other/manifests/x" would read another repository
                raise InvalidManifest("index entry without a sha256 digest")
            if ref in read or ref == digest:
                continue  # listed twice (or the index itself): one read, its blobs count once anyway
            read.add(ref)
            annotations = entry.get("annotations") if isinstance(entry.get("annotations"), dict) else {}
            _, sub = _manifest(client, repo, ref, deadline)
            if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
                result.kinds |= _layer_kinds(sub, "provenance")  # buildx: provenance / SBOM in the index
                continue
            if isinstance(sub.get("manifests"), list) or manifest_is_artifact(sub):
                continue  # nested index or an artifact listed in the index: not a platform image
            blobs.update(_blobs(sub))
            if len(blobs) > MAX_BLOBS:  # 64 platform manifests of 4 MiB could hold millions of descriptors
                raise InvalidManifest(f"index references more than {MAX_BLOBS} blobs")
            images += 1
        if not images:
            return None
    else:
        if manifest_is_artifact(doc):
            return None
        blobs = _blobs(doc)
        if len(blobs) > MAX_BLOBS:
            raise InvalidManifest(f"manifest references more than {MAX_BLOBS} blobs")
    result.size = sum(blobs.values())
    result.kinds |= referrer_kinds(client, repo, digest, deadline)
    return result


def referrer_kinds(client: Any, repo: str, digest: str, deadline: float) -> set[str]:
    """Kinds of the artifacts whose subject is ``digest``: referrers API (else the referrers tag schema)
    plus cosign's tag convention, which cosign uses unless told to use the referrers API."""
    kinds: set[str] = set()
    tag_base = digest.replace(":", "-")
    descriptors = client.referrers(repo, digest, deadline=deadline, max_descriptors=MAX_REFERRERS)
    if descriptors is None:  # no referrers API: the referrers tag schema (distribution spec 1.1)
        index = _optional_manifest(client, repo, tag_base[:128], deadline)
        manifests = index.get("manifests") if index else None
        descriptors = [d for d in manifests if isinstance(d, dict)] if isinstance(manifests, list) else []
    kinds |= {descriptor_kind(d) for d in descriptors}
    for suffix, default in COSIGN_SUFFIXES.items():
        found = _optional_manifest(client, repo, tag_base + suffix, deadline)
        if found is not None:
            kinds |= _layer_kinds(found, default)
    return kinds
