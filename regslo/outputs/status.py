"""The status page (``GET /``) and its JSON twin (``GET /api/v1/status``).

One pure function, ``build_status``, turns what the service holds in memory (the latest probe results, their
history, replication checks, recent failures and the in-process SLO state) into a plain dict. The JSON API
serves that dict as it is; the HTML page is the same dict rendered by ``templates/status.html.j2`` with
inline SVG charts. Nothing here queries Prometheus: the page works on a bare ``regslo run``.

Status colours (documented in docs/status-page.md):
- SLO: see ``status_slo``.
- Registry: critical when its latest result of any probe failed; warn when a probe's latest result is stale
  (older than 3 intervals + the timeout); unknown before the first result.
- Replication pair: critical on timeout or error; warn when stale; ok otherwise.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit, urlunsplit

import jinja2

from regslo.events import PHASES, ProbeResult, ReplicationResult
from regslo.outputs import svg
from regslo.outputs.server import Request, Response
from regslo.outputs.status_slo import WARN_BUDGET, slo_snapshot

SCHEMA_VERSION = 1
REFRESH_SECONDS = 15
DEFAULT_HOURS = 3.0
MAX_HOURS = 24.0
MIN_CHART_SPAN = 60.0
RANK = {"ok": 0, "unknown": 1, "warn": 2, "critical": 3}

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


# -- formatting helpers (shared by JSON and template) ------------------------------------------------
def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = max(0, int(round(seconds)))
    if s < 120:
        return f"{s} s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    return f"{s // 3600} h ago"


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=RANK.__getitem__, default="unknown")


class Redactor:
    """Removes every configured secret, URL credentials and Authorization values from free text."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    @classmethod
    def for_config(cls, config: Any) -> "Redactor":
        values = []
        for reg in config.registries:
            password = getattr(reg.auth, "password", None) if reg.auth else None
            if password is not None:
                values.append(password.reveal())
        return cls(values)

    def __call__(self, text: str | None) -> str:
        if not text:
            return ""
        for s in self.secrets:
            text = text.replace(s, "<redacted>")
        text = _USERINFO.sub(r"\1<redacted>@", text)
        return _BEARER.sub(r"\1 <redacted>", text)


def public_url(url: str) -> str:
    """The registry URL without any user:password part (config refuses those; this is belt and braces)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# -- the model ---------------------------------------------------------------------------------------
def _probe_entry(r: ProbeResult, now: float, stale_after: float, redact: Redactor) -> dict:
    age = now - r.timestamp
    status = "critical" if not r.ok else ("warn" if age > stale_after else "ok")
    return {
        "probe": r.probe, "ok": r.ok, "status": status, "duration_seconds": round(r.duration, 6),
        "reason": r.reason, "message": redact(r.message),
        "phases": {p: round(r.phases[p], 6) for p in PHASES if p in r.phases},
        "timestamp": round(r.timestamp, 3), "time": iso(r.timestamp), "age_seconds": round(age, 1),
    }


def _replication_entry(r: ReplicationResult, now: float, stale_after: float, redact: Redactor) -> dict:
    age = now - r.timestamp
    status = "critical" if r.outcome != "ok" else ("warn" if age > stale_after else "ok")
    return {
        "outcome": r.outcome, "status": status,
        "lag_seconds": None if r.lag is None else round(r.lag, 3), "reason": r.reason,
        "message": redact(r.message), "timestamp": round(r.timestamp, 3), "time": iso(r.timestamp),
        "age_seconds": round(age, 1),
    }


_NO_CHECK = {"outcome": None, "status": "unknown", "lag_seconds": None, "reason": None, "message": "",
             "timestamp": None, "time": None, "age_seconds": None}


def _failure_entry(r: ProbeResult | ReplicationResult, now: float, redact: Redactor) -> dict:
    common = {"reason": r.reason or "other", "message": redact(r.message), "timestamp": round(r.timestamp, 3),
              "time": iso(r.timestamp), "age_seconds": round(now - r.timestamp, 1)}
    if isinstance(r, ProbeResult):
        return {"kind": "probe", "registry": r.registry, "region": r.region, "probe": r.probe,
                "subject": f"{r.registry} {r.probe}", **common}
    return {"kind": "replication", "source": r.source, "destination": r.destination, "outcome": r.outcome,
            "subject": f"{r.source} \u2192 {r.destination} replication", **common}


def build_status(config: Any, recent: dict, slos: list[dict], *, now: float | None = None,
                 hours: float = DEFAULT_HOURS, history: bool = True, instance: str | None = None,
                 redact: Redactor | None = None) -> dict:
    """The status model: ``recent`` is ``RecentResults.snapshot()``, ``slos`` comes from ``slo_snapshot``."""
    now = time.time() if now is None else now
    redact = redact or Redactor.for_config(config)
    interval, timeout = config.probes.interval, config.probes.timeout
    stale_after = 3 * interval + timeout
    start = now - hours * 3600
    latest, hist = recent.get("latest", {}), recent.get("history", {})
    registries = []
    for reg in config.registries:
        probes = [_probe_entry(latest[(reg.name, p)], now, stale_after, redact)
                  for p in config.probes.enabled if (reg.name, p) in latest]
        entry = {"name": reg.name, "region": reg.region, "url": public_url(reg.url),
                 "status": worst(p["status"] for p in probes) if len(probes) == len(config.probes.enabled)
                 else worst([*(p["status"] for p in probes), "unknown"]),
                 "probes": probes}
        if history:
            entry["history"] = {p: [[round(r.timestamp, 3), round(r.duration, 6), r.ok]
                                    for r in hist.get((reg.name, p), []) if r.timestamp >= start]
                                for p in config.probes.enabled}
        registries.append(entry)
    replication = []
    for pair in config.replication:
        key = (pair.source, pair.destination)
        last = recent.get("replication", {}).get(key)
        stale = 3 * interval + pair.timeout
        entry = {"source": pair.source, "destination": pair.destination, "timeout_seconds": pair.timeout,
                 **(_replication_entry(last, now, stale, redact) if last else _NO_CHECK)}
        if history:
            entry["history"] = [[round(r.timestamp, 3), None if r.lag is None else round(r.lag, 3), r.outcome]
                                for r in recent.get("replication_history", {}).get(key, []) if r.timestamp >= start]
        replication.append(entry)
    failures = [_failure_entry(r, now, redact)
                for r in sorted(recent.get("failures", []), key=lambda r: r.timestamp, reverse=True)]
    # "unknown" (no data yet, e.g. a log SLO without traffic) must not hide a known red or green
    known = [x for x in (*(s["status"] for s in slos), *(r["status"] for r in registries),
                         *(p["status"] for p in replication)) if x != "unknown"]
    overall = worst(known)
    return {
        "schema_version": SCHEMA_VERSION, "generated_at": iso(now), "generated_at_unix": round(now, 3),
        "instance": instance, "status": overall, "refresh_seconds": REFRESH_SECONDS,
        "probes_enabled": list(config.probes.enabled), "probe_interval_seconds": interval, "probe_timeout_seconds": timeout,
        "history_window_seconds": round(hours * 3600) if history else None,
        "slos": slos, "registries": registries, "replication": replication, "failures": failures,
    }


# -- HTTP --------------------------------------------------------------------------------------------
_env = jinja2.Environment(loader=jinja2.PackageLoader("regslo", "templates"), autoescape=True,
                          trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def _pct(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "\u2013"
    text = f"{v * 100:.{digits}f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _secs(v: float | None) -> str:
    if v is None:
        return "\u2013"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def _rate(v: float | None) -> str:
    return "\u2013" if v is None else f"{v:.2f}\u00d7"


def span_text(seconds: float) -> str:
    """A duration for people: 45 s, 12 min, 2.5 h."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f}".rstrip("0").rstrip(".") + " h"


def _budget_class(v: float | None) -> str:
    """The budget bar's colour follows the budget alone (the SLO's status also counts burning alerts)."""
    if v is None or v <= 0:
        return "critical"
    return "warn" if v < WARN_BUDGET else "ok"


def _barwidth(v: float | None) -> str:
    return f"{min(max((v or 0.0) * 100, 0.0), 100.0):.1f}"


_env.filters.update(pct=_pct, secs=_secs, rate=_rate, ago=ago, iso=iso, barwidth=_barwidth, budget_class=_budget_class,
                    duration=span_text, duration_h=lambda h: span_text(h * 3600))


def chart_start(status: dict, hours: float) -> float:
    """Charts span the history window, or only the time since the oldest result while regslo is young
    (so ten minutes of data are not squeezed into the right edge of a three-hour axis)."""
    end = status["generated_at_unix"]
    times = [pts[0][0] for r in status["registries"] for pts in r.get("history", {}).values() if pts]
    times += [p["history"][0][0] for p in status["replication"] if p.get("history")]
    oldest = min(times, default=end)
    return max(end - hours * 3600, min(oldest, end - MIN_CHART_SPAN))


def charts(status: dict, hours: float) -> dict:
    """SVG markup per registry (duration lines + success strips) and per replication pair (lag)."""
    end = status["generated_at_unix"]
    start = chart_start(status, hours)
    out: dict[str, Any] = {"registries": {}, "replication": {}, "start": start, "span": end - start}
    for reg in status["registries"]:
        hist = reg.get("history", {})
        series = [svg.Series(p, [(t, d if ok else None) for t, d, ok in pts], marks=[t for t, _, ok in pts if not ok])
                  for p, pts in hist.items()]
        strips = {p: svg.status_strip([(t, ok) for t, _, ok in pts], start, end, width=540,
                                      label=f"{reg['name']} {p} success over time") for p, pts in hist.items()}
        out["registries"][reg["name"]] = {
            "duration": svg.line_chart(series, start, end, width=540, height=100,
                                       label=f"{reg['name']} probe duration"),
            "strips": strips}
    for pair in status["replication"]:
        pts = pair.get("history", [])
        series = [svg.Series("lag", [(t, lag) for t, lag, _ in pts], marks=[t for t, _, o in pts if o != "ok"])]
        out["replication"][f"{pair['source']}->{pair['destination']}"] = svg.line_chart(
            series, start, end, width=320, height=70, label=f"{pair['source']} to {pair['destination']} lag")
    return out


def group_failures(failures: list[dict], limit: int = 20) -> list[dict]:
    """Newest-first failures with the same subject, reason and message folded into one row with a count
    and the time of the first, so an outage of one registry does not push everything else off the page."""
    groups: dict[tuple, dict] = {}
    for f in failures:
        key = (f["subject"], f["reason"], f["message"])
        if key in groups:
            groups[key]["count"] += 1
            groups[key]["first_time"] = f["time"]
        elif len(groups) < limit:
            groups[key] = {**f, "count": 1, "first_time": f["time"]}
    return list(groups.values())


def render_html(status: dict, hours: float = DEFAULT_HOURS) -> str:
    return _env.get_template("status.html.j2").render(s=status, charts=charts(status, hours), hours=hours,
                                                      phases=PHASES, failures=group_failures(status["failures"]))


def _hours(query: str) -> float:
    try:
        value = float(parse_qs(query).get("hours", [DEFAULT_HOURS])[0])
    except ValueError:
        return DEFAULT_HOURS
    return min(max(value, 0.05), MAX_HOURS) if value == value else DEFAULT_HOURS


class StatusPage:
    def __init__(self, config: Any, recent: Any, slo_state: Callable[[], Any], instance: str | None = None,
                 integrity: Callable[[], dict] | None = None):
        self.config = config
        self.recent = recent
        self.slo_state = slo_state
        self.instance = instance
        self.redact = Redactor.for_config(config)
        self.integrity = integrity or (lambda: {})

    def status(self, hours: float = DEFAULT_HOURS, history: bool = True) -> dict:
        out = build_status(self.config, self.recent.snapshot(), slo_snapshot(self.slo_state()), hours=hours,
                           history=history, instance=self.instance, redact=self.redact)
        out.update(self.integrity())
        return out

    def html(self, request: Request) -> Response:
        hours = _hours(request.query)
        body = render_html(self.status(hours), hours).encode()
        return Response(200, body, "text/html; charset=utf-8",
                        {"Cache-Control": "no-store", "Content-Security-Policy":
                         "default-src 'none'; style-src 'unsafe-inline'; img-src data:"})

    def json(self, request: Request) -> Response:
        query = parse_qs(request.query)
        history = query.get("history", ["true"])[0].lower() not in ("0", "false", "no")
        body = json.dumps(self.status(_hours(request.query), history), indent=1).encode() + b"\n"
        return Response(200, body, "application/json", {"Cache-Control": "no-store"})


def integrity_status(service: Any) -> dict:
    """Protected-tag overwrites (newest first) and tag consistency, from the log tailer and the checker."""
    logs = getattr(service, "logs", None)
    overwrites = []
    if logs is not None:
        with logs.metrics.lock:
            overwrites = [dict(o, seen=iso(o["seen_at"])) for o in reversed(logs.metrics.recent_protected)]
    checker = getattr(service, "consistency", None)
    return {"protected_tag_overwrites": overwrites, "tag_consistency": checker.snapshot() if checker else []}


def register(service: Any) -> StatusPage:
    """Serve the page at ``/`` and the JSON at ``/api/v1/status`` on the service's HTTP server."""
    engine = getattr(service, "engine", None)
    page = StatusPage(service.config, service.recent, lambda: getattr(service, "slo_state", None),
                      instance=getattr(engine, "instance", None), integrity=lambda: integrity_status(service))
    service.server.route("GET", "/", page.html)
    service.server.route("GET", "/api/v1/status", page.json)
    return page
