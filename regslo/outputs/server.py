"""The exporter's HTTP server: /metrics, /-/healthy, /-/ready, and routes other stages register.

A ThreadingHTTPServer from the standard library is enough: Prometheus scrapes a few times a minute and the
notification webhook must answer fast, which a thread per request does. Stages add routes with ``route()``
(the log tailer's webhook, the status page) without this module knowing them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

log = logging.getLogger("regslo.server")
MAX_BODY = 8 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


def parse_listen_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class ExporterServer:
    def __init__(self, registry: CollectorRegistry, listen_address: str, ready: Callable[[], bool] = lambda: True):
        self.registry = registry
        self.ready = ready
        self._routes: list[tuple[str, str, bool, Handler]] = []
        host, port = parse_listen_address(listen_address)
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "regslo"

            def handle(self) -> None:
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):
                    pass  # a keep-alive client went away (a stopped registry's notifier): no traceback

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                server._dispatch(self, "GET")

            def do_HEAD(self) -> None:  # noqa: N802
                server._dispatch(self, "HEAD")

            def do_POST(self) -> None:  # noqa: N802
                server._dispatch(self, "POST")

            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("%s " + fmt, self.address_string(), *args)

        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.route("GET", "/metrics", self._metrics)
        self.route("GET", "/-/healthy", lambda r: Response(200, b"Healthy.\n"))
        self.route("GET", "/-/ready", self._ready)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def route(self, method: str, path: str, handler: Handler, prefix: bool = False) -> None:
        """Serve ``handler`` for ``method path`` (or every path under it when ``prefix``)."""
        self._routes.append((method, path, prefix, handler))

    def _metrics(self, request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(200, encoder(self.registry), content_type)

    def _ready(self, request: Request) -> Response:
        if self.ready():
            return Response(200, b"Ready.\n")
        return Response(503, b"Not ready: probes are starting.\n")

    def _find(self, method: str, path: str) -> Handler | None:
        lookup = "GET" if method == "HEAD" else method
        for m, p, prefix, handler in self._routes:
            if m == lookup and (path == p or (prefix and path.startswith(p.rstrip("/") + "/"))):
                return handler
        return None

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        handler = self._find(method, url.path)
        headers = {k.lower(): v for k, v in h.headers.items()}
        body = b""
        if method == "POST":
            length = int(headers.get("content-length") or 0)
            if length > MAX_BODY:
                self._send(h, Response(413, b"body too large\n"), method)
                return
            body = h.rfile.read(length) if length else b""
        if handler is None:
            allowed = [m for m, p, prefix, _ in self._routes if p == url.path]
            resp = Response(405, b"method not allowed\n") if allowed else Response(404, b"not found\n")
        else:
            try:
                resp = handler(Request(method, url.path, url.query, headers, body))
            except Exception:  # noqa: BLE001 - a broken page must not take the exporter down
                log.exception("handler for %s %s failed", method, url.path)
                resp = Response(500, b"internal error\n")
        self._send(h, resp, method)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, resp: Response, method: str) -> None:
        try:
            h.send_response(resp.status)
            h.send_header("Content-Type", resp.content_type)
            h.send_header("Content-Length", str(len(resp.body)))
            for k, v in resp.headers.items():
                h.send_header(k, v)
            h.end_headers()
            if method != "HEAD":
                h.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="regslo-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
