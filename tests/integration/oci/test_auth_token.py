"""The bearer token flow against a real registry (``auth.token``) and a real JWT token server."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from regslo.config import AuthConfig, Registry, Secret
from regslo.oci.auth import AuthError, build_auth
from tests.support.token_server import TokenServer

USER, PASSWORD = "probe", "t0ken-Pa55"
REPO_SCOPE = "repository:regslo/probe:pull,push"
SCOPE = {"regslo_scope": REPO_SCOPE}
ZERO_DIGEST = "sha256:" + "0" * 64


@pytest.fixture
def token_setup(registries, tmp_path):
    """Factory: (registry process, token server) with the server's knobs as keyword arguments."""
    servers: list[TokenServer] = []

    def make(**knobs):
        server = TokenServer(tmp_path / f"token{len(servers)}", users={USER: PASSWORD}, **knobs).start()
        servers.append(server)
        reg = registries(f"r{len(servers)}", token=server.registry_config())[0]
        return reg, server

    yield make
    for server in servers:
        server.stop()


class Recorder:
    """A client whose every response status (incl. 401s the auth flow handles) is recorded."""

    def __init__(self, reg, auth: AuthConfig | None):
        self.statuses: list[int] = []
        self.auth = build_auth(Registry(name="r", url=reg.url, region="local", auth=auth))
        self.client = httpx.Client(base_url=reg.url, auth=self.auth, timeout=5.0,
                                   headers={"User-Agent": "regslo-test/1"},
                                   event_hooks={"response": [lambda r: self.statuses.append(r.status_code)]})

    def take(self) -> list[int]:
        out, self.statuses = self.statuses, []
        return out


def creds(password: str = PASSWORD) -> AuthConfig:
    return AuthConfig(USER, Secret(password))


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_token_is_fetched_once_and_sent_up_front(token_setup, kind):
    reg, server = token_setup(kind=kind)
    rec = Recorder(reg, creds())
    assert rec.client.get("/v2/").status_code == 200
    assert rec.take() == [401, 200]
    for _ in range(5):
        assert rec.client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE).status_code == 202
        assert rec.client.get("/v2/regslo/probe/tags/list", extensions=SCOPE).status_code == 404  # no tags yet
    assert set(rec.take()) == {202, 404}  # realm known: the repository token was fetched before sending
    assert server.issued == 2  # one registry-level token for /v2/, one for the repository scope
    assert [g.scopes for g in server.grants] == [[], [REPO_SCOPE]]
    assert {g.user for g in server.grants} == {USER}
    assert {g.agent for g in server.grants} == {"regslo-test/1"}  # token requests carry the caller's agent


def test_token_is_refreshed_before_it_expires(token_setup):
    reg, server = token_setup(expires_in=2)
    rec = Recorder(reg, creds())
    assert rec.client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE).status_code == 202
    assert rec.take() == [401, 202] and server.issued == 1
    assert rec.client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE).status_code == 202
    assert server.issued == 1  # still fresh
    time.sleep(2.0)  # past refresh_at (lifetime - 10 %)
    assert rec.client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE).status_code == 202
    assert server.issued == 2
    assert 401 not in rec.take()  # refreshed up front, not after a rejection


def test_rejected_token_means_exactly_one_reauth(token_setup):
    reg, server = token_setup()
    rec = Recorder(reg, creds())
    server.poison(1)  # the first token is signed by a key the registry does not trust
    first = rec.client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE)
    assert first.status_code == 401  # challenge, token, retry refused: returned, no loop
    assert rec.take() == [401, 401] and server.issued == 1
    second = rec.client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE)
    assert second.status_code == 202  # cached bad token refused -> one re-auth -> accepted
    assert rec.take() == [401, 202] and server.issued == 2
    assert rec.client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE).status_code == 202
    assert rec.take() == [202] and server.issued == 2


def test_wider_scope_from_a_challenge_is_learned(token_setup):
    """distribution wants ``delete`` for DELETE; a pull,push token gets one re-auth asking for both."""
    reg, server = token_setup()
    rec = Recorder(reg, creds())
    url = f"/v2/regslo/probe/manifests/{ZERO_DIGEST}"
    assert rec.client.delete(url, extensions=SCOPE).status_code == 404  # authorised; nothing to delete
    assert rec.client.delete(url, extensions=SCOPE).status_code == 404
    assert rec.take() == [401, 404, 404]
    assert server.grants[-1].scopes == [REPO_SCOPE, "repository:regslo/probe:delete"]
    assert server.issued == 1


def test_wrong_password_at_the_token_server_raises_auth_error(token_setup):
    reg, server = token_setup()
    rec = Recorder(reg, creds("not-the-password"))
    with pytest.raises(AuthError) as info:
        rec.client.get("/v2/")
    assert "HTTP 401" in str(info.value) and "not-the-password" not in str(info.value)
    assert info.value.reason == "auth"
    assert server.requests == 1


def test_token_server_rejecting_everyone_or_gone_is_an_auth_error(token_setup):
    reg, server = token_setup()
    rec = Recorder(reg, creds())
    assert rec.client.get("/v2/").status_code == 200
    server.reject_all = True
    with pytest.raises(AuthError, match="refused the credentials"):
        rec.client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE)
    server.stop()
    with pytest.raises(AuthError, match="failed: ConnectError") as info:
        rec.client.get("/v2/regslo/probe/tags/list", extensions=SCOPE)
    assert PASSWORD not in repr(info.value) and PASSWORD not in str(info.value.__cause__)


def test_anonymous_tokens_pull_but_never_loop_on_push(token_setup):
    reg, server = token_setup(allow_anonymous=True, token_field="access_token", omit_expires_in=True)
    rec = Recorder(reg, None)
    pull = {"regslo_scope": "repository:regslo/probe:pull"}
    assert rec.client.get("/v2/regslo/probe/tags/list", extensions=pull).status_code == 404
    assert server.grants[0].user is None
    push = rec.client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE)
    assert push.status_code == 401  # anonymous users get pull only
    assert server.requests <= 3  # pull token, push token, one re-auth: bounded


def test_identity_token_from_docker_config_uses_oauth2_refresh_grant(token_setup, tmp_path):
    reg, server = token_setup()
    server.refresh_tokens["idtok-123"] = USER
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {f"https://127.0.0.1:{reg.port}": {"identitytoken": "idtok-123"}}}))
    rec = Recorder(reg, AuthConfig(docker_config=cfg))
    assert rec.client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE).status_code == 202
    assert [(g.method, g.user) for g in server.grants] == [("POST", USER)]


def test_concurrent_requests_share_one_token_request(token_setup):
    reg, server = token_setup(delay=0.2)
    rec = Recorder(reg, creds())
    results: list[int] = []
    lock = threading.Lock()

    def work():
        for _ in range(3):
            status = rec.client.get("/v2/regslo/probe/tags/list", extensions=SCOPE).status_code
            with lock:
                results.append(status)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [404] * 24
    assert server.issued == 1
    # the one token request took >= 0.2 s; each thread waited for it at most once
    assert 0.2 <= rec.auth.auth_seconds < 1.0


def test_auth_seconds_counts_token_requests_per_thread(token_setup):
    reg, server = token_setup(delay=0.15)
    rec = Recorder(reg, creds())
    rec.client.get("/v2/")
    rec.client.post("/v2/regslo/probe/blobs/uploads/", extensions=SCOPE)
    assert server.issued == 2
    assert rec.auth.auth_seconds >= 0.3
    assert rec.auth.thread_auth_seconds >= 0.3
    seen: list[float] = []
    other = threading.Thread(target=lambda: seen.append(rec.auth.thread_auth_seconds))
    other.start()
    other.join()
    assert seen == [0.0]  # another thread spent nothing on auth
