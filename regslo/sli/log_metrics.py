"""Log-derived metrics: request counts, latency, bytes, repositories, events, tailer health.

Parsers call a ``Sink`` (one per registry and source) and never touch prometheus_client. Counts live in
plain dicts (cheap to update from a busy tailer) and are exposed by a custom collector that serves the
last *published* snapshot: the service publishes only after the checkpoint holding the same totals is on
disk, so a kill -9 can never make a counter go backwards or count a line twice.

Repository names come from the outside world, so they pass through ``RepositoryLimiter``: at most
``top_k`` repositories per registry get their own series, chosen by a Misra-Gries frequency sketch of
fixed size; everything else is counted under ``__other__``. Memory is flat whatever the input. Each
repository series also carries the response ``class`` (``CLASSES``), so the worst case per registry is
``(top_k + 1) x 5 operations with a repository x 6 classes`` series.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import deque
from typing import Any, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from regslo.oci.names import MAX_REPOSITORY_NAME
from regslo.sli.buckets import REQUEST_DURATION_BUCKETS

OTHER = "__other__"
MAX_REPOSITORY = MAX_REPOSITORY_NAME  # characters; the distribution spec's limit
OUTCOMES = ("parsed", "ignored", "malformed")
AUTH_OPERATIONS = ("ping", "list", "pull", "push", "delete", "other")  # regslo.sources.logs.classify.OPERATIONS
RECENT_PROTECTED = 20  # protected-tag overwrites kept in memory for the status page
PARSED, IGNORED, MALFORMED = OUTCOMES
# why a POST to the notifications webhook was refused (the values of the reason label)
REJECT_REASONS = ("missing_token", "wrong_token", "unknown_registry", "content_type", "too_large", "malformed",
                  "too_many_events", "event_id_too_long")
_LIVE = (
    ("regslo_notifications_rejected", "Requests to the notifications webhook refused, by reason (nothing of them "
     "was counted).", ("registry", "reason"), "rejected"),
    ("regslo_log_checkpoint_failures", "Log checkpoints that could not be written (totals stay unpublished until "
     "one is).", ("source",), "checkpoint_failures"),
    ("regslo_log_files_unreadable", "Files matched by a source's glob that could not be opened (once each time "
     "a file becomes unreadable).", ("source",), "unreadable"),
)
# label names per kind of series: what a checkpoint row must look like
_ARITY = {"requests": 3, "bytes": 2, "repos": 4, "events": 2, "media": 3, "overwrites": 1, "lines": 2,
          "last_line": 1, "dur_sum": 2, "dur": 2, "auth_failures": 2, "protected": 1, "gc_runs": 2, "gc_blobs": 1,
          "gc_manifests": 1, "gc_reclaimed": 1, "gc_last_success": 1, "gc_duration": 1}
# Response classes of the per-repository series. 429 has its own class (throttling is what on-call looks
# for per repository); ``class=~"4.."`` selects every client error. ``other``: no status (Harbor audit
# entries) or a status outside 200-599.
CLASSES = ("2xx", "3xx", "4xx", "429", "5xx", "other")


def _class_of(code: str) -> str:
    if code == "429":
        return code
    return f"{code[0]}xx" if len(code) == 3 and code[0] in "2345" and code.isdigit() else "other"


CODE_CLASS = {str(c): _class_of(str(c)) for c in range(100, 1000)}


def code_class(code: str) -> str:
    """``2xx``, ``3xx``, ``4xx``, ``429``, ``5xx`` or ``other`` for an HTTP status as text."""
    return CODE_CLASS.get(code) or "other"


class RepositoryLimiter:
    """Bounded repository labels: sticky top-K chosen from a Misra-Gries sketch of ``capacity`` entries.

    A repository is admitted while fewer than ``k`` are; afterwards every ``rebalance_every`` updates the
    weakest admitted repository is replaced by a challenger whose sketch count is more than twice its own
    (hysteresis keeps series stable). An evicted repository's series disappears and its later requests
    count under ``__other__``, so every exposed series stays monotonic.
    """

    def __init__(self, k: int, capacity: int | None = None, rebalance_every: int = 10_000):
        self.k = k
        self.capacity = capacity or max(10 * k, 1000)
        self.rebalance_every = rebalance_every
        self.sketch: dict[str, int] = {}
        self.admitted: set[str] = set()
        self._updates = 0
        self.evicted: list[str] = []  # drained by the owner to drop the evicted series

    def label(self, repo: str, n: int = 1) -> str:
        """The series label for ``n`` requests of ``repo`` (its name or ``__other__``)."""
        if len(repo) > MAX_REPOSITORY:  # longer than the distribution spec allows: never a real repository
            return OTHER
        sketch = self.sketch
        if repo in sketch:
            sketch[repo] += n
        elif len(sketch) < self.capacity:
            sketch[repo] = n
        else:  # weighted Misra-Gries: take the smallest count (the newcomer's included) from everything;
            # amortised O(1) per request since each decrement undoes an increment
            dec = min(n, min(sketch.values()))
            for key in list(sketch):
                value = sketch[key] - dec
                if value:
                    sketch[key] = value
                else:
                    del sketch[key]
            if n > dec:
                sketch[repo] = n - dec
        self._updates += n
        if self._updates >= self.rebalance_every:
            self._updates = 0
            self.rebalance()
        if repo in self.admitted:
            return repo
        if len(self.admitted) < self.k:
            self.admitted.add(repo)
            return repo
        return OTHER

    def rebalance(self) -> None:
        if len(self.admitted) < self.k:
            return
        sketch = self.sketch
        by_weakness = sorted(self.admitted, key=lambda r: sketch.get(r, 0))
        ranked = sorted(((c, r) for r, c in sketch.items() if r not in self.admitted), reverse=True)
        for (count, repo), weak in zip(ranked, by_weakness):
            if count <= 2 * sketch.get(weak, 0) or count < 2:
                break
            self.admitted.discard(weak)
            self.admitted.add(repo)
            self.evicted.append(weak)

    def dump(self) -> dict[str, Any]:
        return {"sketch": self.sketch, "admitted": sorted(self.admitted)}

    def load(self, data: dict[str, Any]) -> None:
        self.sketch = {str(k): int(v) for k, v in dict(data.get("sketch", {})).items()}
        self.admitted = {str(r) for r in data.get("admitted", [])[: self.k]}


class LogMetrics(Collector):
    """Counts from every log source and the notifications webhook; a collector over published snapshots."""

    KINDS = ("requests", "bytes", "repos", "events", "media", "overwrites", "lines", "last_line", "dur_sum",
             "auth_failures", "protected",
             "gc_runs", "gc_blobs", "gc_manifests", "gc_reclaimed", "gc_last_success", "gc_duration", "cache")
    GAUGES = ("last_line", "gc_last_success", "gc_duration")  # merged by max, never summed

    def __init__(self, registry: CollectorRegistry | None = None, top_k: int = 100,
                 buckets: tuple[float, ...] = REQUEST_DURATION_BUCKETS):
        self.lock = threading.RLock()
        self.top_k = top_k
        self.buckets = tuple(buckets)
        self.state: dict[str, dict] = {kind: {} for kind in self.KINDS}
        self.state["dur"] = {}  # (registry, operation) -> per-bucket (non-cumulative) counts, +Inf last
        self.limiters: dict[str, RepositoryLimiter] = {}
        self.protected = None  # regslo.config.integrity.ImmutableTags, set by the owner
        self.recent_protected: deque[dict] = deque(maxlen=RECENT_PROTECTED)
        self._published: dict[str, dict] = self._copy()
        # tailer health: live counters, shown at once and never checkpointed (a failed checkpoint must show)
        self.live: dict[str, dict[tuple[str, ...], int]] = {"rejected": {}, "checkpoint_failures": {},
                                                            "unreadable": {}}
        self.registry = registry
        # (registry, started, ended) -> bytes a garbage collection freed, or None when unknown; set by the
        # service when that registry's storage is measured (regslo.sources.storage)
        self.reclaimed: Any = None
        if registry is not None:
            registry.register(self)

    def unregister(self) -> None:
        if self.registry is not None:
            try:
                self.registry.unregister(self)
            except KeyError:
                pass

    def count_live(self, kind: str, key: tuple[str, ...], n: int = 1) -> None:
        with self.lock:
            values = self.live[kind]
            values[key] = values.get(key, 0) + n

    def declare_webhook(self, registry: str) -> None:
        with self.lock:
            for reason in REJECT_REASONS:
                self.live["rejected"].setdefault((registry, reason), 0)

    # -- set-up -----------------------------------------------------------------------------------------
    def sink(self, registry: str, source: str) -> "Sink":
        return Sink(self, registry, source)

    def declare_source(self, source: str) -> None:
        lines = self.state["lines"]
        for outcome in OUTCOMES:
            lines.setdefault((source, outcome), 0)

    def declare_registry(self, registry: str) -> None:
        self.state["overwrites"].setdefault((registry,), 0)
        self.state["protected"].setdefault((registry,), 0)
        for operation in AUTH_OPERATIONS:
            self.state["auth_failures"].setdefault((registry, operation), 0)

    def limiter(self, registry: str) -> RepositoryLimiter:
        lim = self.limiters.get(registry)
        if lim is None:
            lim = self.limiters[registry] = RepositoryLimiter(self.top_k)
        return lim

    # -- snapshots and persistence ----------------------------------------------------------------------
    def _copy(self) -> dict[str, dict]:
        out = {kind: dict(values) for kind, values in self.state.items()}
        out["dur"] = {k: list(v) for k, v in self.state["dur"].items()}
        return out

    def publish(self) -> None:
        """Make the current totals visible to scrapes (call after they are safely checkpointed)."""
        with self.lock:
            self._drop_evicted()
            self._published = self._copy()

    def _drop_evicted(self) -> None:
        repos = self.state["repos"]
        for registry, lim in self.limiters.items():
            if lim.evicted:
                gone = set(lim.evicted) - lim.admitted  # re-admitted meanwhile: keep counting on
                lim.evicted.clear()
                for key in [k for k in repos if k[0] == registry and k[1] in gone]:
                    del repos[key]

    def dump(self) -> dict[str, Any]:
        """JSON-able state: every series, the limiters, and the bucket layout (checked on load)."""
        with self.lock:
            self._drop_evicted()
            data: dict[str, Any] = {kind: [[*k, v] for k, v in values.items()] for kind, values in self.state.items()}
            data["buckets"] = list(self.buckets)
            data["limiters"] = {reg: lim.dump() for reg, lim in self.limiters.items()}
            return data

    def load(self, data: dict[str, Any]) -> None:
        """Restore totals from ``dump()``; raises ``ValueError`` on a layout mismatch (caller decides)."""
        if list(data.get("buckets", [])) != list(self.buckets):
            raise ValueError("checkpoint was written with other histogram buckets")
        state: dict[str, dict] = {}
        for kind in (*self.KINDS, "dur"):
            rows = data.get(kind, [])
            if not isinstance(rows, list):
                raise ValueError(f"metrics.{kind} is not a list")
            state[kind] = {}
            for row in rows:
                if kind == "repos" and isinstance(row, list) and len(row) == 4:
                    continue  # written before repository series had a class label
                key, value = self._checked_row(kind, row)
                state[kind][key] = value
        limiters = data.get("limiters", {})
        if not isinstance(limiters, dict):
            raise ValueError("metrics.limiters is not a mapping")
        loaded = {}
        for reg, lim_data in limiters.items():
            if not isinstance(lim_data, dict):
                raise ValueError("metrics.limiters has a malformed entry")
            lim = RepositoryLimiter(self.top_k)
            lim.load(lim_data)  # ValueError/TypeError on a hand-edited value, before anything is changed
            loaded[str(reg)] = lim
        with self.lock:
            for kind, values in state.items():
                self.state[kind].update(values)
            for reg, lim in loaded.items():
                self.limiter(reg).load(lim.dump())

    def _checked_row(self, kind: str, row: Any) -> tuple[tuple[str, ...], Any]:
        """One checkpoint row, type-checked: a hand-edited value must be refused here, not break every
        later scrape of /metrics."""
        arity = _ARITY.get(kind)
        if not isinstance(row, list) or (arity is not None and len(row) != arity + 1) or len(row) < 2 \
                or not all(isinstance(x, str) for x in row[:-1]):
            raise ValueError(f"metrics.{kind} has a malformed row")
        value = row[-1]
        if kind == "dur":
            if not isinstance(value, list) or len(value) != len(self.buckets) + 1 \
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
                raise ValueError("metrics.dur has a malformed bucket list")
            return tuple(row[:-1]), list(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
            raise ValueError(f"metrics.{kind} has a value that is not a non-negative number")
        return tuple(row[:-1]), value

    def retain(self, sources: set[str], registries: set[str]) -> None:
        """Forget restored series of sources or registries no longer configured (stale after a config change)."""
        with self.lock:
            for kind, values in self.state.items():
                keep = sources if kind in ("lines", "last_line") else registries
                for key in [k for k in values if k[0] not in keep]:
                    del values[key]
            for reg in [r for r in self.limiters if r not in registries]:
                del self.limiters[reg]

    def merge(self, dumps: list[dict[str, Any]]) -> None:
        """Add the totals of several ``dump()``s (parallel replay of one file's parts).

        Repositories are re-limited over the combined counts: the ``top_k`` busiest per registry keep
        their series, the rest are folded into ``__other__``.
        """
        repo_rows: list[tuple[tuple, int]] = []
        with self.lock:
            st = self.state
            for data in dumps:
                if list(data.get("buckets", [])) != list(self.buckets):
                    raise ValueError("parts were counted with other histogram buckets")
                for kind in (*self.KINDS, "dur"):
                    target = st[kind]
                    for row in data.get(kind, []):
                        key, value = tuple(row[:-1]), row[-1]
                        if kind == "repos":
                            repo_rows.append((key, value))
                        elif kind == "dur":
                            old = target.get(key)
                            target[key] = list(value) if old is None else [a + b for a, b in zip(old, value)]
                        elif kind in self.GAUGES:
                            target[key] = max(target.get(key, 0.0), value)
                        else:
                            target[key] = target.get(key, 0) + value
            totals: dict[str, dict[str, int]] = {}
            for (reg, repo, _op, _cls), value in repo_rows:
                if repo != OTHER:
                    per = totals.setdefault(reg, {})
                    per[repo] = per.get(repo, 0) + value
            keep = {reg: set(sorted(per, key=per.__getitem__, reverse=True)[: self.top_k]) for reg, per in totals.items()}
            for (reg, repo, op, cls), value in repo_rows:
                key = (reg, repo if repo in keep.get(reg, ()) else OTHER, op, cls)
                st["repos"][key] = st["repos"].get(key, 0) + value
            for reg, repos in keep.items():
                self.limiter(reg).admitted = set(repos)

    # -- exposition -------------------------------------------------------------------------------------
    def describe(self) -> Iterator:
        return iter(())

    def collect(self) -> Iterator:
        snap = self._published
        yield _counter("regslo_registry_requests", "Requests the registry served, from its logs.",
                       ("registry", "operation", "code"), snap["requests"])
        yield _counter("regslo_registry_response_bytes", "Response bytes the registry wrote, from its logs.",
                       ("registry", "operation"), snap["bytes"])
        yield _counter("regslo_registry_repository_requests",
                       f"Requests per repository and response class (top repositories; the rest under {OTHER}).",
                       ("registry", "repository", "operation", "class"), snap["repos"])
        yield _counter("regslo_registry_events", "Registry notification events (or audit entries) by action.",
                       ("registry", "action"), snap["events"])
        yield _counter("regslo_registry_events_by_media_type", "Notification events by action and media type.",
                       ("registry", "action", "media_type"), snap["media"])
        yield _counter("regslo_registry_tag_overwrites", "Manifest pushes that moved an existing tag.",
                       ("registry",), snap["overwrites"])
        yield _counter("regslo_registry_protected_tag_overwrites",
                       "Manifest pushes that moved a tag matching immutable_tags to another digest.",
                       ("registry",), snap["protected"])
        yield _counter("regslo_registry_auth_failures",
                       "401 and 403 responses, from logs, except the anonymous 401 challenge to GET /v2/.",
                       ("registry", "operation"), snap["auth_failures"])
        yield _counter("regslo_registry_cache_requests", "Requests through a caching proxy in front of the registry, "
                       "by nginx $upstream_cache_status (none: the cache was not involved).",
                       ("registry", "operation", "status"), snap["cache"])
        yield _counter("regslo_log_lines", "Log lines read, by outcome (parsed, ignored, malformed).",
                       ("source", "outcome"), snap["lines"])
        last = GaugeMetricFamily("regslo_log_last_line_timestamp_seconds",
                                 "Wall-clock time the last line of a source was read.", labels=["source"])
        for key, value in sorted(snap["last_line"].items()):
            last.add_metric(list(key), value)
        yield last
        yield from _gc_families(snap)
        hist = HistogramMetricFamily("regslo_registry_request_duration_seconds",
                                     "Request duration from logs that carry one.", labels=["registry", "operation"])
        bounds = [_fmt(b) for b in self.buckets] + ["+Inf"]
        for key, counts in sorted(snap["dur"].items()):
            cumulative, running = [], 0
            for bound, count in zip(bounds, counts):
                running += count
                cumulative.append((bound, running))
            hist.add_metric(list(key), cumulative, snap["dur_sum"].get(key, 0.0))
        yield hist
        with self.lock:
            live = {kind: dict(values) for kind, values in self.live.items()}
        for name, doc, labels, kind in _LIVE:
            if live[kind]:  # declared by the service; a replay has none of them
                yield _counter(name, doc, labels, live[kind])


def _gc_families(snap: dict[str, dict]) -> Iterator:
    yield _counter("regslo_gc_runs", "Registry garbage-collection runs seen in GC output, by result.",
                   ("registry", "result"), snap["gc_runs"])
    yield _counter("regslo_gc_blobs_deleted", "Blobs garbage collection deleted (its 'Deleting blob' lines).",
                   ("registry",), snap["gc_blobs"])
    yield _counter("regslo_gc_manifests_deleted", "Untagged manifests garbage collection deleted.",
                   ("registry",), snap["gc_manifests"])
    yield _counter("regslo_gc_reclaimed_bytes", "Filesystem bytes freed by garbage-collection runs "
                   "(available bytes after minus before; only where storage.path is measured).",
                   ("registry",), snap["gc_reclaimed"])
    for kind, name, doc in (("gc_last_success", "regslo_gc_last_success_timestamp_seconds",
                             "End of the last successful garbage-collection run."),
                            ("gc_duration", "regslo_gc_duration_seconds",
                             "Duration of the last garbage-collection run (first to last line).")):
        fam = GaugeMetricFamily(name, doc, labels=["registry"])
        for key, value in sorted(snap[kind].items()):
            fam.add_metric(list(key), value)
        yield fam


def _fmt(bound: float) -> str:
    return floatToGoString(bound)  # exactly the le value prometheus_client's own histograms write


def _counter(name: str, doc: str, labels: tuple[str, ...], values: dict) -> CounterMetricFamily:
    fam = CounterMetricFamily(name, doc, labels=list(labels))
    for key, value in sorted(values.items()):
        fam.add_metric(list(key), value)
    return fam


class Sink:
    """What a parser calls for one (registry, source). Callers hold ``metrics.lock`` around batches."""

    __slots__ = ("metrics", "registry", "source", "_requests", "_bytes", "_repos", "_dur", "_dur_sum",
                 "_limiter", "_buckets", "_nbuckets", "tags", "_auth")

    def __init__(self, metrics: LogMetrics, registry: str, source: str):
        self.metrics = metrics
        self.registry = registry
        self.source = source
        st = metrics.state
        self._requests, self._bytes, self._repos = st["requests"], st["bytes"], st["repos"]
        self._dur, self._dur_sum = st["dur"], st["dur_sum"]
        self._auth = st["auth_failures"]
        self._limiter = metrics.limiter(registry)
        self._buckets = metrics.buckets
        self._nbuckets = len(metrics.buckets) + 1
        self.tags = None  # a TagMemory, set by the owner when notifications are enabled
        metrics.declare_source(source)
        metrics.declare_registry(registry)

    def request(self, operation: str, code: str, nbytes: int | None, repository: str | None,
                duration: float | None = None) -> None:
        reg = self.registry
        key = (reg, operation, code)
        req = self._requests
        req[key] = req.get(key, 0) + 1
        if (code == "401" and operation != "ping") or code == "403":
            # a 401 to GET /v2/ is the challenge every client gets before it logs in: not a failure
            akey = (reg, operation)
            self._auth[akey] = self._auth.get(akey, 0) + 1
        if nbytes:
            bkey = (reg, operation)
            self._bytes[bkey] = self._bytes.get(bkey, 0) + nbytes
        if repository:
            rkey = (reg, self._limiter.label(repository), operation, CODE_CLASS.get(code) or "other")
            self._repos[rkey] = self._repos.get(rkey, 0) + 1
        if duration is not None:
            self.duration(operation, duration)

    def add(self, counts: dict, nbytes: dict, hists: dict, sums: dict) -> None:
        """Totals a parser aggregated over a batch: ``counts`` {(operation, code, repository or None):
        requests}, ``nbytes`` {operation: bytes}, ``hists`` {operation: per-bucket counts as
        ``new_buckets()``}, ``sums`` {operation: seconds}. The same totals as one ``request()`` per request."""
        reg = self.registry
        req, repos, label = self._requests, self._repos, self._limiter.label
        for operation, written in nbytes.items():
            if written:
                bkey = (reg, operation)
                self._bytes[bkey] = self._bytes.get(bkey, 0) + written
        for (operation, code, repository), n in counts.items():
            key = (reg, operation, code)
            req[key] = req.get(key, 0) + n
            if (code == "401" and operation != "ping") or code == "403":  # as in request()
                akey = (reg, operation)
                self._auth[akey] = self._auth.get(akey, 0) + n
            if repository:
                rkey = (reg, label(repository, n), operation, CODE_CLASS.get(code) or "other")
                repos[rkey] = repos.get(rkey, 0) + n
        for operation, per_bucket in hists.items():
            key = (reg, operation)
            total = self._dur.get(key)
            if total is None:
                self._dur[key] = list(per_bucket)
            else:
                for i, c in enumerate(per_bucket):
                    if c:
                        total[i] += c
            self._dur_sum[key] = self._dur_sum.get(key, 0.0) + sums[operation]

    def new_buckets(self) -> list[int]:
        return [0] * self._nbuckets

    def duration(self, operation: str, seconds: float) -> None:
        key = (self.registry, operation)
        counts = self._dur.get(key)
        if counts is None:
            counts = self._dur[key] = [0] * self._nbuckets
        counts[bisect_left(self._buckets, seconds)] += 1
        self._dur_sum[key] = self._dur_sum.get(key, 0.0) + seconds

    def event(self, action: str, media_type: str | None = None, repository: str | None = None) -> None:
        st = self.metrics.state
        key = (self.registry, action)
        st["events"][key] = st["events"].get(key, 0) + 1
        if media_type is not None:
            mkey = (self.registry, action, media_type)
            st["media"][mkey] = st["media"].get(mkey, 0) + 1
        if repository:  # only for sources without request lines (Harbor audit): no status, class "other"
            rkey = (self.registry, self._limiter.label(repository), action, "other")
            self._repos[rkey] = self._repos.get(rkey, 0) + 1

    def cache(self, operation: str, status: str) -> None:
        """One request through a caching proxy with its cache status (HIT, MISS, ..., none)."""
        cache = self.metrics.state["cache"]
        key = (self.registry, operation, status)
        cache[key] = cache.get(key, 0) + 1

    def tag_overwrite(self, repository: str | None = None, tag: str | None = None, old: str | None = None,
                      new: str | None = None, actor: str | None = None, when: str | None = None) -> None:
        """A push moved a tag. If the tag is protected (``immutable_tags``) it is counted once more and
        remembered (repository, tag, digests, actor, time) for the status page -- never as labels."""
        metrics = self.metrics
        over = metrics.state["overwrites"]
        over[(self.registry,)] = over.get((self.registry,), 0) + 1
        protected = metrics.protected
        if protected and repository and tag and protected.protects(repository, tag):
            prot = metrics.state["protected"]
            prot[(self.registry,)] = prot.get((self.registry,), 0) + 1
            metrics.recent_protected.append({
                "registry": self.registry, "repository": repository[:MAX_REPOSITORY], "tag": tag[:128],
                "old_digest": (old or "")[:80], "new_digest": (new or "")[:80], "actor": (actor or "")[:128],
                "time": (when or "")[:40], "seen_at": time.time()})

    def declare_gc(self) -> None:
        """A garbage-collection source: its counters exist (at 0) before the first run."""
        st, reg = self.metrics.state, self.registry
        for result in ("success", "failure"):
            st["gc_runs"].setdefault((reg, result), 0)
        for kind in ("gc_blobs", "gc_manifests"):
            st[kind].setdefault((reg,), 0)

    def gc_run(self, result: str, blobs: int, manifests: int, started: float | None, ended: float | None) -> None:
        """One finished garbage-collection run (``result`` success or failure)."""
        self.declare_gc()
        st, key = self.metrics.state, (self.registry,)
        st["gc_runs"][(self.registry, result)] += 1
        st["gc_blobs"][key] += blobs
        st["gc_manifests"][key] += manifests
        if started is not None and ended is not None:
            st["gc_duration"][key] = max(0.0, ended - started)
            if result == "success":
                st["gc_last_success"][key] = max(st["gc_last_success"].get(key, 0.0), ended)
        hook = self.metrics.reclaimed
        if hook is not None and result == "success" and started is not None:
            freed = hook(self.registry, started, ended)
            if freed is not None:
                st["gc_reclaimed"][key] = st["gc_reclaimed"].get(key, 0) + max(0, int(freed))

    def lines(self, parsed: int, ignored: int, malformed: int, when: float | None = None) -> None:
        lines = self.metrics.state["lines"]
        src = self.source
        for outcome, n in ((PARSED, parsed), (IGNORED, ignored), (MALFORMED, malformed)):
            if n:
                lines[(src, outcome)] += n
        if parsed or ignored or malformed:
            self.metrics.state["last_line"][(src,)] = time.time() if when is None else when
