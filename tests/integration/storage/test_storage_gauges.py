"""Storage gauges on a real filesystem: capacity and available track ``df``, registry bytes track ``du``
(within 1 %), the walk is incremental and never holds up a scrape, and the monitor stops cleanly."""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from regslo.config import parse_config
from regslo.sources.storage import StorageMonitor, Walk
from tests.support.tmpfs import df, du, mounted_tmpfs
from tests.support.wait import wait_until as wait_for


def config_for(root: Path, **storage) -> list:
    settings = {"path": str(root), "sample_interval": "200ms", "window": "10s", "scan_interval": "200ms", **storage}
    text = f"registries:\n  - {{name: r1, url: 'http://127.0.0.1:1', storage: {settings!r}}}\n".replace("'", '"')
    return parse_config(text).registries


def gauges(registry: CollectorRegistry) -> dict[str, float]:
    out = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("regslo_storage_"):
            name, value = line.rsplit(" ", 1)
            out[name.split("{")[0]] = float(value)
    return out


def write_files(root: Path, count: int, size: int) -> None:
    for i in range(count):
        d = root / "docker/registry/v2/blobs/sha256" / f"{i % 256:02x}" / f"{i:064x}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "data").write_bytes(os.urandom(size))


def test_gauges_track_df_and_du_within_one_percent(tmp_path):
    with mounted_tmpfs(tmp_path / "mnt", "32m") as mnt:
        root = mnt / "registry"
        root.mkdir()
        write_files(root, 300, 40_000)  # ~12 MB in 300 blob directories
        (mnt / "not-the-registry.bin").write_bytes(os.urandom(3_000_000))  # other data on the same filesystem
        registry = CollectorRegistry()
        monitor = StorageMonitor(config_for(root), registry)
        monitor.start()
        try:
            first = wait_for(lambda: (g := gauges(registry)).get("regslo_storage_registry_bytes") and g, 20,
                             "the first complete walk")
            size, avail = df(mnt)
            used_du = du(root)
            g = gauges(registry)
            assert g["regslo_storage_capacity_bytes"] == pytest.approx(size, rel=0.01)
            assert g["regslo_storage_available_bytes"] == pytest.approx(avail, rel=0.01)
            assert g["regslo_storage_registry_bytes"] == pytest.approx(used_du, rel=0.01)
            assert g["regslo_storage_registry_bytes"] < size - avail  # the other file is not the registry's
            assert first["regslo_storage_scan_timestamp_seconds"] <= time.time()
            # more data: the next samples and walk follow it
            write_files(root, 100, 40_000)
            wait_for(lambda: gauges(registry)["regslo_storage_registry_bytes"] == pytest.approx(du(root), rel=0.01),
                     20, "a walk that sees the new files")
            size, avail = df(mnt)
            g = gauges(registry)
            assert g["regslo_storage_available_bytes"] == pytest.approx(avail, rel=0.01)
            # flat for a while: the projection says "not growing"
            wait_for(lambda: math.isinf(gauges(registry).get("regslo_storage_full_in_seconds", 0)), 20,
                     "+Inf once the used bytes stay flat")
        finally:
            monitor.stop()
        assert "regslo_storage_" not in generate_latest(registry).decode()  # unregistered: a reload can rebuild
        assert not [t for t in threading.enumerate() if t.name == "regslo-storage"]


def test_walk_is_incremental_and_rate_limited(tmp_path):
    root = tmp_path / "reg"
    write_files(root, 500, 10)
    walk = Walk(str(root))
    steps = 0
    while not walk.step(100):
        steps += 1
    assert steps >= 5  # ~1000 directories and files, never more than 100 per step
    assert walk.bytes == du(root)

    registry = CollectorRegistry()
    monitor = StorageMonitor(config_for(root, scan_rate=2000, scan_interval="1h"), registry)
    monitor.start()
    try:
        t0 = time.monotonic()
        scrape_times = []
        while "regslo_storage_registry_bytes{" not in generate_latest(registry).decode():
            s = time.monotonic()
            generate_latest(registry)
            scrape_times.append(time.monotonic() - s)
            time.sleep(0.02)
        took = time.monotonic() - t0
    finally:
        monitor.stop()
    entries = 1 + 256 + 500 * 2 + 6  # directories and files under the root, roughly
    assert took >= 0.4 * entries / 2000, took  # held to the rate (unthrottled this takes ~0.03 s)
    # scrapes answered while walking: a scrape that waited for the walk would see its total at once, and
    # the loop would end after the first; the time bound is generous for a loaded machine
    assert len(scrape_times) >= 3, scrape_times
    assert max(scrape_times) < 2.0, max(scrape_times)


def test_unreadable_path_is_a_logged_gap_not_a_crash(tmp_path, caplog):
    root = tmp_path / "gone"
    root.mkdir()
    regs = config_for(root)
    root.rmdir()
    registry = CollectorRegistry()
    monitor = StorageMonitor(regs, registry)
    monitor.tick()
    monitor.tick()
    assert "regslo_storage_capacity_bytes{" not in generate_latest(registry).decode()
    assert "statvfs" in caplog.text
    monitor.stop()


def test_a_gc_run_read_late_is_credited_only_with_what_changed_during_it(tmp_path):
    """Samples straddle the run: its gain is the change between the last sample before it and the first after
    it. A file written after the run (the tailer reads the run's log late, after a restart) used to be
    subtracted from the run's gain, because "after" was statvfs at the time of reading."""
    (root := tmp_path / "registry").mkdir()
    (registry,) = config_for(root)
    clock = [1000.0]
    monitor = StorageMonitor([registry], clock=lambda: clock[0])
    (t,) = monitor.tracked
    monitor.sample(t)  # t = 1000: before the run
    clock[0] = 1010.0
    monitor.sample(t)  # t = 1010: after the run (1001-1005)
    during = t.samples[-1][2] - t.samples[0][2]
    (root / "later").write_bytes(os.urandom(2 * 1024 * 1024))  # written after the run ended
    os.sync()
    assert monitor.reclaimed("r1", 1001.0, 1005.0) == during
    # a run that ended after the newest sample is measured against statvfs now (no sample after it yet);
    # its size is left unchecked: other writers on this shared filesystem would make it racy
    assert monitor.reclaimed("r1", 1011.0, 1012.0) is not None
    assert monitor.reclaimed("r1", 999.0, 1005.0) is None  # no sample before the run
    assert monitor.reclaimed("other", 1001.0, 1005.0) is None


def test_sample_history_is_bounded_whatever_the_window(tmp_path, monkeypatch):
    from regslo.sources import storage

    MAX_SAMPLES = 200  # the real bound (20,000) works the same; the fill projection over it is slow to repeat
    monkeypatch.setattr(storage, "MAX_SAMPLES", MAX_SAMPLES)
    (root := tmp_path / "registry").mkdir()
    (registry,) = config_for(root)  # a 10 s window: every sample below falls inside it
    clock = [0.0]
    monitor = StorageMonitor([registry], clock=lambda: clock[0])
    (t,) = monitor.tracked
    for i in range(MAX_SAMPLES + 50):
        clock[0] = i * 1e-4
        monitor.sample(t)
    assert len(t.samples) == MAX_SAMPLES and t.samples[-1][0] == clock[0]
