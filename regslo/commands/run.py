"""``regslo run -c FILE``: probe on a schedule, tail logs, serve /metrics until SIGTERM or Ctrl-C."""

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
                        help="HOST:PORT to serve on (overrides server.listen_address; default :9745)")
    parser.add_argument("--instance", help="name this regslo in probe tags (default: probes.instance or hostname)")
    add_logging_arguments(parser)


def main(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    config = load_or_exit(args.config)
    from regslo.service import Service

    try:
        service = Service(config, listen_address=args.listen_address, instance=args.instance)
    except OSError as exc:
        print(f"error: cannot listen on {args.listen_address or config.server.listen_address}: {exc.strerror}",
              file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger("regslo").info("received %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service.start()
    stop.wait()
    service.stop()
    return 0
