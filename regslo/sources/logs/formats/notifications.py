"""Registry notification envelopes (``{"events": [...]}``), from the webhook or a file of envelopes.

Events are deduplicated by ``id`` (the registry retries until it gets a 2xx), counted by action and
media type, and manifest pushes to a tag are compared with the digest the tag pointed to before (a tag
overwrite). Both memories are bounded LRU maps.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from regslo.sli.log_metrics import IGNORED, MALFORMED, PARSED, Sink
from regslo.sources.logs.classify import own_read

ACTIONS = ("push", "pull", "mount", "delete")
MEDIA_TYPES = frozenset((
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/octet-stream",
))
MANIFEST_TYPES = frozenset(t for t in MEDIA_TYPES if "manifest" in t or "index" in t)
# longest names remembered (the distribution spec: repository names up to 255, tags up to 128 characters);
# an event with longer ones is counted but not remembered, so the tag memory's bytes are bounded too and no
# immutable_tags glob is matched against a megabyte of text
MAX_REPOSITORY, MAX_TAG, MAX_DIGEST = 256, 128, 160


def _names_fit(repo: str, tag: Any, digest: str) -> bool:
    return len(repo) <= MAX_REPOSITORY and len(digest) <= MAX_DIGEST and not (isinstance(tag, str)
                                                                               and len(tag) > MAX_TAG)


MAX_EVENT_ID_BYTES = 256  # distribution sends UUIDs; longer ids are refused (the id memory stays bounded)
MAX_EVENTS_PER_ENVELOPE = 1000  # distribution batches far fewer; more is refused as a whole


class BoundedLRU:
    """A mapping that forgets its least recently used keys beyond ``capacity`` (``on_evict(key, value)``
    hears of each key it forgets that way)."""

    def __init__(self, capacity: int, on_evict: Any = None):
        self.capacity = capacity
        self.data: OrderedDict = OrderedDict()
        self.on_evict = on_evict

    def get(self, key: Any) -> Any:
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self.data[key] = value
        self.data.move_to_end(key)
        self.trim()

    def trim(self) -> None:
        while len(self.data) > self.capacity:
            key, value = self.data.popitem(last=False)
            if self.on_evict is not None:
                self.on_evict(key, value)

    def seen(self, key: Any) -> bool:
        """True if ``key`` was seen before; remembers it either way."""
        if key in self.data:
            self.data.move_to_end(key)
            return True
        self.put(key, True)
        return False

    def __len__(self) -> int:
        return len(self.data)


class TagMemory:
    """Which digest each (registry, repository, tag) points to, for tag-overwrite detection.

    An index from (registry, repository, digest) to its tags makes a delete event O(tags of that digest)
    instead of a scan of the whole memory (which ran under the metrics lock)."""

    def __init__(self, capacity: int = 10_000):
        self.lru = BoundedLRU(capacity, on_evict=self._unindex)
        self.by_digest: dict[tuple[str, str, str], set[str]] = {}

    def _unindex(self, key: tuple[str, str, str], digest: str) -> None:
        ref = (key[0], key[1], digest)
        tags = self.by_digest.get(ref)
        if tags is not None:
            tags.discard(key[2])
            if not tags:
                del self.by_digest[ref]

    def push(self, registry: str, repository: str, tag: str, digest: str) -> bool:
        """Record a manifest push; True if the tag pointed to another digest before."""
        key = (registry, repository, tag)
        previous = self.lru.get(key)
        if previous is not None and previous != digest:
            self._unindex(key, previous)
        self.by_digest.setdefault((registry, repository, digest), set()).add(tag)
        self.lru.put(key, digest)
        return previous is not None and previous != digest

    def get(self, registry: str, repository: str, tag: str) -> str | None:
        """The digest the tag pointed to at its last push seen, or None."""
        return self.lru.data.get((registry, repository, tag))

    def delete(self, registry: str, repository: str, digest: str) -> None:
        for tag in self.by_digest.pop((registry, repository, digest), ()):
            self.lru.data.pop((registry, repository, tag), None)

    def resize(self, capacity: int) -> None:
        self.lru.capacity = capacity
        self.lru.trim()

    def __len__(self) -> int:
        return len(self.lru)

    def dump(self) -> list[list[str]]:
        return [[*key, digest] for key, digest in self.lru.data.items()]  # least recently used first

    def load(self, rows: list) -> None:
        for row in rows:
            if isinstance(row, list) and len(row) == 4 and all(isinstance(x, str) for x in row):
                self.push(*row)


def envelope_problem(events: list) -> str | None:
    """Why an envelope is refused as a whole (a bounded reason), or None."""
    if len(events) > MAX_EVENTS_PER_ENVELOPE:
        return "too_many_events"
    for event in events:
        if isinstance(event, dict) and isinstance(event.get("id"), str) \
                and len(event["id"].encode("utf-8", "surrogatepass")) > MAX_EVENT_ID_BYTES:
            return "event_id_too_long"
    return None


def envelope_events(doc: Any) -> list | None:
    """The events of an envelope, or of a captured request whose ``body`` is an envelope; None if neither."""
    if isinstance(doc, dict) and "events" not in doc and isinstance(doc.get("body"), str):
        try:
            doc = json.loads(doc["body"])
        except ValueError:
            return None
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        return doc["events"]
    return None


class NotificationParser:
    def __init__(self, tags: TagMemory | None = None, seen: BoundedLRU | None = None, on_push: Any = None):
        self.tags = tags if tags is not None else TagMemory()
        self.seen = seen if seen is not None else BoundedLRU(100_000)
        # called as on_push(registry, repository, tag or None, digest, media_type) for each manifest push
        # (the image inspector); must not block: it runs under the metrics lock
        self.on_push = on_push

    def feed(self, line: str, sink: Sink) -> str:
        if not line.strip():
            return IGNORED
        try:
            doc = json.loads(line)
        except ValueError:
            return MALFORMED
        return self.feed_document(doc, sink)

    def feed_document(self, doc: Any, sink: Sink) -> str:
        events = envelope_events(doc)
        if events is None:
            return MALFORMED
        bad = 0
        for event in events:
            if not self.event(event, sink):
                bad += 1
        return MALFORMED if bad and bad == len(events) else PARSED

    def event(self, event: Any, sink: Sink) -> bool:
        if not isinstance(event, dict):
            return False
        event_id = event.get("id")
        action = event.get("action")
        target = event.get("target")
        if not isinstance(event_id, str) or not isinstance(action, str) or not isinstance(target, dict):
            return False
        if len(event_id.encode("utf-8", "surrogatepass")) > MAX_EVENT_ID_BYTES:  # (files of envelopes too)
            return False
        if self.seen.seen((sink.registry, event_id)):
            return True
        request = event.get("request")
        if isinstance(request, dict) and own_read(request.get("useragent")):
            return True  # the image inspector's own reads are not users' pulls
        media = target.get("mediaType")
        media = media if isinstance(media, str) and media in MEDIA_TYPES else "other"
        repo = target.get("repository")
        repo = repo if isinstance(repo, str) and repo else None
        sink.event(action if action in ACTIONS else "other", media)  # requests per repository come from logs
        digest, tag = target.get("digest"), target.get("tag")
        if repo and isinstance(digest, str) and _names_fit(repo, tag, digest):
            if action == "push" and isinstance(tag, str) and tag and media in MANIFEST_TYPES | {"other"}:
                previous = self.tags.get(sink.registry, repo, tag)
                if self.tags.push(sink.registry, repo, tag, digest):
                    actor = event.get("actor")
                    name = actor.get("name") if isinstance(actor, dict) else None
                    when = event.get("timestamp")
                    sink.tag_overwrite(repo, tag, previous, digest, name if isinstance(name, str) else None,
                                       when if isinstance(when, str) else None)
            elif action == "delete":
                self.tags.delete(sink.registry, repo, digest)
            if action == "push" and self.on_push is not None and media in MANIFEST_TYPES:
                self.on_push(sink.registry, repo, tag if isinstance(tag, str) and tag else None, digest, media)
        return True
