"""``--web.config.file``: TLS and basic authentication for regslo's own port, in the format of the
Prometheus exporter-toolkit (the file node_exporter and Prometheus itself take)::

    tls_server_config:
      cert_file: /etc/regslo/tls.crt
      key_file: /etc/regslo/tls.key
      client_auth_type: RequireAndVerifyClientCert   # or NoClientCert (default), VerifyClientCertIfGiven
      client_ca_file: /etc/regslo/clients-ca.crt
      min_version: TLS12                             # TLS10 | TLS11 | TLS12 (default) | TLS13
      max_version: TLS13
    http_server_config:
      headers: {Strict-Transport-Security: max-age=31536000}
    basic_auth_users:
      prometheus: $2y$10$...                         # bcrypt hash, e.g. from htpasswd -nBC 10 prometheus

Relative paths are relative to the file. Problems raise ``ConfigError`` with one line per problem, each
naming its key. Go's ``RequestClientCert`` and ``RequireAnyClientCert`` (ask for a certificate but do not
verify it) are refused: Python's ssl module verifies every client certificate it asks for, and accepting an
unverified certificate would be no authentication at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib.util
import re
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from regslo.config.base import ConfigError, Errors, Section

CLIENT_AUTH = {"NoClientCert": ssl.CERT_NONE, "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
               "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}
UNSUPPORTED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1, "TLS12": ssl.TLSVersion.TLSv1_2,
            "TLS13": ssl.TLSVersion.TLSv1_3}
_TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version",
             "prefer_server_cipher_suites", "cipher_suites", "curve_preferences", "client_allowed_sans"}
_BCRYPT = re.compile(r"^\$2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}$")
# The response headers http_server_config.headers may set, and their allowed values (None: any one-line
# value): the exporter-toolkit's own list, so a web.yml means the same here as for Prometheus, and no
# setting can add framing headers (a second Content-Length or a Transfer-Encoding) to regslo's responses.
EXTRA_HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None, "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"), "X-XSS-Protection": None, "Content-Security-Policy": None}
CACHE_SIZE = 1024


def bcrypt_cost(hashed: bytes) -> int:
    return int(hashed.split(b"$")[2])


@dataclass
class WebConfig:
    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict, repr=False)  # user -> bcrypt hash
    headers: dict[str, str] = field(default_factory=dict)
    _cache: dict[bytes, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def cached_user(self, authorization: str) -> str | None:
        """The user if these exact credentials were verified before (a sha256, no bcrypt), else None."""
        with self._lock:
            return self._cache.get(self._cache_key(authorization))

    def check_basic_auth(self, authorization: str) -> str | None:
        """The user named by a valid ``Authorization: Basic`` value, else None. Costs one bcrypt check
        (whether or not the user exists); verified credentials are remembered by their sha256."""
        user = self.cached_user(authorization)
        if user is not None:
            return user
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        name, sep, password = decoded.partition(":")
        if not sep:
            return None
        import bcrypt

        stored = self.users.get(name)
        try:
            ok = bcrypt.checkpw(password.encode("utf-8"), stored or self._decoy())
        except ValueError:
            ok = False
        if not ok or stored is None:
            return None
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[self._cache_key(authorization)] = name
        return name

    def _decoy(self) -> bytes:
        """The hash an unknown user's password is checked against, so a wrong user name costs what a wrong
        password does: a configured user's own hash (the costliest), i.e. the same bcrypt cost, and nothing
        to compute at start-up. A match against it still authenticates nobody."""
        return max(self.users.values(), key=bcrypt_cost)

    def _cache_key(self, authorization: str) -> bytes:
        return hashlib.sha256(authorization.strip().encode("utf-8", "replace")).digest()


def load_web_config(path: str | Path) -> WebConfig:
    """Read and check a web config file; ``ConfigError`` lists every problem, prefixed with the file name."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError([f"--web.config.file: cannot read {path}: {exc.strerror}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError([f"{path}: invalid YAML{where}"]) from None
    errors = Errors()
    web = parse_web_config(raw if raw is not None else {}, path.parent, errors)
    if errors:
        raise ConfigError([f"{path}: {p}" for p in errors.problems])
    return web


def parse_web_config(raw: Any, base_dir: Path, errors: Errors) -> WebConfig:
    top = Section(raw, "", errors, known={"tls_server_config", "basic_auth_users", "http_server_config"})
    web = WebConfig()
    if top.has("tls_server_config"):
        web.ssl_context = _tls(Section(top.mapping("tls_server_config"), "tls_server_config", errors,
                                       known=_TLS_KEYS), base_dir, errors)
    users = top.mapping("basic_auth_users")
    for name, hashed in users.items():
        key = f"basic_auth_users.{name}"
        if not isinstance(name, str) or not name or ":" in name:
            errors.add(key, "user names must be non-empty strings without ':'")
        elif not isinstance(hashed, str) or not _BCRYPT.match(hashed):
            errors.add(key, "must be a bcrypt hash ($2y$10$... as written by htpasswd -nB)")
        else:
            web.users[name] = hashed.encode("ascii")
    if web.users:
        if importlib.util.find_spec("bcrypt") is None:
            errors.add("basic_auth_users", "needs the Python package bcrypt (pip install bcrypt)")
    if top.has("http_server_config"):
        http = Section(top.mapping("http_server_config"), "http_server_config", errors, known={"http2", "headers"})
        http.bool("http2", True)  # accepted for compatibility; regslo serves HTTP/1.1
        allowed = {k.lower(): (k, v) for k, v in EXTRA_HEADERS.items()}
        for name, value in http.mapping("headers").items():
            key = f"http_server_config.headers.{name}"
            known = allowed.get(name.lower()) if isinstance(name, str) else None
            if known is None:
                errors.add(key, f"only {', '.join(EXTRA_HEADERS)} may be set")
            elif not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
                errors.add(key, "must be a one-line string")
            elif known[1] is not None and value.lower() not in known[1]:
                errors.add(key, f"must be one of {', '.join(known[1])}")
            else:
                web.headers[known[0]] = value
    return web


def _tls(sec: Section, base_dir: Path, errors: Errors) -> ssl.SSLContext | None:
    for key in ("cipher_suites", "curve_preferences", "client_allowed_sans"):
        if sec.has(key):
            errors.add(sec.key(key), "is not supported by regslo (Python's ssl defaults apply)")
    sec.bool("prefer_server_cipher_suites", True)  # Go ignores it too since 1.17
    files: dict[str, Path] = {}
    for key in ("cert_file", "key_file", "client_ca_file"):
        value = sec.str(key)
        if value:
            p = Path(value).expanduser()
            p = p if p.is_absolute() else base_dir / p
            if not p.is_file():
                errors.add(sec.key(key), f"file not found: {p}")
            files[key] = p
    for key in ("cert_file", "key_file"):
        if key not in files and not sec.has(key):
            errors.add(sec.key(key), "is required in tls_server_config")
    auth = sec.str("client_auth_type", "NoClientCert")
    if auth in UNSUPPORTED_CLIENT_AUTH:
        errors.add(sec.key("client_auth_type"), f"{auth} is not supported (it accepts unverified certificates); "
                                                "use VerifyClientCertIfGiven or RequireAndVerifyClientCert")
    elif auth not in CLIENT_AUTH:
        errors.add(sec.key("client_auth_type"), f"must be one of {', '.join(CLIENT_AUTH)}; got {auth!r}")
    elif auth != "NoClientCert" and "client_ca_file" not in files:
        errors.add(sec.key("client_ca_file"), f"is required with client_auth_type {auth}")
    versions = {}
    for key in ("min_version", "max_version"):
        value = sec.str(key)
        if value is not None and value not in VERSIONS:
            errors.add(sec.key(key), f"must be one of {', '.join(VERSIONS)}; got {value!r}")
        elif value is not None:
            versions[key] = VERSIONS[value]
    if len(versions) == 2 and versions["min_version"] > versions["max_version"]:
        errors.add(sec.key("max_version"), "is lower than min_version")
    if errors or "cert_file" not in files or "key_file" not in files:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = versions.get("min_version", ssl.TLSVersion.TLSv1_2)
    if "max_version" in versions:
        ctx.maximum_version = versions["max_version"]
    try:
        ctx.load_cert_chain(files["cert_file"], files["key_file"])
    except (ssl.SSLError, OSError) as exc:
        errors.add(sec.key("key_file"), f"cannot load the certificate and key: {getattr(exc, 'reason', None) or exc}")
        return None
    if auth in CLIENT_AUTH and auth != "NoClientCert":
        try:
            ctx.load_verify_locations(cafile=str(files["client_ca_file"]))
        except (ssl.SSLError, OSError) as exc:
            errors.add(sec.key("client_ca_file"), f"cannot load: {getattr(exc, 'reason', None) or exc}")
            return None
        ctx.verify_mode = CLIENT_AUTH[auth]
    return ctx


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
