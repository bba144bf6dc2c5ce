"""Wall-clock deadlines for every socket operation of a probe, whatever the server does.

httpx timeouts bound each socket operation, not a request: a server sending one byte a second resets the
read timeout with every byte and never times out. Here a probe's deadline (a ``time.monotonic()`` value)
is put into a thread-local for the duration of a call (``scope``), and the network layer under httpx
(``DeadlineBackend``, installed into a client by ``install``) cuts the timeout of every connect, TLS
handshake, read and write to the time left -- and fails at once when none is left. One socket operation
is a single ``recv``/``send``/``connect`` or a whole TLS handshake (CPython bounds a handshake by its
timeout as a total), so no request outlives its deadline by more than scheduling noise. Token requests
made by the auth flow run in the caller's thread and inherit its deadline.

``regslo.oci.download`` reads through ``http.client`` (whose buffered reads loop over several ``recv``
calls); it uses ``alarm``: at the deadline the socket is shut down, which ends any read or write blocked
on it.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import httpcore
import httpx

__all__ = ["DeadlineBackend", "alarm", "current", "install", "scope"]

_local = threading.local()
WRITE_SLICE = 64 * 1024  # a write is sent in slices, each with the time left


def current() -> float | None:
    """The deadline of the calling thread's current scope, or None."""
    return getattr(_local, "deadline", None)


@contextmanager
def scope(deadline: float | None) -> Iterator[float | None]:
    """Bound every socket operation of this thread by ``deadline`` (nested scopes keep the earlier one)."""
    previous = current()
    effective = deadline if previous is None else previous if deadline is None else min(previous, deadline)
    _local.deadline = effective
    try:
        yield effective
    finally:
        _local.deadline = previous


def _cut(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = current()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("probe deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        for start in range(0, len(view), WRITE_SLICE):
            self._inner.write(bytes(view[start:start + WRITE_SLICE]), _cut(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _cut(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend with every operation cut to the calling thread's deadline."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None):
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_tcp(host, port, _cut(timeout, httpcore.ConnectTimeout), local_address,
                                               socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _cut(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(client: httpx.Client) -> httpx.Client:
    """Put ``DeadlineBackend`` under every httpx transport of ``client`` (the direct one and any proxy mounts
    from the environment). Transports that are not httpx's own (test doubles) are left alone."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        if not isinstance(transport, httpx.HTTPTransport):
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:  # an httpx/httpcore layout this code does not know: refuse to run unbounded
            raise RuntimeError("regslo cannot install probe deadlines into this httpx version")
        if not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
    return client


class alarm:
    """``with alarm(deadline, sock) as a:`` shuts ``sock`` down at ``deadline`` (if still inside the block);
    ``a.fired`` tells afterwards whether it did. One timer thread per use: for long transfers only."""

    def __init__(self, deadline: float | None, sock: socket.socket | None = None,
                 action: Callable[[], None] | None = None):
        self.deadline = deadline
        self.fired = False
        self._sock = sock
        self._action = action
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._done = False

    def arm(self, sock: socket.socket) -> None:
        """Watch ``sock`` (the socket may be known only after connecting)."""
        with self._lock:
            self._sock = sock

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            sock, action = self._sock, self._action
        if action is not None:
            action()
        if sock is not None:
            try:  # the TCP level even for an SSLSocket: its own shutdown() would touch TLS state in use
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "alarm":
        if self.deadline is not None:
            self._timer = threading.Timer(max(0.0, self.deadline - time.monotonic()), self._fire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._done = True
        if self._timer is not None:
            self._timer.cancel()
