"""Registry authentication as an ``httpx.Auth``: none, Basic, and the Bearer token flow.

``build_auth(registry)`` returns a ``RegistryAuth`` for every registry (even one without credentials: a
registry may hand out anonymous bearer tokens). Its ``auth_flow`` sends the request; on a 401 it reads
``WWW-Authenticate``:

- ``Basic`` -> one retry with the configured credentials, and Basic is sent up front from then on;
- ``Bearer realm=...,service=...,scope=...`` -> ``GET <realm>?service=..&scope=..`` (Basic credentials if
  any, anonymous otherwise; an identity token is exchanged with an OAuth2 ``POST``), then one retry.

Tokens are cached per scope (the last ``MAX_CACHED_SCOPES`` fetched; every per-scope memory is bounded). The
scope comes from ``request.extensions["regslo_scope"]`` (set by ``regslo.oci.client``), else from the request
path, else from the challenge. Once the realm is known a
cached token is sent up front, and refreshed shortly before it expires (10 % of its lifetime, at most 5 s).
A 401 on a token we sent means one re-auth and one retry; a second 401 is returned to the caller -- the flow
never loops. Token requests that fail raise ``AuthError`` (reason ``auth``). A request retried after a 401 is
sent again, so its body must be replayable (bytes); up-front tokens make that retry rare.

Credentials go only to their origin: given the registry's ``origin`` (scheme, host, port), requests to any
other origin pass through untouched (no up-front credentials, no answer to their challenges). The token
request goes to the realm only: redirects are followed on the realm's own origin and refused elsewhere, a
realm on ``http://`` for an ``https://`` registry is refused unless ``allow_insecure_realm`` (the registry's
``tls.insecure_skip_verify``), and the answer is read up to ``limits.TOKEN_RESPONSE``. A token outside RFC
6750's ``b64token`` syntax is refused (it could not be sent as a header anyway, and the error a header
library raises would quote it). Every password and token is passed to ``errors.remember_secret`` so no
message quotes it.

Thread-safe: one instance serves all threads of one registry; concurrent requests for one scope share one
token request. ``auth_seconds`` adds up the time spent in credential helpers and token requests;
``thread_auth_seconds`` is the same for the calling thread only (incl. waiting for another thread's fetch).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Generator
from urllib.parse import urljoin, urlsplit

import httpx

from regslo.config import Registry, Secret
from regslo.oci import deadline as deadlines
from regslo.oci import limits
from regslo.oci.docker_config import CredentialError, Credentials, load_credentials
from regslo.oci.errors import AuthError, OCIError, remember_secret
from regslo.oci.tls import build_verify

__all__ = ["AuthError", "Challenge", "RegistryAuth", "build_auth", "parse_challenges", "scope_for"]

SCOPE_EXTENSION = "regslo_scope"
DEFAULT_EXPIRES_IN = 60.0
MAX_REFRESH_MARGIN = 5.0
MAX_CACHED_SCOPES = 256  # tokens kept; the per-scope locks and learned scopes at most twice as many
MAX_LEARNED_SCOPES = 8  # extra scopes one cache key's challenges may add to its token requests
CREDENTIAL_TTL = 300.0  # re-run a credential helper at most this often (and after a rejection)
_ITEM = re.compile(r'[\s,]*(?:([\w.!#$%&\'*+^`|~-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)|([\w.!#$%&\'*+^`|~-]+))')
_REPO_PATH = re.compile(r"^/v2/(.+)/(manifests|blobs|tags|referrers)(/|$)")
_BASIC = "basic"
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")  # RFC 6750 section 2.1, b64token
_REDIRECTS = (301, 302, 303, 307, 308)


def origin(url: str | httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, with the scheme's default port filled in."""
    parts = urlsplit(str(url))
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: scheme (lower case) and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scopes(self) -> list[str]:
        return [s for s in self.params.get("scope", "").split(" ") if s]


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` header values (several challenges per value are allowed)."""
    out: list[Challenge] = []
    for value in values:
        pos, scheme, params = 0, None, {}
        while pos < len(value):
            match = _ITEM.match(value, pos)
            if not match or match.end() == pos:
                break
            pos = match.end()
            key, raw, bare = match.group(1), match.group(2), match.group(3)
            if bare:
                if scheme is not None:
                    out.append(Challenge(scheme, params))
                scheme, params = bare.lower(), {}
            elif key and scheme is not None:
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[key.lower()] = raw
        if scheme is not None:
            out.append(Challenge(scheme, params))
    return out


def scope_for(request: httpx.Request) -> str | None:
    """The token scope a request needs: the client's extension, else derived from a /v2/ path, else None."""
    given = request.extensions.get(SCOPE_EXTENSION)
    if given is not None:
        return str(given)
    path = request.url.path
    if path in ("/v2/", "/v2"):
        return ""
    if path == "/v2/_catalog":
        return "registry:catalog:*"
    match = _REPO_PATH.match(path)
    if not match:
        return None
    method = request.method.upper()
    action = "pull" if method in ("GET", "HEAD") else "delete" if method == "DELETE" else "pull,push"
    return f"repository:{match.group(1)}:{action}"


@dataclass
class _Token:
    value: Secret
    scopes: tuple[str, ...]
    expires_at: float  # monotonic
    refresh_at: float  # monotonic

    def usable(self, now: float) -> bool:
        return now < self.refresh_at

    def covers(self, scopes: list[str]) -> bool:
        return set(scopes) <= set(self.scopes)


class RegistryAuth(httpx.Auth):
    """Basic and Bearer auth for one registry; see the module docstring."""

    def __init__(self, credentials: Credentials | Callable[[], Credentials | None] | None = None, *,
                 verify: object = True, token_timeout: float = 10.0, name: str = "registry",
                 clock: Callable[[], float] = time.monotonic, origin: str | None = None,
                 allow_insecure_realm: bool = False):
        self.name = name
        self._origin = globals()["origin"](origin) if origin else None
        self._allow_insecure_realm = allow_insecure_realm
        self._static = credentials if isinstance(credentials, Credentials) else None
        self._source = credentials if callable(credentials) else None
        self._creds: Credentials | None = None
        self._creds_at = float("-inf")
        self._verify = verify
        self._token_timeout = token_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._scope_locks: dict[str, threading.Lock] = {}
        self._tokens: dict[str, _Token] = {}
        self._learned: dict[str, list[str]] = {}  # extra scopes challenges asked for, per cache key
        self._mode: str | None = None  # "basic" or "bearer" once a challenge was seen
        self._bearer: Challenge | None = None
        self._client: httpx.Client | None = None
        self._auth_seconds = 0.0
        self._local = threading.local()
        self.token_requests = 0
        # outcome of every token request: ok, denied (the token server answered 401/403), error (anything else)
        self.token_results = {"ok": 0, "denied": 0, "error": 0}

    def __repr__(self) -> str:
        return f"RegistryAuth({self.name!r}, mode={self._mode or 'unknown'})"

    # --- accounting ---------------------------------------------------------------------------------
    @property
    def auth_seconds(self) -> float:
        """Seconds spent obtaining credentials and tokens, all threads, since creation."""
        with self._lock:
            return self._auth_seconds

    @property
    def thread_auth_seconds(self) -> float:
        """Seconds the calling thread spent on auth (incl. waiting for another thread's token fetch)."""
        return getattr(self._local, "seconds", 0.0)

    def _spent(self, seconds: float, work: bool) -> None:
        if work:
            with self._lock:
                self._auth_seconds += seconds
        self._local.seconds = self.thread_auth_seconds + seconds

    def close(self) -> None:
        """Close the HTTP client used for token requests."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- the flow -----------------------------------------------------------------------------------
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._origin is not None and origin(request.url) != self._origin:
            yield request  # another origin: nothing of ours goes there, and its challenges are not ours to answer
            return
        key = scope_for(request)
        self._local.timeout = _token_timeout(request, self._token_timeout)
        self._local.user_agent = request.headers.get("user-agent")
        sent = self._prepare(request, key)
        response = yield request
        if response.status_code != 401:
            return
        challenges = parse_challenges(response.headers.get_list("www-authenticate"))
        bearer = next((c for c in challenges if c.scheme == "bearer" and c.realm), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        if bearer is not None:
            with self._lock:
                self._mode, self._bearer = "bearer", Challenge("bearer", {k: v for k, v in bearer.params.items()
                                                                          if k != "scope"})
            if key is None:
                key = " ".join(bearer.scopes)
            stale = sent if isinstance(sent, _Token) else None
            token = self._token(key, bearer.realm, bearer.service, bearer.scopes, stale)
            request.headers["Authorization"] = f"Bearer {token.value.reveal()}"
            _discard(response)
            yield request
        elif basic is not None:
            if sent == _BASIC:  # our credentials were refused: re-read them next time, return the 401
                self._forget_credentials()
                return
            creds = self._credentials()
            if creds is None or creds.password is None or creds.username is None:
                return
            with self._lock:
                self._mode = _BASIC
            request.headers["Authorization"] = _basic_header(creds)
            _discard(response)
            yield request

    def _prepare(self, request: httpx.Request, key: str | None) -> _Token | str | None:
        """Add credentials up front when the scheme is known; return what was sent."""
        if "Authorization" in request.headers:
            return None
        mode, bearer = self._mode, self._bearer
        if mode == _BASIC:
            creds = self._credentials()
            if creds is not None and creds.password is not None and creds.username is not None:
                request.headers["Authorization"] = _basic_header(creds)
                return _BASIC
            return None
        if mode == "bearer" and bearer is not None and key is not None:
            token = self._token(key, bearer.realm or "", bearer.service, [], None)
            request.headers["Authorization"] = f"Bearer {token.value.reveal()}"
            return token
        return None

    # --- tokens -------------------------------------------------------------------------------------
    def _scope_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._scope_locks.setdefault(key, threading.Lock())

    def _token(self, key: str, realm: str | None, service: str | None, challenge_scopes: list[str],
               stale: _Token | None) -> _Token:
        """A usable token for ``key``: the cached one, or one fetched now (exactly one fetch per need)."""
        started = self._clock()
        lock = self._scope_lock(key)
        deadline = deadlines.current()
        wait = -1 if deadline is None else max(0.0, deadline - time.monotonic())
        if not lock.acquire(timeout=wait):  # another thread's token request holds it past our deadline
            self._spent(self._clock() - started, work=False)
            raise AuthError(f"{self.name}: probe deadline passed waiting for a token", reason="timeout")
        try:
            waited = self._clock() - started
            with self._lock:
                current = self._tokens.get(key)
                learned = self._learned.setdefault(key, [])
                for scope in challenge_scopes:
                    if scope not in learned and len(learned) < MAX_LEARNED_SCOPES:
                        learned.append(scope)
                scopes = _unique(([key] if key else []) + learned)
            if (current is not None and current is not stale and current.usable(self._clock())
                    and current.covers(challenge_scopes)):
                self._spent(waited, work=False)
                return current
            if not realm:
                raise AuthError(f"{self.name}: bearer challenge without a realm")
            token = self._fetch(realm, service, scopes)
            with self._lock:
                self._tokens.pop(key, None)  # re-inserted: the dict's order is the order of the last fetch
                self._tokens[key] = token
                self._prune()
            self._spent(waited, work=False)
            return token
        finally:
            lock.release()

    def _prune(self) -> None:
        """Keep the per-scope memories bounded (call with ``_lock`` held). Scopes come from requests --
        the image inspector reads any repository users push -- so without a bound they grow for ever.
        Expired tokens go first, then the least recently fetched; a dropped scope just fetches again."""
        if len(self._tokens) > MAX_CACHED_SCOPES:
            now = self._clock()
            for old in [k for k, t in self._tokens.items() if t.expires_at <= now]:
                del self._tokens[old]
            while len(self._tokens) > MAX_CACHED_SCOPES:
                del self._tokens[next(iter(self._tokens))]
        for memory in (self._learned, self._scope_locks):
            if len(memory) > 2 * MAX_CACHED_SCOPES:
                for old in [k for k in memory if k not in self._tokens]:
                    lock = self._scope_locks.get(old)
                    if memory is self._learned or lock is None or not lock.locked():
                        del memory[old]

    def _fetch(self, realm: str, service: str | None, scopes: list[str]) -> _Token:
        started = self._clock()
        host = urlsplit(realm).netloc or realm
        try:
            self._check_realm(realm, host)
            creds = self._credentials(count=False)
            timeout = getattr(self._local, "timeout", None) or self._token_timeout
            status, body = self._request_token(realm, service, scopes, creds, timeout, host)
        except httpx.TimeoutException as exc:
            self._tally("error")
            raise AuthError(f"token request to {host} timed out", reason="timeout") from exc
        except httpx.HTTPError as exc:
            self._tally("error")
            raise AuthError(f"token request to {host} failed: {type(exc).__name__}") from exc
        except AuthError:  # the token request was refused before or while it was sent (redirect, realm)
            self._tally("error")
            raise
        except OCIError as exc:  # an answer over the cap
            self._tally("error")
            raise AuthError(f"token server {host} answered more than {limits.human(limits.TOKEN_RESPONSE)}") \
                from exc
        finally:
            self._spent(self._clock() - started, work=True)
            with self._lock:
                self.token_requests += 1
        if status in (401, 403):
            self._tally("denied")
            self._forget_credentials()
            who = "anonymous access" if creds is None else "the credentials"
            raise AuthError(f"token server {host} refused {who} (HTTP {status})")
        if status != 200:
            self._tally("error")
            raise AuthError(f"token server {host} answered HTTP {status}")
        try:
            token = _parse_token(body, host, scopes, started)
        except AuthError:
            self._tally("error")
            raise
        self._tally("ok")
        return token

    def _tally(self, result: str) -> None:
        with self._lock:
            self.token_results[result] += 1

    def _check_realm(self, realm: str, host: str) -> None:
        scheme = urlsplit(realm).scheme.lower()
        if scheme not in ("http", "https"):
            raise AuthError(f"{self.name}: token realm {host} is not an http(s) URL; refused")
        if (self._origin is not None and self._origin[0] == "https" and scheme == "http"
                and not self._allow_insecure_realm):
            raise AuthError(f"{self.name}: token realm http://{host} is plain HTTP for an https registry; "
                            "refused (set tls.insecure_skip_verify to allow it)")

    def _request_token(self, realm: str, service: str | None, scopes: list[str], creds: Credentials | None,
                       timeout: httpx.Timeout | float, host: str) -> tuple[int, bytes]:
        """(status, body up to the cap) of the token request; redirects only within the realm's origin."""
        client = self._token_client()
        headers = {"User-Agent": ua} if (ua := getattr(self._local, "user_agent", None)) else {}
        if creds is not None and creds.identity_token is not None:
            remember_secret(creds.identity_token.reveal())
            form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token.reveal(),
                    "client_id": "regslo", "scope": " ".join(scopes)}
            if service:
                form["service"] = service
            request = client.build_request("POST", realm, data=form, timeout=timeout, headers=headers)
        else:
            params = [("service", service)] if service else []
            params += [("scope", s) for s in scopes]
            if creds is not None and creds.password is not None and creds.username is not None:
                headers["Authorization"] = _basic_header(creds)
            request = client.build_request("GET", realm, params=params, headers=headers, timeout=timeout)
        home = origin(realm)
        for _hop in range(limits.REDIRECTS + 1):
            response = client.send(request, stream=True)
            try:
                location = response.headers.get("Location")
                if response.status_code not in _REDIRECTS or not location:
                    return response.status_code, limits.read_capped(response, limits.TOKEN_RESPONSE, "token request")
            finally:
                response.close()
            target = urljoin(str(request.url), location)
            if origin(target) != home:
                raise AuthError(f"token server {host} redirected the token request to another origin "
                                f"({urlsplit(target).scheme}://{urlsplit(target).netloc}); refused")
            if response.status_code == 303 or (response.status_code in (301, 302) and request.method == "POST"):
                request = client.build_request("GET", target, headers=headers, timeout=timeout)
            else:
                request = client.build_request(request.method, target, content=request.content,
                                               headers=request.headers, timeout=timeout)
        raise AuthError(f"token server {host} redirected more than {limits.REDIRECTS} times")

    def _token_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = deadlines.install(httpx.Client(
                    verify=self._verify, timeout=self._token_timeout, follow_redirects=False,
                    headers={"Accept-Encoding": "identity"}))
            return self._client

    # --- credentials --------------------------------------------------------------------------------
    def _credentials(self, count: bool = True) -> Credentials | None:
        if self._static is not None or self._source is None:
            return self._static
        with self._lock:
            if self._clock() - self._creds_at < CREDENTIAL_TTL:
                return self._creds
        started = self._clock()
        try:
            creds = self._source()
        except CredentialError as exc:
            raise AuthError(f"{self.name}: {exc}") from None
        finally:
            if count:
                self._spent(self._clock() - started, work=True)
        with self._lock:
            self._creds, self._creds_at = creds, self._clock()
        return creds

    def _forget_credentials(self) -> None:
        with self._lock:
            self._creds_at = float("-inf")


def _parse_token(raw: bytes | httpx.Response, host: str, scopes: list[str], started: float) -> _Token:
    if isinstance(raw, httpx.Response):
        raw = raw.content
    try:
        body = json.loads(raw)
    except ValueError:
        raise AuthError(f"token server {host} answered something other than JSON") from None
    if not isinstance(body, dict):
        raise AuthError(f"token server {host} answered JSON without a token")
    value = body.get("token") or body.get("access_token")
    if not isinstance(value, str) or not value:
        raise AuthError(f"token server {host} answered JSON without a token")
    remember_secret(value)
    if len(value) > limits.TOKEN or not _TOKEN68.fullmatch(value):
        raise AuthError(f"token server {host} answered a token outside RFC 6750 token syntax; refused")
    lifetime = body.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0:
        lifetime = DEFAULT_EXPIRES_IN
    issued_at = body.get("issued_at")
    if isinstance(issued_at, str):
        try:  # accepted and validated; expiry is counted from our own clock at request time (skew-proof)
            datetime.fromisoformat(issued_at.replace("Z", "+00:00"))
        except ValueError:
            pass
    margin = min(MAX_REFRESH_MARGIN, float(lifetime) * 0.1)
    return _Token(value=Secret(value), scopes=tuple(scopes), expires_at=started + float(lifetime),
                  refresh_at=started + float(lifetime) - margin)


def _discard(response: httpx.Response) -> None:
    """Done with a 401 before a retry: read at most ``limits.ERROR_BODY`` of it and drop the connection if
    there is more. (httpx reads the whole body of a response the auth flow answers; marking it read keeps a
    300 MB 401 out of memory.)"""
    try:
        body = limits.read_capped(response, limits.ERROR_BODY, "challenge", reason=None)
    except (httpx.HTTPError, OCIError):
        body = b""
    finally:
        response.close()
    response._content = body  # what Response.read() returns once a body has been read


def _token_timeout(request: httpx.Request, default: float) -> httpx.Timeout:
    """The request's own timeouts (a probe's remaining deadline), capped at ``default``."""
    given = request.extensions.get("timeout") or {}
    parts = {k: min(v, default) if v is not None else default
             for k, v in given.items() if k in ("connect", "read", "write", "pool")}
    return httpx.Timeout(default, **parts)


def _basic_header(creds: Credentials) -> str:
    password = creds.password.reveal() if creds.password else ""
    remember_secret(password)
    value = base64.b64encode(f"{creds.username}:{password}".encode()).decode()
    remember_secret(value)
    return "Basic " + value


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def build_auth(registry: Registry, token_timeout: float = 10.0) -> RegistryAuth:
    """The ``httpx.Auth`` for ``registry``: static username/password, a docker config, or anonymous."""
    cfg = registry.auth
    credentials: Credentials | Callable[[], Credentials | None] | None = None
    if cfg is not None and cfg.docker_config is not None:
        path, host = cfg.docker_config, registry.host
        credentials = lambda: load_credentials(path, host)  # noqa: E731 -- read lazily, timed in auth_seconds
    elif cfg is not None and cfg.username:
        credentials = Credentials(cfg.username, password=cfg.password, source="config")
    return RegistryAuth(credentials, verify=build_verify(registry.tls), token_timeout=token_timeout,
                        name=registry.name, origin=registry.url,
                        allow_insecure_realm=bool(registry.tls and registry.tls.insecure_skip_verify))
