"""``regslo probe -c FILE`` (``--once`` still accepted): one round of every probe, printed as a table; exit 1 if any failed."""

from __future__ import annotations

import argparse
import json

from regslo.commands.common import add_config_argument, add_logging_arguments, load_or_exit, setup_logging
from regslo.events import PHASES, ProbeResult, ReplicationResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--once", action="store_true",
                        help="accepted for compatibility: one round is what `regslo probe` always does "
                             "(`regslo run` probes on a schedule)")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    parser.add_argument("--instance", help="name this regslo in probe tags")
    add_logging_arguments(parser, default_level="warn")


def main(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    config = load_or_exit(args.config)
    from regslo.sources.probes.engine import ProbeEngine

    engine = ProbeEngine(config, instance=args.instance)
    try:
        results, repl = engine.run_once()
    finally:
        for prober in engine.probers.values():
            prober.close()
    if args.output == "json":
        print(json.dumps({"probes": [vars(r) for r in results], "replication": [vars(r) for r in repl]}, indent=2))
    else:
        print(format_table(results, repl))
    ok = all(r.ok for r in results) and all(r.outcome == "ok" for r in repl)
    return 0 if ok else 1


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}ms"


def format_table(results: list[ProbeResult], repl: list[ReplicationResult]) -> str:
    header = ["REGISTRY", "REGION", "PROBE", "RESULT", "REASON", "TOTAL", *[p.upper() for p in PHASES], "DETAIL"]
    rows = [header]
    for r in results:
        rows.append([r.registry, r.region, r.probe, "ok" if r.ok else "FAIL", r.reason or "-", _ms(r.duration),
                     *[_ms(r.phases.get(p)) if p in r.phases else "-" for p in PHASES], r.message[:80]])
    for r in repl:
        rows.append([f"{r.source}->{r.destination}", "-", "replication", "ok" if r.outcome == "ok" else "FAIL",
                     r.reason or "-", _ms(r.lag), *["-"] * len(PHASES), r.message[:80]])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in rows]
    return "\n".join(line.rstrip() for line in lines)
