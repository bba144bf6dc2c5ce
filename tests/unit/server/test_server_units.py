"""Pieces of the exporter's server that need no socket: listen addresses, Accept-Encoding, request heads,
basic-auth checks of a web config."""

import base64

import bcrypt
import pytest

from regslo.config.base import Errors
from regslo.outputs.server import _BadRequest, _parse_head, accepts_gzip, parse_listen_address
from regslo.outputs.webconfig import parse_web_config


@pytest.mark.parametrize("address,expected", [
    (":9745", ("", 9745)), ("0.0.0.0:80", ("0.0.0.0", 80)), ("[::1]:9745", ("::1", 9745)),
    ("[::]:1", ("::", 1)), ("regslo.internal:9745", ("regslo.internal", 9745)), ("127.0.0.1:0", ("127.0.0.1", 0)),
])
def test_valid_listen_addresses(address, expected):
    assert parse_listen_address(address) == expected


@pytest.mark.parametrize("address", ["", "9745", "localhost", ":", ":65536", "::1:9745", "[::1]", "[::1]:",
                                     "[nope]:1", "[127.0.0.1]:1", "a b:1", "host:-1", "host:+1", "-host:1"])
def test_invalid_listen_addresses(address):
    with pytest.raises(ValueError):
        parse_listen_address(address)


@pytest.mark.parametrize("value,ok", [("gzip", True), ("gzip, deflate", True), ("deflate, gzip;q=0.5", True),
                                      ("*", True), ("gzip;q=0", False), ("identity", False), ("", False),
                                      ("gzip;q=0.0", False), ("br", False), ("gzip;q=zz", False),
                                      # a named coding wins over *: gzip refused explicitly stays refused
                                      ("gzip;q=0, *", False), ("*, gzip;q=0", False), ("*;q=0", False),
                                      ("*;q=0, gzip", True), ("br, *;q=0.1", True), ("gzip; q=0", False),
                                      ("GZIP;Q=0.5", True), ("x-gzip", True)])
def test_accepts_gzip(value, ok):
    assert accepts_gzip(value) is ok


def test_parse_head_strict():
    method, target, version, headers = _parse_head(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-A: 2\r\n\r\n")
    assert (method, target, version) == ("GET", "/metrics?x=1", "HTTP/1.1")
    assert headers == {"host": "a", "x-a": "1, 2"}
    assert _parse_head(b"GET / HTTP/1.1\r\nUser-Agent: a\tb \xe9\r\n\r\n")[3] == {"user-agent": "a\tb \xe9"}
    for bad in (b"GET /a\r\n\r\n", b"GET  /a HTTP/1.1\r\n\r\n", b"GET a HTTP/1.1\r\n\r\n",
                b"GET /a HTTP/1.1\r\n folded\r\n\r\n", b"GET /a HTTP/1.1\r\nBad Name: x\r\n\r\n",
                b"GET /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                b"G(T /a HTTP/1.1\r\n\r\n",
                # bare LF / CR / NUL inside a field or the request line (a front proxy splitting on LF would
                # see a second header where this parser sees one value)
                b"GET /a HTTP/1.1\r\nX-A: 1\nContent-Length: 5\r\n\r\n",
                b"GET /a HTTP/1.1\r\nX-A: 1\rTransfer-Encoding: chunked\r\n\r\n",
                b"GET /a HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", b"GET /a HTTP/1.1\nHost: x\r\n\r\n"):
        with pytest.raises(_BadRequest):
            _parse_head(bad)


def test_basic_auth_checks_bcrypt_and_caches_only_successes(tmp_path):
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(4)).decode()
    errors = Errors()
    web = parse_web_config({"basic_auth_users": {"alice": hashed}}, tmp_path, errors)
    assert not errors.problems

    def header(user, password):
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert web.cached_user(header("alice", "right")) is None
    assert web.check_basic_auth(header("alice", "right")) == "alice"
    assert web.cached_user(header("alice", "right")) == "alice"
    assert web.check_basic_auth(header("alice", "wrong")) is None
    assert web.check_basic_auth(header("bob", "right")) is None
    assert web.cached_user(header("alice", "wrong")) is None
    for junk in ("", "Basic", "Basic !!!", "Bearer abc", "Basic " + base64.b64encode(b"no-colon").decode()):
        assert web.check_basic_auth(junk) is None
    assert "right" not in repr(web) and hashed not in repr(web)


def test_an_unknown_user_costs_the_same_bcrypt_work_as_a_known_one(tmp_path, monkeypatch):
    """The check for an unknown user runs bcrypt at the configured users' cost (before: a decoy hash of cost
    10, made on first use, so with cost-12 users a wrong user name answered ~4x faster than a wrong password
    and the first such request paid an extra hashpw). The real bcrypt.checkpw runs; a spy records the cost."""
    hashed = {"alice": bcrypt.hashpw(b"a", bcrypt.gensalt(5)).decode(),
              "bob": bcrypt.hashpw(b"b", bcrypt.gensalt(6)).decode()}
    errors = Errors()
    web = parse_web_config({"basic_auth_users": hashed}, tmp_path, errors)
    assert not errors.problems
    costs = []
    real = bcrypt.checkpw

    def spy(password, stored):
        costs.append(int(stored.split(b"$")[2]))
        return real(password, stored)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    # mallory does not exist; "b" is bob's password, which must not let mallory in through the decoy
    assert web.check_basic_auth("Basic " + base64.b64encode(b"mallory:b").decode()) is None
    assert web.check_basic_auth("Basic " + base64.b64encode(b"bob:wrong").decode()) is None
    assert costs == [6, 6]


def test_web_config_headers_are_the_exporter_toolkit_set_only(tmp_path):
    """http_server_config.headers takes the exporter-toolkit's five security headers (with its allowed values),
    so no web.yml can add a second Content-Length or a Transfer-Encoding to every response (before: any
    header name was accepted)."""
    errors = Errors()
    web = parse_web_config({"http_server_config": {"headers": {
        "strict-transport-security": "max-age=31536000", "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"}}}, tmp_path, errors)
    assert not errors.problems
    assert web.headers == {"Strict-Transport-Security": "max-age=31536000", "X-Frame-Options": "DENY",
                           "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"}
    for name, value, problem in [
            ("Content-Length", "0", "only Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, "
                                    "X-XSS-Protection, Content-Security-Policy may be set"),
            ("Transfer-Encoding", "chunked", "only "), ("X-Frame-Options", "allow-from x", "must be one of deny, "
                                                                                          "sameorigin"),
            ("X-XSS-Protection", "1\r\nContent-Length: 0", "must be a one-line string")]:
        errors = Errors()
        parse_web_config({"http_server_config": {"headers": {name: value}}}, tmp_path, errors)
        assert len(errors.problems) == 1 and errors.problems[0].startswith(f"http_server_config.headers.{name}: "), \
            errors.problems
        assert problem in errors.problems[0]
