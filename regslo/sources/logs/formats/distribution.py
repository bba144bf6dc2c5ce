"""distribution (registry:2) application logs: logrus ``json`` and ``text`` (logfmt), and the mixed stream.

Only ``response completed`` / ``response completed with error`` lines are requests; everything else the
registry logs is ignored. In a mixed stream (``docker logs``: access lines interleaved with application
lines) requests are counted from the access lines, which exist for every request (401s, 405s and
unrouted 404s have no completion line), and the completion lines contribute only their duration: each
request is counted exactly once.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections import Counter
from functools import partial
from operator import itemgetter

import orjson

from regslo.sli.log_metrics import IGNORED, MALFORMED, PARSED, Sink
from regslo.sources.logs.classify import INSPECTOR_PRODUCT, OPERATIONS, classify, own_read, parse_go_duration
from regslo.sources.logs.formats.access import own_access_line, parse_access_line

_COMPLETED = "response completed"
_PHRASE = _COMPLETED.encode()  # in every line that may be a request ("msg" or logstash's "message")
_WITH_ERROR = "response completed with error"
RECENT_IDS = 1024  # error-line request ids remembered per parser; a response's lines are adjacent


class RecentIds:
    """A bounded set of recent ids: ``repeat(id)`` is True if ``id`` was among the last ``size`` added (at
    least; up to ``2 * size`` are kept: the oldest half is dropped at once, amortised O(1) per id)."""

    __slots__ = ("size", "_ids")

    def __init__(self, size: int = RECENT_IDS):
        self.size = size
        self._ids: dict[str, None] = {}

    def repeat(self, rid: str) -> bool:
        ids = self._ids
        if rid in ids:
            return True
        ids[rid] = None
        if len(ids) > 2 * self.size:
            self._ids = dict.fromkeys(list(ids)[-self.size:])
        return False

    def __len__(self) -> int:
        return len(self._ids)

    def tail(self, n: int) -> list[str]:
        """The ``n`` newest ids, oldest first (kept in the checkpoint: a restart or reload between two lines
        of one response must not count it twice)."""
        return list(self._ids)[-n:] if n > 0 else []

    def extend(self, ids: list[str]) -> None:
        for rid in ids:
            self.repeat(rid)


_JSON_ID = '"http.request.id":"'
_ANY_ID = re.compile(rb'http\.request\.id(?:":"|=)([^"\s]+)')


def error_request_id(line: bytes) -> bytes | None:
    """The request id of a json or text ``response completed with error`` line, else None (for cutting a
    file into parts without separating the lines of one response)."""
    if b"response completed with error" not in line:
        return None
    m = _ANY_ID.search(line)
    return m.group(1) if m else None

_OWN_JSON = '"http.request.useragent":"' + INSPECTOR_PRODUCT  # the image inspector's requests: not users'


def _fields_ok(method, uri, status, written, duration) -> bool:
    return (isinstance(method, str) and isinstance(uri, str) and isinstance(status, int)
            and not isinstance(status, bool) and 100 <= status <= 999
            and (written is None or (isinstance(written, int) and not isinstance(written, bool) and written >= 0))
            and (duration is None or isinstance(duration, str)))


_FAST_KEYS = (('"http.request.method":"', '"'), ('"http.request.uri":"', '"'), ('"http.response.duration":"', '"'),
              ('"http.response.status":', ","), ('"http.response.written":', ","))


def _fast_fields(line: str) -> tuple[str, str, str, str, int] | None:
    """(method, uri, duration, status as text, written) read with ``str.find`` from logrus' sorted-key json.

    About twice as fast as ``json.loads``; anything unusual (escapes, other key order, missing or odd
    values) returns None and the caller falls back to ``json.loads``, which stays the authority. Safe
    because an unescaped ``"key":"`` can never occur inside a JSON string value.
    """
    if line[:1] != "{" or line[-1:] != "}":
        return None
    find = line.find
    values = []
    j = 0
    for key, stop in _FAST_KEYS:
        i = find(key, j)
        if i < 0:
            return None
        i += len(key)
        j = find(stop, i)
        if j < 0:
            return None
        values.append(line[i:j])
    method, uri, duration, status, written = values
    if "\\" in uri or not (method.isalpha() and len(status) == 3 and status.isdigit() and status[0] != "0"
                             and written.isdigit()):
        return None
    return method, uri, duration, status, int(written)


def _fast_id(line: str) -> str | None:
    i = line.find(_JSON_ID)
    if i < 0:
        return None
    i += len(_JSON_ID)
    j = line.find('"', i)
    rid = line[i:j]
    return rid if j > i and "\\" not in rid else None


_CODES = [str(c) for c in range(1000)]
# the fields of a completion line, in one C call (a missing one raises: the line takes the per-line path)
_FIELDS = itemgetter("msg", "http.request.useragent", "http.request.method", "http.request.uri",
                     "http.response.status", "http.response.written", "http.response.duration")
_UNIT_DIGITS = {"ms": 6, "\u00b5s": 3, "\u03bcs": 3, "us": 3, "ns": 0}  # fraction digits down to nanoseconds
_DIGITS = frozenset("0123456789.")
_ZEROS = ["0" * n for n in range(10)]


class JsonParser:
    """logrus json lines. ``feed_batch`` is the hot path (bytes in, one orjson parse per completion line,
    totals aggregated per batch); ``feed`` handles one decoded line and decides every unusual case."""

    def __init__(self) -> None:
        self.ids = RecentIds()

    def feed_batch(self, lines: list[bytes | None], sink: Sink) -> tuple[int, int, int]:
        """Parse raw lines (``None``: an overlong line) into ``sink``; returns (parsed, ignored, malformed).

        A completion line whose fields all have the expected types and whose duration has one unit is
        counted here; every other line goes through ``feed``, so both paths count alike (tested on every
        line of tests/data).
        """
        parsed = ignored = malformed = 0
        loads = orjson.loads
        seen, units, own = self.ids.repeat, _UNIT_DIGITS, INSPECTOR_PRODUCT
        # per request only appends and one addition; the counting happens in C at the end (Counter, sum)
        keys: list[tuple] = []
        append_key = keys.append
        nbytes = dict.fromkeys(OPERATIONS, 0)
        seconds_by_op: dict[str, list[float]] = {op: [] for op in OPERATIONS}
        codes = _CODES
        fields = _FIELDS
        rfind = bytes.rfind  # from the end: the message is among the last keys logrus writes (sorted)
        for raw in lines:
            if raw is None:  # an overlong line
                malformed += 1
                continue
            if rfind(raw, _PHRASE) < 0:  # not a request (most of what the registry logs): no json parse
                if raw[:1] == b"{" and raw[-1:] == b"}" and raw.isascii():
                    ignored += 1  # what feed() decides for it (braces, no completion message)
                    continue
                d = msg = None  # anything else: feed() decides (CR, other whitespace, bytes not UTF-8)
            else:
                try:
                    d = loads(raw)
                except Exception:  # not json: decided below
                    d = msg = None
                else:
                    try:
                        msg, agent, method, uri, status, written, duration = fields(d)
                    except Exception:  # not an object, or a field missing: decided below
                        msg = None
            # the two messages the registry writes, compared whole; any other completion text takes feed()
            if msg == _COMPLETED or msg == _WITH_ERROR:
                if type(agent) is str and agent.startswith(own):  # as own_read(), inlined
                    ignored += 1  # the image inspector's own read, not a user's request
                    continue
                if (type(method) is str and type(uri) is str and type(status) is int and 100 <= status <= 999
                        and type(written) is int and written >= 0 and type(duration) is str):
                    # one-unit Go duration, as the registry writes it: exact integer nanoseconds
                    unit = duration[-2:]
                    digits = units.get(unit)
                    if digits is None and unit[-1:] == "s" and unit[:1] in _DIGITS:
                        unit, digits = "s", 9
                    if digits is not None:
                        whole, _dot, frac = duration[:-len(unit)].partition(".")
                        ns = whole + frac + _ZEROS[digits - len(frac)] if len(frac) <= digits else ""
                        if ns.isdigit() and ns.isascii() and (whole or frac):
                            if msg == _WITH_ERROR:
                                rid = d.get("http.request.id")
                                if type(rid) is str and rid and seen(rid):
                                    ignored += 1  # a further errors[] entry of a counted response
                                    continue
                            operation, repo = classify(method, uri)
                            append_key((operation, codes[status], repo))
                            nbytes[operation] += written
                            seconds_by_op[operation].append(int(ns) / 1e9)
                            parsed += 1
                            continue
            elif type(d) is dict and raw[:1] == b"{":  # json, but maybe not a request: the common case
                if msg is None:
                    msg = d.get("msg", d.get("message"))  # as feed() reads it ("message": logstash)
                if not (type(msg) is str and msg.startswith(_COMPLETED)):
                    ignored += 1
                    continue
            outcome = self._feed_raw(raw, sink)
            if outcome == PARSED:
                parsed += 1
            elif outcome == IGNORED:
                ignored += 1
            else:
                malformed += 1
        if keys:
            position = partial(bisect_left, sink.metrics.buckets)
            hists, sums = {}, {}
            for operation, values in seconds_by_op.items():
                if values:
                    hist = hists[operation] = sink.new_buckets()
                    for index, n in Counter(map(position, values)).items():
                        hist[index] = n
                    sums[operation] = sum(values)
            sink.add(Counter(keys), nbytes, hists, sums)
        return parsed, ignored, malformed

    def _feed_raw(self, raw: bytes, sink: Sink) -> str:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            return self.feed(raw.decode("utf-8"), sink)
        except UnicodeDecodeError:
            return MALFORMED

    def feed(self, line: str, sink: Sink, duration_only: bool = False) -> str:
        at = line.find('"msg":"response completed')
        if at >= 0:
            if _OWN_JSON in line:
                return IGNORED
            fast = _fast_fields(line)
            rid = None
            if fast is not None and line.startswith(" with error", at + 25):
                rid = _fast_id(line)
                if rid is None:  # no id, or an escaped one: the full parse decides
                    fast = None
            if fast is not None:
                method, uri, duration, status, written = fast
                try:
                    seconds = parse_go_duration(duration)
                except ValueError:
                    seconds = -1.0
                if seconds >= 0:
                    if rid is not None and self.ids.repeat(rid):
                        return IGNORED
                    operation, repo = classify(method, uri)
                    if duration_only:
                        sink.duration(operation, seconds)
                    else:
                        sink.request(operation, status, written, repo, seconds)
                    return PARSED
        elif '"response completed' not in line:
            s = line.strip()
            return IGNORED if s.startswith("{") and s.endswith("}") else MALFORMED if s else IGNORED
        try:
            d = json.loads(line)
        except ValueError:
            return MALFORMED
        if not isinstance(d, dict):
            return MALFORMED
        msg = d.get("msg", d.get("message"))  # "message": logrus' logstash formatter
        if not isinstance(msg, str) or not msg.startswith(_COMPLETED) or own_read(d.get("http.request.useragent")):
            return IGNORED
        rid = d.get("http.request.id") if msg.startswith(_WITH_ERROR) else None
        return _record(sink, d.get("http.request.method"), d.get("http.request.uri"), d.get("http.response.status"),
                       d.get("http.response.written"), d.get("http.response.duration"), duration_only,
                       self.ids, rid if isinstance(rid, str) and rid else None)


def _record(sink: Sink, method, uri, status, written, duration, duration_only: bool,
            ids: RecentIds, rid: str | None) -> str:
    if not _fields_ok(method, uri, status, written, duration):
        return MALFORMED
    seconds = None
    if duration is not None:
        try:
            seconds = parse_go_duration(duration)
        except ValueError:
            return MALFORMED
        if seconds < 0:
            return MALFORMED
    if rid is not None and ids.repeat(rid):
        return IGNORED  # a further errors[] entry of a response already counted
    operation, repo = classify(method, uri)
    if duration_only:
        if seconds is not None:
            sink.duration(operation, seconds)
        return PARSED
    sink.request(operation, str(status), written, repo, seconds)
    return PARSED


_LOGFMT = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')
_LOGFMT_START = re.compile(r'^(?:time|level|msg)=')


def parse_logfmt(line: str) -> dict[str, str]:
    """``key=value`` pairs; quoted values are unescaped (Go ``%q`` quoting)."""
    out = {}
    for key, value in _LOGFMT.findall(line):
        if value.startswith('"'):
            inner = value[1:-1]
            if "\\" in inner:
                try:
                    inner = json.loads(value)
                except ValueError:
                    inner = inner.replace('\\"', '"').replace("\\\\", "\\")
            value = inner
        out[key] = value
    return out


class TextParser:
    """logrus text lines (logfmt, quoting only where needed)."""

    def __init__(self) -> None:
        self.ids = RecentIds()

    def feed(self, line: str, sink: Sink, duration_only: bool = False) -> str:
        if not _LOGFMT_START.match(line):
            return MALFORMED if line.strip() else IGNORED
        if 'msg="response completed' not in line:
            return IGNORED
        d = parse_logfmt(line)
        if not d.get("msg", "").startswith(_COMPLETED) or own_read(d.get("http.request.useragent")):
            return IGNORED
        status = d.get("http.response.status", "")
        written = d.get("http.response.written")
        if not status.isdigit() or (written is not None and not written.isdigit()):
            return MALFORMED
        rid = d.get("http.request.id") if d["msg"].startswith(_WITH_ERROR) else None
        return _record(sink, d.get("http.request.method"), d.get("http.request.uri"), int(status),
                       int(written) if written is not None else None, d.get("http.response.duration"), duration_only,
                       self.ids, rid or None)


class MixedParser:
    """``docker logs`` of a registry: access lines count requests; json/text lines add durations."""

    def __init__(self) -> None:
        self._json = JsonParser()
        self._text = TextParser()
        self.ids = self._text.ids = self._json.ids  # one memory of error-line ids for the stream

    def feed(self, line: str, sink: Sink) -> str:
        first = line[:1]
        if first == "{":
            return self._json.feed(line, sink, duration_only=True)
        if first in ("t", "l", "m") and _LOGFMT_START.match(line):
            return self._text.feed(line, sink, duration_only=True)
        parsed = parse_access_line(line)
        if parsed is None:
            return MALFORMED if line.strip() else IGNORED
        if own_access_line(line):
            return IGNORED
        method, uri, status, nbytes = parsed
        operation, repo = classify(method, uri)
        sink.request(operation, status, nbytes, repo)
        return PARSED
