"""Caps on what regslo reads from a registry or token server: one place, so docs and tests agree.

A response larger than its cap is an error (a bounded ``reason``), and the rest of it is never read: the
connection is dropped instead of drained. Bodies regslo does not need (a 200 on ``/v2/``, a 202 of an
upload) are read up to ``DRAIN`` to keep the connection reusable, and dropped beyond that.
"""

from __future__ import annotations

import zlib

import httpx

from regslo.oci.errors import OCIError

KiB = 1024
MiB = 1024 * KiB

ERROR_BODY = 64 * KiB  # error responses: enough for any registry's JSON error list
MANIFEST = 4 * MiB  # what registries must accept (distribution's default limit)
TOKEN_RESPONSE = 256 * KiB  # a token server's JSON answer (JWTs with many scopes stay far below)
TOKEN = 64 * KiB  # the token itself
TAG_PAGE = 4 * MiB  # one page of GET /v2/<name>/tags/list
TAG_PAGES = 1000  # pages followed through Link rel="next"
TAGS = 100_000  # tags collected over all pages
SMALL_BLOB = 64 * MiB  # read_blob(): a blob read into memory (the replicator's copies)
DRAIN = 64 * KiB  # bodies regslo ignores
REDIRECTS = 5


def human(n: int) -> str:
    """4194304 -> "4 MiB", 65536 -> "64 KiB"."""
    if n % MiB == 0:
        return f"{n // MiB} MiB"
    if n % KiB == 0:
        return f"{n // KiB} KiB"
    return f"{n} bytes"


class _Decoder:
    """Undo a Content-Encoding with a bound on the output (a few KiB of gzip can expand to gigabytes)."""

    def __init__(self, encoding: str, what: str):
        name = encoding.strip().lower()
        if name in ("", "identity"):
            self._z = None
        elif name in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif name == "deflate":
            self._z = zlib.decompressobj()
        else:
            raise OCIError("server_error", f"{what}: unsupported Content-Encoding {name[:20]!r}")
        self._what = what

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of ``data``, at most ``room + 1`` (one more than fits tells the caller it is over)."""
        if self._z is None:
            return data
        try:
            return self._z.decompress(data, room + 1)
        except zlib.error:
            raise OCIError("server_error", f"{self._what}: corrupt compressed body") from None


def read_capped(response: httpx.Response, cap: int, what: str, *, reason: str | None = "server_error") -> bytes:
    """The body of a streamed ``response``, decoded, up to ``cap`` bytes.

    More than ``cap``: with a ``reason``, raise ``OCIError(reason)`` naming the cap (the rest is not read);
    with ``reason=None`` return the first ``cap`` bytes (for bodies only read for a hint, such as errors).
    The caller closes the response (which drops the connection when the body was not read to its end).
    """
    def over() -> OCIError:
        return OCIError(reason or "server_error", f"{what}: response body larger than {human(cap)}")

    length = response.headers.get("Content-Length", "")
    encoding = response.headers.get("Content-Encoding", "")
    if reason is not None and length.isdigit() and int(length) > cap and not encoding:
        raise over()
    decoder = _Decoder(encoding, what)
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        data = decoder.feed(chunk, cap - size)
        if size + len(data) > cap:
            if reason is not None:
                raise over()
            parts.append(data[:cap - size])
            size = cap
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)
