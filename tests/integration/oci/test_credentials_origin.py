"""Credentials go only to their origin (issue 9, item 1), against hostile servers on 127.0.0.1.

The "registry" and the "other host" are two HostileServers (two ports: two origins). Each test scripts the
registry to point regslo elsewhere -- an upload Location, a Link rel="next", a redirect, a token realm -- and
asserts what reached the other side.
"""

from __future__ import annotations

import json
import time

import pytest

from regslo.config import AuthConfig, Registry, Secret, TLSConfig
from regslo.oci.client import RegistryClient
from regslo.oci.errors import OCIError
from tests.support.hostile import Reply, basic_protected, bearer_protected, redirect
from tests.support.tls import make_ca, make_server_cert

REPO = "probe/x"
DATA = b"layer bytes"
BASIC = AuthConfig("probe", Secret("hunter2-password"))


def client(url: str, auth=BASIC, tls: TLSConfig | None = None) -> RegistryClient:
    return RegistryClient(Registry("r", url, "test", auth=auth, tls=tls or TLSConfig()), timeout=5)


@pytest.fixture
def pki(tmp_path):
    ca = make_ca(tmp_path / "pki")
    return ca, make_server_cert(ca, tmp_path / "pki")


def test_upload_location_on_another_host_gets_no_basic_credentials(hostile):
    reg, other = hostile(), hostile()
    reg.route("POST", f"/v2/{REPO}/blobs/uploads/",
              basic_protected(Reply(202, headers={"Location": f"{other.url}/upload/1?state=abc"})))
    other.route("PUT", "/upload/1", Reply(201))
    with client(reg.url) as c:
        c.push_blob(REPO, DATA, deadline=time.monotonic() + 5)
    assert any(a.startswith("Basic ") for a in reg.authorizations())  # the registry did get them
    assert [r.method for r in other.received()] == ["PUT"]
    assert other.authorizations() == []


def test_upload_location_on_another_host_gets_no_bearer_token(hostile):
    reg, other = hostile(), hostile()
    reg.route("GET", "/token", Reply(200, json={"token": "registry-only-token", "expires_in": 300}))
    reg.route("POST", f"/v2/{REPO}/blobs/uploads/",
              bearer_protected(f"{reg.url}/token", Reply(202, headers={"Location": f"{other.url}/upload/1"})))
    other.route("PATCH", "/upload/1", Reply(202, headers={"Location": f"{other.url}/upload/1"}))
    other.route("PUT", "/upload/1", Reply(201))
    with RegistryClient(Registry("r", reg.url, "t", auth=BASIC), timeout=5, chunk_threshold=4,
                        chunk_size=4) as c:
        c.push_blob(REPO, DATA, deadline=time.monotonic() + 5)
    assert "Bearer registry-only-token" in reg.authorizations()
    assert [r.method for r in other.received()][-1] == "PUT"
    assert other.authorizations() == []


def test_upload_location_on_the_same_origin_keeps_credentials(hostile):
    reg = hostile()
    reg.route("POST", f"/v2/{REPO}/blobs/uploads/", basic_protected(Reply(202, headers={"Location": "/upload/1"})))
    reg.route("PUT", "/upload/1", basic_protected(Reply(201)))
    with client(reg.url) as c:
        c.push_blob(REPO, DATA, deadline=time.monotonic() + 5)
    put = reg.received("/upload/1", "PUT")
    assert put and put[-1].headers["authorization"].startswith("Basic ")


def test_tags_link_next_on_another_host_gets_no_credentials(hostile):
    reg, other = hostile(), hostile()
    link = f'<{other.url}/v2/{REPO}/tags/list?last=a&n=1>; rel="next"'
    reg.route("GET", f"/v2/{REPO}/tags/list",
              basic_protected(Reply(200, headers={"Link": link}, json={"name": REPO, "tags": ["a"]})))
    other.route("GET", f"/v2/{REPO}/tags/list", Reply(200, json={"name": REPO, "tags": ["b"]}))
    with client(reg.url) as c:
        assert c.list_tags(REPO, deadline=time.monotonic() + 5) == ["a", "b"]
    assert other.received() and other.authorizations() == []


def test_redirect_to_another_host_gets_no_credentials(hostile):
    reg, other = hostile(), hostile()
    body = json.dumps({"schemaVersion": 2}).encode()
    reg.route("GET", f"/v2/{REPO}/manifests/t", basic_protected(redirect(f"{other.url}/m")))
    other.route("GET", "/m", Reply(200, body=body, headers={"Content-Type": "application/json"}))
    with client(reg.url) as c:
        assert c.get_manifest(REPO, "t", deadline=time.monotonic() + 5).body == body
    assert other.received() and other.authorizations() == []


@pytest.mark.parametrize("how", ["location", "link", "redirect"])
def test_https_registry_never_sends_anything_to_plain_http(hostile, pki, how):
    ca, cert = pki
    reg, plain = hostile(tls=(cert.cert_file, cert.key_file)), hostile()
    target = f"{plain.url}/elsewhere"
    if how == "location":
        reg.route("POST", f"/v2/{REPO}/blobs/uploads/", basic_protected(Reply(202, headers={"Location": target})))
        call = lambda c: c.push_blob(REPO, DATA, deadline=time.monotonic() + 5)  # noqa: E731
    elif how == "link":
        reg.route("GET", f"/v2/{REPO}/tags/list", basic_protected(
            Reply(200, headers={"Link": f'<{target}>; rel="next"'}, json={"name": REPO, "tags": ["a"]})))
        call = lambda c: c.list_tags(REPO, deadline=time.monotonic() + 5)  # noqa: E731
    else:
        reg.route("GET", f"/v2/{REPO}/manifests/t", basic_protected(redirect(target)))
        call = lambda c: c.get_manifest(REPO, "t", deadline=time.monotonic() + 5)  # noqa: E731
    with client(reg.url, tls=TLSConfig(ca_file=ca.cert_file)) as c, pytest.raises(OCIError) as info:
        call(c)
    assert plain.received() == []
    assert info.value.reason == "tls"
    assert "https" in str(info.value) and "http://" in str(info.value)


def test_token_request_does_not_follow_a_redirect_to_another_host(hostile, tmp_path):
    """An identity (refresh) token is POSTed to the realm; a 307 must not re-post it elsewhere."""
    reg, other = hostile(), hostile()
    reg.route("GET", "/v2/", bearer_protected(f"{reg.url}/token", Reply(200)))
    reg.route("*", "/token", redirect(f"{other.url}/token"))
    other.route("*", "/token", Reply(200, json={"token": "x", "expires_in": 300}))
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {f"127.0.0.1:{reg.port}": {"identitytoken": "refresh-secret-123"}}}))
    with client(reg.url, auth=AuthConfig(docker_config=cfg)) as c, pytest.raises(OCIError) as info:
        c.ping(deadline=time.monotonic() + 5)
    assert other.received() == []
    assert info.value.reason == "auth"
    assert "redirect" in str(info.value)
    assert "refresh-secret-123" not in str(info.value)


def test_token_request_follows_a_redirect_on_its_own_origin(hostile):
    reg = hostile()
    reg.route("GET", "/v2/", bearer_protected(f"{reg.url}/token", Reply(200)))
    reg.route("GET", "/token", redirect("/token2"))
    reg.route("GET", "/token2", Reply(200, json={"token": "tok", "expires_in": 300}))
    with client(reg.url) as c:
        c.ping(deadline=time.monotonic() + 5)
    assert reg.received("/token2")[0].headers["authorization"].startswith("Basic ")


def test_http_realm_for_https_registry_is_refused(hostile, pki):
    ca, cert = pki
    reg, realm = hostile(tls=(cert.cert_file, cert.key_file)), hostile()
    reg.route("GET", "/v2/", bearer_protected(f"{realm.url}/token", Reply(200)))
    realm.route("GET", "/token", Reply(200, json={"token": "tok", "expires_in": 300}))
    with client(reg.url, tls=TLSConfig(ca_file=ca.cert_file)) as c, pytest.raises(OCIError) as info:
        c.ping(deadline=time.monotonic() + 5)
    assert realm.received() == []
    assert info.value.reason == "auth"
    assert "insecure_skip_verify" in str(info.value)


def test_http_realm_for_https_registry_is_allowed_with_insecure_skip_verify(hostile, pki):
    _ca, cert = pki
    reg, realm = hostile(tls=(cert.cert_file, cert.key_file)), hostile()
    reg.route("GET", "/v2/", bearer_protected(f"{realm.url}/token", Reply(200)))
    realm.route("GET", "/token", Reply(200, json={"token": "tok", "expires_in": 300}))
    with client(reg.url, tls=TLSConfig(insecure_skip_verify=True)) as c:
        c.ping(deadline=time.monotonic() + 5)
    assert len(realm.received("/token")) == 1


def test_referrers_link_next_on_another_host_gets_no_credentials(hostile):
    digest = "sha256:" + "b" * 64
    reg, other = hostile(), hostile()
    page = {"schemaVersion": 2, "manifests": [{"digest": digest, "size": 1, "artifactType": "a/one"}]}
    link = f'<{other.url}/v2/{REPO}/referrers/{digest}?last=1>; rel="next"'
    reg.route("GET", f"/v2/{REPO}/referrers/{digest}", basic_protected(Reply(200, headers={"Link": link},
                                                                               json=page)))
    other.route("GET", f"/v2/{REPO}/referrers/{digest}",
                Reply(200, json={"schemaVersion": 2, "manifests": [{"digest": digest, "artifactType": "a/two"}]}))
    with client(reg.url) as c:
        kinds = [d["artifactType"] for d in c.referrers(REPO, digest, deadline=time.monotonic() + 5)]
    assert kinds == ["a/one", "a/two"]
    assert any(a.startswith("Basic ") for a in reg.authorizations())
    assert other.received() and other.authorizations() == []
