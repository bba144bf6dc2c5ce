"""LogService: the log tailer inside ``regslo run`` (followers thread + notifications webhook logic).

The exporter never waits on parsing: followers run in their own daemon thread, scrapes read the last
published snapshot, and the webhook only takes the metrics lock for the few microseconds of counting.
Totals are published only once the checkpoint holding them is on disk (see regslo.sli.log_metrics).
"""

from __future__ import annotations

import json
import logging
import threading
import time

from prometheus_client import CollectorRegistry

from regslo.config.logs import LogsConfig
from regslo.sli.log_metrics import LogMetrics
from regslo.sources.logs.checkpoint import CheckpointError, CheckpointStore
from regslo.sources.logs.follower import SourceFollower
from regslo.sources.logs.formats import make_parser
from regslo.sources.logs.formats.notifications import BoundedLRU, NotificationParser, TagMemory

log = logging.getLogger("regslo.logs")
MAX_BODY = 4 * 1024 * 1024
COMMIT_INTERVAL = 1.0  # seconds between checkpoints while a backlog is read
_CONTENT_TYPES = ("application/vnd.docker.distribution.events.v1+json", "application/json")


class LogService:
    def __init__(self, logs_config: LogsConfig, registry: CollectorRegistry, protected: object = None):
        self.config = logs_config
        self.metrics = LogMetrics(registry, top_k=logs_config.repository_top_k)
        self.metrics.protected = protected  # immutable_tags: which tag overwrites are protected ones
        self.tags = TagMemory(logs_config.tag_memory)
        self.seen = BoundedLRU(logs_config.event_id_memory)
        self.store = CheckpointStore(logs_config.checkpoint_dir) if logs_config.checkpoint_dir else None
        self.tag_store = CheckpointStore(logs_config.checkpoint_dir, "logs-tags.json") if self.store else None
        self._load_tags()
        saved = self._load_checkpoint()
        saved_sources = saved.get("sources", {}) if saved else None
        self.followers: list[SourceFollower] = []
        self.webhooks = {}
        self._push_subscribers: list = []
        for source in logs_config.sources:
            parser = make_parser(source.format, {"log_format": source.log_format, "tags": self.tags, "seen": self.seen,
                                                 "on_push": self._manifest_pushed})
            sink = self.metrics.sink(source.registry, source.label)
            if source.format == "distribution-gc":
                sink.declare_gc()
            if source.path is None:
                self.webhooks[source.registry] = (parser, sink)
                continue
            self.followers.append(SourceFollower(
                pattern=source.path, parser=parser, sink=sink, lock=self.metrics.lock,
                max_line_bytes=logs_config.max_line_bytes, start_at=logs_config.start_at,
                saved=None if saved_sources is None or source.label not in saved_sources  # new source: first start
                else list(saved_sources[source.label]),
                grace=max(2.0, 4 * logs_config.poll_interval)))
        self.metrics.publish()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dirty = False
        self._commit_lock = threading.Lock()
        self._last_commit = 0.0

    def _load_checkpoint(self) -> dict | None:
        if self.store is None:
            return None
        try:
            saved = self.store.load()
            if saved is not None:
                saved["sources"] = _valid_sources(saved.get("sources", {}))
                self.metrics.load(saved.get("metrics", {}))
                self.metrics.retain({s.label for s in self.config.sources}, set(self.config.registries))
            return saved
        except (CheckpointError, ValueError, TypeError, KeyError, IndexError) as exc:
            log.warning("ignoring log checkpoint (starting fresh): %s", exc)
            return None

    def _load_tags(self) -> None:
        """Tag memory saved by a clean stop; used once (a later kill -9 must not bring back stale digests)."""
        if self.tag_store is None:
            return
        try:
            saved = self.tag_store.load()
            if saved is not None:
                self.tags.load(list(saved.get("tags", [])))
            self.tag_store.path.unlink(missing_ok=True)
        except (CheckpointError, OSError, TypeError) as exc:
            log.warning("ignoring saved tag memory: %s", exc)

    def subscribe(self, callback) -> None:
        """Call ``callback(registry, repository, tag, digest, media_type)`` for every manifest push event
        (webhook or notifications file). It runs under the metrics lock: it must return at once."""
        self._push_subscribers.append(callback)

    def _manifest_pushed(self, *event) -> None:
        for callback in self._push_subscribers:
            callback(*event)

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="regslo-logs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.commit()
        if self.tag_store is not None and len(self.tags.lru):
            with self.metrics.lock:
                rows = self.tags.dump()
            try:
                self.tag_store.save({"tags": rows})
            except OSError as exc:
                log.warning("cannot save tag memory %s: %s", self.tag_store.path, exc)
        for follower in self.followers:
            follower.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.poll_once()
            except Exception:  # never let one bad round kill the tailer; the next round retries
                log.exception("log tailer round failed")
            behind = any(f.behind for f in self.followers)  # catching up: no pause between rounds
            self._stop.wait(0 if behind else max(0.0, self.config.poll_interval - (time.monotonic() - started)))

    def poll_once(self) -> bool:
        """Read every source once, then checkpoint and publish if anything changed (while catching up,
        at most once per ``COMMIT_INTERVAL``: each checkpoint costs two fsyncs)."""
        progress = False
        for follower in self.followers:
            try:
                progress = follower.poll() or progress
            except OSError as exc:
                log.warning("reading %s: %s", follower.pattern, exc)
        behind = any(f.behind for f in self.followers)
        if (progress or self._dirty) and (not behind or time.monotonic() - self._last_commit >= COMMIT_INTERVAL):
            self.commit()
        return progress

    def commit(self) -> None:
        with self._commit_lock:
            with self.metrics.lock:
                self._dirty = False
                data = {"sources": {f.sink.source: f.entries() for f in self.followers},
                        "metrics": self.metrics.dump()}
            if self.store is not None:
                try:
                    self.store.save(data)
                except OSError as exc:
                    log.warning("cannot write log checkpoint %s: %s", self.store.path, exc)
                    return  # not on disk: keep the last published totals
            self.metrics.publish()
            self._last_commit = time.monotonic()

    # -- webhook ----------------------------------------------------------------------------------------
    def handle_notification(self, body: bytes, headers: dict[str, str], registry_name: str) -> tuple[int, bytes]:
        """Count one POSTed envelope; returns (HTTP status, body). Duplicated event ids are counted once."""
        hook = self.webhooks.get(registry_name)
        if hook is None:
            return 404, b"no notifications source for this registry\n"
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if ctype.split(";")[0].strip().lower() not in _CONTENT_TYPES:
            return 415, b"expected application/vnd.docker.distribution.events.v1+json\n"
        if len(body) > MAX_BODY:
            return 413, b"envelope too large\n"
        try:
            doc = json.loads(body)
        except ValueError:
            return 400, b"body is not JSON\n"
        parser, sink = hook
        assert isinstance(parser, NotificationParser)
        with self.metrics.lock:
            outcome = parser.feed_document(doc, sink)
            sink.lines(int(outcome == "parsed"), 0, int(outcome == "malformed"))
            self._dirty = True
        if outcome == "malformed":
            return 400, b"not a notification envelope\n"
        return 200, b"ok\n"


_ENTRY_TYPES = {"path": str, "dev": int, "ino": int, "offset": int, "fp": str, "fp_len": int}


def _valid_sources(sources: object) -> dict[str, list[dict]]:
    """The checkpoint's file entries, type-checked (a hand-edited or foreign file must not crash a poll)."""
    if not isinstance(sources, dict):
        raise CheckpointError("sources is not a mapping")
    out = {}
    for label, entries in sources.items():
        if not isinstance(entries, list):
            raise CheckpointError(f"sources[{label!r}] is not a list")
        for entry in entries:
            if not isinstance(entry, dict) or any(not isinstance(entry.get(k), t) or isinstance(entry.get(k), bool)
                                                  for k, t in _ENTRY_TYPES.items()):
                raise CheckpointError(f"sources[{label!r}] has a malformed entry")
        out[str(label)] = entries
    return out
