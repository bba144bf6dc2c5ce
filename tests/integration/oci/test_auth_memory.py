"""The bearer flow's per-scope memories stay bounded whatever scopes requests and challenges bring (the image
inspector reads any repository users push; a registry chooses the scopes its challenges name). Against a
hostile token-protected server on 127.0.0.1; the bound is lowered so the test needs few requests."""

from __future__ import annotations

import time

from regslo.config import Registry
from regslo.oci import auth as auth_mod
from regslo.oci.client import RegistryClient
from tests.support.hostile import Reply


def test_tokens_locks_and_learned_scopes_are_bounded(hostile, monkeypatch):
    monkeypatch.setattr(auth_mod, "MAX_CACHED_SCOPES", 8)
    reg = hostile()
    reg.route("GET", "/token", Reply(200, json={"token": "tok-abcdef", "expires_in": 3600}))
    counter = iter(range(10**6))

    def protected(req):
        if req.headers.get("authorization", "").startswith("Bearer "):
            return Reply(200, headers={"Docker-Content-Digest": "sha256:" + "d" * 64})
        # every challenge names one more scope than the last
        return Reply(401, headers={"WWW-Authenticate": f'Bearer realm="{reg.url}/token",service="h",'
                                                       f'scope="repository:extra{next(counter)}:pull"'})

    reg.route("HEAD", "/*", protected)
    with RegistryClient(Registry("r", reg.url, "t"), timeout=5) as c:
        for i in range(40):
            assert c.head_manifest(f"repo{i}", "latest", deadline=time.monotonic() + 5)
        for _ in range(20):  # one scope challenged again and again, with a new extra scope each time
            c.auth._tokens.clear()
            c.head_manifest("repo0", "latest", deadline=time.monotonic() + 5)
        a = c.auth
        assert len(a._tokens) <= 8
        assert len(a._scope_locks) <= 2 * 8 + 1 and len(a._learned) <= 2 * 8 + 1
        assert all(len(v) <= auth_mod.MAX_LEARNED_SCOPES for v in a._learned.values())
    # the token request carries the key's scope and at most MAX_LEARNED_SCOPES learned ones
    last = reg.received("/token")[-1]
    assert last.path.count("scope=") <= 1 + auth_mod.MAX_LEARNED_SCOPES
