"""Replication checks through a real replicator: ``skopeo sync`` copying the probe repository every 2 s.

Before probe images were real-looking images (uncompressed layer), skopeo gzip-compressed the layer on
copy, the destination's manifest digest differed and every check timed out. Now the check polls by tag and
compares digests: a digest-preserving copy gives lag; a copy that rewrites the manifest gives a counted
``digest_mismatch`` with its lag.
"""

import random
import statistics
import time

import httpx
from prometheus_client import CollectorRegistry

from regslo.config import ProbeSettings, Registry, ReplicationPair
from regslo.sli.probe_metrics import ProbeMetrics
from regslo.sources.probes.probes import RegistryProber, ReplicationProber
from tests.support.skopeo import SkopeoSync

SETTINGS = ProbeSettings(interval=10, timeout=5, blob_size=16 * 1024)
SYNC_EVERY = 2.0


def _setup(us, eu, timeout=20.0):
    src = RegistryProber(Registry("us", us.url, "us-east"), SETTINGS, "test")
    dst = RegistryProber(Registry("eu", eu.url, "eu-west"), SETTINGS, "test")
    pair = ReplicationPair("us", "eu", timeout=timeout, poll_interval=0.25)
    return ReplicationProber(pair, src, dst)


def _metrics():
    from regslo.config import parse_config
    cfg = parse_config("registries: [{name: us, url: 'http://127.0.0.1:1'}, {name: eu, url: 'http://127.0.0.1:2'}]\n"
                       "replication: [{source: us, destination: eu}]\n")
    reg = CollectorRegistry()
    return ProbeMetrics(cfg, reg), reg


def test_skopeo_sync_every_2s_gives_lag_not_timeouts(registries):
    us, eu = registries("us", "eu")
    sync = SkopeoSync(f"127.0.0.1:{us.port}", f"127.0.0.1:{eu.port}", "regslo/probe", every=SYNC_EVERY).start()
    metrics, reg = _metrics()
    lags = []
    try:
        prober = _setup(us, eu)
        for _ in range(6):
            time.sleep(random.uniform(0, SYNC_EVERY))  # checks start at any phase of the sync loop
            result = prober.run()
            metrics.replication_result(result)
            assert result.outcome == "ok", (result, sync.failures)
            lags.append(result.lag)
    finally:
        sync.stop()
    assert sync.rounds >= 2
    # a copy happens at most one sync period (+ one skopeo run, + one poll) after the push
    assert all(0 < lag < SYNC_EVERY + 8.0 for lag in lags), lags
    assert reg.get_sample_value("regslo_replication_timeouts_total", {"source": "us", "destination": "eu"}) == 0
    assert reg.get_sample_value("regslo_replication_digest_mismatches_total",
                                {"source": "us", "destination": "eu"}) == 0
    print(f"\nskopeo sync every {SYNC_EVERY:g}s: lag min {min(lags):.2f}s median {statistics.median(lags):.2f}s "
          f"max {max(lags):.2f}s over {len(lags)} checks")


def test_replicator_that_rewrites_the_manifest_is_a_counted_digest_mismatch_with_lag(registries):
    us, eu = registries("us", "eu")
    # --format v2s2 makes skopeo convert the OCI manifest to a Docker one: same image, other digest
    sync = SkopeoSync(f"127.0.0.1:{us.port}", f"127.0.0.1:{eu.port}", "regslo/probe", every=SYNC_EVERY,
                      extra=("--format", "v2s2")).start()
    metrics, reg = _metrics()
    try:
        result = _setup(us, eu).run()
        metrics.replication_result(result)
    finally:
        sync.stop()
    assert result.outcome == "digest_mismatch" and result.reason == "digest_mismatch", result
    assert result.lag is not None and result.lag < SYNC_EVERY + 8.0
    assert "serves sha256:" in result.message and "pushed sha256:" in result.message
    labels = {"source": "us", "destination": "eu"}
    assert reg.get_sample_value("regslo_replication_digest_mismatches_total", labels) == 1
    assert reg.get_sample_value("regslo_replication_checks_total", labels) == 1
    assert reg.get_sample_value("regslo_replication_lag_seconds_count", labels) == 1
    # the destination's copy (its own digest) was deleted too, not only the digest regslo pushed
    tags = httpx.get(f"{eu.url}/v2/regslo/probe/tags/list").json().get("tags") or []
    assert not [t for t in tags if t.startswith("regslo-test-")], tags
