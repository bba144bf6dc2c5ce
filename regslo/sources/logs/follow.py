"""A small stand-alone log tailer: ``python -m regslo.sources.logs.follow -c CONFIG --listen 127.0.0.1:PORT``.

Runs only the ``logs:`` section of a config (no probes) and serves ``GET /metrics`` and
``POST /notifications/<registry>`` on one loopback address. Used by the restart tests and handy for
trying a logs config; ``regslo run`` embeds the same LogService.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from prometheus_client import CollectorRegistry

from regslo.commands.common import load_or_exit
from regslo.outputs.server import ExporterServer, parse_listen_address
from regslo.sources.logs.route import route_notifications
from regslo.sources.logs.service import LogService


def serve(service: LogService, registry: CollectorRegistry, address: str) -> ExporterServer:
    """``GET /metrics`` and ``POST /notifications/<registry>`` on the exporter's hardened server, started."""
    server = ExporterServer(registry, address)
    route_notifications(server, lambda: service)
    server.start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m regslo.sources.logs.follow", description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True, metavar="FILE")
    parser.add_argument("--listen", default="127.0.0.1:9746", metavar="HOST:PORT")
    args = parser.parse_args(argv)
    config = load_or_exit(args.config, check_secrets=False)
    if config.logs is None:
        print("error: logs: the config has no logs section", file=sys.stderr)
        return 2
    try:
        parse_listen_address(args.listen)
    except ValueError as exc:
        print(f"error: --listen: {exc}", file=sys.stderr)
        return 2
    registry = CollectorRegistry()
    service = LogService(config.logs, registry)
    try:
        server = serve(service, registry, args.listen)
    except OSError as exc:
        print(f"error: --listen: cannot listen on {args.listen}: {exc.strerror}", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    service.start()
    print(f"following logs; metrics on http://{args.listen}/metrics", file=sys.stderr, flush=True)
    done.wait()
    server.stop()
    service.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
