"""Where a backtest's counter history comes from: a Prometheus server, or registry logs replayed by their
own timestamps. Both give ``regslo.slo.backtest.Counter`` series per selector.

Prometheus: the raw samples of every series a selector matches, read with instant queries of range
selectors (``sel[Ns]`` at the chunk end), so the backtest sees exactly the samples ``increase()`` sees. A
first ``count_over_time`` query sizes the chunks so that no series returns more than ``MAX_POINTS`` points
in one response (the 11,000 points per series Prometheus allows a range query) and no response holds more
than ``RESPONSE_POINTS`` in all, and tells which selectors match nothing. Every answer is read up to
``MAX_BODY`` bytes within the timeout for the whole answer; credentials come from the URL (or
$REGSLO_PROMETHEUS_PASSWORD) and never appear in messages. Progress goes to stderr.

Logs: the same parsers as the tailer (``regslo.sources.logs.formats``) feed a sink that notes each request
with the timestamp of its line; the requests become the counters the tailer would export
(``regslo_registry_requests_total``, ``regslo_registry_request_duration_seconds_bucket/_count``), sampled as
if scraped at every evaluation time.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from bisect import bisect_left
from datetime import datetime, timezone
from typing import Callable, TextIO

import httpx
import numpy as np

from regslo.redact import redact, remember_secret
from regslo.sli.buckets import REQUEST_DURATION_BUCKETS
from regslo.sli.log_metrics import IGNORED, MALFORMED, PARSED
from regslo.slo.backtest import MS, Counter
from regslo.slo.sli import Selector, le
from regslo.sources.logs.formats import make_parser
from regslo.sources.logs.pipeline import LineSplitter

MAX_POINTS = 11_000  # Prometheus' limit per series in one range query
CHUNK_POINTS = 10_000  # what we aim for, leaving room for uneven scrape density
MAX_CHUNKS = 100_000  # queries per selector (30 days at a 1 s scrape interval need 260)
LOG_FORMATS = ("distribution", "distribution-json", "distribution-text", "combined", "nginx")


MAX_BODY = 64 * 1024 * 1024  # one answer read into memory; chunks are sized to stay far below (~26 MB)
RESPONSE_POINTS = 1_000_000  # all series of one chunk together (about 40 MB of JSON)
PASSWORD_ENV = "REGSLO_PROMETHEUS_PASSWORD"  # basic auth password when the URL names only the user


class QueryError(Exception):
    """Prometheus could not be reached or refused a query; the message is one line for the user."""


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``http://user:pass@host`` -> (``http://host``, (user, pass)); a URL with ``user@`` only takes the
    password from $REGSLO_PROMETHEUS_PASSWORD. The URL returned is the one messages may show."""
    parsed = httpx.URL(url)
    if not parsed.username:
        return str(parsed.copy_with(userinfo=b"")).rstrip("/"), None
    password = parsed.password or os.environ.get(PASSWORD_ENV, "")
    remember_secret(password)
    return str(parsed.copy_with(userinfo=b"")).rstrip("/"), (parsed.username, password)


class PrometheusSource:
    """Instant queries against ``url`` (optionally ``user:pass@``; ``verify``: True, False or an
    ``ssl.SSLContext`` e.g. from --ca-file). Every answer is read up to ``max_body`` bytes and within
    ``timeout`` seconds in total (not per read: a server dripping bytes cannot hold a query open)."""

    def __init__(self, url: str, timeout: float = 60.0, progress: TextIO | None = sys.stderr,
                 chunk_points: int = CHUNK_POINTS, client: httpx.Client | None = None, verify=True,
                 max_body: int = MAX_BODY, response_points: int = RESPONSE_POINTS):
        self.url, auth = split_credentials(url)
        self.timeout = timeout
        self.max_body = max_body
        self.response_points = response_points
        self.client = client or httpx.Client(base_url=self.url, timeout=timeout, auth=auth, verify=verify,
                                             follow_redirects=False)
        self.progress = progress
        self.chunk_points = chunk_points
        self.queries = 0

    def close(self) -> None:
        self.client.close()

    def _get(self, expr: str, at: float) -> tuple[int, bytes]:
        deadline = time.monotonic() + self.timeout
        limit = f"{self.max_body // (1024 * 1024)} MiB"
        with self.client.stream("GET", "/api/v1/query", params={"query": expr, "time": f"{at:.3f}"}) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body:
                raise QueryError(f"Prometheus at {self.url} announced an answer of {int(declared):,} bytes, "
                                 f"more than the {limit} regslo reads")
            body = bytearray()
            for piece in response.iter_bytes():
                body += piece
                if len(body) > self.max_body:
                    raise QueryError(f"Prometheus at {self.url} answered more than the {limit} regslo reads "
                                     "for one query")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the whole answer took longer than --timeout")
            return response.status_code, bytes(body)

    def _query(self, expr: str, at: float) -> list[dict]:
        self.queries += 1
        try:
            status, raw = self._get(expr, at)
        except httpx.HTTPError as exc:
            raise QueryError(redact(f"cannot reach Prometheus at {self.url}: {type(exc).__name__}: {exc}")[:300]) \
                from None
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            hint = {401: "it wants credentials (user:pass@ in the URL, or $" + PASSWORD_ENV + ")",
                    403: "the credentials were refused"}.get(status, "is it a Prometheus?")
            raise QueryError(f"Prometheus at {self.url} answered HTTP {status} without a JSON object ({hint})")
        if status != 200 or body.get("status") != "success":
            raise QueryError(redact(f"Prometheus refused the query {expr[:120]!r}: HTTP {status}: "
                                    f"{body.get('errorType', '')}: {body.get('error', '')}")[:300])
        data = body.get("data")
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
            raise QueryError(f"Prometheus at {self.url} answered HTTP 200 with JSON that is not a query result")
        return result

    def check(self) -> None:
        """One cheap query, so an unreachable server is reported before any work."""
        self._query("vector(1)", datetime.now(timezone.utc).timestamp())

    def points_per_series(self, selector: Selector, start: float, end: float) -> int:
        """The most samples any matching series has in [start, end]; 0 when nothing matches."""
        span = max(int(math.ceil(end - start)), 1)
        result = self._query(f"max(count_over_time({selector.promql()}[{span}s]))", end)
        return self._count(result)

    def total_points(self, selector: Selector, start: float, end: float) -> int:
        """Samples of all matching series together in [start, end] (sizes chunks so one answer stays small)."""
        span = max(int(math.ceil(end - start)), 1)
        result = self._query(f"sum(count_over_time({selector.promql()}[{span}s]))", end)
        return self._count(result)

    def _count(self, result: list[dict]) -> int:
        if not result:
            return 0
        try:
            value = float(result[0]["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            value = math.nan
        if not 0 <= value < 1e15:  # also NaN and infinities
            raise QueryError(f"Prometheus at {self.url} answered a sample count that is not one: {value!r}")
        return int(value)

    def fetch(self, selector: Selector, start: float, end: float, label: str = "") -> list[Counter]:
        """Every sample of every series ``selector`` matches in [start, end], in chunks."""
        points = self.points_per_series(selector, start, end)
        if points == 0:
            return []
        chunks = max(1, math.ceil(points / self.chunk_points),
                     math.ceil(self.total_points(selector, start, end) / self.response_points))
        if chunks > MAX_CHUNKS:
            raise QueryError(f"{label or selector.metric}: {points:,} samples in one series between the start "
                             f"and the end, more than regslo fetches: use a shorter range")
        span_ms = int(math.ceil((end - start) * MS))
        edges = [int(round(start * MS)) + span_ms * i // chunks for i in range(chunks + 1)]
        # per series: labels, chunks as numpy arrays (16 bytes a sample, not ~80 as Python lists), last time
        series: dict[tuple, tuple[dict, list, list, list]] = {}
        tty = self.progress is not None and getattr(self.progress, "isatty", lambda: False)()
        pending = list(zip(edges, edges[1:]))[::-1]  # a stack, earliest chunk on top
        done = 0
        while pending:
            a, b = pending.pop()
            if self.progress is not None:
                text = f"backtest: fetching {label or selector.metric}: chunk {done + 1}/{done + 1 + len(pending)}"
                self.progress.write(f"\r{text}  " if tty else f"{text}\n")
                self.progress.flush()
            # a range selector [r] at time b holds samples in [b - r, b]; shared edges are de-duplicated
            result = self._query(f"{selector.promql()}[{max(b - a, 1)}ms]", b / MS)
            if b - a > 1 and any(len(item.get("values") or ()) > MAX_POINTS for item in result):
                middle = (a + b) // 2  # denser than the count suggested: halve the chunk and ask again
                pending += [(middle, b), (a, middle)]
                continue
            done += 1
            for item in result:
                labels = dict(item.get("metric") or {})
                key = tuple(sorted(labels.items()))
                _, ts, vs, last = series.setdefault(key, (labels, [], [], [None]))
                values = item.get("values") or []
                t_ms = np.round(np.fromiter((float(p[0]) for p in values), np.float64, len(values)) * MS)
                t_ms = t_ms.astype(np.int64)
                v = np.fromiter((float(p[1]) for p in values), np.float64, len(values))
                if last[0] is not None:
                    keep = t_ms > last[0]  # a sample on a shared chunk edge comes twice
                    t_ms, v = t_ms[keep], v[keep]
                if len(t_ms):
                    ts.append(t_ms)
                    vs.append(v)
                    last[0] = int(t_ms.max())
        if tty:
            self.progress.write("\n")
        empty_t, empty_v = np.zeros(0, np.int64), np.zeros(0)
        return [Counter(labels, np.concatenate(ts) if ts else empty_t, np.concatenate(vs) if vs else empty_v)
                for labels, ts, vs, _ in series.values()]


# -- logs ------------------------------------------------------------------------------------------------
_ISO = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?")
_CLF = re.compile(r"\[(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})\]")
_MONTHS = {m: i + 1 for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                          "Nov", "Dec"))}


def line_time(line: str) -> float | None:
    """The timestamp of a log line (combined/nginx ``[27/Nov/2026:07:45:40 +0000]``, logrus ``time=`` or any
    RFC 3339 time), as Unix seconds; None when the line has none."""
    m = _CLF.search(line)
    if m:
        day, mon, year, hh, mm, ss, off = m.groups()
        if mon not in _MONTHS:
            return None
        sign = 1 if off[0] == "+" else -1
        offset = sign * (int(off[1:3]) * 3600 + int(off[3:5]) * 60)
        try:
            dt = datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=timezone.utc)
        except ValueError:
            return None
        return dt.timestamp() - offset
    m = _ISO.search(line)
    if m:
        date, clock, frac, zone = m.groups()
        try:
            dt = datetime.fromisoformat(f"{date}T{clock}")
        except ValueError:
            return None
        seconds = dt.replace(tzinfo=timezone.utc).timestamp() + (float(frac) if frac else 0.0)
        if zone and zone != "Z":
            z = zone.replace(":", "")
            seconds -= (1 if z[0] == "+" else -1) * (int(z[1:3]) * 3600 + int(z[3:5]) * 60)
        return seconds
    return None


class _TimedSink:
    """Duck-types ``regslo.sli.log_metrics.Sink`` for the parsers: notes each request (time, operation, code)
    and each duration (time, operation, seconds) with the time of the line being parsed. Like the real sink,
    a request with a duration also counts in the duration histogram. Whatever else a parser reports (events,
    cache status, GC runs, tag overwrites) does not feed an SLI and is ignored."""

    def __init__(self):
        self.now = 0.0
        self.requests: list[tuple[float, str, str]] = []
        self.durations: list[tuple[float, str, float]] = []
        self.tags = None

    def request(self, operation: str, code: str, nbytes: int | None, repository: str | None,
                duration: float | None = None) -> None:
        self.requests.append((self.now, operation, str(code)))
        if duration is not None:
            self.duration(operation, duration)

    def duration(self, operation: str, seconds: float) -> None:
        self.durations.append((self.now, operation, seconds))

    def new_buckets(self) -> list[int]:
        return [0] * (len(REQUEST_DURATION_BUCKETS) + 1)

    def add(self, counts: dict, *rest: dict) -> None:
        """A parser's aggregated totals (``Sink.add(counts, nbytes, hists, sums)``), all at the current line's
        time: ``counts`` {(operation, code, repository): requests}, ``hists`` {operation: per-bucket counts}."""
        hists = rest[-2] if len(rest) >= 2 else {}
        for (operation, code, _), value in counts.items():
            n = value[0] if isinstance(value, (list, tuple)) else value
            self.requests += [(self.now, operation, str(code))] * int(n)
        bounds = REQUEST_DURATION_BUCKETS
        for operation, per_bucket in hists.items():
            for i, c in enumerate(per_bucket):  # a representative duration inside bucket i
                self.durations += [(self.now, operation, bounds[i] if i < len(bounds) else math.inf)] * int(c)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return _ignore


def _ignore(*args, **kwargs) -> None:
    return None


class LogRequests:
    """Requests from log files by line time: ``requests`` (t, registry, operation, code) and ``durations``
    (t, registry, operation, seconds). ``lines`` counts parsed/ignored/malformed/untimed lines."""

    def __init__(self):
        self.requests: list[tuple[float, str, str, str]] = []
        self.durations: list[tuple[float, str, str, float]] = []
        self.lines = {PARSED: 0, IGNORED: 0, MALFORMED: 0, "untimed": 0}

    def read(self, fmt: str, registry: str, path: str, max_line_bytes: int = 65536) -> None:
        """Parse one file with the tailer's parser (``OSError`` when unreadable, ``ValueError`` on a bad format)."""
        if fmt not in LOG_FORMATS:
            raise ValueError(f"format {fmt!r} has no request lines to backtest (use one of {', '.join(LOG_FORMATS)})")
        parser = make_parser(fmt)
        sink = _TimedSink()
        splitter = LineSplitter(max_line_bytes)
        last = None
        with open(path, "rb") as stream:
            pending = b""
            while True:
                chunk = stream.read(4 * 1024 * 1024)
                data = pending + chunk if pending else chunk
                lines, consumed = splitter.feed(data, final=not chunk)
                pending = data[consumed:]
                for raw in lines:
                    if raw is None:
                        self.lines[MALFORMED] += 1
                        continue
                    try:
                        line = raw.rstrip(b"\r").decode("utf-8")
                    except UnicodeDecodeError:
                        self.lines[MALFORMED] += 1
                        continue
                    t = line_time(line)
                    if t is None:
                        if last is None:  # a request before any timed line cannot be placed
                            self.lines["untimed"] += 1
                            continue
                        t = last
                    last = t
                    sink.now = t
                    try:
                        outcome = parser.feed(line, sink)
                    except Exception:  # parsers never raise by contract; count it like the tailer does
                        outcome = MALFORMED
                    self.lines[outcome if outcome in self.lines else MALFORMED] += 1
                if not chunk:
                    break
        self.requests += [(t, registry, op, code) for t, op, code in sink.requests]
        self.durations += [(t, registry, op, seconds) for t, op, seconds in sink.durations]

    def span(self) -> tuple[float, float] | None:
        times = [r[0] for r in self.requests] + [r[0] for r in self.durations]
        return (min(times), max(times)) if times else None

    def counters(self, selector: Selector, scrape_ms: np.ndarray) -> list[Counter]:
        """The series the tailer would export that ``selector`` matches, scraped at ``scrape_ms``: each
        appears at the first scrape after its first request (like a fresh prometheus_client child)."""
        name = selector.metric
        keyed: dict[tuple, list[float]] = {}
        if name == "regslo_registry_requests_total":
            rows = [(t, {"registry": r, "operation": op, "code": code}) for t, r, op, code in self.requests]
        elif name == "regslo_registry_request_duration_seconds_count":
            rows = [(t, {"registry": r, "operation": op}) for t, r, op, _ in self.durations]
        elif name == "regslo_registry_request_duration_seconds_bucket":
            bound = next((m.value for m in selector.matchers if m.label == "le" and m.op == "="), None)
            rows = [(t, {"registry": r, "operation": op, "le": bound}) for t, r, op, seconds in self.durations
                    if bound is not None and _within(seconds, bound)]
        else:
            rows = []
        by_labels: dict[tuple, list[float]] = {}
        for t, labels in rows:  # one selector match per distinct label set, not per request
            by_labels.setdefault(tuple(sorted(labels.items())), []).append(t)
        for key, times in by_labels.items():
            if selector.matches(name, dict(key)):
                keyed[key] = times
        out = []
        for key, times in keyed.items():
            ms = np.sort(np.round(np.array(times) * MS).astype(np.int64))
            counts = np.searchsorted(ms, scrape_ms, side="right").astype(np.float64)
            present = counts > 0
            if present.any():
                out.append(Counter(dict(key), scrape_ms[present], counts[present]))
        return out


_BUCKET_INDEX = {le(b): i for i, b in enumerate(REQUEST_DURATION_BUCKETS)}


def _within(duration: float, bound: str) -> bool:
    """Is ``duration`` counted in the bucket ``le=bound`` (the tailer bins with bisect_left on the bounds)."""
    if bound == "+Inf":
        return True
    index = _BUCKET_INDEX.get(bound)
    if index is None:
        return duration <= float(bound)
    return bisect_left(REQUEST_DURATION_BUCKETS, duration) <= index


LATEST = 253402300799.0  # 9999-12-31T23:59:59Z


def parse_time(text: str, now: Callable[[], float]) -> float:
    """``now``, ``now-7d``, Unix seconds or RFC 3339 (``2026-11-01T00:00:00Z``, no zone = UTC), between 1970
    and 9999; ValueError otherwise. ``-7d`` alone is not accepted (write ``now-7d``)."""
    from regslo.units import parse_duration
    text = text.strip()
    if text == "now":
        value = now()
    elif text.startswith("now-"):
        value = now() - parse_duration(text[4:])
    else:
        try:
            value = float(text)
        except ValueError:
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"expected Unix seconds, RFC 3339 (2026-11-01T00:00:00Z) or now-7d, "
                                 f"got {text!r}") from None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
            value = dt.timestamp()
    if not 0 <= value <= LATEST:  # also NaN and infinities
        raise ValueError(f"{text!r} is not a time between 1970 and 9999")
    return value
