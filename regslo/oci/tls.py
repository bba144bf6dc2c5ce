"""TLS settings of one registry -> the ``verify`` argument of ``httpx.Client``.

Trust decision: ``ca_file`` is *added to* the default trust store (httpx's: certifi, or ``SSL_CERT_FILE`` /
``SSL_CERT_DIR`` when set), the way Docker treats ``certs.d/<host>/ca.crt`` -- not a replacement for it as
``curl --cacert`` would be. A registry on a private CA commonly redirects blob downloads to object storage
(S3, GCS, a CDN) or sends clients to a token server that carry public certificates; trusting only
``ca_file`` would fail those hops and report the registry as broken when it is not.

``insecure_skip_verify: true`` turns verification off (a client certificate is still presented).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

from regslo.config import TLSConfig

__all__ = ["TLSConfigError", "build_verify", "is_tls_error"]


class TLSConfigError(ValueError):
    """A CA, certificate or key file that cannot be loaded; names the file, never its contents."""


def build_verify(tls: TLSConfig | None) -> ssl.SSLContext | bool:
    """Return what ``httpx.Client(verify=...)`` should get for these settings.

    ``True`` (httpx's default trust) when nothing is configured, ``False`` for ``insecure_skip_verify``
    without a client certificate, otherwise an ``ssl.SSLContext``.
    """
    if tls is None:
        return True
    has_client_cert = tls.cert_file is not None
    if tls.insecure_skip_verify and not has_client_cert:
        return False
    if not tls.insecure_skip_verify and tls.ca_file is None and not has_client_cert:
        return True
    if tls.insecure_skip_verify:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = httpx.create_ssl_context(verify=True)
        if tls.ca_file is not None:
            _load(lambda: ctx.load_verify_locations(cafile=str(tls.ca_file)), "ca_file", tls.ca_file)
    if has_client_cert:
        key = str(tls.key_file) if tls.key_file else None
        _load(lambda: ctx.load_cert_chain(certfile=str(tls.cert_file), keyfile=key), "cert_file/key_file",
              tls.cert_file)
    return ctx


def _load(action, what: str, path: Path) -> None:
    try:
        action()
    except FileNotFoundError:
        raise TLSConfigError(f"tls.{what}: file not found: {path}") from None
    except ssl.SSLError as exc:
        raise TLSConfigError(f"tls.{what}: cannot load {path}: {exc.reason or 'invalid PEM'}") from None
    except OSError as exc:
        raise TLSConfigError(f"tls.{what}: cannot read {path}: {exc.strerror}") from None


def is_tls_error(exc: BaseException) -> bool:
    """True when ``exc`` (an httpx error) was caused by TLS: verification, handshake, protocol.

    httpx wraps ``ssl`` errors in ``httpx.ConnectError`` two levels deep; this walks the cause chain so the
    error classifier can tell ``tls`` from a plain ``connect`` failure.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ssl.SSLError, ssl.CertificateError, TLSConfigError)):
            return True
        current = current.__cause__ or current.__context__
    return False
