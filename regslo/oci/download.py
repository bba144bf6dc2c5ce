"""Fast, verified download of one large blob: stdlib ``http.client`` reading into one reused buffer,
hashed in place.

Why not httpx for this: on a 256 MiB blob from a local registry, httpx/httpcore/h11 allocate a new bytes
object per socket read and copy it again in h11's receive buffer; that costs about as much as the transfer
itself (bench/pull_vs_curl.py). ``HTTPResponse.readinto`` fills a preallocated 1 MiB buffer straight from
the socket (without hashing, that alone is as fast as ``curl -o /dev/null``), and sha256 runs over it while
it is still in cache. The kernel keeps receiving into the socket buffer meanwhile. Hashing in a second
thread over a ring of buffers was measured too: no faster on two cores (the registry, the reader and the
hasher then compete for them), slower on a busy machine, and more code.

Only the body transfer lives here. Authentication stays with httpx: the caller sends an httpx ``HEAD``
(the ``httpx.Auth`` flow runs: token cache, one re-auth on 401) without following redirects, and passes
the headers of the request the registry accepted. Then this module:

- sends ``GET`` to the same URL with those headers (``Accept-Encoding: identity``: the digest is over the
  stored bytes);
- follows redirects (301, 302, 303, 307, 308) with ``GET`` -- a pre-signed object-storage URL is signed for
  one method, so the ``Location`` of a ``GET`` must be fetched with ``GET`` -- and drops ``Authorization``
  once the target's origin (scheme, host, port) differs from the registry's, as httpx does, and refuses a
  redirect from ``https`` to plain ``http`` (reason ``tls``);
- bounds every socket operation by the time left to ``deadline`` (and ``timeout``), and the whole download
  by ``deadline``: ``http.client`` reads headers line by line and fills the buffer over several ``recv``
  calls, so a server sending a byte at a time would outlast per-operation timeouts; an alarm
  (``regslo.oci.deadline.alarm``) shuts the socket down at the deadline instead;
- stops reading once more bytes than ``size`` (the manifest's) arrived, and reads error bodies up to 64 KiB;
- maps failures onto the same ``OCIError`` reasons as the httpx path.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import httpx

from regslo.oci.deadline import alarm
from regslo.oci.errors import DigestMismatch, OCIError, classify, error_from_response, short_message

__all__ = ["Download", "download_blob", "ssl_context"]

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
BUFFER_SIZE = 1024 * 1024  # fits the CPU caches: the hash reads what the copy from the socket just wrote
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
                  buffer_size: int = BUFFER_SIZE, size: int | None = None) -> Download:
    """GET ``url`` (following redirects), verify the body's sha256 against ``digest``; see the module doc."""
    if deadline is None:
        deadline = time.monotonic() + timeout
    with alarm(deadline) as watch:
        try:
            return _download(url, headers, digest, context=context, timeout=timeout, deadline=deadline,
                             buffer_size=buffer_size, size=size, watch=watch)
        except OCIError as exc:
            if watch.fired and exc.reason != "timeout":
                raise OCIError("timeout", "blob get: probe deadline passed during blob download") from exc
            raise


def _download(url: str, headers: Mapping[str, str] | Iterable[tuple[str, str]], digest: str, *,
              context: ssl.SSLContext, timeout: float, deadline: float, buffer_size: int, size: int | None,
              watch: alarm) -> Download:
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
                if origin[0] == "https" and _origin(url)[0] == "http":
                    raise OCIError("tls", f"blob get: refused a redirect from the https registry to plain "
                                          f"http://{urlsplit(url).netloc[:80]}")
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            conn, sock = _connect(url, context, _left(deadline, timeout), watch)
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
                got, actual = _receive(resp, sock, deadline, timeout, buffer_size, size)
            finally:
                conn.close()
            if actual != digest:
                raise DigestMismatch(digest, actual)
            return Download(size=got, url=url.split("?", 1)[0], redirects=redirects,
                            seconds=time.perf_counter() - started)
    except OCIError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if watch.fired:
            raise OCIError("timeout", "blob get: probe deadline passed during blob download") from exc
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


def _watched(cls: type, watch: alarm) -> type:
    class Watched(cls):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            sock = socket.create_connection((self.host, self.port), self.timeout, self.source_address)
            watch.arm(sock)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = sock
            if isinstance(self, http.client.HTTPSConnection):
                self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
                watch.arm(self.sock)
    return Watched


def _connect(url: str, context: ssl.SSLContext, timeout: float, watch: alarm):
    parts = urlsplit(url)
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = _watched(http.client.HTTPSConnection, watch)(
            parts.hostname, parts.port, timeout=timeout, context=context)
    elif parts.scheme == "http":
        conn = _watched(http.client.HTTPConnection, watch)(parts.hostname, parts.port, timeout=timeout)
    else:
        raise OCIError("client_error", f"blob get: cannot follow a redirect to a {parts.scheme or 'relative'} URL")
    conn.connect()
    return conn, conn.sock  # the response may take the socket over from conn (Connection: close)


def _status_error(resp: http.client.HTTPResponse) -> OCIError:
    body = resp.read(ERROR_BODY_LIMIT)
    headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in ("content-encoding", "content-length")]
    return error_from_response(httpx.Response(resp.status, headers=headers, content=body), "blob get")


def _receive(resp: http.client.HTTPResponse, sock, deadline: float | None, timeout: float,
             buffer_size: int, limit: int | None = None) -> tuple[int, str]:
    """Read the body into one reused buffer, hashing each read in place; (size, "sha256:...")."""
    length = resp.getheader("Content-Length")
    expected = int(length) if length and length.isdigit() and not resp.chunked else None
    if limit is not None and expected is not None and expected != limit:
        raise OCIError("digest_mismatch", f"blob get: the registry sends {expected} bytes, the manifest says {limit}")
    sha = hashlib.sha256()
    view = memoryview(bytearray(buffer_size))
    size = 0
    while True:
        sock.settimeout(_left(deadline, timeout))  # raises once the deadline has passed
        got = resp.readinto(view)
        if not got:
            break
        sha.update(view[:got])
        size += got
        if limit is not None and size > limit:
            raise OCIError("digest_mismatch", f"blob get: more than the {limit} bytes the manifest says")
    if expected is not None and size != expected:  # readinto does not tell a short body from the end
        raise OCIError("connect", f"blob get: connect: peer closed connection after {size} of {expected} bytes")
    return size, "sha256:" + sha.hexdigest()
