"""A small OCI distribution client on httpx: what a probe needs, each call bounded by a deadline.

One ``RegistryClient`` per registry, safe to share between threads (httpx.Client is). Every method takes an
optional ``deadline`` (a ``time.monotonic()`` value; without one, ``timeout`` from the call's start). It is a
wall-clock bound on the whole call -- every request, redirect, token request and body byte
(``regslo.oci.deadline``) -- so a probe ends at its own timeout whatever the registry does. ``not_after``, when
set (on shutdown), caps every deadline. Failures raise ``OCIError`` with a bounded ``reason``.

What goes where: requests carry credentials only to the registry's origin (scheme, host, port). An upload
``Location``, a ``Link rel="next"`` or a redirect to another origin is followed without them; one that
would leave an ``https`` registry for plain ``http`` is refused (reason ``tls``). Redirects are followed
here, not by httpx, so each hop is checked. Bodies are read up to the caps of ``regslo.oci.limits``.
"""

from __future__ import annotations

import hashlib
import json
import queue
import ssl
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable
from urllib.parse import urljoin
from urllib.request import getproxies

import httpx

from regslo import __version__
from regslo.config import Registry
from regslo.oci import deadline as deadlines
from regslo.oci import limits
from regslo.oci.auth import AuthError, origin
from regslo.oci.errors import DigestMismatch, OCIError, classify, error_from_response, short_message
from regslo.oci.names import valid_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST))
READ_CHUNK = 1024 * 1024
THREADED_HASH_ABOVE = 8 * 1024 * 1024
FAST_DOWNLOAD_ABOVE = 8 * 1024 * 1024  # get_blob(size=...) above this: regslo.oci.download
REDIRECTS = (301, 302, 303, 307, 308)


def _tune_httpcore() -> None:
    """httpcore reads HTTP/1.1 bodies 64 KiB at a time; on a 256 MiB blob the per-read Python overhead
    doubles the transfer time (bench/pull_vs_curl.py). Reading up to 4 MiB per call leaves small
    responses unchanged (recv returns what is there) and brings large pulls close to curl.

    READ_NUM_BYTES is private to httpcore: pyproject.toml pins the httpcore range this was tested with
    (1.0.x); if a later layout lacks it, the setting is simply ignored and reads stay at httpcore's size."""
    try:
        from httpcore._sync import http11
    except ImportError:  # pragma: no cover - layout of a future httpcore
        return
    if getattr(http11.HTTP11Connection, "READ_NUM_BYTES", 0) < 4 * 1024 * 1024:
        http11.HTTP11Connection.READ_NUM_BYTES = 4 * 1024 * 1024


_tune_httpcore()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Manifest:
    body: bytes
    media_type: str
    digest: str


class RegistryClient:
    """OCI distribution API client for one registry."""

    def __init__(self, registry: Registry, timeout: float = 20.0, *, chunk_threshold: int = 8 * 1024 * 1024,
                 chunk_size: int = 4 * 1024 * 1024, user_agent: str | None = None,
                 transport: httpx.BaseTransport | None = None):
        from regslo.oci.auth import build_auth
        from regslo.oci.tls import build_verify

        self.registry = registry
        self.timeout = timeout
        self.chunk_threshold = chunk_threshold
        self.chunk_size = chunk_size
        self.auth = build_auth(registry)
        self.not_after: float | None = None  # a monotonic time no call may outlive (set on shutdown)
        self._origin = origin(registry.url)
        self._client = deadlines.install(httpx.Client(
            base_url=registry.url,
            auth=self.auth,
            verify=build_verify(registry.tls),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,  # followed by _open, which checks every hop
            headers={"User-Agent": user_agent or f"regslo/{__version__}", "Accept-Encoding": "identity"},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            transport=transport,
        ))

    @property
    def auth_seconds(self) -> float:
        """Seconds the calling thread spent obtaining credentials (token requests, credential helpers),
        so concurrent probes sharing this client each see only their own auth time."""
        return float(getattr(self.auth, "thread_auth_seconds", 0.0) or 0.0)

    def close(self) -> None:
        self._client.close()
        close_auth = getattr(self.auth, "close", None)
        if close_auth:
            close_auth()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------
    def _deadline(self, deadline: float | None) -> float:
        """The wall-clock end of a call: its deadline (or ``timeout`` from now), capped by ``not_after``."""
        end = deadline if deadline is not None else time.monotonic() + self.timeout
        return end if self.not_after is None else min(end, self.not_after)

    def _timeout(self, deadline: float | None) -> httpx.Timeout:
        if deadline is None:
            return httpx.Timeout(self.timeout)
        left = deadline - time.monotonic()
        if left <= 0:
            raise OCIError("timeout", "probe deadline passed")
        return httpx.Timeout(min(self.timeout, left))

    def _hop(self, url: httpx.URL, what: str) -> bool:
        """Check a request target; True when it is the registry's own origin (credentials may go along)."""
        target = origin(url)
        if target[0] not in ("http", "https"):
            raise OCIError("client_error", f"{what}: refused to follow a {target[0][:10] or 'relative'} URL")
        if self._origin[0] == "https" and target[0] == "http":
            raise OCIError("tls", f"{what}: refused to leave the https registry for plain "
                                  f"http://{url.netloc.decode()[:80]} (nothing is sent without TLS)")
        return target == self._origin

    def _open(self, method: str, url: str, *, scope: str, deadline: float, what: str, follow: bool = True,
              headers: dict[str, str] | None = None, content: bytes | None = None) -> httpx.Response:
        """Send a request (following redirects hop by hop) and return the streamed response; the caller reads
        and closes it. Call inside ``deadline.scope``."""
        for _hop in range(limits.REDIRECTS + 1):
            request = self._client.build_request(method, url, headers=headers, content=content,
                                                 timeout=self._timeout(deadline),
                                                 extensions={"regslo_scope": scope})
            same = self._hop(request.url, what)
            try:
                response = self._client.send(request, auth=self.auth if same else None, stream=True,
                                             follow_redirects=False)
            except httpx.HTTPError as exc:
                raise _wrap(exc, what) from exc
            except AuthError as exc:
                raise OCIError(exc.reason, f"{what}: {exc.reason}: {short_message(exc, 160)}") from exc
            location = response.headers.get("Location")
            if not follow or response.status_code not in REDIRECTS or not location:
                return response
            response.close()
            url = urljoin(str(request.url), location)
            if (response.status_code == 303 and method != "HEAD") or \
                    (response.status_code in (301, 302) and method == "POST"):
                method, content = "GET", None
                headers = {k: v for k, v in (headers or {}).items() if k.lower() != "content-type"}
        raise OCIError("other", f"{what}: more than {limits.REDIRECTS} redirects")  # as httpx TooManyRedirects

    def _request(self, method: str, url: str, *, scope: str, deadline: float | None, what: str,
                 ok: Iterable[int], limit: int = limits.DRAIN, over: str | None = None,
                 **kwargs: Any) -> tuple[httpx.Response, bytes]:
        """One call: (response, body read up to ``limit``). Over the limit: ``OCIError(over)``, or with
        ``over=None`` the body is cut there (bodies regslo does not need). Non-``ok`` statuses raise."""
        with deadlines.scope(self._deadline(deadline)) as end:
            response = self._open(method, url, scope=scope, deadline=end, what=what, **kwargs)
            try:
                if response.status_code not in ok:
                    body = limits.read_capped(response, limits.ERROR_BODY, what, reason=None)
                    raise error_from_response(response, what, body=body)
                body = b"" if method == "HEAD" else limits.read_capped(response, limit, what, reason=over)
            except httpx.HTTPError as exc:
                raise _wrap(exc, what) from exc
            finally:
                response.close()
        return response, body

    @staticmethod
    def _scope(repo: str, actions: str = "pull,push") -> str:
        return f"repository:{repo}:{actions}"

    # -- API --------------------------------------------------------------------------------------
    def ping(self, deadline: float | None = None) -> None:
        """``GET /v2/``: 200 (after authentication if the registry asks for it)."""
        self._request("GET", "/v2/", scope="", deadline=deadline, what="ping", ok=(200,))

    def push_blob(self, repo: str, data: bytes, deadline: float | None = None, digest: str | None = None) -> str:
        """Upload a blob; monolithic (POST + PUT) up to ``chunk_threshold``, PATCH chunks above. Returns its digest."""
        digest = digest or sha256_digest(data)
        scope = self._scope(repo)
        start, _ = self._request("POST", f"/v2/{repo}/blobs/uploads/", scope=scope, deadline=deadline,
                                 what="blob upload start", ok=(202, 201))
        if start.status_code == 201:  # registry accepted a mount or already has it
            return digest
        location = _location(start)
        body: bytes | memoryview = data
        if len(data) > self.chunk_threshold:
            view = memoryview(data)
            offset = 0
            while offset < len(data):
                chunk = view[offset:offset + self.chunk_size]
                end = offset + len(chunk) - 1
                resp, _ = self._request("PATCH", location, scope=scope, deadline=deadline,
                                        what="blob upload chunk", ok=(202,), content=bytes(chunk),
                                     headers={"Content-Type": "application/octet-stream",
                                              "Content-Range": f"{offset}-{end}"})
                location = _location(resp)
                offset = end + 1
            body = b""
        sep = "&" if "?" in location else "?"
        self._request("PUT", f"{location}{sep}digest={digest}", scope=scope, deadline=deadline,
                      what="blob upload commit", ok=(201, 204), content=bytes(body),
                      headers={"Content-Type": "application/octet-stream"})
        return digest

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str = OCI_MANIFEST,
                     deadline: float | None = None) -> str:
        digest = sha256_digest(body)
        resp, _ = self._request("PUT", f"/v2/{repo}/manifests/{reference}", scope=self._scope(repo),
                             deadline=deadline, what="manifest put", ok=(201, 200, 202), content=body,
                             headers={"Content-Type": media_type})
        returned = resp.headers.get("Docker-Content-Digest")
        if returned and returned != digest:
            raise DigestMismatch(digest, returned)
        return digest

    def get_manifest(self, repo: str, reference: str, deadline: float | None = None) -> Manifest:
        resp, body = self._request("GET", f"/v2/{repo}/manifests/{reference}", scope=self._scope(repo, "pull"),
                                   deadline=deadline, what="manifest get", ok=(200,), limit=limits.MANIFEST,
                                   over="server_error", headers={"Accept": MANIFEST_ACCEPT})
        digest = sha256_digest(body)
        expected = reference if reference.startswith("sha256:") else resp.headers.get("Docker-Content-Digest")
        if expected and expected != digest:
            raise DigestMismatch(expected, digest)
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(body=body, media_type=media_type, digest=digest)

    def head_manifest(self, repo: str, reference: str, deadline: float | None = None) -> str | None:
        """Digest of the manifest (``Docker-Content-Digest``; ``reference`` itself when the header is missing
        or not a sha256 digest), or None when the registry says 404."""
        resp, _ = self._request("HEAD", f"/v2/{repo}/manifests/{reference}", scope=self._scope(repo, "pull"),
                             deadline=deadline, what="manifest head", ok=(200, 404),
                             headers={"Accept": MANIFEST_ACCEPT})
        if resp.status_code == 404:
            return None
        returned = resp.headers.get("Docker-Content-Digest", "")
        # only a well-formed sha256 digest is believed: anything else (absent, garbled, a 60 KiB header)
        # returns the reference, and callers that need the digest hash the body instead
        return returned if valid_digest(returned) else reference

    def get_blob(self, repo: str, digest: str, deadline: float | None = None, size: int | None = None) -> int:
        """Stream a blob, verifying its sha256 as it arrives; return its size in bytes.

        ``size`` is the blob's size from the manifest, when known. Blobs larger than ``FAST_DOWNLOAD_ABOVE``
        are read by ``regslo.oci.download`` (zero-copy reads into one buffer, hashed in place) after an httpx
        ``HEAD`` has settled authentication; smaller ones, and unknown sizes, stream through httpx."""
        if not digest.startswith("sha256:"):
            raise OCIError("client_error", f"unsupported digest algorithm in {digest[:20]}")
        if size is not None and size > FAST_DOWNLOAD_ABOVE and not _env_proxies():
            return self._download_blob(repo, digest, deadline, size)
        expected = size
        hasher = _Hasher()
        size = 0
        what = "blob get"
        with deadlines.scope(self._deadline(deadline)) as end:
            resp = self._open("GET", f"/v2/{repo}/blobs/{digest}", scope=self._scope(repo, "pull"), deadline=end,
                              what=what)
            try:
                if resp.status_code != 200:
                    raise error_from_response(resp, what, body=limits.read_capped(resp, limits.ERROR_BODY, what,
                                                                                  reason=None))
                if int(resp.headers.get("Content-Length") or 0) > THREADED_HASH_ABOVE:
                    hasher.start_thread()
                for chunk in resp.iter_raw():
                    hasher.update(chunk)
                    size += len(chunk)
                    if expected is not None and size > expected:
                        raise OCIError("digest_mismatch", f"blob {digest[:19]} has more than the {expected} bytes "
                                                          "its manifest says")
                    if time.monotonic() > end:
                        raise OCIError("timeout", "probe deadline passed during blob download")
            except httpx.HTTPError as exc:
                raise _wrap(exc, what) from exc
            finally:
                resp.close()
                actual = "sha256:" + hasher.finish()
        if actual != digest:
            raise DigestMismatch(digest, actual)
        return size

    @cached_property
    def _download_context(self) -> ssl.SSLContext:
        from regslo.oci.download import ssl_context
        from regslo.oci.tls import build_verify

        return ssl_context(build_verify(self.registry.tls))

    def _download_blob(self, repo: str, digest: str, deadline: float | None, size: int | None = None) -> int:
        from regslo.oci.download import download_blob

        # the auth flow runs on the HEAD; the GET reuses the headers the registry accepted
        end = self._deadline(deadline)
        head, _ = self._request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=self._scope(repo, "pull"),
                                deadline=end, what="blob get", ok=(200, *REDIRECTS), follow=False)
        return download_blob(str(head.request.url), head.request.headers.multi_items(), digest,
                             context=self._download_context, timeout=self.timeout, deadline=end, size=size).size

    def read_blob(self, repo: str, digest: str, deadline: float | None = None) -> bytes:
        """A small blob's bytes, digest verified (for copying; ``get_blob`` streams large ones)."""
        _, body = self._request("GET", f"/v2/{repo}/blobs/{digest}", scope=self._scope(repo, "pull"),
                                deadline=deadline, what="blob get", ok=(200,), limit=limits.SMALL_BLOB,
                                over="server_error")
        actual = sha256_digest(body)
        if actual != digest:
            raise DigestMismatch(digest, actual)
        return body

    def delete_manifest(self, repo: str, digest: str, deadline: float | None = None) -> bool:
        """Delete by digest (distribution refuses deletes by tag). False when it was already gone."""
        resp, _ = self._request("DELETE", f"/v2/{repo}/manifests/{digest}", scope=self._scope(repo, "delete"),
                             deadline=deadline, what="manifest delete", ok=(202, 200, 204, 404))
        return resp.status_code != 404

    def delete_blob(self, repo: str, digest: str, deadline: float | None = None) -> bool:
        resp, _ = self._request("DELETE", f"/v2/{repo}/blobs/{digest}", scope=self._scope(repo, "delete"),
                             deadline=deadline, what="blob delete", ok=(202, 200, 204, 404))
        return resp.status_code != 404

    def referrers(self, repo: str, digest: str, deadline: float | None = None,
                  max_pages: int = 10, max_descriptors: int = 100_000) -> list[dict] | None:
        """Descriptors of the manifests whose ``subject`` is ``digest`` (OCI distribution spec 1.1, "Listing
        Referrers"), following ``Link`` pagination up to ``max_pages``; more than ``max_descriptors`` over
        all pages, or a next page on another path (another repository's list), is a ``server_error``; a next
        page on another host is followed without credentials, as a redirect would be. None when the registry
        answers 404: the spec forbids a 404 from a registry that supports the API, so it has none
        (distribution 2.8)."""
        out: list[dict] = []
        url: str | None = f"/v2/{repo}/referrers/{digest}"
        path: str | None = None  # the list's path: every page must be on it
        end = self._deadline(deadline)
        for _ in range(max_pages):
            if url is None:
                break
            resp, body = self._request("GET", url, scope=self._scope(repo, "pull"), deadline=end,
                                       what="referrers get", ok=(200, 404), limit=limits.MANIFEST,
                                       over="server_error", headers={"Accept": OCI_INDEX})
            if resp.status_code == 404:
                return None
            try:
                doc = json.loads(body)
            except ValueError:
                raise OCIError("server_error", "referrers get: response is not JSON") from None
            manifests = doc.get("manifests") if isinstance(doc, dict) else None
            if not isinstance(manifests, list):
                raise OCIError("server_error", "referrers get: response is not an image index")
            out.extend(m for m in manifests if isinstance(m, dict))
            if len(out) > max_descriptors:
                raise OCIError("server_error", f"referrers get: more than {max_descriptors} referrers")
            path = path or resp.request.url.path
            url = _next_link(resp)
            if url is not None and httpx.URL(url).path != path:
                # the next page of this subject's list, not another repository's
                raise OCIError("server_error", "referrers get: next page link leaves the referrers list")
        return out

    def list_tags(self, repo: str, deadline: float | None = None, page_size: int = 1000) -> list[str]:
        """All tags of ``repo`` (following ``Link`` pagination); empty when the repository does not exist."""
        tags: list[str] = []
        url: str | None = f"/v2/{repo}/tags/list?n={page_size}"
        end = self._deadline(deadline)
        for _page in range(limits.TAG_PAGES):
            resp, body = self._request("GET", url, scope=self._scope(repo, "pull"), deadline=end,
                                       what="tags list", ok=(200, 404), limit=limits.TAG_PAGE, over="server_error")
            if resp.status_code == 404:
                return tags
            try:
                doc = json.loads(body) if body else {}
            except ValueError:
                raise OCIError("server_error", "tags list: answer is not JSON") from None
            page = doc.get("tags") if isinstance(doc, dict) else None
            tags.extend(t for t in (page or []) if isinstance(t, str))
            if len(tags) > limits.TAGS:
                raise OCIError("server_error", f"tags list: more than {limits.TAGS} tags")
            url = _next_link(resp)
            if url is None:
                return tags
        raise OCIError("server_error", f"tags list: more than {limits.TAG_PAGES} pages")


class _Hasher:
    """sha256 of a stream; for large blobs the hashing runs in a second thread (hashlib and socket reads
    both release the GIL), so verifying costs little more than receiving."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None

    def start_thread(self) -> None:
        self._queue = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, name="regslo-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            self._sha.update(chunk)

    def update(self, chunk: bytes) -> None:
        if self._queue is not None:
            self._queue.put(chunk)
        else:
            self._sha.update(chunk)

    def finish(self) -> str:
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = None
        return self._sha.hexdigest()


def _env_proxies() -> bool:
    """True when HTTP(S)_PROXY/ALL_PROXY is set: httpx honours it, regslo.oci.download does not."""
    proxies = getproxies()
    return any(proxies.get(k) for k in ("http", "https", "all"))


def _location(resp: httpx.Response) -> str:
    location = resp.headers.get("Location")
    if not location:
        raise OCIError("server_error", f"upload response {resp.status_code} without Location header")
    return urljoin(str(resp.request.url), location)


def _next_link(resp: httpx.Response) -> str | None:
    link = resp.headers.get("Link")
    if not link or 'rel="next"' not in link:
        return None
    target = link.split(";")[0].strip().strip("<>")
    return urljoin(str(resp.request.url), target)


def _wrap(exc: httpx.HTTPError, what: str) -> OCIError:
    reason = classify(exc)
    return OCIError(reason, f"{what}: {reason}: {short_message(exc, 160)}")
