"""LogService: the log tailer inside ``regslo run`` (followers thread + notifications webhook logic).

The exporter never waits on parsing: followers run in their own daemon thread, scrapes read the last
published snapshot, and the webhook only takes the metrics lock for the few microseconds of counting.
Totals are published only once the checkpoint holding them is on disk (see regslo.sli.log_metrics).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry

from regslo.config.logs import LogsConfig
from regslo.sli.log_metrics import LogMetrics
from regslo.sources.logs.checkpoint import CheckpointError, CheckpointStore
from regslo.sources.logs.follower import SourceFollower
from regslo.sources.logs.formats import make_parser
from regslo.sources.logs.formats.notifications import BoundedLRU, NotificationParser, TagMemory, envelope_events, \
    envelope_problem

log = logging.getLogger("regslo.logs")
MAX_BODY = 4 * 1024 * 1024
COMMIT_INTERVAL = 1.0  # seconds between checkpoints while a backlog is read
_CONTENT_TYPES = ("application/vnd.docker.distribution.events.v1+json", "application/json")


class LogService:
    """``previous``: the LogService of the config before a reload. Its metrics, tag memory, event-id memory
    and file positions carry over (nothing is counted twice or lost); sources no longer configured are
    dropped with their series."""

    def __init__(self, logs_config: LogsConfig, registry: CollectorRegistry, protected: object = None,
                 previous: "LogService | None" = None):
        self.config = logs_config
        handover: dict[str, list[dict]] = {}
        if previous is not None:
            handover = previous.hand_over()
            self.metrics = previous.metrics
            self.tags, self.seen = previous.tags, previous.seen
            self.tags.resize(logs_config.tag_memory)
            self.seen.capacity = logs_config.event_id_memory
            self.seen.trim()
        else:
            self.metrics = LogMetrics(registry, top_k=logs_config.repository_top_k)
            self.tags = TagMemory(logs_config.tag_memory)
            self.seen = BoundedLRU(logs_config.event_id_memory)
        self.metrics.protected = protected  # immutable_tags: which tag overwrites are protected ones
        self.store = CheckpointStore(logs_config.checkpoint_dir) if logs_config.checkpoint_dir else None
        self.tag_store = CheckpointStore(logs_config.checkpoint_dir, "logs-tags.json") if self.store else None
        if previous is None:
            self._load_tags()
            saved = self._load_checkpoint()
            saved_sources = saved.get("sources", {}) if saved else None
            saved_ids = _valid_request_ids(saved.get("request_ids") if saved else None)
        else:
            saved_sources = handover
            saved_ids = _request_ids(previous.followers)
            self.metrics.retain({s.label for s in logs_config.sources}, set(logs_config.registries))
        self.followers: list[SourceFollower] = []
        self.webhooks: dict[str, tuple[Any, Any]] = {}
        self.tokens: dict[str, bytes | None] = {}
        # callbacks for manifest pushes (the image inspector); a reload keeps them
        self._push_subscribers: list = list(previous._push_subscribers) if previous is not None else []
        for source in logs_config.sources:
            parser = make_parser(source.format, {"log_format": source.log_format, "tags": self.tags, "seen": self.seen,
                                                 "on_push": self._manifest_pushed})
            sink = self.metrics.sink(source.registry, source.label)
            if source.label in saved_ids and getattr(parser, "ids", None) is not None:
                parser.ids.extend(saved_ids[source.label])  # error lines of a response read before the restart
            self.metrics.count_live("checkpoint_failures", (source.label,), 0)
            if source.format == "distribution-gc":
                sink.declare_gc()
            if source.path is None:
                self.webhooks[source.registry] = (parser, sink)
                self.tokens[source.registry] = source.token.reveal().encode() if source.token else None
                self.metrics.declare_webhook(source.registry)
                continue
            self.metrics.count_live("unreadable", (source.label,), 0)
            self.followers.append(SourceFollower(
                pattern=source.path, parser=parser, sink=sink, lock=self.metrics.lock,
                max_line_bytes=logs_config.max_line_bytes, start_at=logs_config.start_at,
                saved=None if saved_sources is None or source.label not in saved_sources  # new source: first start
                else list(saved_sources[source.label]),
                grace=max(2.0, 4 * logs_config.poll_interval),
                on_unreadable=self._unreadable(source.label)))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dirty = previous is not None
        self._commit_lock = threading.Lock()
        self._last_commit = 0.0
        if previous is not None:
            self.commit()  # the new set of sources on disk at once; removed sources' series go
        else:
            self.metrics.publish()

    def _unreadable(self, label: str) -> Any:
        def report(path: str, exc: OSError) -> None:
            log.warning("source %s: cannot open %s: %s (reported once while it stays unreadable)", label, path,
                        exc.strerror or exc)
            self.metrics.count_live("unreadable", (label,))
        return report

    def hand_over(self) -> dict[str, list[dict]]:
        """Stop reading and checkpoint, for a successor made by a reload; returns the file positions of
        every followed source (the successor resumes them), then lets go of the files."""
        self._halt()
        self.commit()
        with self.metrics.lock:
            positions = {f.sink.source: f.entries() for f in self.followers}
        for follower in self.followers:
            follower.close()
        return positions

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

    def unsubscribe(self, callback) -> None:
        # a new list, never changed in place: the parser thread may be walking the old one
        self._push_subscribers = [c for c in self._push_subscribers if c != callback]

    def _manifest_pushed(self, *event) -> None:
        for callback in self._push_subscribers:
            callback(*event)

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="regslo-logs", daemon=True)
            self._thread.start()

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def stop(self) -> None:
        self._halt()
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
                        "request_ids": _request_ids(self.followers),
                        "metrics": self.metrics.dump()}
            if self.store is not None:
                try:
                    self.store.save(data)
                except OSError as exc:
                    log.warning("cannot write log checkpoint %s: %s", self.store.path, exc)
                    for label in self._labels():
                        self.metrics.count_live("checkpoint_failures", (label,))
                    self._dirty = True  # try again next round
                    return  # not on disk: keep the last published totals
            self.metrics.publish()
            self._last_commit = time.monotonic()

    def _labels(self) -> list[str]:
        return [s.label for s in self.config.sources]

    # -- webhook ----------------------------------------------------------------------------------------
    def authorize_notification(self, registry_name: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """(200, b"") if a POST for ``registry_name`` may be read: a webhook exists for it and, when it has
        a token, ``Authorization: Bearer <token>`` matches (compared in constant time). Refusals are counted."""
        if registry_name not in self.webhooks:
            self._reject(registry_name, "unknown_registry")
            return 404, b"no notifications source for this registry\n"
        expected = self.tokens.get(registry_name)
        if expected is None:
            return 200, b""
        given = _bearer(headers)
        if given is None:
            self._reject(registry_name, "missing_token")
            return 401, b"this webhook needs Authorization: Bearer <token>\n"
        if not hmac.compare_digest(given, expected):
            self._reject(registry_name, "wrong_token")
            return 401, b"wrong token\n"
        return 200, b""

    def token_matches(self, registry_name: str, headers: dict[str, str]) -> bool:
        """True only if this webhook has a token and the request carries it (then it needs no other auth)."""
        expected = self.tokens.get(registry_name)
        given = _bearer(headers)
        return bool(expected) and given is not None and hmac.compare_digest(given, expected)

    def _reject(self, registry_name: str, reason: str) -> None:
        # the registry label takes only configured names; anything else a client puts in the path is other
        label = registry_name if registry_name in self.webhooks else "__other__"
        self.metrics.count_live("rejected", (label, reason))

    def handle_notification(self, body: bytes, headers: dict[str, str], registry_name: str) -> tuple[int, bytes]:
        """Count one POSTed envelope; returns (HTTP status, body). Duplicated event ids are counted once."""
        status, text = self.authorize_notification(registry_name, headers)
        if status != 200:
            return status, text
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if ctype.split(";")[0].strip().lower() not in _CONTENT_TYPES:
            self._reject(registry_name, "content_type")
            return 415, b"expected application/vnd.docker.distribution.events.v1+json\n"
        if len(body) > MAX_BODY:
            self._reject(registry_name, "too_large")
            return 413, b"envelope too large\n"
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: arrays nested 100,000 deep
            self._reject(registry_name, "malformed")
            return 400, b"body is not JSON\n"
        events = envelope_events(doc)
        problem = envelope_problem(events) if events is not None else None
        if problem is not None:
            self._reject(registry_name, problem)
            return 400, (b"too many events in one envelope\n" if problem == "too_many_events"
                         else b"event id longer than 256 bytes\n")
        parser, sink = self.webhooks[registry_name]
        assert isinstance(parser, NotificationParser)
        with self.metrics.lock:
            outcome = parser.feed_document(doc, sink)
            sink.lines(int(outcome == "parsed"), 0, int(outcome == "malformed"))
            self._dirty = True
        if outcome == "malformed":
            return 400, b"not a notification envelope\n"
        return 200, b"ok\n"


def _bearer(headers: dict[str, str]) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, given = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return None
    return given.strip().encode("utf-8", "replace")


_ENTRY_TYPES = {"path": str, "dev": int, "ino": int, "offset": int, "fp": str, "fp_len": int}


RESUME_IDS = 64  # error-line request ids kept per source across a restart or reload (a response's lines are adjacent)


def _request_ids(followers: list) -> dict[str, list[str]]:
    """The newest request ids of each source whose parser de-duplicates error lines (distribution formats)."""
    out = {}
    for f in followers:
        ids = getattr(f.parser, "ids", None)
        if ids is not None:
            out[f.sink.source] = ids.tail(RESUME_IDS)
    return out


def _valid_request_ids(value: object) -> dict[str, list[str]]:
    """The checkpoint's request ids; anything malformed (an older or hand-edited file) is dropped, not fatal."""
    if not isinstance(value, dict):
        return {}
    return {label: [i for i in ids if isinstance(i, str) and 0 < len(i) <= 256][-RESUME_IDS:]
            for label, ids in value.items() if isinstance(label, str) and isinstance(ids, list)}


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
