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

from regslo.sli.log_metrics import IGNORED, MALFORMED, PARSED, Sink
from regslo.sources.logs.classify import classify, parse_go_duration
from regslo.sources.logs.formats.access import parse_access_line

_COMPLETED = "response completed"
_WITH_ERROR = "response completed with error"
RECENT_IDS = 1024  # error-line request ids remembered per parser; a response's lines are adjacent


class RecentIds:
    """A bounded first-in-first-out set: ``repeat(id)`` is True if ``id`` was among the last ``size`` added."""

    __slots__ = ("size", "_ids")

    def __init__(self, size: int = RECENT_IDS):
        self.size = size
        self._ids: dict[str, None] = {}

    def repeat(self, rid: str) -> bool:
        ids = self._ids
        if rid in ids:
            return True
        ids[rid] = None
        if len(ids) > self.size:
            del ids[next(iter(ids))]
        return False

    def __len__(self) -> int:
        return len(self._ids)


_JSON_ID = '"http.request.id":"'
_ANY_ID = re.compile(rb'http\.request\.id(?:":"|=)([^"\s]+)')


def error_request_id(line: bytes) -> bytes | None:
    """The request id of a json or text ``response completed with error`` line, else None (for cutting a
    file into parts without separating the lines of one response)."""
    if b"response completed with error" not in line:
        return None
    m = _ANY_ID.search(line)
    return m.group(1) if m else None


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


class JsonParser:
    """logrus json lines."""

    def __init__(self) -> None:
        self.ids = RecentIds()

    def feed(self, line: str, sink: Sink, duration_only: bool = False) -> str:
        at = line.find('"msg":"response completed')
        if at >= 0:
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
        if not isinstance(msg, str) or not msg.startswith(_COMPLETED):
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
        if not d.get("msg", "").startswith(_COMPLETED):
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

    def feed(self, line: str, sink: Sink) -> str:
        first = line[:1]
        if first == "{":
            return self._json.feed(line, sink, duration_only=True)
        if first in ("t", "l", "m") and _LOGFMT_START.match(line):
            return self._text.feed(line, sink, duration_only=True)
        parsed = parse_access_line(line)
        if parsed is None:
            return MALFORMED if line.strip() else IGNORED
        method, uri, status, nbytes = parsed
        operation, repo = classify(method, uri)
        sink.request(operation, status, nbytes, repo)
        return PARSED
