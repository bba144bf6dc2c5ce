"""Follow the files matching one source's glob: appends, rotation, truncation, recreation, checkpoints.

Each file is tracked by identity (device, inode) plus a fingerprint of its first bytes, and read from a
byte offset that only ever advances over complete lines, so an offset is always a safe place to resume.

- rename+create rotation: the old file stays open and is read to its end (and until it has been quiet for
  ``grace`` seconds) while the new file at the path is read from its start;
- copytruncate: a size below the offset, or a changed fingerprint, means new content: read from 0;
- delete+recreate (even with a reused inode number): caught by the fingerprint;
- partial last line: not consumed until its newline arrives (a rotated-away file's last partial line is
  counted when the file is finished).
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from regslo.sources.logs.pipeline import LineSplitter, feed_lines

FINGERPRINT_BYTES = 256
READ_CHUNK = 1024 * 1024


def fingerprint(fd: int, length: int) -> str:
    return hashlib.sha256(os.pread(fd, length, 0)).hexdigest()[:32] if length else ""


@dataclass
class TrackedFile:
    path: str
    dev: int
    ino: int
    fd: int
    offset: int
    fp: str
    fp_len: int
    splitter: LineSplitter
    quiet_since: float | None = None  # monotonic time the file left its path (rotated or deleted)

    def entry(self) -> dict[str, Any]:
        return {"path": self.path, "dev": self.dev, "ino": self.ino, "offset": self.offset, "fp": self.fp,
                "fp_len": self.fp_len, "skipping": self.splitter.skipping}


@dataclass
class SourceFollower:
    """Follows one glob. ``poll()`` reads what is new; ``entries()`` is its part of the checkpoint."""

    pattern: str
    parser: Any
    sink: Any
    lock: Any  # held while lines are parsed into the sink (never while waiting on the disk)
    max_line_bytes: int = 65536
    start_at: str = "end"
    saved: list[dict] | None = None  # checkpoint entries; None means first start ever
    grace: float = 2.0
    max_bytes_per_poll: int = 2 * 1024 * 1024  # bounds the time between checkpoints while catching up
    clock: Callable[[], float] = time.monotonic
    on_unreadable: Callable[[str, OSError], None] | None = None  # a matched file that cannot be opened
    files: dict[tuple[int, int], TrackedFile] = field(default_factory=dict)
    behind: bool = False
    _started: bool = False
    _unreadable: set[str] = field(default_factory=set)  # paths reported as unreadable, until they open

    # -- discovery -------------------------------------------------------------------------------------
    def _open(self, path: str) -> tuple[int, os.stat_result] | None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None  # gone between glob and open (rotation): not a problem
        except OSError as exc:
            self._report_unreadable(path, exc)
            return None
        self._unreadable.discard(path)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return None
        return fd, st

    def _report_unreadable(self, path: str, exc: OSError) -> None:
        """Once per path while it stays unreadable (the glob finds it again every poll)."""
        if path in self._unreadable or len(self._unreadable) >= 10_000:
            return
        self._unreadable.add(path)
        if self.on_unreadable is not None:
            self.on_unreadable(path, exc)

    def _resume_entry(self, fd: int, st: os.stat_result) -> dict | None:
        for entry in self.saved or ():
            if entry.get("dev") == st.st_dev and entry.get("ino") == st.st_ino:
                fp_len = int(entry.get("fp_len", 0))
                if st.st_size >= int(entry.get("offset", 0)) and st.st_size >= fp_len \
                        and fingerprint(fd, fp_len) == entry.get("fp", ""):
                    return entry
        return None

    def _track(self, path: str, fd: int, st: os.stat_result, initial: bool) -> TrackedFile:
        splitter = LineSplitter(self.max_line_bytes)
        entry = self._resume_entry(fd, st)
        if entry is not None:
            offset = int(entry["offset"])
            splitter.skipping = bool(entry.get("skipping", False))
            self.saved.remove(entry)  # used once: a later file with a reused inode is a new file
        elif initial and self.saved is None and self.start_at == "end":
            offset = _after_last_newline(fd, st.st_size)
        else:
            offset = 0
        fp_len = min(st.st_size, FINGERPRINT_BYTES)
        tracked = TrackedFile(path=path, dev=st.st_dev, ino=st.st_ino, fd=fd, offset=offset,
                              fp=fingerprint(fd, fp_len), fp_len=fp_len, splitter=splitter)
        self.files[(st.st_dev, st.st_ino)] = tracked
        return tracked

    def _discover(self) -> None:
        initial = not self._started
        seen: set[tuple[int, int]] = set()
        for path in sorted(glob.glob(self.pattern)):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue  # removed meanwhile, or a dangling symlink
            except OSError as exc:  # a symlink loop, a directory we may not search
                self._report_unreadable(path, exc)
                continue
            key = (st.st_dev, st.st_ino)
            if key in self.files:
                tracked = self.files[key]
                tracked.path, tracked.quiet_since = path, None
                seen.add(key)
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            opened = self._open(path)
            if opened is None:
                continue
            fd, fst = opened
            fkey = (fst.st_dev, fst.st_ino)
            if fkey in self.files:  # rotated between stat and open: the path now holds a file we follow
                os.close(fd)
                self.files[fkey].path, self.files[fkey].quiet_since = path, None
            else:
                self._track(path, fd, fst, initial)
            seen.add(fkey)
        if initial:
            self._adopt_rotated_while_down(seen)
        now = self.clock()
        for key, tracked in self.files.items():
            if key not in seen and tracked.quiet_since is None:
                tracked.quiet_since = now
        self._started = True

    def _adopt_rotated_while_down(self, seen: set[tuple[int, int]]) -> None:
        """Finish files that were rotated away (renamed out of the glob) while regslo was not running.

        Found by inode in the directory they were followed in; content that no longer matches the
        fingerprint (truncated and rewritten meanwhile) is new and read from the start.
        """
        for entry in list(self.saved or ()):  # _track consumes entries from self.saved
            key = (entry.get("dev"), entry.get("ino"))
            if key in seen or key in self.files:
                continue
            directory = os.path.dirname(str(entry.get("path", ""))) or "."
            try:
                candidates = [e.path for e in os.scandir(directory) if e.inode() == entry.get("ino")]
            except OSError:
                continue
            for path in candidates:
                opened = self._open(path)
                if opened is None:
                    continue
                fd, st = opened
                if (st.st_dev, st.st_ino) == key:  # our file, renamed: resume it, or read it all if it was
                    self._track(path, fd, st, initial=False).quiet_since = self.clock()  # rewritten meanwhile
                    break
                os.close(fd)

    # -- reading ---------------------------------------------------------------------------------------
    def poll(self) -> bool:
        """Read everything new in every tracked file; True if any offset moved or the set of files changed
        (a new file must be in the checkpoint even before a line of it is read: it may be rotated away)."""
        known = len(self.files)
        self._discover()
        progress = len(self.files) != known
        behind = False
        for key in list(self.files):
            tracked = self.files[key]
            moved = self._read(tracked)
            behind = behind or self.behind
            progress = progress or moved
            if tracked.quiet_since is not None and not moved and self.clock() - tracked.quiet_since >= self.grace:
                progress = self._finish(tracked) or progress
                os.close(tracked.fd)
                del self.files[key]
        self.behind = behind  # True: a file has more than one round's budget waiting
        return progress

    def _read(self, tracked: TrackedFile) -> bool:
        fd = tracked.fd
        size = os.fstat(fd).st_size
        start = tracked.offset
        if size < tracked.offset or (tracked.offset and tracked.fp_len and fingerprint(fd, tracked.fp_len) != tracked.fp):
            tracked.offset = 0  # truncated or replaced in place: everything in it is new
            tracked.splitter.skipping = False
            tracked.fp_len = 0
            start = -1
        if tracked.fp_len < FINGERPRINT_BYTES and size > tracked.fp_len:
            tracked.fp_len = min(size, FINGERPRINT_BYTES)
            tracked.fp = fingerprint(fd, tracked.fp_len)
        budget = self.max_bytes_per_poll
        self.behind = False
        while tracked.offset < size and budget > 0:
            data = os.pread(fd, min(READ_CHUNK, size - tracked.offset), tracked.offset)
            if not data:
                break
            lines, consumed = tracked.splitter.feed(data)
            if not consumed and len(data) < size - tracked.offset:  # a line longer than one chunk
                data = os.pread(fd, min(size - tracked.offset, self.max_line_bytes + 1), tracked.offset)
                lines, consumed = tracked.splitter.feed(data)
            if lines:
                with self.lock:
                    feed_lines(lines, self.parser, self.sink)
                    tracked.offset += consumed
            else:
                tracked.offset += consumed
            budget -= len(data)
            time.sleep(0)  # let the exporter and probe threads take the GIL between chunks
            if consumed == 0:
                break  # a partial line: wait for its newline
        self.behind = self.behind or (budget <= 0 and tracked.offset < size)
        return tracked.offset != start

    def _finish(self, tracked: TrackedFile) -> bool:
        """Count a rotated-away file's final partial line, if any."""
        size = os.fstat(tracked.fd).st_size
        if tracked.offset >= size:
            return False
        data = os.pread(tracked.fd, size - tracked.offset, tracked.offset)
        lines, consumed = tracked.splitter.feed(data, final=True)
        with self.lock:
            feed_lines(lines, self.parser, self.sink)
            tracked.offset += consumed
        return True

    def entries(self) -> list[dict[str, Any]]:
        if not self._started:  # stopped before its first poll: keep what the last checkpoint said
            return list(self.saved or [])
        return [t.entry() for t in self.files.values()]

    def close(self) -> None:
        for tracked in self.files.values():
            try:
                os.close(tracked.fd)
            except OSError:
                pass
        self.files.clear()


def _after_last_newline(fd: int, size: int) -> int:
    """Offset just after the last complete line, so starting "at the end" never counts half a line."""
    pos = size
    while pos > 0:
        start = max(0, pos - 65536)
        data = os.pread(fd, pos - start, start)
        nl = data.rfind(b"\n")
        if nl >= 0:
            return start + nl + 1
        pos = start
    return 0
