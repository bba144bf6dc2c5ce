"""``regslo logs replay --format F --registry NAME FILE...``: parse files start to end, print the metrics.

Prints the same metric names the service exposes, in Prometheus text format, so users can check that a
format fits their logs before deploying (and tests and the benchmark use it as the reference path).
Needs no config file: ``--registry`` is only the label value.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import BinaryIO

from prometheus_client import CollectorRegistry, generate_latest

from regslo.sli.log_metrics import LogMetrics
from regslo.sources.logs.formats import FORMATS, make_parser
from regslo.sources.logs.formats.distribution import error_request_id
from regslo.sources.logs.pipeline import StreamSplitter, feed_lines

CHUNK = 1024 * 1024  # read size: a chunk and its lines stay in the CPU caches (4 MiB was 5-10% slower)
PARALLEL_FORMATS = ("distribution-json", "distribution-text", "combined", "distribution", "nginx", "harbor-audit")
PARALLEL_MIN_BYTES = 64 * 1024 * 1024  # below this, forking costs more than it saves
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", "-f", required=True, choices=FORMATS, help="log format of every FILE")
    parser.add_argument("--registry", "-r", required=True, metavar="NAME", help="registry label value")
    parser.add_argument("--top-k", type=int, default=100, metavar="K",
                        help="repositories with their own series (default 100; the rest are __other__)")
    parser.add_argument("--max-line-bytes", type=int, default=65536, metavar="N",
                        help="longer lines count as malformed (default 65536)")
    parser.add_argument("--log-format", metavar="STRING", help="nginx log_format of the files (nginx only)")
    parser.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                        help="processes for files over 64MiB (default 1; each adds ~55MB of memory)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="log files ('-' for standard input)")


def replay_stream(stream, parser, sink, max_line_bytes: int, final: bool = True) -> None:
    splitter = StreamSplitter(max_line_bytes)
    read, split = stream.read, splitter.feed
    while True:
        chunk = read(CHUNK)
        feed_lines(split(chunk, final=final and not chunk), parser, sink)
        if not chunk:
            return


class _Range:
    """A binary stream limited to ``[start, end)`` of a file."""

    def __init__(self, f: BinaryIO, start: int, end: int):
        f.seek(start)
        self.f, self.left = f, end - start

    def read(self, n: int) -> bytes:
        data = self.f.read(min(n, self.left)) if self.left > 0 else b""
        self.left -= len(data)
        return data


def _split(path: str, parts: int) -> list[tuple[int, int]]:
    """Byte ranges that each start at a line start, covering the file exactly once. A cut never falls
    between two ``response completed with error`` lines of one request (each part de-duplicates alone)."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as f:
        for i in range(1, parts):
            f.seek(max(size * i // parts, cuts[-1]))
            f.readline()
            prev = f.readline()
            cut = f.tell()
            while prev:
                rid = error_request_id(prev)
                line = f.readline()
                if rid is None or not line or error_request_id(line) != rid:
                    break
                prev, cut = line, f.tell()
            cuts.append(min(cut, size))
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _replay_part(args: tuple) -> dict:
    path, start, end, final, fmt, registry_name, top_k, max_line_bytes, log_format = args
    metrics = LogMetrics(None, top_k=top_k)
    parser = make_parser(fmt, {"log_format": log_format})
    sink = metrics.sink(registry_name, path)
    with open(path, "rb") as f, metrics.lock:
        replay_stream(_Range(f, start, end), parser, sink, max_line_bytes, final=final)
    return metrics.dump()


def replay(files: list[str], fmt: str, registry_name: str, *, top_k: int = 100, max_line_bytes: int = 65536,
           log_format: str | None = None, jobs: int = 1) -> CollectorRegistry:
    """Parse every file into a fresh CollectorRegistry (``OSError``/``ValueError`` on bad input).

    With ``jobs > 1`` large files of stateless formats are cut into line-aligned parts parsed by
    separate processes and merged (notifications stay sequential: de-duplication depends on order).
    """
    registry = CollectorRegistry()
    metrics = LogMetrics(registry, top_k=top_k)
    parser = make_parser(fmt, {"log_format": log_format, "clock": None})  # clock: GC runs keep their own times
    for name in files:
        if name != "-" and jobs > 1 and fmt in PARALLEL_FORMATS and os.path.getsize(name) >= PARALLEL_MIN_BYTES:
            ranges = _split(name, jobs)
            work = [(name, a, b, b == ranges[-1][1], fmt, registry_name, top_k, max_line_bytes, log_format)
                    for a, b in ranges]
            import multiprocessing  # only here: a one-process replay does not pay for importing it

            with multiprocessing.get_context("fork").Pool(len(work)) as pool:
                metrics.merge(pool.map(_replay_part, work))
            continue
        with metrics.lock:
            sink = metrics.sink(registry_name, name)
            if fmt == "distribution-gc":
                sink.declare_gc()
            if name == "-":
                replay_stream(sys.stdin.buffer, parser, sink, max_line_bytes)
            else:
                with open(name, "rb") as stream:
                    replay_stream(stream, parser, sink, max_line_bytes)
    metrics.publish()
    return registry


def main(args: argparse.Namespace) -> int:
    problems = []
    if not _NAME.match(args.registry):
        problems.append(f"--registry: must be letters, digits, '.', '_' or '-', got {args.registry!r}")
    if args.top_k < 1:
        problems.append(f"--top-k: must be >= 1, got {args.top_k}")
    if args.max_line_bytes < 64:
        problems.append(f"--max-line-bytes: must be >= 64, got {args.max_line_bytes}")
    if args.jobs < 1:
        problems.append(f"--jobs: must be >= 1, got {args.jobs}")
    if args.log_format and args.format != "nginx":
        problems.append("--log-format: only applies to --format nginx")
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    if problems:
        return 2
    try:
        registry = replay(args.files, args.format, args.registry, top_k=args.top_k,
                          max_line_bytes=args.max_line_bytes, log_format=args.log_format, jobs=args.jobs)
    except OSError as exc:
        print(f"error: {exc.filename or 'input'}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a bad --log-format
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(generate_latest(registry).decode())
    return 0
