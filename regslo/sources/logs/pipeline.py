"""Bytes to parsers: split complete lines, bound their length, decode UTF-8, count outcomes.

Shared by the follower (live files) and ``regslo logs replay`` so both count exactly alike. They split with
two classes (``LineSplitter`` reports byte offsets for checkpoints; ``StreamSplitter`` keeps the partial line
itself so replay copies no chunk twice); tests/unit/logs/test_pipeline.py proves they give the same lines for
any chunking.
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


class StreamSplitter:
    """``LineSplitter`` for a stream read from start to end (``regslo logs replay``): the same lines and the
    same handling of overlong lines, but it keeps the partial last line itself and splits each chunk as it
    comes, so a chunk is never copied whole (joining it to the previous partial line, or slicing it to the
    last newline, copied every byte of the file once more)."""

    __slots__ = ("max_line_bytes", "skipping", "_pending")

    def __init__(self, max_line_bytes: int = 65536):
        self.max_line_bytes = max_line_bytes
        self.skipping = False
        self._pending = b""

    def feed(self, chunk: bytes, final: bool = False) -> list[bytes | None]:
        """Complete lines of ``chunk`` (with what came before); ``final``: the stream ends after it."""
        limit = self.max_line_bytes
        lines = chunk.split(b"\n")
        if self.skipping:  # inside an overlong line already counted: drop up to its newline
            if len(lines) == 1:
                return []
            self.skipping = False
            del lines[0]
        elif self._pending:
            lines[0] = self._pending + lines[0]
        rest = lines.pop()  # after the last newline (b"" when the chunk ends with one)
        self._pending = b""
        if final:
            if rest:
                lines.append(rest)
        elif len(rest) > limit:  # an overlong partial line: count it now, skip to its newline
            self.skipping = True
            rest = None
        else:
            self._pending = rest
        if lines and max(map(len, lines)) > limit:
            lines = [line if len(line) <= limit else None for line in lines]
        if rest is None:
            lines.append(None)
        return lines


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
