"""``regslo run -c FILE``: probe on a schedule, tail logs, serve /metrics until SIGTERM or Ctrl-C; SIGHUP (and
``POST /-/reload`` with ``--web.enable-lifecycle``) reloads the config."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from regslo.commands.common import add_config_argument, add_logging_arguments, load_or_exit, setup_logging


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--web.listen-address", dest="listen_address", metavar="ADDR",
                        help="HOST:PORT or [IPv6]:PORT to serve on (overrides server.listen_address; default :9745)")
    parser.add_argument("--web.config.file", dest="web_config_file", metavar="FILE",
                        help="TLS and basic auth for regslo's port, in the Prometheus exporter-toolkit format")
    parser.add_argument("--web.enable-lifecycle", dest="enable_lifecycle", action="store_true",
                        help="serve POST /-/reload (reload the config, like SIGHUP)")
    parser.add_argument("--instance", help="name this regslo in probe tags (default: probes.instance or hostname)")
    add_logging_arguments(parser)


def main(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    # taken before anything slow: a SIGHUP while the config is read and the stages are built becomes one
    # reload once running, instead of the default action (exit 129)
    reload_requested = threading.Event()
    signal.signal(signal.SIGHUP, lambda _signum, _frame: reload_requested.set())
    config = load_or_exit(args.config)
    from regslo.config import ConfigError
    from regslo.outputs.server import parse_listen_address
    from regslo.outputs.webconfig import load_web_config
    from regslo.service import Service

    address = args.listen_address or config.server.listen_address
    if args.listen_address is not None:
        try:
            parse_listen_address(args.listen_address)
        except ValueError as exc:
            print(f"error: --web.listen-address: {exc}", file=sys.stderr)
            return 2
    web = None
    if args.web_config_file:
        try:
            web = load_web_config(args.web_config_file)
        except ConfigError as exc:
            for line in exc.problems:
                print(f"error: {line}", file=sys.stderr)
            return 2
    try:
        service = Service(config, listen_address=address, instance=args.instance, web_config=web,
                          enable_lifecycle=args.enable_lifecycle)
    except OSError as exc:
        print(f"error: cannot listen on {address}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    handle_stop_signals(stop, budget=config.probes.timeout + STOP_SLACK)
    service.start()
    while not stop.is_set():  # SIGHUP: reload here, in the main thread (never inside the signal handler)
        if reload_requested.wait(0.5) and not stop.is_set():
            reload_requested.clear()
            logging.getLogger("regslo").info("received SIGHUP: reloading %s", args.config)
            service.reload()
    service.stop()
    return 0


STOP_SLACK = 4.5  # seconds beyond probes.timeout that stopping may take (the promise: timeout + 5 s)


def handle_stop_signals(stop: threading.Event, budget: float) -> None:
    """SIGTERM/SIGINT set ``stop``: the service stops its probes (bounded by their timeout), deletes what
    they pushed and exits. A second signal exits at once (128 + signal number), skipping all of that. If
    stopping takes longer than ``budget`` seconds anyway, the process exits with status 1 and says so."""
    log = logging.getLogger("regslo")

    def force_exit(why: str, code: int) -> None:
        os.write(2, f"regslo: {why}\n".encode())
        os._exit(code)

    def on_signal(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            force_exit(f"received {name} again: exiting now, without waiting for probes or deleting their "
                       "images", 128 + signum)
        log.info("received %s; stopping (send it again to exit at once)", name)
        stop.set()
        timer = threading.Timer(budget, force_exit, args=(f"stopping took more than {budget:g}s: exiting "
                                                          "without finishing cleanup", 1))
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
