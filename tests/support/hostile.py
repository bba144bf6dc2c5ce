"""A scriptable, misbehaving HTTP server on 127.0.0.1 for tests of what regslo does when a registry (or
anything answering in its name) is hostile.

A test registers replies per method and path, then points regslo at ``server.url``::

    srv = HostileServer().start()
    srv.route("GET", "/v2/", Reply(200, drip=1.0, body=b"x" * 100))      # one byte a second
    srv.route("GET", "/v2/", Reply(401, size=300 * 1024 * 1024))         # a 300 MB error body
    srv.route("POST", "/v2/r/blobs/uploads/", Reply(202, headers={"Location": "http://elsewhere/"}))
    srv.route("GET", "/token", lambda req: Reply(200, json={"token": "t"}))  # computed per request
    ...
    assert not any("authorization" in r.headers for r in srv.requests)

Paths match without the query string; a path ending in ``*`` is a prefix. Later routes win. Unrouted
requests get 404. Every request is recorded (method, path with query, headers with lower-case names, up to
1 MiB of body) before it is answered. ``stop()`` ends dripping replies and cuts open connections.
"""

from __future__ import annotations

import json as jsonlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Union
from urllib.parse import urlsplit

from tests.support.threaded_http import ConnectionSet, ThreadedServer, TrackedHandler

BODY_RECORD_LIMIT = 1024 * 1024
_FILL = b"x" * (1024 * 1024)


@dataclass
class Reply:
    """What to answer. ``body`` is sent at once unless ``chunks``/``drip``/``size`` say otherwise.

    - ``delay``: seconds to wait before the status line;
    - ``header_drip``: send status line and headers one byte every so many seconds (never finishing if
      ``headers_forever``: an endless header);
    - ``drip``: send the body one byte every so many seconds;
    - ``chunks``: body parts, with ``chunk_delay`` seconds after each;
    - ``size``: a generated body of this many bytes (``b"x"``), streamed in 1 MiB writes;
    - ``content_length``: None = the real length, False = no header (body ends when the connection
      closes), an int = send that value whatever the body is;
    - ``close``: close the connection after the reply (implied by ``content_length=False``);
    - ``json``: a body given as a JSON value (sets Content-Type).
    """

    status: int = 200
    headers: dict[str, str] | list[tuple[str, str]] = field(default_factory=dict)
    body: bytes = b""
    json: Any = None
    delay: float = 0.0
    header_drip: float | None = None
    headers_forever: bool = False
    drip: float | None = None
    chunks: list[bytes] | None = None
    chunk_delay: float = 0.0
    size: int | None = None
    content_length: Union[int, bool, None] = None
    close: bool = False


def redirect(location: str, status: int = 307, **headers: str) -> Reply:
    return Reply(status, headers={"Location": location, **headers})


@dataclass
class Received:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes

    @property
    def route(self) -> str:
        return urlsplit(self.path).path


Handler = Union[Reply, Callable[[Received], Reply]]


class HostileServer:
    def __init__(self, tls: tuple[Path, Path] | None = None, host: str = "127.0.0.1"):
        self.tls = tls
        self._routes: list[tuple[str, str, Handler]] = []
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._http = ThreadedServer(_handler_class(self), host=host, tls=tls, name="hostile-server")

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def route(self, method: str, path: str, handler: Handler) -> "HostileServer":
        with self._lock:
            self._routes.append((method.upper(), path, handler))
        return self

    def received(self, path: str | None = None, method: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if (path is None or r.route == path or
                                                 (path.endswith("*") and r.route.startswith(path[:-1])))
                    and (method is None or r.method == method.upper())]

    def authorizations(self) -> list[str]:
        """Every Authorization header this server received."""
        with self._lock:
            return [r.headers["authorization"] for r in self.requests if "authorization" in r.headers]

    def _find(self, method: str, path: str) -> Handler | None:
        with self._lock:
            routes = list(reversed(self._routes))
        for m, p, handler in routes:
            if m not in (method, "*"):
                continue
            if p == path or (p.endswith("*") and path.startswith(p[:-1])):
                return handler
        return None

    def start(self) -> "HostileServer":
        self._http.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._http.stop()

    def __enter__(self) -> "HostileServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _handler_class(server: HostileServer) -> type[TrackedHandler]:
    class _Handler(TrackedHandler):
        connections = ConnectionSet()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers: dict[str, str] = {}
            for name, value in self.headers.items():
                key = name.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            req = Received(self.command, self.path, headers, body[:BODY_RECORD_LIMIT])
            with server._lock:
                server.requests.append(req)
            handler = server._find(self.command, urlsplit(self.path).path)
            if handler is None:
                reply = Reply(404, json={"errors": [{"code": "NOT_FOUND", "message": "no route"}]})
            else:
                reply = handler(req) if callable(handler) else handler
            try:
                self._reply(reply)
            except OSError:  # the client went away, as clients under test do
                self.close_connection = True

        def _reply(self, reply: Reply) -> None:
            stop = server._stop
            if reply.delay and stop.wait(reply.delay):
                return
            body = reply.body
            items = list(reply.headers.items()) if isinstance(reply.headers, dict) else list(reply.headers)
            if reply.json is not None:
                body = jsonlib.dumps(reply.json).encode()
                if not any(k.lower() == "content-type" for k, _ in items):
                    items.append(("Content-Type", "application/json"))
            if reply.chunks is not None:
                total = sum(len(c) for c in reply.chunks)
            elif reply.size is not None:
                total = reply.size
            else:
                total = len(body)
            close = reply.close or reply.content_length is False
            if reply.content_length is None:
                items.append(("Content-Length", str(total)))
            elif reply.content_length is not False:
                items.append(("Content-Length", str(reply.content_length)))
            if close:
                items.append(("Connection", "close"))
                self.close_connection = True
            head = f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('x',))[0]}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in items)
            if reply.headers_forever:
                head += "X-Endless: "
            else:
                head += "\r\n"
            if reply.header_drip is not None:
                for byte in head.encode("latin-1"):
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if stop.wait(reply.header_drip):
                        return
                while reply.headers_forever and not stop.wait(reply.header_drip):
                    self.wfile.write(b"a")
                    self.wfile.flush()
                return self._close_if(reply.headers_forever)
            self.wfile.write(head.encode("latin-1"))
            if self.command == "HEAD":
                self.wfile.flush()
                return
            for part in _parts(reply, body):
                if stop.is_set():
                    self.close_connection = True
                    return
                self.wfile.write(part)
                self.wfile.flush()
                wait = reply.drip if reply.drip is not None else reply.chunk_delay if reply.chunks else 0
                if wait and stop.wait(wait):
                    self.close_connection = True
                    return

        def _close_if(self, cond: bool) -> None:
            if cond:
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return _Handler


def _parts(reply: Reply, body: bytes) -> Iterable[bytes]:
    if reply.chunks is not None:
        yield from reply.chunks
    elif reply.size is not None:
        left = reply.size
        while left > 0:
            n = min(left, len(_FILL))
            yield _FILL[:n]
            left -= n
    elif reply.drip is not None:
        for i in range(len(body)):
            yield body[i:i + 1]
    elif body:
        yield body


def basic_protected(reply: Handler) -> Callable[[Received], Reply]:
    """``reply`` for requests carrying any Basic credentials, a Basic challenge for the others."""
    def handle(req: Received) -> Reply:
        if not req.headers.get("authorization", "").startswith("Basic "):
            return Reply(401, headers={"WWW-Authenticate": 'Basic realm="hostile"'},
                         json={"errors": [{"code": "UNAUTHORIZED"}]})
        return reply(req) if callable(reply) else reply
    return handle


def bearer_protected(realm: str, reply: Handler, service: str = "hostile") -> Callable[[Received], Reply]:
    """``reply`` for requests carrying any Bearer token, a Bearer challenge pointing at ``realm`` otherwise."""
    def handle(req: Received) -> Reply:
        if not req.headers.get("authorization", "").startswith("Bearer "):
            return Reply(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="{service}"'},
                         json={"errors": [{"code": "UNAUTHORIZED"}]})
        return reply(req) if callable(reply) else reply
    return handle
