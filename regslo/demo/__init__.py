"""``regslo demo``: the whole stack on 127.0.0.1 until Ctrl-C; see docs/demo.md.

Two registry regions (``docker-registry``), a replicator between them, regslo on the embedded demo config,
Prometheus with the rules ``regslo generate`` wrote, Alertmanager and a webhook pager that prints pages.
Type ``break us`` (or pass ``--break us``) to take a region down and watch the page arrive.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from regslo.commands.common import add_logging_arguments, setup_logging

DEFAULTS_HELP = "ports: registries 5001,5002, replicator 5003, regslo 9745, prometheus 9090, " \
                "alertmanager 9093, webhook receiver 9097"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = f"{parser.description}. Default {DEFAULTS_HELP}; all on 127.0.0.1."
    parser.add_argument("-c", "--config", metavar="FILE",
                        help="regslo config to run instead of the embedded demo config (registry URLs and "
                             "server.listen_address are replaced by the demo's ports)")
    parser.add_argument("--workdir", metavar="DIR",
                        help="keep configs, logs and data here (default: a temporary directory, removed on exit)")
    parser.add_argument("--port-offset", type=int, default=0, metavar="N", help="add N to every default port")
    parser.add_argument("--registry-ports", metavar="P1,P2", help="ports of the registries, in config order")
    for name in ("replicator", "regslo", "prometheus", "alertmanager", "receiver"):
        parser.add_argument(f"--{name}-port", type=int, metavar="PORT")
    parser.add_argument("--break", dest="break_region", metavar="REGION",
                        help="break this region (e.g. us) after --break-after seconds")
    parser.add_argument("--break-after", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--break-mode", choices=("stop", "freeze"), default="stop",
                        help="stop: the registry process exits (connection refused); freeze: SIGSTOP (timeouts)")
    parser.add_argument("--fix-after", type=float, metavar="SECONDS",
                        help="bring the broken region back this many seconds after breaking it")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop by itself after this long")
    add_logging_arguments(parser, default_level="error")


def _ports(args: argparse.Namespace):
    from regslo.demo.stack import Ports

    ports = Ports().offset(args.port_offset)
    if args.registry_ports:
        ports.registries = tuple(int(p) for p in args.registry_ports.split(","))
    for name in ("replicator", "regslo", "prometheus", "alertmanager", "receiver"):
        value = getattr(args, f"{name}_port")
        if value:
            setattr(ports, name, value)
    return ports


def main(args: argparse.Namespace) -> int:
    from regslo.config import ConfigError
    from regslo.demo.console import Console
    from regslo.demo.procs import PortTaken
    from regslo.demo.stack import Stack

    setup_logging(args.log_level, args.log_format)
    temporary = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="regslo-demo-"))
    config = yaml.safe_load(Path(args.config).read_text()) if args.config else None
    stack = Stack(workdir, _ports(args), config=config, echo=lambda s: print(s, flush=True))
    stop = threading.Event()
    started = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()
        if not started.is_set():
            raise KeyboardInterrupt  # abort start-up; Stack.start stops what already runs

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    print(f"regslo demo: starting in {workdir} ...", flush=True)
    console = None
    try:
        try:
            stack.start()
        except PortTaken as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except ConfigError as exc:
            for line in exc.problems:
                print(f"error: {line}", file=sys.stderr)
            return 2
        except (RuntimeError, ValueError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        started.set()
        if args.break_region and args.break_region not in stack.regions:
            print(f"error: --break {args.break_region}: no such region (regions: {', '.join(stack.regions)})",
                  file=sys.stderr)
            return 2
        _print_banner(stack)
        interval = stack.service.config.probes.interval
        console = Console(stack, interval)
        console.commands["quit"] = lambda _: stop.set()
        console.start(sys.stdin if sys.stdin and sys.stdin.isatty() else None)
        _run(stack, console, stop, args)
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda *_: None)  # stopping is bounded; a second Ctrl-C must not cut it short
        print("regslo demo: stopping ...", flush=True)
        if console is not None:
            console.stop()
        stack.stop()
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
        print("regslo demo: stopped", flush=True)


def _print_banner(stack) -> None:
    print("regslo demo is running:", flush=True)
    for what, url in stack.urls().items():
        print(f"  {what:<22} {url}", flush=True)
    missing = [k for k in ("logs", "slos", "rules") if not stack.features.get(k)]
    if missing:
        print(f"  (not in this build: {', '.join(missing)})", flush=True)
    regions = ", ".join(stack.regions)
    print(f"type `break REGION` ({regions}), `fix REGION`, `help`; Ctrl-C stops everything. "
          f"Pages print as they arrive.", flush=True)


def _run(stack, console, stop: threading.Event, args: argparse.Namespace) -> None:
    t0 = time.monotonic()
    broken_at = None
    while not stop.wait(0.5):
        now = time.monotonic() - t0
        if args.break_region and broken_at is None and now >= args.break_after:
            console.write(f"--break: {stack.break_region(args.break_region, args.break_mode)}")
            broken_at = now
        if broken_at is not None and args.fix_after is not None and now >= broken_at + args.fix_after:
            console.write(f"--fix-after: {stack.fix_region(args.break_region)}")
            args.fix_after = None
        if args.duration is not None and now >= args.duration:
            return
    logging.getLogger("regslo.demo").info("stop requested")
