"""Tokens outside RFC 6750 syntax are refused, and no credential or token ever reaches a message, a log line
or the ``probe --once`` table (issue 9, item 4). Hostile token servers on 127.0.0.1.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regslo.config import AuthConfig, ProbeSettings, Registry, Secret
from regslo.oci.client import RegistryClient
from regslo.oci.errors import OCIError
from regslo.sources.probes.probes import RegistryProber
from tests.support.configs import write_config
from tests.support.hostile import Reply, bearer_protected

ROOT = Path(__file__).resolve().parents[3]
SECRET = "SeKrEt-t0ken-VALUE"
BAD_TOKENS = {
    "newline": SECRET + "\nX-Injected: 1",  # h11: "Illegal header value b'Bearer SeKrEt...'"
    "space": SECRET + " more",
    "non-ascii": SECRET + "€",  # httpx: UnicodeEncodeError quoting the value
    "control": SECRET + "\x01",
    "quote": SECRET + '"',
}


def hostile_realm(hostile, token: str):
    reg = hostile()
    reg.route("GET", "/v2/", bearer_protected(f"{reg.url}/token", Reply(200)))
    reg.route("GET", "/token", Reply(200, json={"token": token, "expires_in": 300}))
    return reg


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
def test_a_token_outside_rfc6750_syntax_is_refused_and_never_printed(hostile, caplog, kind):
    reg = hostile_realm(hostile, BAD_TOKENS[kind])
    caplog.set_level(logging.DEBUG)
    prober = RegistryProber(Registry("r", reg.url, "t", auth=AuthConfig("u", Secret("pw-secret-99"))),
                            ProbeSettings(timeout=5), "test")
    try:
        res = prober.run("ping")
    finally:
        prober.close()
    assert (res.ok, res.reason) == (False, "auth"), res
    assert "token syntax" in res.message
    assert SECRET not in res.message and "pw-secret-99" not in res.message
    assert SECRET not in caplog.text
    # the token never went out in a header either
    assert all(SECRET not in a for a in reg.authorizations())


def test_valid_token68_tokens_are_accepted(hostile):
    token = "abc-._~+/XYZ019=="
    reg = hostile_realm(hostile, token)
    with RegistryClient(Registry("r", reg.url, "t"), timeout=5) as c:
        c.ping(deadline=time.monotonic() + 5)
    assert f"Bearer {token}" in reg.authorizations()


def test_probe_once_table_and_log_never_show_the_token(hostile, tmp_path):
    reg = hostile_realm(hostile, BAD_TOKENS["newline"])
    cfg = write_config(tmp_path / "c.yml", [{"name": "r", "url": reg.url, "region": "t",
                                             "auth": {"username": "u", "password": "pw-secret-99"}}],
                       probes={"timeout": "3s", "enabled": ["ping"]})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for output in ("table", "json"):
        proc = subprocess.run([sys.executable, "-m", "regslo", "probe", "--once", "-c", str(cfg), "--output", output],
                              capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 1
        assert "auth" in proc.stdout
        assert SECRET not in proc.stdout + proc.stderr
        assert "pw-secret-99" not in proc.stdout + proc.stderr


def test_messages_of_wrapped_errors_are_scrubbed():
    """Backstop for texts from libraries: anything shaped like an Authorization value is redacted."""
    from regslo.oci.errors import short_message

    exc = ValueError("Illegal header value b'Bearer eyJhbGciOi.abc\\n'")
    assert "eyJhbGciOi" not in short_message(exc)
    exc = ValueError("bad header: Authorization: Basic dXNlcjpwYXNz")
    assert "dXNlcjpwYXNz" not in short_message(exc)


def test_an_error_from_an_illegal_token_raised_by_the_client_is_bounded(hostile):
    reg = hostile_realm(hostile, BAD_TOKENS["newline"])
    with RegistryClient(Registry("r", reg.url, "t"), timeout=5) as c, pytest.raises(OCIError) as info:
        c.ping(deadline=time.monotonic() + 5)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    chain, seen = info.value, 0
    while chain is not None and seen < 10:  # nor in a chained exception that a traceback would print
        assert SECRET not in str(chain)
        chain, seen = chain.__cause__ or chain.__context__, seen + 1


def test_a_registry_echoing_what_it_received_does_not_get_it_into_the_result(hostile):
    """A registry may quote the request in its error message (the status page, the CLI table and logs show
    the probe's message). The token and the Basic value it echoes are removed, also without their scheme."""
    token = "tok-echoed-7f3a9c"
    reg = hostile()
    reg.route("GET", "/token", Reply(200, json={"token": token, "expires_in": 300}))

    def echo(req):
        said = req.headers.get("authorization", "")
        return Reply(500, json={"errors": [{"code": "UNKNOWN", "message": f"got {said}; raw {said.split()[-1]}"}]})

    reg.route("GET", "/v2/", bearer_protected(f"{reg.url}/token", echo))
    prober = RegistryProber(Registry("r", reg.url, "t", auth=AuthConfig("u", Secret("pw-echoed-42"))),
                            ProbeSettings(timeout=5), "test")
    try:
        res = prober.run("ping")
    finally:
        prober.close()
    assert (res.ok, res.reason) == (False, "server_error"), res
    assert "UNKNOWN" in res.message and token not in res.message, res.message
