"""Blob pulls redirected to another host, as registries on object storage do (S3, GCS, a CDN).

A real docker-registry with distribution's ``redirect`` storage middleware answers blob GETs (and HEADs)
with ``307 Location: <store>/docker/registry/v2/blobs/.../data``. The store is a small HTTP server on
another port (another origin) serving the registry's storage directory. Like a pre-signed URL it accepts
only GET (HEAD gets 403), and it records what it was sent, so the tests can see that no ``Authorization``
header left the registry's origin. Each failure of the store is checked on both paths -- httpx
(``size`` unknown) and regslo.oci.download (``size`` above the threshold) -- which must give the same reason.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from regslo.config import AuthConfig, Registry, Secret, TLSConfig
from regslo.oci.auth import build_auth
from regslo.oci.client import FAST_DOWNLOAD_ABOVE, RegistryClient
from regslo.oci.download import download_blob, ssl_context
from regslo.oci.errors import OCIError
from regslo.oci.tls import build_verify
from tests.support.registry import make_htpasswd
from tests.support.tls import make_ca, make_server_cert

REPO = "regslo/big"
USER, PASSWORD = "probe", "r3direct-Pa55"
SIZE = FAST_DOWNLOAD_ABOVE + 4321
PATHS = {"httpx": None, "download": SIZE}  # the size get_blob is given selects the path


class ObjectStore:
    """Serves ``root`` over HTTP(S) on 127.0.0.1; ``mode`` picks how it answers GETs."""

    def __init__(self, root: Path, tls: tuple[Path, Path] | None = None):
        self.root = root
        self.mode = "serve"  # serve | chunked | stall | truncate | loop | missing
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.release = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, name="object-store", daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(store: ObjectStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_HEAD(self) -> None:  # noqa: N802 - a URL signed for GET refuses other methods
            store.requests.append(("HEAD", self.path, dict(self.headers)))
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            store.requests.append(("GET", self.path, dict(self.headers)))
            path = store.root / self.path.split("?")[0].lstrip("/")
            if store.mode == "loop":
                self.send_response(307)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if store.mode == "missing" or not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = path.read_bytes()
            self.send_response(200)
            if store.mode == "chunked":
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(data), 1_000_000):
                    part = data[i:i + 1_000_000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if store.mode == "serve":
                self.wfile.write(data)
            elif store.mode == "truncate":
                self.wfile.write(data[:len(data) // 2])
                self.close_connection = True
            elif store.mode == "stall":
                self.wfile.write(data[:1024 * 1024])
                store.release.wait(30)

    return Handler


@pytest.fixture
def redirected(registries, tmp_path):
    """Factory: (registry config for regslo, store, digest) with a SIZE blob pushed; basic auth on."""
    stores: list[ObjectStore] = []

    def make(store_tls: tuple[Path, Path] | None = None, tls_config: TLSConfig = TLSConfig()):
        reg = registries("r1", htpasswd=make_htpasswd(tmp_path / "htpasswd", USER, PASSWORD))[0]
        store = ObjectStore(reg.storage, store_tls)
        stores.append(store)
        reg.stop()
        reg.config["middleware"] = {"storage": [{"name": "redirect", "options": {"baseurl": store.url}}]}
        reg.start()
        config = Registry("r1", reg.url, "t", auth=AuthConfig(USER, Secret(PASSWORD)), tls=tls_config)
        with RegistryClient(config, timeout=30) as client:
            digest = client.push_blob(REPO, os.urandom(SIZE), time.monotonic() + 30)
        return config, store, digest

    yield make
    for store in stores:
        store.stop()


def pull(config: Registry, digest: str, size: int | None, deadline: float = 30.0) -> int:
    with RegistryClient(config, timeout=10) as client:
        return client.get_blob(REPO, digest, time.monotonic() + deadline, size=size)


@pytest.mark.parametrize("path", PATHS)
def test_redirect_is_followed_with_get_and_without_credentials(redirected, path):
    config, store, digest = redirected()
    assert pull(config, digest, PATHS[path]) == SIZE
    gets = [r for r in store.requests if r[0] == "GET"]
    assert len(gets) == 1 and gets[0][1].endswith(f"/{digest.split(':')[1]}/data")
    assert not any(r[0] == "HEAD" for r in store.requests)  # the HEAD's own Location is never used
    assert all("authorization" not in {k.lower() for k in r[2]} for r in store.requests)


def test_download_reports_the_redirect_and_its_time(redirected):
    config, store, digest = redirected()
    with httpx.Client(auth=build_auth(config), timeout=10) as http:  # as get_blob: HEAD settles auth
        head = http.head(f"{config.url}/v2/{REPO}/blobs/{digest}", follow_redirects=False)
        assert head.status_code == 307 and head.request.headers["Authorization"].startswith("Basic ")
        t0 = time.perf_counter()
        result = download_blob(str(head.request.url), head.request.headers.multi_items(), digest,
                               context=ssl_context(True), timeout=10)
        elapsed = time.perf_counter() - t0
    assert result.size == SIZE and result.redirects == 1 and result.url.startswith(store.url + "/docker/")
    assert 0 < result.seconds <= elapsed


def test_chunked_body_from_the_store(redirected):
    config, store, digest = redirected()
    store.mode = "chunked"
    assert pull(config, digest, SIZE) == SIZE


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode,reason", [("missing", "not_found"), ("truncate", "connect"), ("loop", "other"),
                                         ("stall", "timeout"), ("down", "connect")])
def test_store_failures_give_the_same_reason_on_both_paths(redirected, path, mode, reason):
    config, store, digest = redirected()
    if mode == "down":
        store.stop()
    else:
        store.mode = mode
    t0 = time.monotonic()
    with pytest.raises(OCIError) as info:
        pull(config, digest, PATHS[path], deadline=2.0)
    assert info.value.reason == reason, str(info.value)
    assert time.monotonic() - t0 < 2.0 + 1.0  # a stalled store is cut at the deadline
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize("path", PATHS)
def test_https_store_trusted_through_ca_file(redirected, tmp_path, path):
    ca = make_ca(tmp_path / "pki")
    cert = make_server_cert(ca, tmp_path / "pki")
    config, _store, digest = redirected(store_tls=(cert.cert_file, cert.key_file),
                                        tls_config=TLSConfig(ca_file=ca.cert_file))
    assert isinstance(build_verify(config.tls), ssl.SSLContext)
    assert pull(config, digest, PATHS[path]) == SIZE
    untrusted = Registry(config.name, config.url, config.region, auth=config.auth)
    with pytest.raises(OCIError) as info:
        pull(untrusted, digest, PATHS[path])
    assert info.value.reason == "tls"
