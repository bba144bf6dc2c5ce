"""Large-blob pulls through regslo.oci.download against real registries: auth, TLS, errors, verification.

``get_blob(..., size=N)`` with N above ``FAST_DOWNLOAD_ABOVE`` takes the http.client path (an httpx HEAD
settles auth, the GET reads into reused buffers). Every case here checks it behaves like the httpx path:
same result, same failure reasons. Redirects to another host are in test_blob_download_redirect.py.
"""

from __future__ import annotations

import os
import time

import pytest

from regslo.config import AuthConfig, Registry, Secret, TLSConfig
from regslo.oci.client import FAST_DOWNLOAD_ABOVE, RegistryClient, sha256_digest
from regslo.oci.download import BUFFER_SIZE
from regslo.oci.errors import OCIError
from tests.support.registry import make_htpasswd
from tests.support.tls import make_ca, make_server_cert
from tests.support.token_server import TokenServer

REPO = "regslo/big"
USER, PASSWORD = "probe", "d0wnload-Pa55"
# a whole number of buffers (the last read fills the buffer, EOF comes on the next one) and an odd size
SIZES = (12 * BUFFER_SIZE, FAST_DOWNLOAD_ABOVE + 12345)


def blob_path(reg, digest: str):
    hexd = digest.split(":", 1)[1]
    return reg.storage / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"


def push(client: RegistryClient, size: int) -> tuple[bytes, str]:
    data = os.urandom(size)
    digest = client.push_blob(REPO, data, time.monotonic() + 30)
    return data, digest


def get_requests(reg) -> list[str]:
    """'METHOD path' of the blob requests in the registry's access log."""
    out = []
    for line in reg.access_log.read_text().splitlines():
        if '"' in line and "/blobs/sha256:" in line:
            method, path = line.split('"')[1].split()[:2]
            out.append(f"{method} {path.split('/blobs/')[0]}")
    return out


@pytest.mark.parametrize("size", SIZES)
def test_large_blob_is_verified_and_matches_the_httpx_path(registry, size):
    with RegistryClient(Registry("r1", registry.url, "t"), timeout=30) as client:
        _data, digest = push(client, size)
        before = len(get_requests(registry))
        assert client.get_blob(REPO, digest, time.monotonic() + 30, size=size) == size
        assert get_requests(registry)[before:] == [f"HEAD /v2/{REPO}", f"GET /v2/{REPO}"]
        assert client.get_blob(REPO, digest, time.monotonic() + 30) == size  # httpx path, same answer
        assert get_requests(registry)[before + 2:] == [f"GET /v2/{REPO}"]


def test_small_or_unknown_sizes_stay_on_httpx(registry):
    with RegistryClient(Registry("r1", registry.url, "t"), timeout=30) as client:
        _data, digest = push(client, 1024)
        before = len(get_requests(registry))
        assert client.get_blob(REPO, digest, size=1024) == 1024
        assert client.get_blob(REPO, digest) == 1024
        assert get_requests(registry)[before:] == [f"GET /v2/{REPO}"] * 2  # no HEAD


def test_corrupted_blob_on_disk_is_digest_mismatch(registry):
    size = SIZES[1]
    with RegistryClient(Registry("r1", registry.url, "t"), timeout=30) as client:
        _data, digest = push(client, size)
        path = blob_path(registry, digest)
        with open(path, "r+b") as f:  # same length, one byte flipped in the last buffer
            f.seek(size - 10)
            byte = f.read(1)
            f.seek(size - 10)
            f.write(bytes([byte[0] ^ 0xFF]))
        with pytest.raises(OCIError) as info:
            client.get_blob(REPO, digest, time.monotonic() + 30, size=size)
    assert info.value.reason == "digest_mismatch" and digest in str(info.value)


def test_missing_blob_is_not_found(registry):
    with RegistryClient(Registry("r1", registry.url, "t"), timeout=10) as client:
        with pytest.raises(OCIError) as info:
            client.get_blob(REPO, sha256_digest(b"never pushed"), time.monotonic() + 10, size=SIZES[0])
    assert info.value.reason == "not_found" and info.value.status == 404


def test_deadline_already_passed_is_timeout(registry):
    with RegistryClient(Registry("r1", registry.url, "t"), timeout=10) as client:
        _data, digest = push(client, SIZES[1])
        with pytest.raises(OCIError) as info:
            client.get_blob(REPO, digest, time.monotonic() - 1, size=SIZES[1])
    assert info.value.reason == "timeout"


def test_stopped_registry_is_connect(registry):
    client = RegistryClient(Registry("r1", registry.url, "t"), timeout=5)
    _data, digest = push(client, SIZES[1])
    registry.stop()
    with client, pytest.raises(OCIError) as info:
        client.get_blob(REPO, digest, time.monotonic() + 5, size=SIZES[1])
    assert info.value.reason == "connect"


def test_basic_auth(registries, tmp_path):
    reg = registries("r1", htpasswd=make_htpasswd(tmp_path / "htpasswd", USER, PASSWORD))[0]
    good = Registry("r1", reg.url, "t", auth=AuthConfig(USER, Secret(PASSWORD)))
    with RegistryClient(good, timeout=30) as client:
        _data, digest = push(client, SIZES[1])
        assert client.get_blob(REPO, digest, time.monotonic() + 30, size=SIZES[1]) == SIZES[1]
    bad = Registry("r1", reg.url, "t", auth=AuthConfig(USER, Secret("wrong-password")))
    with RegistryClient(bad, timeout=10) as client, pytest.raises(OCIError) as info:
        client.get_blob(REPO, digest, time.monotonic() + 10, size=SIZES[1])
    assert info.value.reason == "auth" and "wrong-password" not in str(info.value)


def test_token_auth(registries, tmp_path):
    server = TokenServer(tmp_path / "token", users={USER: PASSWORD}).start()
    try:
        reg = registries("r1", token=server.registry_config())[0]
        config = Registry("r1", reg.url, "t", auth=AuthConfig(USER, Secret(PASSWORD)))
        with RegistryClient(config, timeout=30) as client:
            _data, digest = push(client, SIZES[0])
            issued = server.issued
            assert client.get_blob(REPO, digest, time.monotonic() + 30, size=SIZES[0]) == SIZES[0]
            assert server.issued == issued + 1  # a pull-scoped token, fetched for the HEAD, reused by the GET
            assert client.get_blob(REPO, digest, time.monotonic() + 30, size=SIZES[0]) == SIZES[0]
            assert server.issued == issued + 1
    finally:
        server.stop()


def test_tls_with_private_ca(registries, tmp_path):
    ca = make_ca(tmp_path / "pki")
    cert = make_server_cert(ca, tmp_path / "pki")
    reg = registries("r1", tls=(cert.cert_file, cert.key_file))[0]
    trusted = Registry("r1", reg.url, "t", tls=TLSConfig(ca_file=ca.cert_file))
    with RegistryClient(trusted, timeout=30) as client:
        _data, digest = push(client, SIZES[1])
        assert client.get_blob(REPO, digest, time.monotonic() + 30, size=SIZES[1]) == SIZES[1]
    skip = Registry("r1", reg.url, "t", tls=TLSConfig(insecure_skip_verify=True))
    with RegistryClient(skip, timeout=30) as client:
        assert client.get_blob(REPO, digest, time.monotonic() + 30, size=SIZES[1]) == SIZES[1]
    untrusted = Registry("r1", reg.url, "t")
    with RegistryClient(untrusted, timeout=10) as client, pytest.raises(OCIError) as info:
        client.get_blob(REPO, digest, time.monotonic() + 10, size=SIZES[1])
    assert info.value.reason == "tls"
