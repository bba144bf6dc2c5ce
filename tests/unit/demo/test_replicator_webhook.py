"""The demo replicator's webhook on 127.0.0.1 holds against hostile senders: the body is read only when its
Content-Length is decimal and within MAX_ENVELOPE, malformed envelopes are ignored, and the copies waiting for
their delay (one timer thread each) are bounded. (No registry is needed: copies are paused.)"""

from __future__ import annotations

import json
import socket
import time

import httpx

from regslo.config import Registry
from regslo.demo import replicator as rep_mod
from regslo.demo.replicator import Replicator


def raw_post(url: str, head: str, timeout: float = 5) -> bytes:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(f"POST /events HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
        return s.recv(200)  # the connection stays open: a server reading to EOF would never answer


def event(i: int, **target) -> dict:
    t = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "r",
         "digest": f"sha256:{i:064x}", "tag": f"t{i}", **target}
    return {"id": str(i), "action": "push", "target": t}


def make(delay: float = 0.2) -> Replicator:
    r = Replicator(Registry("s", "http://127.0.0.1:9", "s"), [Registry("d", "http://127.0.0.1:9", "d")], delay=delay)
    r.paused.set()
    return r.start()


def test_bad_content_length_is_refused_without_reading():
    r = make()
    try:
        assert raw_post(r.url, "Content-Length: -1\r\n").startswith(b"HTTP/1.0 411")
        assert raw_post(r.url, f"Content-Length: {rep_mod.MAX_ENVELOPE + 1}\r\n").startswith(b"HTTP/1.0 413")
        assert raw_post(r.url, "Transfer-Encoding: chunked\r\n").startswith(b"HTTP/1.0 411")
    finally:
        r.stop()


def test_malformed_envelopes_are_ignored_and_waiting_copies_are_bounded():
    r = make(delay=2)  # long enough that no copy finishes while the envelope is being handled
    try:
        for body in (b"[[[[", b"[1, 2]", b'{"events": 5}', b'{"events": [1, {"target": 3}, {"action": "push"}]}',
                     json.dumps({"events": [event(1, repository=None), event(2, digest=[1])]}).encode()):
            assert httpx.post(r.url, content=body, timeout=5).status_code == 200
        assert r.failed == 0
        n = rep_mod.MAX_PENDING + 44
        assert httpx.post(r.url, json={"events": [event(i) for i in range(n)]}, timeout=5).status_code == 200
        deadline = time.monotonic() + 30
        while r.failed < 44 and time.monotonic() < deadline:  # the webhook answers before it handles
            time.sleep(0.05)
        assert r.failed == 44  # dropped, not one more timer thread each
        while r._pending and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r._pending == 0
    finally:
        r.stop()
