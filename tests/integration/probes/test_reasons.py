"""A broken registry gives a failed probe with the right bounded reason, never a crash."""

import time
from pathlib import Path

from regslo.config import ProbeSettings, Registry
from regslo.sources.probes.probes import RegistryProber

FAST = ProbeSettings(interval=5, timeout=2, blob_size=4096)


def prober(url, settings=FAST, name="r1"):
    return RegistryProber(Registry(name, url, "test"), settings, instance="test")


def test_stopped_registry_is_connect(registry):
    p = prober(registry.url)
    assert p.run("ping").ok
    registry.stop()
    res = p.run("ping")
    assert (res.ok, res.reason) == (False, "connect")
    res = p.run("push")
    assert (res.ok, res.reason) == (False, "connect")


def test_frozen_registry_is_timeout_cut_at_deadline(registry):
    p = prober(registry.url)
    assert p.run("push").ok
    registry.freeze()
    try:
        for probe in ("ping", "push", "pull"):
            t0 = time.monotonic()
            res = p.run(probe)
            elapsed = time.monotonic() - t0
            assert (res.ok, res.reason) == (False, "timeout"), res
            assert elapsed < FAST.timeout + 1.0, f"{probe} took {elapsed:.1f}s, timeout is {FAST.timeout}s"
    finally:
        registry.resume()


def test_unknown_host_is_dns():
    res = prober("http://regslo-does-not-exist.invalid:5000").run("ping")
    assert (res.ok, res.reason) == (False, "dns"), res


def test_corrupted_blob_on_disk_is_digest_mismatch(registry):
    p = prober(registry.url, ProbeSettings(interval=5, timeout=4, blob_size=64 * 1024))
    assert p.run("push").ok
    layer = p._images[-1].blob_digests[1]
    data = Path(registry.storage, "docker/registry/v2/blobs/sha256", layer[7:9], layer[7:], "data")
    raw = bytearray(data.read_bytes())
    raw[100] ^= 0xFF  # same size, one byte flipped: only a digest check can notice
    data.write_bytes(bytes(raw))
    res = p.run("pull")
    assert (res.ok, res.reason) == (False, "digest_mismatch"), res
    assert "does not match" in res.message


def test_deleted_image_is_not_found(registry):
    p = prober(registry.url)
    assert p.run("push").ok
    latest = p._images[-1]
    p.delete_image(latest)
    res = p.run("pull")
    assert (res.ok, res.reason) == (False, "not_found"), res


def test_wrong_password_is_auth(registries, tmp_path):
    from tests.support.registry import make_htpasswd

    htp = make_htpasswd(tmp_path / "htpasswd", "probe", "right-password")
    (reg,) = registries("auth", htpasswd=htp)
    from regslo.config import AuthConfig, Secret

    good = RegistryProber(Registry("auth", reg.url, "t", auth=AuthConfig("probe", Secret("right-password"))),
                          FAST, "test")
    bad = RegistryProber(Registry("auth", reg.url, "t", auth=AuthConfig("probe", Secret("wrong-password"))),
                         FAST, "test")
    anon = prober(reg.url)
    assert good.run("ping").ok and good.run("push").ok and good.run("pull").ok
    for p in (bad, anon):
        for probe in ("ping", "push"):
            res = p.run(probe)
            assert (res.ok, res.reason) == (False, "auth"), res
            assert "wrong-password" not in res.message
