"""Every response body regslo reads is capped (issue 9, item 3), against hostile servers on 127.0.0.1.

Error bodies: 64 KiB; manifests: 4 MiB; token responses and tag-list pages: capped too. More is an error
with a bounded reason and the rest is never read. The RSS test runs the probe in a child process and reads
its peak resident set size (ru_maxrss), so earlier tests in this process do not blur the figure.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regslo.config import AuthConfig, Registry, Secret
from regslo.oci import limits
from regslo.oci.client import RegistryClient
from regslo.oci.errors import OCIError
from tests.support.hostile import Reply, bearer_protected

REPO = "probe/x"
ROOT = Path(__file__).resolve().parents[3]

PEAK_RSS = """
import resource, sys, time
from regslo.config import ProbeSettings, Registry
from regslo.sources.probes.probes import RegistryProber
p = RegistryProber(Registry("r", sys.argv[1], "t"), ProbeSettings(timeout=20), "test")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.monotonic()
res = p.run("ping")
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, res.reason, time.monotonic() - t0, res.message)
"""


def client(url: str, auth=None) -> RegistryClient:
    return RegistryClient(Registry("r", url, "test", auth=auth), timeout=10)


@pytest.mark.parametrize("status", [500, 401])
def test_a_300_MB_error_body_does_not_grow_memory(hostile, status):
    """500: the error is returned; 401 with a Bearer challenge: the auth flow fetches a token and retries,
    and the body of the 401 it answered must not be read in full either."""
    reg = hostile()
    headers = {"Content-Type": "application/json"}
    if status == 401:
        headers["WWW-Authenticate"] = f'Bearer realm="{reg.url}/token",service="hostile"'
        reg.route("GET", "/token", Reply(200, json={"token": "tok-123456", "expires_in": 300}))
    reg.route("GET", "/v2/", Reply(status, size=300 * 1024 * 1024, headers=headers))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, reg.url], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout.split()
    before_kib, peak_kib, reason = int(out[0]), int(out[1]), out[2]
    print(f"ping against a 300 MB {status} body: peak RSS {before_kib / 1024:.0f} MiB -> {peak_kib / 1024:.0f} MiB "
          f"in {float(out[3]):.2f}s")
    assert reason == ("server_error" if status == 500 else "auth")
    assert peak_kib - before_kib < 32 * 1024, f"RSS grew by {(peak_kib - before_kib) / 1024:.0f} MiB"


@pytest.mark.parametrize("framing", ["content-length", "close-delimited"])
def test_a_manifest_over_4_MiB_is_an_error_and_is_not_read(hostile, framing):
    reg = hostile()
    size = limits.MANIFEST + 1
    reg.route("GET", f"/v2/{REPO}/manifests/t",
              Reply(200, size=size, content_length=None if framing == "content-length" else False,
                    headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}))
    with client(reg.url) as c, pytest.raises(OCIError) as info:
        c.get_manifest(REPO, "t", deadline=time.monotonic() + 10)
    assert info.value.reason == "server_error"
    assert "4 MiB" in str(info.value) and len(str(info.value)) < 200


def test_a_manifest_of_exactly_4_MiB_is_accepted(hostile):
    reg = hostile()
    reg.route("GET", f"/v2/{REPO}/manifests/t", Reply(200, size=limits.MANIFEST))
    with client(reg.url) as c:
        assert len(c.get_manifest(REPO, "t", deadline=time.monotonic() + 10).body) == limits.MANIFEST


def test_a_compressed_manifest_is_capped_after_decompression(hostile):
    """100 MiB of zeros gzip to ~100 KiB: the cap must apply to what is decoded, not what is received."""
    reg = hostile()
    bomb = gzip.compress(b"\0" * (100 * 1024 * 1024), compresslevel=9)
    reg.route("GET", f"/v2/{REPO}/manifests/t", Reply(200, body=bomb, headers={"Content-Encoding": "gzip"}))
    with client(reg.url) as c, pytest.raises(OCIError) as info:
        c.get_manifest(REPO, "t", deadline=time.monotonic() + 10)
    assert info.value.reason == "server_error"


def test_a_huge_token_response_is_an_auth_error(hostile):
    reg = hostile()
    reg.route("GET", "/v2/", bearer_protected(f"{reg.url}/token", Reply(200)))
    reg.route("GET", "/token", Reply(200, size=200 * 1024 * 1024, headers={"Content-Type": "application/json"}))
    t0 = time.monotonic()
    with client(reg.url, AuthConfig("u", Secret("p"))) as c, pytest.raises(OCIError) as info:
        c.ping(deadline=time.monotonic() + 10)
    assert info.value.reason == "auth"
    assert "KiB" in str(info.value)
    assert time.monotonic() - t0 < 5


def test_a_huge_tag_list_page_is_an_error(hostile):
    reg = hostile()
    reg.route("GET", f"/v2/{REPO}/tags/list", Reply(200, size=200 * 1024 * 1024))
    with client(reg.url) as c, pytest.raises(OCIError) as info:
        c.list_tags(REPO, deadline=time.monotonic() + 10)
    assert info.value.reason == "server_error"


def test_endless_tag_pages_stop_at_a_bound(hostile):
    reg = hostile()
    page = {"name": REPO, "tags": [f"t{i}" for i in range(1000)]}
    reg.route("GET", f"/v2/{REPO}/tags/list",
              Reply(200, json=page, headers={"Link": f'</v2/{REPO}/tags/list?n=1000&last=x>; rel="next"'}))
    with client(reg.url) as c, pytest.raises(OCIError) as info:
        c.list_tags(REPO, deadline=time.monotonic() + 60)
    assert info.value.reason == "server_error"
    assert len(reg.received()) <= limits.TAG_PAGES + 1


def test_error_body_of_a_blob_get_is_capped(hostile):
    """A 404 announcing 1 MiB, sending 100 KiB and then stalling: reading stops at the 64 KiB cap."""
    reg = hostile()
    digest = "sha256:" + "0" * 64
    reg.route("GET", f"/v2/{REPO}/blobs/{digest}",
              Reply(404, chunks=[b"{" * (100 * 1024), b"}" * (924 * 1024)], chunk_delay=30))
    t0 = time.monotonic()
    with client(reg.url) as c, pytest.raises(OCIError) as info:
        c.get_blob(REPO, digest, deadline=time.monotonic() + 10)
    assert info.value.reason == "not_found"
    assert time.monotonic() - t0 < 5  # the stalled rest was not waited for


def test_error_json_within_the_cap_still_gives_its_code(hostile):
    reg = hostile()
    body = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "no such manifest"}]}).encode()
    reg.route("GET", f"/v2/{REPO}/manifests/t", Reply(404, body=body, headers={"Content-Type": "application/json"}))
    with client(reg.url) as c, pytest.raises(OCIError) as info:
        c.get_manifest(REPO, "t", deadline=time.monotonic() + 10)
    assert (info.value.reason, info.value.code) == ("not_found", "MANIFEST_UNKNOWN")


def test_referrers_answer_is_capped_and_parsed(hostile):
    """The referrers API answer is an image index: read up to the manifest cap, more is server_error.
    (Also the only test of referrers() below the inspector: it once read the (response, body) pair as a
    response and raised AttributeError on every call.)"""
    digest = "sha256:" + "a" * 64
    reg = hostile()
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
                            "size": 10, "artifactType": "application/spdx+json"}]}
    reg.route("GET", f"/v2/{REPO}/referrers/{digest}", Reply(200, json=index))
    reg.route("GET", f"/v2/other/referrers/{digest}", Reply(404))
    reg.route("GET", f"/v2/huge/referrers/{digest}", Reply(200, size=limits.MANIFEST + 1))
    with client(reg.url) as c:
        assert c.referrers(REPO, digest, deadline=time.monotonic() + 5) == index["manifests"]
        assert c.referrers("other", digest, deadline=time.monotonic() + 5) is None
        with pytest.raises(OCIError) as err:
            c.referrers("huge", digest, deadline=time.monotonic() + 5)
    assert err.value.reason == "server_error" and "4 MiB" in str(err.value)
