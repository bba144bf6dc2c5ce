"""Map everything that can go wrong talking to a registry onto a small, fixed set of reasons.

The reason becomes a Prometheus label value, so the set is closed: a new kind of failure maps to
``other`` rather than minting a new series.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
from collections import OrderedDict

import httpx

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
    try:
        from regslo.oci.auth import AuthError
    except ImportError:  # pragma: no cover - auth module always present in a release
        AuthError = ()  # type: ignore[assignment]
    for e in _chain(exc):
        if AuthError and isinstance(e, AuthError):
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


# --- keeping secrets out of texts ------------------------------------------------------------------------
# Library messages can quote a header value (h11: "Illegal header value b'Bearer ...'"), a registry can echo
# what it received into its error message. Two nets: anything shaped like an Authorization value, and the
# exact secrets regslo has sent (passwords, tokens), remembered in a bounded set.
_AUTH_VALUE = re.compile(r"\b(Bearer|Basic|BEARER|BASIC)(?:\s+|\\x20|%20)[^\s'\",;]{6,}(?:\\[nrt][^\s'\",;]*)*")
_SECRET_KEYS = re.compile(r"(?i)\b(refresh_token|access_token|password|token)=[^&\s'\"]+")
MAX_SECRETS = 1024
_secrets: "OrderedDict[str, None]" = OrderedDict()
_secrets_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Have ``redact`` remove this exact value from every message from now on (values under 6 characters
    are too common to redact without garbling messages)."""
    if not value or len(value) < 6:
        return
    with _secrets_lock:
        _secrets[value] = None
        _secrets.move_to_end(value)
        while len(_secrets) > MAX_SECRETS:
            _secrets.popitem(last=False)


def redact(text: str) -> str:
    """``text`` without Authorization-shaped values, ``token=``-style parameters and remembered secrets."""
    with _secrets_lock:
        known = list(_secrets)
    for value in known:
        if value in text:
            text = text.replace(value, "<redacted>")
    text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)} <redacted>", text)
    return _SECRET_KEYS.sub(lambda m: f"{m.group(1)}=<redacted>", text)


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)
