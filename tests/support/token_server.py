"""A real registry token server for tests: HTTP on 127.0.0.1, JWTs the real registry verifies.

``GET /token?service=S&scope=repository:x:pull,push`` with Basic credentials (or none, when anonymous
access is allowed) answers ``{"token", "access_token", "expires_in", "issued_at"}``. ``POST /token`` takes the
OAuth2 form ``grant_type=refresh_token`` (a docker config ``identitytoken``) or ``grant_type=password``.

Tokens are RS256 or ES256 JWTs whose header carries ``x5c`` = [the signing certificate]; the registry's
``auth.token.rootcertbundle`` holds that same certificate (distribution 2.8 verifies the chain against the
bundle). Claims: iss, sub, aud (= service), exp, nbf, iat, jti, access.

Knobs for tests: ``expires_in`` (short, for refresh tests), ``reject_all`` (every request gets 401),
``poison(n)`` (the next n tokens are signed by a key the registry does not trust), ``requests`` /
``issued`` (counters, for cache tests), ``omit_expires_in``, ``token_field`` (which JSON key carries the token), ``delay``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from tests.support.registry import free_port
from tests.support.threaded_http import ConnectionSet, ThreadedServer, TrackedHandler
from tests.support.tls import KeyPair, make_signing_cert

ALGORITHMS = {"rsa": "RS256", "ec": "ES256"}


@dataclass
class Grant:
    """One token request as the server saw it (for assertions)."""

    method: str
    user: str | None
    scopes: list[str]
    status: int
    agent: str | None = None


@dataclass
class TokenServer:
    workdir: Path
    users: dict[str, str] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # identity token -> user
    service: str = "regslo-test-registry"
    issuer: str = "regslo-test-issuer"
    kind: str = "rsa"
    expires_in: int = 300
    allow_anonymous: bool = False
    reject_all: bool = False
    omit_expires_in: bool = False
    token_field: str = "token"  # "token", "access_token" or "both"
    delay: float = 0.0  # seconds to wait before answering (to measure auth time)
    tls: tuple[Path, Path] | None = None  # (cert, key): serve HTTPS
    grants: list[Grant] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.signing: KeyPair = make_signing_cert(self.workdir, self.kind)
        self._untrusted: KeyPair = make_signing_cert(self.workdir, self.kind, stem="untrusted-signing")
        self._poison = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self._http: ThreadedServer | None = None

    # --- what the registry and the tests need -------------------------------------------------------
    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def registry_config(self) -> dict[str, Any]:
        """The registry's ``auth.token`` section (pass as ``registries("r1", token=...)``)."""
        return {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                "rootcertbundle": str(self.signing.cert_file)}

    @property
    def requests(self) -> int:
        with self._lock:
            return len(self.grants)

    @property
    def issued(self) -> int:
        with self._lock:
            return sum(1 for g in self.grants if g.status == 200)

    def poison(self, n: int = 1) -> None:
        """Sign the next ``n`` tokens with a key outside the registry's bundle: the registry rejects them."""
        with self._lock:
            self._poison = n

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> "TokenServer":
        self._http = ThreadedServer(_handler(self), port=self.port, tls=self.tls, name="token-server").start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections, as a dying process would."""
        if self._http is not None:
            self._http.stop()
            self._http = None

    # --- token issuing ------------------------------------------------------------------------------
    def issue(self, user: str | None, scopes: list[str]) -> dict[str, Any]:
        now = int(time.time())
        with self._lock:
            poisoned = self._poison > 0
            self._poison -= 1 if poisoned else 0
        pair = self._untrusted if poisoned else self.signing
        claims = {"iss": self.issuer, "sub": user or "", "aud": self.service, "exp": now + self.expires_in,
                  "nbf": now - 1, "iat": now, "jti": secrets.token_hex(8), "access": self._access(user, scopes)}
        header = {"x5c": [base64.b64encode(pair.cert_der).decode()]}
        token = jwt.encode(claims, pair.key, algorithm=ALGORITHMS[self.kind], headers=header)
        body: dict[str, Any] = {"issued_at": datetime.fromtimestamp(now, timezone.utc).isoformat()}
        if self.token_field in ("token", "both"):
            body["token"] = token
        if self.token_field in ("access_token", "both"):
            body["access_token"] = token
        if not self.omit_expires_in:
            body["expires_in"] = self.expires_in
        return body

    def _access(self, user: str | None, scopes: list[str]) -> list[dict[str, Any]]:
        out = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if not kind or not name:
                continue
            wanted = [a for a in actions.split(",") if a]
            granted = wanted if user else [a for a in wanted if a == "pull"]
            out.append({"type": kind, "name": name, "actions": granted})
        return out

    def authenticate(self, header: str | None, form: dict[str, list[str]] | None) -> tuple[bool, str | None]:
        """(ok, user) for a request's Authorization header or OAuth2 form; user None is anonymous."""
        if form is not None:
            grant = (form.get("grant_type") or [""])[0]
            if grant == "refresh_token":
                user = self.refresh_tokens.get((form.get("refresh_token") or [""])[0])
                return (user is not None, user)
            if grant == "password":
                user, password = (form.get("username") or [""])[0], (form.get("password") or [""])[0]
                return (self.users.get(user) == password and bool(password), user)
            return (False, None)
        if not header:
            return (self.allow_anonymous, None)
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return (False, None)
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return (False, None)
        return (self.users.get(user) == password and bool(password), user)


def _scopes(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        out.extend(s for s in value.split(" ") if s)
    return out


def _handler(server: TokenServer) -> type[TrackedHandler]:
    class Handler(TrackedHandler):
        connections = ConnectionSet()

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="regslo-token-server"')
            self.end_headers()
            self.wfile.write(data)

        def _serve(self, method: str, query: dict[str, list[str]], form: dict[str, list[str]] | None) -> None:
            if urlsplit(self.path).path != "/token":
                self._answer(404, {"errors": [{"code": "NOT_FOUND"}]})
                return
            if server.delay:
                time.sleep(server.delay)
            params = form if form is not None else query
            scopes = _scopes(params.get("scope", []))
            ok, user = server.authenticate(self.headers.get("Authorization"), form)
            service_ok = (params.get("service") or [""])[0] == server.service
            status = 200 if ok and service_ok and not server.reject_all else 401
            with server._lock:
                server.grants.append(Grant(method=method, user=user, scopes=scopes, status=status,
                                           agent=self.headers.get("User-Agent")))
            if status != 200:
                self._answer(status, {"details": "access denied"})
                return
            self._answer(200, server.issue(user, scopes))

        def do_GET(self) -> None:
            self._serve("GET", parse_qs(urlsplit(self.path).query), None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            self._serve("POST", {}, form)

    return Handler
