"""Docker config.json lookup and the credential-helper protocol (real helper scripts on PATH)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from regslo.oci.docker_config import CredentialError, load_credentials, normalize_host, run_helper

HOST = "registry.example:5000"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def config(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", f"{d}{os.pathsep}{os.environ['PATH']}")
    return d


def helper(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize("key", [HOST, f"https://{HOST}", f"http://{HOST}/v1/", "REGISTRY.example:5000",
                                 f"{HOST}/some/path"])
def test_keys_match_with_or_without_scheme_and_path(key):
    assert normalize_host(key) == HOST


@pytest.mark.parametrize("host", ["docker.io", "index.docker.io", "registry-1.docker.io"])
def test_docker_hub_hosts_use_the_index_key(tmp_path, host):
    path = config(tmp_path, {"auths": {"https://index.docker.io/v1/": {"auth": b64("hubuser:hubpw")}}})
    creds = load_credentials(path, host)
    assert creds.username == "hubuser" and creds.password.reveal() == "hubpw"


def test_inline_auth_with_colon_in_password(tmp_path):
    path = config(tmp_path, {"auths": {HOST: {"auth": b64("probe:pa:ss")}}})
    creds = load_credentials(path, HOST)
    assert (creds.username, creds.password.reveal(), creds.source) == ("probe", "pa:ss", "auths")
    assert "pa:ss" not in repr(creds)


def test_username_password_fields_and_identity_token(tmp_path):
    path = config(tmp_path, {"auths": {HOST: {"username": "u", "password": "p"},
                                       "other:1": {"auth": b64("u2:"), "identitytoken": "refresh-1"}}})
    assert load_credentials(path, HOST).password.reveal() == "p"
    other = load_credentials(path, "other:1")
    assert other.identity_token.reveal() == "refresh-1" and other.password is None
    assert "refresh-1" not in repr(other)


def test_unknown_host_is_anonymous(tmp_path):
    path = config(tmp_path, {"auths": {"elsewhere:1": {"auth": b64("a:b")}, HOST: {}}})
    assert load_credentials(path, HOST) is None


def test_broken_files_are_reported_without_their_contents(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"auths": {"h": {"auth": "c2VjcmV0LXZhbHVl"}}')  # truncated JSON holding a secret
    with pytest.raises(CredentialError) as info:
        load_credentials(bad, "h")
    assert "not valid JSON" in str(info.value) and "c2VjcmV0" not in str(info.value)
    with pytest.raises(CredentialError, match="not base64 of user:password"):
        load_credentials(config(tmp_path, {"auths": {"h": {"auth": b64("no-colon-here")}}}), "h")
    with pytest.raises(CredentialError, match="cannot read docker config"):
        load_credentials(tmp_path / "missing.json", "h")


def test_cred_helper_receives_the_host_and_wins_over_inline_auths(tmp_path, bin_dir):
    stdin = tmp_path / "stdin"
    helper(bin_dir, "t", f'cat > {stdin}\necho \'{{"ServerURL":"x","Username":"hu","Secret":"hs"}}\'\n')
    path = config(tmp_path, {"auths": {HOST: {"auth": b64("inline:pw")}},
                             "credHelpers": {f"https://{HOST}": "t"}, "credsStore": "unused"})
    creds = load_credentials(path, HOST)
    assert (creds.username, creds.password.reveal(), creds.source) == ("hu", "hs", "helper t")
    assert stdin.read_text() == f"https://{HOST}"


def test_inline_auths_win_over_creds_store(tmp_path, bin_dir):
    helper(bin_dir, "store", "exit 99\n")
    path = config(tmp_path, {"auths": {HOST: {"auth": b64("inline:pw")}}, "credsStore": "store"})
    assert load_credentials(path, HOST).username == "inline"


def test_creds_store_without_an_entry_means_anonymous(tmp_path, bin_dir):
    helper(bin_dir, "store", "echo 'credentials not found in native keychain'\nexit 1\n")
    assert load_credentials(config(tmp_path, {"credsStore": "store"}), HOST) is None
    with pytest.raises(CredentialError, match="has no credentials for"):
        load_credentials(config(tmp_path, {"credHelpers": {HOST: "store"}}), HOST)


def test_helper_token_username_means_identity_token(bin_dir):
    helper(bin_dir, "tok", 'echo \'{"Username":"<token>","Secret":"refresh-xyz"}\'\n')
    creds = run_helper("tok", HOST)
    assert creds.username is None and creds.identity_token.reveal() == "refresh-xyz"


@pytest.mark.parametrize("script, message", [
    ("echo 'not json with SECRETVALUE'\n", "answered something other than"),
    ('echo \'{"Username":"u","Secret":""}\'\n', "empty or non-string"),
    ("echo SECRETVALUE >&2; exit 3\n", "exit status 3"),
])
def test_misbehaving_helpers_fail_clearly_and_quietly(bin_dir, script, message):
    helper(bin_dir, "bad", script)
    with pytest.raises(CredentialError, match=message) as info:
        run_helper("bad", HOST)
    assert "SECRETVALUE" not in str(info.value)


def test_hanging_helper_times_out(bin_dir):
    helper(bin_dir, "slow", "sleep 5\necho '{}'\n")  # the shell waits on a child that holds stdout
    with pytest.raises(CredentialError, match="did not answer within 0.3s"):
        run_helper("slow", HOST, timeout=0.3)


def test_missing_helper(bin_dir):
    with pytest.raises(CredentialError, match="docker-credential-absent not found on PATH"):
        run_helper("absent", HOST)
