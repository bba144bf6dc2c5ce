"""``distribution-gc``: what ``registry garbage-collect [--delete-untagged] [--dry-run] CONFIG`` prints, run
after run appended to one file (``>> gc.log 2>&1`` from cron or a Kubernetes CronJob).

One run looks like this (distribution 2.8; real samples in tests/data/distribution-2.8/gc-*.log)::

    team/app                                                  <- stdout: each repository, then its marks
    team/app: marking manifest sha256:...
    team/app: marking blob sha256:...
    manifest eligible for deletion: sha256:...               <- --delete-untagged only
    {"level":"info","msg":"deleting manifest: /docker/...",...}   <- stderr, logrus json or text
                                                              <- blank line
    9 blobs marked, 3 blobs and 1 manifests eligible for deletion
    blob eligible for deletion: sha256:...                   <- one per blob, each followed (unless
    {"level":"info","msg":"Deleting blob: /docker/...",...}     --dry-run) by its logrus deletion line

A failed run ends with ``failed to garbage collect: ...`` (or ``configuration error: ...`` and the usage
text) on stderr, written WITHOUT a trailing newline, so the next run's first line is glued to it.

The parser is a small state machine per source:

- a run starts at its first line (a repository name, a mark, or the summary of an empty registry);
- it ends successfully when every blob the summary announced has its ``Deleting blob`` line (at once when
  the summary announces none), or, for a run without deletion lines (``--dry-run``, or stdout only), at the
  empty line after its last ``blob eligible`` line (the ``echo`` of the documented cron line) or when the
  next run starts;
- it ends as a failure on ``failed to garbage collect``, ``configuration error``, a Go ``panic:`` or a
  logrus ``fatal``/``panic`` line, and when it was cut off (killed, out of memory, a CronJob deadline):
  the ``echo`` or the next run's first line arrives before its sweep is complete, or a new run's lines
  follow the blank line that should have preceded its summary.

Deleted blobs and manifests are counted from the deletion lines (what was really removed), not from the
summary. Times come from the logrus lines' own ``time``; lines without one (all of stdout) take the
parser's ``clock`` (the time they were read: the live tailer reads a line within a poll interval of its
writing). ``regslo logs replay`` has no meaningful read time, so it sets ``clock=None``: a replayed run's
times are those of its logrus lines only, and a run without any (nothing deleted) has no times.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Callable

from regslo.oci.names import REPOSITORY_NAME
from regslo.sli.log_metrics import IGNORED, MALFORMED, PARSED, Sink
from regslo.sources.logs.formats.distribution import parse_logfmt

_SUMMARY = re.compile(r"^(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion$")
_MARK = re.compile(r"^[a-z0-9][a-z0-9._/-]*: marking (?:manifest|blob) [a-z0-9]+:[a-f0-9]+\s*$")
_ELIGIBLE_BLOB = "blob eligible for deletion: "
_ELIGIBLE_MANIFEST = "manifest eligible for deletion: "
_FAILURES = ("failed to garbage collect:", "configuration error:", "panic:")
MAX_LINE = 65536

IDLE, MARK, SWEEP = "idle", "mark", "sweep"


def _timestamp(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _logrus(line: str) -> tuple[str, str, float | None] | None:
    """(level, msg, time) of a logrus json or text line; None for anything else."""
    if line.startswith("{"):
        try:
            doc = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the json module allows
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("msg"), str):
            return None
        return str(doc.get("level", "")), doc["msg"], _timestamp(doc.get("time"))
    if line.startswith("time=") or line.startswith("level="):
        fields = parse_logfmt(line)  # the text format's own reader: the same unquoting
        if "msg" not in fields:
            return None
        return fields.get("level", ""), fields["msg"], _timestamp(fields.get("time"))
    return None


class GCParser:
    """Counts garbage-collection runs; one instance per source (it carries the run in progress)."""

    def __init__(self, clock: Callable[[], float] | None = time.time):
        self.clock = clock
        self.state = IDLE
        self._reset()

    def _reset(self) -> None:
        self.started: float | None = None
        self.last: float | None = None
        self.announced = 0  # blobs the summary said are eligible
        self.eligible = 0  # "blob eligible for deletion" lines seen
        self.blobs = 0
        self.manifests = 0
        self.blank = False  # an empty line during the mark phase: the summary, or the end of a cut-off run

    # -- run bookkeeping --------------------------------------------------------------------------------
    def _now(self, stamp: float | None) -> None:
        when = stamp if stamp is not None else (self.clock() if self.clock else None)
        if when is None:
            return
        if self.started is None or when < self.started:
            self.started = when
        if self.last is None or when > self.last:
            self.last = when

    def _complete_without_deletions(self) -> bool:
        """The run printed its whole sweep but no deletion line: ``--dry-run``, or stderr not captured."""
        return self.state == SWEEP and self.blobs == 0 and self.eligible >= self.announced

    def _begin(self, sink: Sink, stamp: float | None = None) -> None:
        if self.state != IDLE:  # the previous run never finished
            self._finish(sink, "success" if self._complete_without_deletions() else "failure")
        self.state = MARK
        self._reset()
        self._now(stamp)

    def _finish(self, sink: Sink, result: str) -> None:
        sink.gc_run(result, self.blobs, self.manifests, self.started, self.last)
        self.state = IDLE
        self._reset()

    # -- lines ------------------------------------------------------------------------------------------
    def feed(self, line: str, sink: Sink) -> str:
        line = line.rstrip()
        if not line:
            # in the mark phase: the blank line printed before the summary (or the cron line's `echo` after
            # a run killed while marking: told apart by the next line). In the sweep it is that `echo`: the
            # run is over, complete without deletion lines (--dry-run, or stdout only) or cut off mid-sweep.
            if self.state == SWEEP:
                self._finish(sink, "success" if self._complete_without_deletions() else "failure")
            elif self.state == MARK:
                self.blank = True
            return IGNORED
        if len(line) > MAX_LINE:
            return MALFORMED
        entry = _logrus(line)
        if entry is not None:
            return self._logrus_line(entry, sink)
        for marker in _FAILURES:
            cut = line.find(marker)
            if cut >= 0 and (cut == 0 or marker != "panic:"):
                if self.state == IDLE:
                    self._begin(sink)
                self._now(None)
                self._finish(sink, "failure")
                return PARSED
        summary = _SUMMARY.match(line)
        if summary:
            if self.state != MARK:
                self._begin(sink)
            self._now(None)
            self.announced = int(summary.group(2))
            self.state = SWEEP
            if self.announced == 0:
                self._finish(sink, "success")
            return PARSED
        if line.startswith(_ELIGIBLE_BLOB):
            if self.state == IDLE:
                return MALFORMED  # a tail without its run (e.g. regslo started in the middle of one)
            self.eligible += 1
            self._now(None)
            return PARSED
        if line.startswith(_ELIGIBLE_MANIFEST) or _MARK.match(line) or REPOSITORY_NAME.fullmatch(line):
            if self.state in (SWEEP, IDLE) or self.blank:
                # the next run has begun (after a blank line in the mark phase only the summary may follow:
                # the run before was killed while marking)
                self._begin(sink)
            else:
                self._now(None)
            return PARSED
        if line[:1] in (" ", "\t") or line in ("Usage:", "Flags:"):
            return IGNORED  # the usage text after "configuration error"
        return MALFORMED

    def _logrus_line(self, entry: tuple[str, str, float | None], sink: Sink) -> str:
        level, msg, stamp = entry
        if level in ("fatal", "panic"):
            if self.state == IDLE:
                self._begin(sink, stamp)
            self._now(stamp)
            self._finish(sink, "failure")
            return PARSED
        if msg.startswith("Deleting blob: "):
            if self.state == IDLE:
                return MALFORMED
            self._now(stamp)
            self.blobs += 1
            if self.state == SWEEP and self.blobs >= self.announced:
                self._finish(sink, "success")
            return PARSED
        if msg.startswith("deleting manifest: "):
            if self.state == IDLE:
                return MALFORMED
            self._now(stamp)
            self.manifests += 1
            return PARSED
        if self.state != IDLE:
            self._now(stamp)
        return IGNORED  # tag references, warnings and other logrus chatter
