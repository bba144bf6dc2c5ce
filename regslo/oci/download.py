"""Fast, verified download of one large blob: stdlib ``http.client`` reading into reused buffers, sha256 in
a second thread.

Why not httpx for this: on a 256 MiB blob from a local registry, httpx/httpcore/h11 allocate a new bytes
object per socket read and copy it again in h11's receive buffer; that costs about as much as the transfer
itself (bench/pull_vs_curl.py: ~1.8x curl). ``HTTPResponse.readinto`` fills a preallocated buffer straight
from the socket, and hashlib releases the GIL, so receiving and hashing overlap on two cores.

Only the body transfer lives here. Authentication stays with httpx: the caller sends an httpx ``HEAD``
(the ``httpx.Auth`` flow runs: token cache, one re-auth on 401) without following redirects, and passes
the headers of the request the registry accepted. Then this module:

- sends ``GET`` to the same URL with those headers (``Accept-Encoding: identity``: the digest is over the
  stored bytes);
- follows redirects (301, 302, 303, 307, 308) with ``GET`` -- a pre-signed object-storage URL is signed for
  one method, so the ``Location`` of a ``GET`` must be fetched with ``GET`` -- and drops ``Authorization``
  once the target's origin (scheme, host, port) differs from the registry's, as httpx does;
- bounds every socket operation by the time left to ``deadline`` (and ``timeout``), and checks the deadline
  after each buffer;
- maps failures onto the same ``OCIError`` reasons as the httpx path.
"""

from __future__ import annotations

import hashlib
import http.client
import queue
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import httpx

from regslo.oci.errors import DigestMismatch, OCIError, classify, error_from_response, short_message

__all__ = ["Download", "download_blob", "ssl_context"]

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
BUFFER_SIZE = 4 * 1024 * 1024
BUFFERS = 3  # one being filled, up to two waiting for or in the hasher
ERROR_BODY_LIMIT = 64 * 1024
_NOT_FORWARDED = {"host", "connection", "content-length", "transfer-encoding", "accept-encoding", "keep-alive"}


@dataclass(frozen=True)
class Download:
    size: int  # bytes received (and hashed)
    url: str  # where the body came from, after redirects, without the query (a pre-signed URL's signature)
    redirects: int
    seconds: float  # from the first request to the last byte


def ssl_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    """The ``ssl.SSLContext`` matching a ``regslo.oci.tls.build_verify`` result (True: httpx's default trust)."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify:
        return httpx.create_ssl_context()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def download_blob(url: str, headers: Mapping[str, str] | Iterable[tuple[str, str]], digest: str, *,
                  context: ssl.SSLContext, timeout: float, deadline: float | None = None,
                  buffer_size: int = BUFFER_SIZE) -> Download:
    """GET ``url`` (following redirects), verify the body's sha256 against ``digest``; see the module doc."""
    if not digest.startswith("sha256:"):
        raise OCIError("client_error", f"unsupported digest algorithm in {digest[:20]}")
    items = headers.items() if isinstance(headers, Mapping) else headers
    sent = {k: v for k, v in items if k.lower() not in _NOT_FORWARDED}
    sent["Accept-Encoding"] = "identity"
    origin = _origin(url)
    started = time.perf_counter()
    try:
        for redirects in range(MAX_REDIRECTS + 1):
            if _origin(url) != origin:
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            conn, sock = _connect(url, context, _left(deadline, timeout))
            try:
                conn.request("GET", _target(url), headers=sent)
                resp = conn.getresponse()
                if resp.status in REDIRECTS:
                    location = resp.getheader("Location")
                    if not location:
                        raise OCIError("server_error", f"blob get: HTTP {resp.status} without Location header")
                    url = urljoin(url, location)
                    continue
                if resp.status != 200:
                    raise _status_error(resp)
                size, actual = _receive(resp, sock, deadline, timeout, buffer_size)
            finally:
                conn.close()
            if actual != digest:
                raise DigestMismatch(digest, actual)
            return Download(size=size, url=url.split("?", 1)[0], redirects=redirects,
                            seconds=time.perf_counter() - started)
    except OCIError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = classify(exc)
        if reason == "other" and isinstance(exc, http.client.HTTPException):
            reason = "connect"  # a response cut short or garbled: what httpx calls a protocol/read error
        raise OCIError(reason, f"blob get: {reason}: {short_message(exc, 160)}") from exc
    raise OCIError("other", f"blob get: more than {MAX_REDIRECTS} redirects")  # httpx: TooManyRedirects


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _left(deadline: float | None, timeout: float) -> float:
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise OCIError("timeout", "probe deadline passed during blob download")
    return min(timeout, left)


def _connect(url: str, context: ssl.SSLContext, timeout: float):
    parts = urlsplit(url)
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(parts.hostname, parts.port,
                                                                       timeout=timeout, context=context)
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    else:
        raise OCIError("client_error", f"blob get: cannot follow a redirect to a {parts.scheme or 'relative'} URL")
    conn.connect()
    return conn, conn.sock  # the response may take the socket over from conn (Connection: close)


def _status_error(resp: http.client.HTTPResponse) -> OCIError:
    body = resp.read(ERROR_BODY_LIMIT)
    headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in ("content-encoding", "content-length")]
    return error_from_response(httpx.Response(resp.status, headers=headers, content=body), "blob get")


def _receive(resp: http.client.HTTPResponse, sock, deadline: float | None, timeout: float,
             buffer_size: int) -> tuple[int, str]:
    """Read the body into a ring of buffers while a second thread hashes them; (size, "sha256:...")."""
    length = resp.getheader("Content-Length")
    expected = int(length) if length and not resp.chunked else None
    hasher = _RingHasher(BUFFERS, buffer_size)
    size = 0
    try:
        while True:
            buf = hasher.take()
            view = memoryview(buf)
            filled = 0
            while filled < buffer_size:
                sock.settimeout(_left(deadline, timeout))
                got = resp.readinto(view[filled:])
                if not got:
                    break
                filled += got
            view.release()
            hasher.give(buf, filled)
            size += filled
            if filled < buffer_size:  # end of body (readinto does not tell a short one: check the length)
                if expected is not None and size != expected:
                    raise OCIError("connect", f"blob get: connect: peer closed connection after {size} of "
                                              f"{expected} bytes")
                return size, "sha256:" + hasher.finish()
            if deadline is not None and time.monotonic() > deadline:
                raise OCIError("timeout", "probe deadline passed during blob download")
    finally:
        hasher.abort()


class _RingHasher:
    """sha256 over a fixed set of reused buffers: ``take()`` an empty one (waits while all are queued),
    ``give()`` it back filled; a thread hashes filled buffers in order and returns them to the free list."""

    def __init__(self, count: int, size: int):
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._full: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        for _ in range(count):
            self._free.put(bytearray(size))
        self._sha = hashlib.sha256()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="regslo-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._full.get()) is not None:
            buf, n = item
            if not self._stop:
                with memoryview(buf) as view:
                    self._sha.update(view[:n])
            self._free.put(buf)

    def take(self) -> bytearray:
        return self._free.get()

    def give(self, buf: bytearray, n: int) -> None:
        self._full.put((buf, n))

    def finish(self) -> str:
        """Wait for the queued buffers to be hashed; the hex digest of everything given."""
        self._full.put(None)
        self._thread.join()
        return self._sha.hexdigest()

    def abort(self) -> None:
        """Stop the thread without hashing what is still queued (after an error); a no-op after finish()."""
        if self._thread.is_alive():
            self._stop = True
            self._full.put(None)
            self._thread.join()
