"""Basic auth against a real htpasswd registry: config credentials, docker config auths, credential helper."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import httpx
import pytest

from regslo.config import AuthConfig, Registry, Secret
from regslo.oci.auth import AuthError, build_auth
from regslo.oci.tls import build_verify
from tests.support.registry import make_htpasswd

USER, PASSWORD = "probe", "s3cret-Pa55"
SCOPE = {"regslo_scope": "repository:regslo/probe:pull,push"}


@pytest.fixture
def basic_registry(registries, tmp_path):
    return registries("r1", htpasswd=make_htpasswd(tmp_path / "htpasswd", USER, PASSWORD))[0]


def client_for(reg, auth: AuthConfig | None, statuses: list[int] | None = None) -> httpx.Client:
    config = Registry(name="r1", url=reg.url, region="local", auth=auth)
    hooks = {"response": [lambda r: statuses.append(r.status_code)]} if statuses is not None else {}
    return httpx.Client(base_url=reg.url, auth=build_auth(config), verify=build_verify(config.tls),
                        timeout=5.0, event_hooks=hooks)


def test_good_password_pings_and_starts_an_upload(basic_registry):
    statuses: list[int] = []
    with client_for(basic_registry, AuthConfig(USER, Secret(PASSWORD)), statuses) as client:
        assert client.get("/v2/").status_code == 200
        upload = client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE)
        assert upload.status_code == 202
        assert upload.headers["Location"]
        assert client.get("/v2/regslo/probe/tags/list").status_code == 404  # authorised, repo has no tags
    # one challenge, then Basic is sent up front: no 401 per request
    assert statuses == [401, 200, 202, 404]


def test_wrong_password_returns_401_once_without_looping(basic_registry):
    statuses: list[int] = []
    with client_for(basic_registry, AuthConfig(USER, Secret("wrong")), statuses) as client:
        first = client.get("/v2/")
        second = client.get("/v2/")
    assert first.status_code == 401 and second.status_code == 401
    # first request: challenge + one retry; second: Basic up front, refused, returned as is
    assert statuses == [401, 401, 401]


def test_no_credentials_gets_401(basic_registry):
    with client_for(basic_registry, None) as client:
        response = client.get("/v2/")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")


def write_docker_config(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("style", ["auth", "fields", "scheme-key"])
def test_docker_config_auths(basic_registry, tmp_path, style):
    host = f"127.0.0.1:{basic_registry.port}"
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    entry = {"auth": encoded} if style != "fields" else {"username": USER, "password": PASSWORD}
    key = f"http://{host}/v1/" if style == "scheme-key" else host
    cfg = write_docker_config(tmp_path / "config.json",
                              {"auths": {"other.example:5000": {"auth": "eDp5"}, key: entry}})
    with client_for(basic_registry, AuthConfig(docker_config=cfg)) as client:
        assert client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE).status_code == 202


def install_helper(bin_dir: Path, name: str, body: str) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    helper = bin_dir / f"docker-credential-{name}"
    helper.write_text("#!/bin/sh\n" + body)
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return helper


@pytest.fixture
def helper_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_credential_helper_against_htpasswd_registry(basic_registry, tmp_path, helper_path):
    host = f"127.0.0.1:{basic_registry.port}"
    seen = tmp_path / "helper-stdin"
    install_helper(helper_path, "regslotest", f"""
[ "$1" = get ] || exit 3
cat > {seen}
printf '{{"ServerURL":"%s","Username":"{USER}","Secret":"{PASSWORD}"}}' "$(cat {seen})"
""")
    cfg = write_docker_config(tmp_path / "config.json", {"credHelpers": {host: "regslotest"}})
    auth_config = AuthConfig(docker_config=cfg)
    with client_for(basic_registry, auth_config) as client:
        assert client.get("/v2/").status_code == 200
        assert client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE).status_code == 202
        assert client.auth.auth_seconds > 0  # the helper run is counted
    assert seen.read_text() == host


def test_creds_store_helper_is_used_when_no_inline_entry(basic_registry, tmp_path, helper_path):
    install_helper(helper_path, "store", f"""read host
printf '{{"Username":"{USER}","Secret":"{PASSWORD}"}}'
""")
    cfg = write_docker_config(tmp_path / "config.json", {"auths": {}, "credsStore": "store"})
    with client_for(basic_registry, AuthConfig(docker_config=cfg)) as client:
        assert client.get("/v2/").status_code == 200


def test_failing_helper_raises_auth_error_without_its_output(basic_registry, tmp_path, helper_path):
    host = f"127.0.0.1:{basic_registry.port}"
    install_helper(helper_path, "broken", f"echo 'leaked {PASSWORD}' >&2; exit 7\n")
    cfg = write_docker_config(tmp_path / "config.json", {"credHelpers": {host: "broken"}})
    with client_for(basic_registry, AuthConfig(docker_config=cfg)) as client:
        with pytest.raises(AuthError) as info:
            client.get("/v2/")
    assert "docker-credential-broken" in str(info.value) and "exit status 7" in str(info.value)
    assert PASSWORD not in str(info.value)
    assert info.value.reason == "auth"


def test_missing_helper_is_named(basic_registry, tmp_path, helper_path):
    host = f"127.0.0.1:{basic_registry.port}"
    cfg = write_docker_config(tmp_path / "config.json", {"credHelpers": {host: "nosuchhelper"}})
    with client_for(basic_registry, AuthConfig(docker_config=cfg)) as client:
        with pytest.raises(AuthError, match="docker-credential-nosuchhelper not found on PATH"):
            client.get("/v2/")


def test_secrets_stay_out_of_reprs(basic_registry):
    auth = build_auth(Registry(name="r1", url=basic_registry.url, region="x", auth=AuthConfig(USER, Secret(PASSWORD))))
    with httpx.Client(base_url=basic_registry.url, auth=auth) as client:
        client.get("/v2/")
    assert PASSWORD not in repr(auth) and PASSWORD not in repr(auth._static)
