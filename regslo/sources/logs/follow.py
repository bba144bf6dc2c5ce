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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from regslo.commands.common import load_or_exit
from regslo.sources.logs.service import LogService


def serve(service: LogService, registry: CollectorRegistry, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                return self._reply(404, b"not found\n", "text/plain")
            self._reply(200, generate_latest(registry), CONTENT_TYPE_LATEST)

        def do_POST(self) -> None:
            prefix = "/notifications/"
            if not self.path.startswith(prefix):
                return self._reply(404, b"not found\n", "text/plain")
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return self._reply(400, b"bad Content-Length\n", "text/plain")
            if length > 8 * 1024 * 1024:
                return self._reply(413, b"envelope too large\n", "text/plain")
            body = self.rfile.read(length) if length > 0 else b""
            status, text = service.handle_notification(body, dict(self.headers.items()), self.path[len(prefix):])
            self._reply(status, text, "text/plain")

        def _reply(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="regslo-logs-http", daemon=True).start()
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
    host, _, port = args.listen.rpartition(":")
    if not port.isdigit():
        print(f"error: --listen: must be HOST:PORT, got {args.listen!r}", file=sys.stderr)
        return 2
    registry = CollectorRegistry()
    service = LogService(config.logs, registry)
    try:
        server = serve(service, registry, host or "127.0.0.1", int(port))
    except OSError as exc:
        print(f"error: --listen: cannot listen on {args.listen}: {exc.strerror}", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    service.start()
    print(f"following logs; metrics on http://{args.listen}/metrics", file=sys.stderr, flush=True)
    done.wait()
    server.shutdown()
    service.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
