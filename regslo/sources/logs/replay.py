"""``regslo logs replay --format F --registry NAME FILE...``: parse files start to end, print the metrics.

Prints the same metric names the service exposes, in Prometheus text format, so users can check that a
format fits their logs before deploying (and tests and the benchmark use it as the reference path).
Needs no config file: ``--registry`` is only the label value.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import BinaryIO

from prometheus_client import CollectorRegistry, generate_latest

from regslo.sli.log_metrics import LogMetrics
from regslo.sources.logs.formats import FORMATS, make_parser
from regslo.sources.logs.pipeline import LineSplitter, feed_lines

CHUNK = 4 * 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", "-f", required=True, choices=FORMATS, help="log format of every FILE")
    parser.add_argument("--registry", "-r", required=True, metavar="NAME", help="registry label value")
    parser.add_argument("--top-k", type=int, default=100, metavar="K",
                        help="repositories with their own series (default 100; the rest are __other__)")
    parser.add_argument("--max-line-bytes", type=int, default=65536, metavar="N",
                        help="longer lines count as malformed (default 65536)")
    parser.add_argument("--log-format", metavar="STRING", help="nginx log_format of the files (nginx only)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="log files ('-' for standard input)")


def replay_stream(stream: BinaryIO, parser, sink, max_line_bytes: int) -> None:
    splitter = LineSplitter(max_line_bytes)
    pending = b""
    while True:
        chunk = stream.read(CHUNK)
        data = pending + chunk if pending else chunk
        lines, consumed = splitter.feed(data, final=not chunk)
        feed_lines(lines, parser, sink)
        pending = data[consumed:]
        if not chunk:
            return


def replay(files: list[str], fmt: str, registry_name: str, *, top_k: int = 100, max_line_bytes: int = 65536,
           log_format: str | None = None) -> CollectorRegistry:
    """Parse every file into a fresh CollectorRegistry (``OSError``/``ValueError`` on bad input)."""
    registry = CollectorRegistry()
    metrics = LogMetrics(registry, top_k=top_k)
    parser = make_parser(fmt, {"log_format": log_format})
    with metrics.lock:
        for name in files:
            sink = metrics.sink(registry_name, name)
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
    if args.log_format and args.format != "nginx":
        problems.append("--log-format: only applies to --format nginx")
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    if problems:
        return 2
    try:
        registry = replay(args.files, args.format, args.registry, top_k=args.top_k,
                          max_line_bytes=args.max_line_bytes, log_format=args.log_format)
    except OSError as exc:
        print(f"error: {exc.filename or 'input'}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a bad --log-format
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(generate_latest(registry).decode())
    return 0
