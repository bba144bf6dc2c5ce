"""Access logs: the registry's combined log (stdout) and nginx (combined + request/upstream times, or any
``log_format`` string). One line is one request."""

from __future__ import annotations

import re

from regslo.config.logs import LOG_FORMAT_VARIABLE, log_format_problem
from regslo.sli.log_metrics import IGNORED, MALFORMED, PARSED, Sink
from regslo.sources.logs.classify import INSPECTOR_PRODUCT, classify, own_read

_Q = r'(?:[^"\\]|\\.)*'  # inside double quotes, with backslash escapes
_COMBINED = (r'^\S+ \S+ (?:\S+|"' + _Q + r'") \[[^\]]*\] "(?P<request>' + _Q + r')" (?P<status>\d{3}) '
             r'(?P<body_bytes_sent>\d+|-)(?: "' + _Q + r'" "(?P<http_user_agent>' + _Q + r')")?')
COMBINED_FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                   '"$http_referer" "$http_user_agent"')
NGINX_FORMAT = COMBINED_FORMAT + " $request_time $upstream_response_time"
_CAPTURED = {"request", "request_method", "request_uri", "status", "body_bytes_sent", "bytes_sent",
             "request_time", "http_user_agent", "upstream_cache_status"}
_OWN_MARK = '"' + INSPECTOR_PRODUCT  # cheap pre-check before reading the User-Agent field
# nginx $upstream_cache_status values; "-" (no cache involved) and anything else count as "none". Matched
# without regard to case, so CDN logs placed at $upstream_cache_status in a log_format work too (Cloudflare's
# lower-case values; CloudFront's Hit/Miss/RefreshHit; Fastly's PASS and HIT-STALE), see docs/logs.md.
CACHE_STATUSES = ("HIT", "MISS", "EXPIRED", "BYPASS", "STALE", "UPDATING", "REVALIDATED")
_CACHE = {s: s for s in CACHE_STATUSES} | {"REFRESHHIT": "REVALIDATED", "PASS": "BYPASS", "HIT-STALE": "STALE"}


def compile_log_format(log_format: str) -> re.Pattern:
    """Turn an nginx ``log_format`` string into a regex with named groups for the fields regslo uses.

    ``ValueError`` if the format lacks ``$status`` or a request (``$request`` or ``$request_method`` with
    ``$request_uri``).
    """
    out = ["^"]
    pos = 0
    named: set[str] = set()
    for m in LOG_FORMAT_VARIABLE.finditer(log_format):
        literal = log_format[pos:m.start()]
        out.append(re.escape(literal))
        name = m.group(1) or m.group(2)
        before = literal[-1:] if literal else (log_format[m.start() - 1] if m.start() else "")
        if before == '"':
            body = _Q
        elif before == "[":
            body = r"[^\]]*"
        else:
            body = r"\S*"
        if name in _CAPTURED and name not in named:
            named.add(name)
            out.append(f"(?P<{name}>{body})")
        else:
            out.append(f"(?:{body})")
        pos = m.end()
    out.append(re.escape(log_format[pos:]))
    out.append(r"\s*$")
    problem = log_format_problem(log_format)
    if problem:
        raise ValueError(problem)
    return re.compile("".join(out))


class AccessParser:
    """Parses one access line into a request; lines that do not match are malformed."""

    def __init__(self, pattern: re.Pattern, has_time: bool):
        self._match = pattern.match
        self._has_time = has_time
        self._has_cache = "upstream_cache_status" in pattern.groupindex

    @classmethod
    def combined(cls) -> "AccessParser":
        return cls(re.compile(_COMBINED), False)

    @classmethod
    def nginx(cls, log_format: str | None = None) -> "AccessParser":
        pattern = compile_log_format(log_format or NGINX_FORMAT)
        return cls(pattern, "request_time" in pattern.groupindex)

    def feed(self, line: str, sink: Sink) -> str:
        m = self._match(line)
        if m is None:
            return MALFORMED if line.strip() else IGNORED
        groups = m.groupdict()
        if _OWN_MARK in line and own_read(groups.get("http_user_agent")):
            return IGNORED  # regslo's image inspector, not a user
        status = groups["status"]
        if len(status) != 3 or not status.isdigit():
            return MALFORMED
        request = groups.get("request")
        if request is not None:
            parts = request.split(" ")
            method, uri = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
        else:
            method, uri = groups.get("request_method") or "", groups.get("request_uri") or ""
        operation, repo = classify(method, uri)
        size = groups.get("body_bytes_sent") or groups.get("bytes_sent") or "-"
        nbytes = int(size) if size.isdigit() else 0
        duration = None
        if self._has_time:
            text = groups.get("request_time") or "-"
            try:
                duration = float(text)
            except ValueError:
                duration = None
            if duration is not None and not 0 <= duration < 1e9:
                duration = None
        sink.request(operation, status, nbytes, repo, duration)
        if self._has_cache:
            sink.cache(operation, _CACHE.get((groups.get("upstream_cache_status") or "").upper(), "none"))
        return PARSED


def parse_access_line(line: str) -> tuple[str, str, str, int] | None:
    """``(method, uri, status, bytes)`` of a registry combined access line, or None (used by the mixed parser)."""
    m = _COMBINED_RE.match(line)
    if m is None:
        return None
    parts = m.group("request").split(" ")
    method, uri = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
    size = m.group("body_bytes_sent")
    return method, uri, m.group("status"), int(size) if size.isdigit() else 0


def own_access_line(line: str) -> bool:
    """True for a combined access line of a request by regslo's image inspector."""
    if _OWN_MARK not in line:
        return False
    m = _COMBINED_RE.match(line)
    return m is not None and own_read(m.group("http_user_agent"))


_COMBINED_RE = re.compile(_COMBINED)
