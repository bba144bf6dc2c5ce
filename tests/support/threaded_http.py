"""What the test HTTP servers (hostile.py, token_server.py) share: a threaded server on 127.0.0.1, with TLS
if asked, whose open connections are tracked so that ``stop()`` can cut keep-alive ones as a dying process
would, and a handler base that keeps pytest output clean."""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class ConnectionSet:
    """The sockets a server's handlers hold open right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()

    def add(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.add(conn)

    def discard(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)

    def cut(self) -> None:
        """Shut every open connection down (the handler threads then see EOF or a broken pipe)."""
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class TrackedHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive) handler that registers its connection in ``connections`` while it lives."""

    protocol_version = "HTTP/1.1"
    connections: ConnectionSet  # set by the subclass a server builds

    def setup(self) -> None:
        super().setup()
        self.connections.add(self.connection)

    def finish(self) -> None:
        self.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:  # the client (or stop()) already closed it
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients under test hang up mid-request by design: no tracebacks on stderr


class ThreadedServer:
    """``handler`` served on ``host:port`` (0: any free port) in a daemon thread, over TLS when ``tls`` is
    (cert, key)."""

    def __init__(self, handler: type[TrackedHandler], host: str = "127.0.0.1", port: int = 0,
                 tls: tuple[Path, Path] | None = None, name: str = "test-http-server"):
        self.connections = handler.connections
        self._server = _QuietServer((host, port), handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> "ThreadedServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, then cut the connections still open."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self.connections.cut()
