"""Bytes to parsers: split complete lines, bound their length, decode UTF-8, count outcomes.

Shared by the follower (live files) and ``regslo logs replay`` so both count exactly alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from regslo.sli.log_metrics import IGNORED, MALFORMED, PARSED, Sink
from regslo.sources.logs.formats import Parser

log = logging.getLogger("regslo.logs")
_reported: set[str] = set()


def _report_parser_bug(parser: Parser) -> None:
    name = type(parser).__name__
    if name not in _reported:  # once per parser type: a log line per bad line would flood
        _reported.add(name)
        log.exception("%s raised on a line (counted malformed; further errors not logged)", name)


@dataclass
class LineSplitter:
    """Incremental splitter: ``feed(chunk)`` returns complete lines and how many bytes they covered.

    A line longer than ``max_line_bytes`` is reported as ``None`` (malformed) once and skipped up to
    its newline; ``skipping`` is part of a checkpoint so a restart mid-line does not count its tail.
    """

    max_line_bytes: int = 65536
    skipping: bool = False

    def feed(self, chunk: bytes, final: bool = False) -> tuple[list[bytes | None], int]:
        """Return (lines, consumed); bytes after the last newline stay unconsumed unless ``final``."""
        out: list[bytes | None] = []
        limit = self.max_line_bytes
        last_nl = chunk.rfind(b"\n")
        end = len(chunk) if final else last_nl + 1
        pos = 0
        if self.skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                return out, len(chunk)  # still inside the overlong line
            self.skipping = False
            pos = nl + 1
        if end > pos:
            lines = (chunk[pos:end] if pos or end < len(chunk) else chunk).split(b"\n")
            if lines and not lines[-1]:
                lines.pop()
            if lines and max(map(len, lines)) <= limit:  # the usual case: no per-line Python work
                out = lines
            else:
                out = [line if len(line) <= limit else None for line in lines]
        consumed = max(end, pos)
        rest = len(chunk) - consumed
        if not final and rest > limit:  # an overlong partial line: count it now, skip to its newline
            out.append(None)
            self.skipping = True
            consumed = len(chunk)
        return out, consumed


def feed_lines(lines: list[bytes | None], parser: Parser, sink: Sink) -> tuple[int, int, int]:
    """Parse ``lines`` into ``sink`` and record the outcome counts; returns (parsed, ignored, malformed)."""
    batch = getattr(parser, "feed_batch", None)
    if batch is not None:  # a parser with its own loop over raw lines (distribution-json)
        try:
            parsed, ignored, malformed = batch(lines, sink)
        except Exception:  # a parser bug: count the batch malformed rather than wedge the tailer on it
            _report_parser_bug(parser)
            parsed, ignored, malformed = 0, 0, len(lines)
        sink.lines(parsed, ignored, malformed)
        return parsed, ignored, malformed
    parsed = ignored = malformed = 0
    feed = parser.feed
    for raw in lines:
        if raw is None:
            malformed += 1
            continue
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            malformed += 1
            continue
        try:
            outcome = feed(line, sink)
        except Exception:  # a parser bug must not wedge the tailer on one line forever
            _report_parser_bug(parser)
            outcome = MALFORMED
        if outcome == PARSED:
            parsed += 1
        elif outcome == IGNORED:
            ignored += 1
        else:
            malformed += 1
    sink.lines(parsed, ignored, malformed)
    return parsed, ignored, malformed
