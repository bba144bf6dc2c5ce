"""Pure parts of the auth flow: WWW-Authenticate parsing, scopes, token responses, timeouts."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from regslo.config import AuthConfig, Registry, Secret
from regslo.oci.auth import (AuthError, Challenge, _parse_token, _token_timeout, build_auth, parse_challenges,
                             scope_for)


def test_distribution_bearer_challenge():
    header = ('Bearer realm="https://auth.example/token",service="registry.example",'
              'scope="repository:team/app:pull,push"')
    [c] = parse_challenges([header])
    assert c == Challenge("bearer", {"realm": "https://auth.example/token", "service": "registry.example",
                                     "scope": "repository:team/app:pull,push"})
    assert c.scopes == ["repository:team/app:pull,push"]


def test_several_challenges_quoting_and_multiple_scopes():
    values = ['Basic realm="my registry, x=1", Bearer realm=https://t/token,service=s,'
              'scope="repository:a:pull repository:b:pull"', 'Basic realm="say \\"hi\\""']
    basic, bearer, quoted = parse_challenges(values)
    assert basic == Challenge("basic", {"realm": "my registry, x=1"})
    assert bearer.realm == "https://t/token" and bearer.service == "s"
    assert bearer.scopes == ["repository:a:pull", "repository:b:pull"]
    assert quoted.params["realm"] == 'say "hi"'


@given(realm=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
       service=st.from_regex(r"[a-z0-9.:-]{1,20}", fullmatch=True))
def test_quoted_values_round_trip(realm, service):
    quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
    [c] = parse_challenges([f'Bearer realm="{quoted}",service="{service}"'])
    assert c.params == {"realm": realm, "service": service}


def request(method: str, path: str, scope: str | None = None) -> httpx.Request:
    extensions = {"regslo_scope": scope} if scope is not None else {}
    return httpx.Request(method, f"https://r.example{path}", extensions=extensions)


@pytest.mark.parametrize("method, path, expected", [
    ("GET", "/v2/", ""),
    ("GET", "/v2/_catalog", "registry:catalog:*"),
    ("HEAD", "/v2/team/app/manifests/v1", "repository:team/app:pull"),
    ("GET", "/v2/a/b/c/blobs/sha256:00", "repository:a/b/c:pull"),
    ("POST", "/v2/team/app/blobs/uploads/", "repository:team/app:pull,push"),
    ("PUT", "/v2/team/app/manifests/v1", "repository:team/app:pull,push"),
    ("DELETE", "/v2/team/app/manifests/sha256:00", "repository:team/app:delete"),
    ("GET", "/v2/team/app/tags/list", "repository:team/app:pull"),
    ("GET", "/healthz", None),
])
def test_scope_derived_from_the_path(method, path, expected):
    assert scope_for(request(method, path)) == expected


def test_client_scope_extension_wins():
    assert scope_for(request("GET", "/v2/x/manifests/a", "repository:x:pull,push")) == "repository:x:pull,push"
    assert scope_for(request("GET", "/v2/x/manifests/a", "")) == ""


def token_response(body) -> httpx.Response:
    return httpx.Response(200, json=body)


def test_token_defaults_to_60_seconds_and_refreshes_early():
    token = _parse_token(token_response({"access_token": "abc"}), "h", ["s"], started=100.0)
    assert token.value.reveal() == "abc"
    assert token.expires_at == 160.0 and token.refresh_at == 155.0  # 5 s margin (< 10 % of 60 s)
    short = _parse_token(token_response({"token": "t", "expires_in": 2, "issued_at": "2026-11-27T08:00:00Z"}),
                         "h", [], started=0.0)
    assert short.expires_at == 2.0 and short.refresh_at == pytest.approx(1.8)  # 10 % of a short lifetime
    assert short.usable(1.7) and not short.usable(1.9)


@pytest.mark.parametrize("body", [{"token": ""}, {"expires_in": 60}, ["token"], {"token": 5}])
def test_token_response_without_a_token_is_an_auth_error(body):
    with pytest.raises(AuthError, match="without a token"):
        _parse_token(token_response(body), "auth.example", [], 0.0)


def test_non_json_token_response():
    with pytest.raises(AuthError, match="other than JSON"):
        _parse_token(httpx.Response(200, text="<html>"), "auth.example", [], 0.0)


def test_token_timeout_follows_the_request_deadline():
    req = httpx.Request("GET", "https://r.example/v2/",
                        extensions={"timeout": httpx.Timeout(2.5).as_dict()})
    assert _token_timeout(req, 10.0) == httpx.Timeout(2.5)
    assert _token_timeout(httpx.Request("GET", "https://r.example/"), 10.0) == httpx.Timeout(10.0)
    slow = httpx.Request("GET", "https://r.example/", extensions={"timeout": httpx.Timeout(60).as_dict()})
    assert _token_timeout(slow, 10.0) == httpx.Timeout(10.0)


def test_build_auth_never_prints_the_password():
    reg = Registry(name="us", url="https://r.example", region="us", auth=AuthConfig("probe", Secret("hunter2")))
    auth = build_auth(reg)
    assert "hunter2" not in repr(auth) and "hunter2" not in repr(auth.__dict__)
    assert auth.auth_seconds == 0.0 and auth.thread_auth_seconds == 0.0
