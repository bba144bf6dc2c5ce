"""The consistency checker against hostile registries on 127.0.0.1 (tests/support/hostile.py): its manifest
HEADs keep the probes' rules -- a wall-clock deadline, credentials only to the registry's origin -- and a
hanging registry does not hold up shutdown."""

from __future__ import annotations

import hashlib
import json
import time

from prometheus_client import CollectorRegistry

from regslo.config import AuthConfig, Registry, Secret
from regslo.config.consistency import ConsistencyCheck
from regslo.oci.client import RegistryClient
from regslo.sources.consistency import ConsistencyChecker
from tests.support.hostile import Reply, basic_protected, redirect
from tests.unit.logs.support import series

DIGEST = "sha256:" + "c" * 64
PASSWORD = "consistency-secret-pw"


def serving(srv, digest=DIGEST):
    srv.route("HEAD", "/v2/app/web/manifests/latest", Reply(200, headers={"Docker-Content-Digest": digest}))
    return srv


def make(urls: dict[str, str], timeout: float, auth=None):
    clients = {n: RegistryClient(Registry(n, u, n, auth=auth), timeout=timeout) for n, u in urls.items()}
    check = ConsistencyCheck("app/web", ("latest",), tuple(urls), interval=0.2, grace=0)
    reg = CollectorRegistry()
    return clients, check, ConsistencyChecker([check], clients, reg, timeout=timeout), reg


def test_a_dripping_registry_is_a_counted_error_by_the_deadline(hostile):
    hang = hostile().route("*", "/*", Reply(200, header_drip=0.5, headers_forever=True))
    clients, check, checker, reg = make({"us": serving(hostile()).url, "hang": hang.url}, timeout=2)
    t0 = time.monotonic()
    checker.check(check)
    took = time.monotonic() - t0
    assert took < 2 + 6, took  # the 2 s deadline, with slack for a loaded machine; not the endless header
    assert series(reg, "regslo_tag_consistency_errors_total") == {("hang",): 1, ("us",): 0}
    for c in clients.values():
        c.close()


def test_stop_does_not_wait_for_a_hanging_resolution(hostile):
    hang = hostile().route("*", "/*", Reply(200, header_drip=0.5, headers_forever=True))
    clients, check, checker, reg = make({"hang": hang.url, "us": serving(hostile()).url}, timeout=10)
    checker.start()
    deadline = time.monotonic() + 10
    while not hang.received() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hang.received()
    t0 = time.monotonic()
    checker.stop()
    took = time.monotonic() - t0
    # before: stop() joined for timeout + 5 s and the thread went on to the next registry, so SIGTERM spent
    # up to 10 s here before the probes' own shutdown bound even started
    assert took < 5, took
    assert checker.snapshot()[0]["checked_at"] is None  # the interrupted round recorded nothing
    for c in clients.values():
        c.close()


def test_a_redirected_head_gets_no_credentials_on_another_origin(hostile):
    other = serving(hostile())
    us = hostile().route("HEAD", "/v2/app/web/manifests/latest",
                          basic_protected(redirect(f"{other.url}/v2/app/web/manifests/latest")))
    eu = serving(hostile())
    clients, check, checker, _ = make({"us": us.url, "eu": eu.url}, timeout=5,
                                   auth=AuthConfig("probe", Secret(PASSWORD)))
    (state,) = checker.check(check)
    assert state.digests == {"us": DIGEST, "eu": DIGEST} and state.consistent
    assert any(a.startswith("Basic ") for a in us.authorizations())
    assert other.received() and other.authorizations() == []
    for c in clients.values():
        c.close()


def test_a_garbled_digest_header_is_not_believed_the_manifest_is_hashed(hostile):
    """A registry's Docker-Content-Digest is shown on the status page and kept per tag: only a well-formed
    sha256 digest is taken; otherwise the manifest is fetched and hashed (bounded by the manifest cap)."""
    body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}).encode()
    real = "sha256:" + hashlib.sha256(body).hexdigest()
    odd = hostile()
    odd.route("HEAD", "/v2/app/web/manifests/latest",
              Reply(200, headers={"Docker-Content-Digest": "sha256:" + "<b>x</b>" * 2000}))
    odd.route("GET", "/v2/app/web/manifests/latest",
              Reply(200, body=body, headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}))
    clients, check, checker, _ = make({"odd": odd.url, "eu": serving(hostile(), real).url}, timeout=5)
    (state,) = checker.check(check)
    assert state.digests == {"odd": real, "eu": real} and state.consistent
    for c in clients.values():
        c.close()


def test_a_hanging_region_costs_one_timeout_per_round_not_one_per_tag(hostile):
    hang = hostile().route("*", "/*", Reply(200, header_drip=0.5, headers_forever=True))
    us = hostile().route("HEAD", "/v2/app/web/manifests/*", Reply(200, headers={"Docker-Content-Digest": DIGEST}))
    tags = tuple(f"t{i}" for i in range(8))
    clients = {"us": RegistryClient(Registry("us", us.url, "us"), timeout=1),
               "hang": RegistryClient(Registry("hang", hang.url, "hang"), timeout=1)}
    check = ConsistencyCheck("app/web", tags, ("us", "hang"), interval=60, grace=0)
    reg = CollectorRegistry()
    checker = ConsistencyChecker([check], clients, reg, timeout=1)
    t0 = time.monotonic()
    states = checker.check(check)
    took = time.monotonic() - t0
    assert took < 5, took  # one 1 s timeout, with slack; it was 8 (one per tag)
    assert series(reg, "regslo_tag_consistency_errors_total") == {("hang",): 1, ("us",): 0}
    assert all(s.checked_at is None for s in states)  # no verdict without every region
    assert len(us.received()) == len(tags)  # the reachable region was still asked about every tag
    for c in clients.values():
        c.close()


def test_a_thread_left_hanging_by_stop_ends_after_a_reload_starts_its_successor(hostile):
    """stop() gives up waiting on a thread stuck in a request to a hanging registry; a reload then used to
    hand that thread a fresh, unset stop event (the same attribute), so it carried on beside the new one:
    two checkers sending every request twice, and an IndexError once the new config had more checks."""
    import threading

    hang = hostile().route("*", "/*", Reply(200, header_drip=0.5, headers_forever=True))
    us = serving(hostile())
    clients, check, checker, reg = make({"hang": hang.url, "us": us.url}, timeout=3)
    checker.start()
    deadline = time.monotonic() + 10
    while not hang.received() and time.monotonic() < deadline:
        time.sleep(0.05)
    crashed: list[BaseException] = []
    old_hook, threading.excepthook = threading.excepthook, lambda args: crashed.append(args.exc_value)
    try:
        checker.stop()  # returns after STOP_WAIT; the thread is still inside the 3 s request
        checker.reconfigure([check], clients)  # the same checks (a reload that changed something else)
        checker.start()
        time.sleep(3 + 2)  # the old request's deadline has passed; the old thread would be looping again
        names = [t for t in threading.enumerate() if t.name == "regslo-consistency"]
        assert len(names) == 1, f"{len(names)} checker threads after stop, reconfigure, start"
        more = ConsistencyCheck("app/other", ("latest",), ("us",), interval=0.2, grace=0)
        checker.stop()  # and once more with a check added while a thread hangs
        checker.reconfigure([check, more], clients)
        checker.start()
        time.sleep(3 + 2)
        names = [t for t in threading.enumerate() if t.name == "regslo-consistency"]
        assert len(names) == 1 and not crashed, (len(names), crashed)
    finally:
        threading.excepthook = old_hook
        checker.stop()
        for c in clients.values():
            c.close()
