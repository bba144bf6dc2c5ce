"""The exporter's HTTP server: /metrics, /-/healthy, /-/ready, and routes other stages register.

Anyone who can reach the port can talk to it, so it is built to stay up against clients that misbehave:

- one asyncio event loop reads every connection; a connection waiting for its request head or body costs a
  socket and a buffer, never a thread. Handlers run in a small fixed pool of worker threads, so the thread
  count does not grow with the number of clients;
- every read has a wall-clock deadline: the TLS handshake must end within ``head_timeout`` of the
  connection, the request head within ``head_timeout`` of its first byte (a client trickling one byte a
  second is cut off), the body within ``body_timeout``, and a keep-alive connection idle for
  ``idle_timeout`` is closed;
- at most ``max_connections`` connections are open, counted from accept (before any TLS handshake); a new one beyond that replaces the oldest connection
  that is waiting on its client (for a complete request, or to read its answer), so a flood of half-sent
  requests or of clients that never read cannot lock out the scraper; it is answered 503 when every
  connection is busy in a handler;
- request framing is strict: ``Content-Length`` must be decimal digits and within the route's limit (else
  400/413, and the body is never read), ``Transfer-Encoding`` is refused (411), a bare LF, CR or other
  control character inside a header field is a 400 (no second reading of the head), heads are at most
  ``max_head_bytes`` with at most ``MAX_HEADERS`` fields (else 431);
- request bodies being read or handled take at most ``max_body_bytes_in_flight`` together (else 503 before
  the body is read), so a crowd of connections each sending most of a 4 MiB body and stopping cannot take
  gigabytes.

Stages add routes with ``route()`` (the log tailer's webhook, the status page) without this module knowing
them. TLS and basic authentication come from a ``WebConfig`` (regslo.outputs.webconfig).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

log = logging.getLogger("regslo.server")
MAX_BODY = 8 * 1024 * 1024  # the largest body any route may accept
MAX_HEADERS = 100
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DIGITS = re.compile(r"^[0-9]{1,18}$")
_FIELD_VALUE_BAD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # control characters other than HTAB
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""
    user: str | None = None  # the basic-auth user, when the web config asks for one


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Limits:
    head_timeout: float = 10.0  # from the first byte of a request to the end of its head
    body_timeout: float = 30.0  # to receive the whole body
    idle_timeout: float = 75.0  # between requests on a keep-alive connection (and before the first)
    write_timeout: float = 30.0  # to hand a response to a client that does not read
    max_connections: int = 512
    max_head_bytes: int = 32 * 1024
    max_body_bytes_in_flight: int = 64 * 1024 * 1024  # all request bodies being read or handled, together
    workers: int = 8


@dataclass
class _Route:
    method: str
    path: str
    prefix: bool
    handler: Handler
    max_body: int
    precheck: Callable[[Request], Response | None] | None = None
    authenticator: Callable[[Request], bool] | None = None


def parse_listen_address(address: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``[IPv6]:PORT`` -> (host, port); host "" means every address.

    Raises ``ValueError`` with a message fit for one line of an error.
    """
    if not isinstance(address, str) or ":" not in address:
        raise ValueError(f"must be HOST:PORT, :PORT or [IPv6]:PORT, got {address!r}")
    host, _, port = address.rpartition(":")
    if not _DIGITS.match(port) or int(port) > 65535:
        raise ValueError(f"port must be a number from 0 to 65535, got {address!r}")
    if host.startswith("[") or host.endswith("]"):
        inner = host[1:-1] if host.startswith("[") and host.endswith("]") else None
        if not inner or not _is_ipv6(inner):
            raise ValueError(f"{host!r} is not a bracketed IPv6 address, in {address!r}")
        return inner, int(port)
    if ":" in host:
        raise ValueError(f"an IPv6 address needs brackets, like [::1]:{port}; got {address!r}")
    if host and not _HOST.match(host):
        raise ValueError(f"{host!r} is not a host name or IPv4 address, in {address!r}")
    return host, int(port)


def _is_ipv6(text: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6, text)
        return True
    except (OSError, ValueError):
        return False


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket; "" listens on every IPv4 and IPv6 address where the machine has both."""
    if not host:
        if socket.has_dualstack_ipv6():
            try:
                return socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True, backlog=512)
            except OSError:
                pass
        return socket.create_server(("0.0.0.0", port), backlog=512)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, _, _, _, addr = infos[0]
    return socket.create_server(addr[:2], family=family, backlog=512)


STOP_GRACE = 5.0  # seconds stop() waits for cancelled connections to unwind before the loop closes


def _finish_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel whatever still runs on the stopping loop and let it unwind, so that no task is destroyed pending
    (and no ``finally`` of one later runs against the closed loop)."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=STOP_GRACE))


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Conn:
    """One client connection: its transport, and whether it is waiting for a request (can be evicted)."""

    __slots__ = ("writer", "waiting_since", "task")

    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer
        self.waiting_since: float | None = time.monotonic()
        self.task: asyncio.Task | None = None


class ExporterServer:
    def __init__(self, registry: CollectorRegistry, listen_address: str, ready: Callable[[], bool] = lambda: True,
                 web_config: Any = None, limits: Limits | None = None):
        self.registry = registry
        self.ready = ready
        self.web = web_config  # regslo.outputs.webconfig.WebConfig or None
        self.limits = limits or Limits()
        self._routes: list[_Route] = []
        host, port = parse_listen_address(listen_address)
        self._sock = _bind(host, port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(self.limits.workers, thread_name_prefix="regslo-http")
        self._auth_pool = ThreadPoolExecutor(2, thread_name_prefix="regslo-auth")
        self._conns: dict[int, _Conn] = {}
        self._body_bytes = 0  # bytes of request bodies being read or handled (only the loop thread counts)
        self._server: asyncio.base_events.Server | None = None
        self.route("GET", "/metrics", self._metrics)
        self.route("GET", "/-/healthy", lambda r: Response(200, b"Healthy.\n"))
        self.route("GET", "/-/ready", self._ready)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return host, port

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def scheme(self) -> str:
        return "https" if self.web is not None and self.web.ssl_context is not None else "http"

    def route(self, method: str, path: str, handler: Handler, prefix: bool = False, max_body: int = 0,
              precheck: Callable[[Request], Response | None] | None = None,
              authenticator: Callable[[Request], bool] | None = None) -> None:
        """Serve ``handler`` for ``method path`` (or every path under it when ``prefix``), accepting request
        bodies of up to ``max_body`` bytes. ``precheck`` sees the request before its body is read (body
        empty) and may answer instead (authentication). A request ``authenticator`` accepts needs no basic
        auth (the webhook's own bearer token: a registry can send one Authorization header, not two).
        Routing the same method and path again replaces it."""
        new = _Route(method, path, prefix, handler, min(max_body, MAX_BODY), precheck, authenticator)
        self._routes = [r for r in self._routes if (r.method, r.path, r.prefix) != (method, path, prefix)] + [new]

    # -- built-in routes --------------------------------------------------------------------------------
    def _metrics(self, request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        body = encoder(self.registry)
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            return Response(200, gzip.compress(body, compresslevel=6), content_type,
                            {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(200, body, content_type, {"Vary": "Accept-Encoding"})

    def _ready(self, request: Request) -> Response:
        if self.ready():
            return Response(200, b"Ready.\n")
        return Response(503, b"Not ready: probes are starting.\n")

    def _find(self, method: str, path: str) -> _Route | None:
        lookup = "GET" if method == "HEAD" else method
        for r in self._routes:
            if r.method == lookup and (path == r.path or (r.prefix and path.startswith(r.path.rstrip("/") + "/"))):
                return r
        return None

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), name="regslo-http-loop", daemon=True)
        self._thread.start()
        started.wait(10)

    def _serve(self, started: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def main() -> None:
            # TLS is started per connection in _accept, after the connection is counted: a client that opens
            # a socket and never sends its ClientHello takes a place under max_connections (and can be
            # evicted) like any other half-sent request, instead of escaping the cap until its handshake
            # times out.
            self._server = await asyncio.start_server(self._accept, sock=self._sock,
                                                      limit=self.limits.max_head_bytes)
            started.set()

        loop.run_until_complete(main())
        try:
            loop.run_forever()
        finally:
            try:
                _finish_tasks(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and self._thread is not None:
            async def shutdown() -> None:
                if self._server is not None:
                    self._server.close()
                tasks = []
                for conn in list(self._conns.values()):
                    conn.writer.transport.abort()
                    if conn.task is not None:
                        conn.task.cancel()
                        tasks.append(conn.task)
                # a cancelled task unwinds over several loop turns (asyncio.wait_for waits for its inner
                # read to be cancelled first); closing the loop before they are done destroys them pending
                if tasks:
                    await asyncio.wait(tasks, timeout=STOP_GRACE)
                loop.stop()

            asyncio.run_coroutine_threadsafe(shutdown(), loop)
            self._thread.join(10)
            self._thread = None
        else:
            self._sock.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._auth_pool.shutdown(wait=False, cancel_futures=True)

    # -- connections ------------------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._conns) >= self.limits.max_connections and not self._evict_one():
            if self.web is None or self.web.ssl_context is None:  # a TLS client could not read a plain 503
                writer.write(_raw_response(503, b"too many connections\n", close=True))
            writer.close()
            return
        conn = _Conn(writer)
        conn.task = asyncio.current_task()
        self._conns[id(conn)] = conn
        try:
            ctx = self.web.ssl_context if self.web is not None else None
            if ctx is not None and not await self._start_tls(writer, ctx):
                return
            await self._serve_connection(reader, writer, conn)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError, asyncio.TimeoutError,
                ssl.SSLError, OSError):
            pass
        except Exception:  # noqa: BLE001 - one client must never take the loop down
            log.exception("HTTP connection failed")
        finally:
            self._conns.pop(id(conn), None)
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def _start_tls(self, writer: asyncio.StreamWriter, ctx: ssl.SSLContext) -> bool:
        """The TLS handshake, within ``head_timeout``; False if it failed or the connection went away.

        Nothing may be awaited in ``_accept`` before this: the client's first bytes must reach the TLS layer."""
        raw = writer.transport
        try:
            # awaited directly (asyncio.wait_for would run it in a task of its own, one loop turn later, by
            # when the ClientHello may already sit in the plain-text reader); the handshake timeout is a
            # wall-clock bound of its own
            await writer.start_tls(ctx, ssl_handshake_timeout=self.limits.head_timeout)
        except AttributeError:
            # asyncio (3.11) hands back no transport when the connection is lost mid-handshake (evicted to make
            # room, or closed by the client) and trips over it; give the writer its socket transport back so
            # that closing it (and its __del__) does not trip too
            writer._transport = raw  # noqa: SLF001
            raw.abort()
            return False
        return True

    def _evict_one(self) -> bool:
        """Close the connection that has waited longest without sending a complete request."""
        waiting = [c for c in self._conns.values() if c.waiting_since is not None]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda c: c.waiting_since)
        self._conns.pop(id(oldest), None)
        oldest.writer.transport.abort()
        return True

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                                conn: _Conn) -> None:
        lim = self.limits
        extra = dict(self.web.headers) if self.web is not None else {}
        wait = lim.head_timeout  # a new connection must start its request at once; later ones may idle
        while True:
            conn.waiting_since = time.monotonic()
            try:
                first = await asyncio.wait_for(reader.readexactly(1), wait)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError):
                return
            try:
                try:
                    rest = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), lim.head_timeout)
                except asyncio.TimeoutError:
                    await self._reply(writer, _raw_response(408, b"request head not received in time\n", extra,
                                                            close=True))
                    return
                except asyncio.LimitOverrunError:
                    raise _BadRequest(431, "request head too large") from None
                except asyncio.IncompleteReadError:
                    return
                method, target, version, headers = _parse_head(first + rest)
            except _BadRequest as exc:
                await self._reply(writer, _raw_response(exc.status, f"{exc}\n".encode(), extra, close=True))
                return
            keep_alive = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
            resp, body_read = await self._handle(reader, writer, conn, method, target, headers)
            close = not keep_alive or not body_read or resp.status in (408, 431)
            # waiting for the client to read its answer is waiting too: a client that never reads must not
            # hold a place the eviction cannot take back (for write_timeout, and again with its next request)
            conn.waiting_since = time.monotonic()
            await self._reply(writer, _render(resp, method, close, extra))
            if close:
                return
            wait = lim.idle_timeout

    async def _reply(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        try:
            await asyncio.wait_for(writer.drain(), self.limits.write_timeout)
        except asyncio.TimeoutError:
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: _Conn, method: str,
                      target: str, headers: dict[str, str]) -> tuple[Response, bool]:
        """The response to one request, and whether its body was consumed (else the connection must close)."""
        url = urlsplit(target)
        path = url.path
        if "transfer-encoding" in headers:
            return Response(411, b"Transfer-Encoding is not supported; send a Content-Length\n"), False
        raw_length = headers.get("content-length", "0")
        if not _DIGITS.match(raw_length):
            return Response(400, b"Content-Length must be decimal digits\n"), False
        length = int(raw_length)
        route = self._find(method, path)
        head_only = Request(method, path, url.query, headers, b"")
        loop = asyncio.get_running_loop()
        user = None
        if self.web is not None and self.web.users:
            own = route is not None and route.authenticator is not None and \
                await loop.run_in_executor(self._pool, _safe_check, route.authenticator, head_only)
            if not own:
                user = await self._authenticate(headers.get("authorization", ""))
                if user is None:  # before 404/405: unauthenticated clients learn nothing about routes
                    return Response(401, b"unauthorized\n", headers={"WWW-Authenticate": 'Basic realm="regslo"'}), \
                        length == 0
        if route is None:
            allowed = any(r.path == path for r in self._routes)
            resp = Response(405, b"method not allowed\n") if allowed else Response(404, b"not found\n")
            return resp, length == 0
        if length > route.max_body:
            return Response(413, b"request body too large\n"), length == 0
        if route.precheck is not None:
            head_only.user = user
            early = await loop.run_in_executor(self._pool, self._call, route.precheck, head_only)
            if early is not None:
                return early, length == 0
        if self._body_bytes + length > self.limits.max_body_bytes_in_flight:
            # every connection may hold a body up to its route's limit until its handler is done; together
            # they must not (512 connections x 4 MiB webhook bodies would be 2 GiB)
            return Response(503, b"too many request bodies in flight; retry\n", headers={"Retry-After": "1"}), \
                length == 0
        self._body_bytes += length
        try:
            body = b""
            if length:
                if headers.get("expect", "").lower() == "100-continue":
                    await self._reply(writer, b"HTTP/1.1 100 Continue\r\n\r\n")
                try:
                    body = await asyncio.wait_for(reader.readexactly(length), self.limits.body_timeout)
                except asyncio.TimeoutError:
                    return Response(408, b"request body not received in time\n"), False
            conn.waiting_since = None  # a complete request: no longer the first to go when connections run out
            request = Request(method, path, url.query, headers, body, user)
            return await loop.run_in_executor(self._pool, self._call, route.handler, request), True
        finally:
            self._body_bytes -= length

    async def _authenticate(self, authorization: str) -> str | None:
        """Known-good credentials are recognised on the loop (a sha256); others cost a bcrypt check in a
        pool of their own, so a flood of wrong passwords cannot starve /metrics of worker threads."""
        user = self.web.cached_user(authorization)
        if user is not None or not authorization:
            return user
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._auth_pool, self.web.check_basic_auth, authorization)

    @staticmethod
    def _call(handler: Handler, request: Request) -> Response:
        try:
            return handler(request)
        except RecursionError:
            log.warning("%s %s: request too deeply nested", request.method, request.path)
            return Response(400, b"request too deeply nested\n")
        except Exception:  # noqa: BLE001 - a broken page must not take the exporter down
            log.exception("handler for %s %s failed", request.method, request.path)
            return Response(500, b"internal error\n")



def _safe_check(check: Callable[[Request], bool], request: Request) -> bool:
    try:
        return bool(check(request))
    except Exception:  # noqa: BLE001 - a failing check authenticates nobody
        log.exception("authentication check for %s failed", request.path)
        return False


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head[:-4].split(b"\r\n")
    if _FIELD_VALUE_BAD.search(lines[0]):
        raise _BadRequest(400, "malformed request line")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1]:
        raise _BadRequest(400, "malformed request line")
    method, target, version = (p.decode("latin-1") for p in parts)
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _BadRequest(505 if version.startswith("HTTP/") else 400, "unsupported HTTP version")
    if not (target.startswith("/") or target == "*") or any(c in target for c in "\x00\r\n\t "):
        raise _BadRequest(400, "malformed request target")
    if len(lines) - 1 > MAX_HEADERS:
        raise _BadRequest(431, "too many header fields")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN.match(name):
            raise _BadRequest(400, "malformed header field")
        if _FIELD_VALUE_BAD.search(value):
            # a bare LF (or CR, NUL) inside a field: a proxy in front that splits lines on LF would see another
            # header (a Content-Length or Transfer-Encoding) where this parser sees none
            raise _BadRequest(400, "control character in a header field")
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if key in headers:
            if key in ("content-length", "host", "authorization", "transfer-encoding", "content-type"):
                raise _BadRequest(400, f"repeated {key} header")
            headers[key] += ", " + text
        else:
            headers[key] = text
    return method, target, version, headers


def accepts_gzip(accept_encoding: str) -> bool:
    """True if an Accept-Encoding value allows gzip: ``gzip`` (or ``x-gzip``) with a q-value above 0, or
    ``*`` above 0 when gzip is not named at all (RFC 9110 12.5.3: ``gzip;q=0, *`` refuses gzip)."""
    named: bool | None = None
    star = False
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        ok = _q_above_zero(params)
        if coding == "*":
            star = star or ok
        else:
            named = bool(named) or ok
    return named if named is not None else star


def _q_above_zero(params: str) -> bool:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip() == "q":
            try:
                return float(value.strip()) > 0
            except ValueError:
                return False
    return True


def _render(resp: Response, method: str, close: bool, extra: dict[str, str] | None = None) -> bytes:
    headers = {**extra, **resp.headers} if extra else resp.headers
    return _raw_response(resp.status, resp.body, headers, close, resp.content_type, head=method == "HEAD")


def _raw_response(status: int, body: bytes, headers: dict[str, str] | None = None, close: bool = False,
                  content_type: str = "text/plain; charset=utf-8", head: bool = False) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Status"
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
             "Server: regslo"]
    for k, v in (headers or {}).items():
        if "\r" in k or "\n" in k or "\r" in str(v) or "\n" in str(v):
            continue  # never let a value split the response
        lines.append(f"{k}: {v}")
    if close:
        lines.append("Connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return data if head else data + body
