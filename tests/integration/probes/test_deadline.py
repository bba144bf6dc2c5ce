"""A probe's deadline is a wall-clock deadline (issue 9, item 2), against hostile servers on 127.0.0.1.

httpx timeouts apply per socket read: a server sending one byte a second never trips them. Each test here
has a server that keeps sending, slowly, and asserts the probe (or client call) ends by its deadline with
reason "timeout". Bounds carry slack for a loaded machine; the servers would hold on for minutes.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from regslo.config import AuthConfig, ProbeSettings, Registry, Secret, TLSConfig
from regslo.oci.client import RegistryClient
from regslo.oci.errors import OCIError
from regslo.sources.probes.probes import RegistryProber
from tests.support.hostile import Reply, bearer_protected
from tests.support.tls import make_ca, make_server_cert

TIMEOUT = 2.0
SLACK = 1.5
REPO = "probe/x"


def prober(url, auth=None):
    return RegistryProber(Registry("r", url, "t", auth=auth), ProbeSettings(timeout=TIMEOUT, blob_size=4096), "test")


def timed_ping(url, auth=None):
    p = prober(url, auth)
    try:
        t0 = time.monotonic()
        res = p.run("ping")
        return res, time.monotonic() - t0
    finally:
        p.close()


@pytest.mark.parametrize("how", ["body-drip", "header-drip", "endless-header"])
def test_a_one_byte_per_second_registry_is_a_timeout_at_the_deadline(hostile, how):
    reg = hostile()
    reply = {"body-drip": Reply(200, body=b"x" * 600, drip=1.0),
             "header-drip": Reply(200, header_drip=1.0),
             "endless-header": Reply(200, header_drip=0.5, headers_forever=True)}[how]
    reg.route("GET", "/v2/", reply)
    res, elapsed = timed_ping(reg.url)
    print(f"ping, {how} at 1 byte/s, timeout {TIMEOUT}s: ended after {elapsed:.2f}s, reason {res.reason}")
    assert (res.ok, res.reason) == (False, "timeout"), res
    assert elapsed < TIMEOUT + SLACK


def test_a_dripping_token_server_is_a_timeout_not_an_auth_failure(hostile):
    reg = hostile()
    reg.route("GET", "/v2/", bearer_protected(f"{reg.url}/token", Reply(200)))
    reg.route("GET", "/token", Reply(200, body=b'{"token": "abc", "expires_in": 300}' * 20, drip=1.0))
    res, elapsed = timed_ping(reg.url, AuthConfig("u", Secret("p")))
    assert (res.ok, res.reason) == (False, "timeout"), res
    assert elapsed < TIMEOUT + SLACK


def test_push_against_a_dripping_upload_endpoint_ends_at_the_deadline(hostile):
    reg = hostile()
    reg.route("POST", f"/v2/{REPO}/blobs/uploads/", Reply(202, headers={"Location": "/upload/1"}))
    reg.route("PUT", "/upload/1", Reply(201, header_drip=1.0))
    p = RegistryProber(Registry("r", reg.url, "t"), ProbeSettings(timeout=TIMEOUT, blob_size=4096,
                                                                  repository=REPO, cleanup=False), "test")
    t0 = time.monotonic()
    res = p.run("push")
    elapsed = time.monotonic() - t0
    p.close()
    assert (res.ok, res.reason) == (False, "timeout"), res
    assert elapsed < TIMEOUT + SLACK


@pytest.mark.parametrize("how", ["body-drip", "header-drip", "https-body-drip"])
def test_a_large_blob_download_ends_at_the_deadline(hostile, how, tmp_path):
    """Blobs above 8 MiB take the zero-copy path (regslo.oci.download): it must keep the deadline too."""
    tls = TLSConfig()
    if how.startswith("https"):
        ca = make_ca(tmp_path)
        cert = make_server_cert(ca, tmp_path)
        reg, tls = hostile(tls=(cert.cert_file, cert.key_file)), TLSConfig(ca_file=ca.cert_file)
    else:
        reg = hostile()
    size = 16 * 1024 * 1024
    digest = "sha256:" + hashlib.sha256(b"x" * size).hexdigest()
    path = f"/v2/{REPO}/blobs/{digest}"
    reg.route("HEAD", path, Reply(200, content_length=size))
    if how.endswith("body-drip"):
        reg.route("GET", path, Reply(200, chunks=[b"x" * 1024] * 1024 * 16, chunk_delay=0.5))
    else:
        reg.route("GET", path, Reply(200, header_drip=0.5, headers_forever=True))
    with RegistryClient(Registry("r", reg.url, "t", tls=tls), timeout=TIMEOUT) as c, pytest.raises(OCIError) as info:
        t0 = time.monotonic()
        c.get_blob(REPO, digest, deadline=time.monotonic() + TIMEOUT, size=size)
    elapsed = time.monotonic() - t0
    assert info.value.reason == "timeout"
    assert elapsed < TIMEOUT + SLACK
    assert reg.received(path, "GET")  # the fast path was taken


def test_a_small_blob_stream_ends_at_the_deadline(hostile):
    reg = hostile()
    digest = "sha256:" + "1" * 64
    reg.route("GET", f"/v2/{REPO}/blobs/{digest}", Reply(200, body=b"y" * 1000, drip=0.5))
    with RegistryClient(Registry("r", reg.url, "t"), timeout=TIMEOUT) as c, pytest.raises(OCIError) as info:
        t0 = time.monotonic()
        c.get_blob(REPO, digest, deadline=time.monotonic() + TIMEOUT)
    assert info.value.reason == "timeout"
    assert time.monotonic() - t0 < TIMEOUT + SLACK
