"""Map everything that can go wrong talking to a registry onto a small, fixed set of reasons.

The reason becomes a Prometheus label value, so the set is closed: a new kind of failure maps to
``other`` rather than minting a new series.
"""

from __future__ import annotations

import json
import socket
import ssl

import httpx

from regslo.redact import redact, remember_secret

# remember_secret is re-exported: the oci package imports it from here with the errors it guards
__all__ = ["REASONS", "AuthError", "DigestMismatch", "OCIError", "classify", "error_from_response", "redact",
           "reason_for_status", "remember_secret", "short_message"]

REASONS = ("timeout", "connect", "dns", "tls", "auth", "not_found", "rate_limited", "server_error",
           "client_error", "digest_mismatch", "other")


class OCIError(Exception):
    """A failed registry operation. ``reason`` is one of REASONS; ``str()`` is short and secret-free."""

    def __init__(self, reason: str, message: str, status: int | None = None, code: str | None = None):
        assert reason in REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.code = code


class AuthError(Exception):
    """Credentials or a token could not be obtained (raised by ``regslo.oci.auth``). The message names hosts
    and statuses, never a secret. ``reason`` is "auth", or "timeout" when the probe's deadline ran out while
    getting a token."""

    def __init__(self, message: str, reason: str = "auth"):
        super().__init__(message)
        self.reason = reason


class DigestMismatch(OCIError):
    def __init__(self, expected: str, actual: str):
        super().__init__("digest_mismatch", f"content digest {actual} does not match {expected}")


def reason_for_status(status: int) -> str:
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "other"


def error_from_response(response: httpx.Response, what: str, body: bytes | None = None) -> OCIError:
    """Build an OCIError from a non-success response, using the registry's JSON error code if present.

    ``body`` is the (capped) body the caller read; without it the response's own content is used."""
    code = None
    detail = ""
    try:
        body = json.loads(body) if body is not None else response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors and isinstance(errors[0], dict):
            code = _printable(str(errors[0].get("code") or ""))[:64] or None
            detail = _printable(str(errors[0].get("message") or ""))[:120]
    except Exception:  # noqa: BLE001 - body of an error page may be anything
        pass
    status = response.status_code
    msg = f"{what}: HTTP {status}" + (f" {code}" if code else "") + (f" ({detail})" if detail else "")
    return OCIError(reason_for_status(status), msg, status=status, code=code)


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def classify(exc: BaseException) -> str:
    """Return the reason for any exception raised while probing."""
    if isinstance(exc, OCIError):
        return exc.reason
    for e in _chain(exc):
        if isinstance(e, AuthError):
            return getattr(e, "reason", "auth")
        if isinstance(e, (ssl.SSLError, ssl.CertificateError)):
            return "tls"
        if isinstance(e, socket.gaierror):
            return "dns"
    if isinstance(exc, httpx.TimeoutException) or isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "name or service not known" in text or "nodename nor servname" in text or "temporary failure in name" in text \
                or "no address associated" in text or "name resolution" in text:
            return "dns"
        if "certificate" in text or "ssl" in text or "tls" in text:
            return "tls"
        return "connect"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, ConnectionError)):
        return "connect"
    return "other"


def short_message(exc: BaseException, limit: int = 200) -> str:
    """A one-line description of the error for logs, the CLI table and the status page (never a traceback,
    never a credential: see ``redact``)."""
    text = redact(str(exc) or type(exc).__name__)
    text = " ".join(text.split())
    return text[:limit]


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)
