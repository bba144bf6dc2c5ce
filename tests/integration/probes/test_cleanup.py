"""Storage must not grow over thousands of runs: every run's image is deleted and GC reclaims it."""

import time

import httpx

from regslo.config import ProbeSettings, Registry
from regslo.sources.probes.image import make_tag
from regslo.sources.probes.probes import KEEP_IMAGES, RegistryProber
from regslo.sources.probes.image import build_image
from regslo.sources.probes.probes import PhaseClock

SETTINGS = ProbeSettings(interval=5, timeout=4, blob_size=16 * 1024)


def tags(reg):
    return httpx.get(f"{reg.url}/v2/regslo/probe/tags/list").json().get("tags") or []


def gc_size(reg):
    reg.stop()
    reg.garbage_collect()
    size = reg.storage_bytes()
    reg.start()
    return size


def test_200_cycles_leave_nothing_and_storage_is_flat(registry):
    p = RegistryProber(Registry("r1", registry.url, "t"), SETTINGS, "cleanup")
    for _ in range(20):
        assert p.run("push").ok and p.run("pull").ok
    assert len(tags(registry)) == KEEP_IMAGES
    size_20 = gc_size(registry)
    for _ in range(180):
        assert p.run("push").ok and p.run("pull").ok
    assert len(tags(registry)) == KEEP_IMAGES  # only the two live images
    size_200 = gc_size(registry)
    # 180 more runs pushed 180 * 16 KiB of fresh random layers; after GC none of it is left
    assert size_200 <= size_20 + 8 * 1024, (size_20, size_200)
    assert p.cleanup_all() == KEEP_IMAGES
    assert tags(registry) == []
    size_end = gc_size(registry)
    assert size_end < size_20


def test_startup_sweep_removes_own_leftovers_and_stale_foreign_only(registry):
    old = RegistryProber(Registry("r1", registry.url, "t"), SETTINGS, "crashed")
    foreign = RegistryProber(Registry("r1", registry.url, "t"), SETTINGS, "other")
    # a crashed earlier process of this instance left two images; another live instance has one fresh image
    assert old.run("push").ok and old.run("push").ok
    assert foreign.run("push").ok
    # and a stale foreign image from a long-dead instance (tag timestamp two hours ago)
    img = build_image("dead", 1024)
    img = img.__class__(**{**img.__dict__, "tag": make_tag("dead", now=time.time() - 7200)})
    old.push_image(img, time.monotonic() + 4, PhaseClock(old.client))
    # an image that is not regslo's at all: never touched
    user = build_image("user", 1024)
    old.push_image(user.__class__(**{**user.__dict__, "tag": "user-tag"}), time.monotonic() + 4,
                   PhaseClock(old.client))
    assert len(tags(registry)) == 5
    new = RegistryProber(Registry("r1", registry.url, "t"), SETTINGS, "crashed")
    assert new.sweep() == 3
    left = sorted(tags(registry))
    assert "user-tag" in left and len(left) == 2
    assert any(t.startswith("regslo-other-") for t in left)


def test_sweep_leaves_images_in_flight_alone(registry):
    """The start-up sweep now runs beside the probes: an image a probe is pushing (or a replication check is
    waiting for) is not yet in the prober's list, and must not be swept from under it."""
    p = RegistryProber(Registry("r1", registry.url, "t"), SETTINGS, "me")
    img = build_image("me", 1024)
    with p.in_flight(img.tag):
        p.push_image(img, time.monotonic() + 4, PhaseClock(p.client))
        assert p.sweep() == 0
        assert img.tag in tags(registry)
    assert p.sweep() == 1  # once no run holds it, it is a leftover like any other
    assert tags(registry) == []
