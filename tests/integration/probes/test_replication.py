"""Replication lag against a real asynchronous copy between two registries with a known delay."""

import time

import pytest

from regslo.config import ProbeSettings, Registry, ReplicationPair
from regslo.demo.replicator import Replicator
from regslo.sources.probes.probes import RegistryProber, ReplicationProber

SETTINGS = ProbeSettings(interval=10, timeout=5, blob_size=4096)
POLL = 0.25


def _probers(us, eu):
    src = RegistryProber(Registry("us", us.url, "us-east"), SETTINGS, "test")
    dst = RegistryProber(Registry("eu", eu.url, "eu-west"), SETTINGS, "test")
    return src, dst


@pytest.mark.parametrize("delay", [1.0, 3.0])
def test_lag_matches_known_delay(registries, delay):
    """Tolerance: the copy itself takes < 0.5 s on loopback, polling adds at most one poll interval."""
    us, eu = registries("us", "eu")
    rep = Replicator(Registry("us", us.url, "x"), [Registry("eu", eu.url, "y")], delay=delay).start()
    try:
        us.stop()
        us.config["notifications"] = {"endpoints": [{"name": "rep", "url": rep.url, "timeout": "1s",
                                                      "threshold": 5, "backoff": "1s"}]}
        us.start()
        src, dst = _probers(us, eu)
        pair = ReplicationPair("us", "eu", timeout=delay + 5, poll_interval=POLL)
        result = ReplicationProber(pair, src, dst).run()
        assert result.outcome == "ok", result
        assert delay <= result.lag <= delay + 0.5 + POLL, f"lag {result.lag:.2f}s for a {delay}s copy delay"
        assert rep.copied >= 1
    finally:
        rep.stop()


def test_copy_that_never_happens_is_timeout(registries):
    us, eu = registries("us", "eu")
    src, dst = _probers(us, eu)
    pair = ReplicationPair("us", "eu", timeout=1.5, poll_interval=POLL)
    t0 = time.monotonic()
    result = ReplicationProber(pair, src, dst).run()
    assert result.outcome == "timeout" and result.reason == "timeout" and result.lag is None
    assert time.monotonic() - t0 < 1.5 + 2.0
    # the check cleaned up after itself on the source
    import httpx
    assert (httpx.get(f"{us.url}/v2/regslo/probe/tags/list").json().get("tags") or []) == []


def test_source_down_is_error_not_a_check(registries):
    us, eu = registries("us", "eu")
    src, dst = _probers(us, eu)
    us.stop()
    result = ReplicationProber(ReplicationPair("us", "eu", timeout=2, poll_interval=POLL), src, dst).run()
    assert result.outcome == "error" and result.reason == "connect"
