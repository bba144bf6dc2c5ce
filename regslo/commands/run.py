"""``regslo run -c FILE``: probe on a schedule, tail logs, serve /metrics until SIGTERM or Ctrl-C; SIGHUP (and
``POST /-/reload`` with ``--web.enable-lifecycle``) reloads the config."""

from __future__ import annotations

import argparse
import logging
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
    wake = threading.Event()
    reload_requested = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger("regslo").info("received %s", signal.Signals(signum).name)
        stop.set()
        wake.set()

    def on_hup(_signum: int, _frame: object) -> None:
        reload_requested.set()
        wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hup)
    service.start()
    while not stop.is_set():
        wake.wait()
        wake.clear()
        if reload_requested.is_set() and not stop.is_set():
            reload_requested.clear()
            logging.getLogger("regslo").info("received SIGHUP: reloading %s", args.config)
            service.reload()
    service.stop()
    return 0
