"""One parser per log format. A parser has ``feed(line: str, sink) -> outcome`` (parsed|ignored|malformed),
never raises on any input, and reports requests/events to the ``Sink`` (regslo.sli.log_metrics)."""

from __future__ import annotations

from typing import Any, Protocol

from regslo.config.logs import FORMATS
from regslo.sli.log_metrics import Sink


class Parser(Protocol):
    def feed(self, line: str, sink: Sink) -> str: ...


__all__ = ["FORMATS", "Parser", "make_parser"]


def make_parser(fmt: str, options: dict[str, Any] | None = None) -> Parser:
    """Build the parser for ``fmt``; ``options`` may carry ``log_format`` (nginx) and ``tags`` / ``seen``
    (notifications: the shared tag memory and event-id dedupe) and ``clock`` (distribution-gc: None in replay). ``ValueError`` on an unknown format."""
    options = options or {}
    if fmt == "distribution-json":
        from regslo.sources.logs.formats.distribution import JsonParser
        return JsonParser()
    if fmt == "distribution-text":
        from regslo.sources.logs.formats.distribution import TextParser
        return TextParser()
    if fmt == "distribution":
        from regslo.sources.logs.formats.distribution import MixedParser
        return MixedParser()
    if fmt == "combined":
        from regslo.sources.logs.formats.access import AccessParser
        return AccessParser.combined()
    if fmt == "nginx":
        from regslo.sources.logs.formats.access import AccessParser
        return AccessParser.nginx(options.get("log_format"))
    if fmt == "notifications":
        from regslo.sources.logs.formats.notifications import NotificationParser
        return NotificationParser(tags=options.get("tags"), seen=options.get("seen"), on_push=options.get("on_push"))
    if fmt == "harbor-audit":
        from regslo.sources.logs.formats.harbor import HarborAuditParser
        return HarborAuditParser()
    if fmt == "distribution-gc":
        from regslo.sources.logs.formats.gc import GCParser
        return GCParser(**({"clock": options["clock"]} if "clock" in options else {}))
    raise ValueError(f"unknown log format {fmt!r} (known: {', '.join(FORMATS)})")
