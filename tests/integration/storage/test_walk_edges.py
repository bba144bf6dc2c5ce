"""The storage walk on awkward trees: symlinks (loops, links out of the root), unreadable directories,
entries vanishing mid-walk, trees deeper than its bound on open directories, a root that is gone. Each is
skipped or counted, never followed out of the root and never a crash; the totals are checked against the
real ``du`` wherever ``du`` and the walk should agree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from regslo.sources import storage
from regslo.sources.storage import StorageMonitor, Walk
from tests.integration.storage.test_storage_gauges import config_for
from tests.support.tmpfs import du


def walk_all(root: Path, budget: int = 7) -> Walk:
    walk = Walk(str(root))
    for _ in range(1_000_000):
        if walk.step(budget):
            break
    else:
        raise AssertionError("walk did not finish")
    walk.close()
    return walk


def test_symlinks_are_not_followed_loops_or_out_of_the_root(tmp_path):
    root = tmp_path / "reg"
    (root / "a/b").mkdir(parents=True)
    (root / "a/b/data").write_bytes(b"x" * 20_000)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(os.urandom(2_000_000))
    (root / "a/b/loop").symlink_to(root)  # a cycle back to the root
    (root / "a/self").symlink_to(".")  # a cycle to its own directory
    (root / "a/out").symlink_to(outside)  # a link leading out of the root
    (root / "a/dangling").symlink_to(tmp_path / "nowhere")
    walk = walk_all(root)
    assert walk.errors == 0 and not walk.failed
    assert walk.bytes == du(root)  # du does not follow links either
    assert walk.bytes < 2_000_000  # the 2 MB outside the root is not counted
    assert walk.entries == 7  # a, a/b, data, loop, self, out, dangling


def test_entries_vanishing_mid_walk_are_skipped(tmp_path):
    root = tmp_path / "reg"
    for i in range(50):
        d = root / f"d{i:02d}"
        d.mkdir(parents=True)
        (d / "data").write_bytes(b"y" * 5000)
    walk = Walk(str(root))
    walk.step(3)  # inside the tree: open directories on the stack
    for i in range(0, 50, 2):
        shutil.rmtree(root / f"d{i:02d}")  # a GC deleting blobs meanwhile
    while not walk.step(3):
        pass
    walk.close()
    assert not walk.failed
    assert walk.bytes <= du(root) + 3 * 8192  # plus at most the 3 entries seen before the deletion
    # deleting the whole root mid-walk: the walk ends, whatever it had counted
    walk = Walk(str(root))
    walk.step(2)
    shutil.rmtree(root)
    while not walk.step(5):
        pass
    walk.close()


def test_deep_tree_is_bounded_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "MAX_DEPTH", 10)
    root = tmp_path / "reg"
    deep = root
    for i in range(30):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "data").write_bytes(b"z" * 100_000)
    walk = Walk(str(root))
    most_open = 0
    while not walk.step(1):
        most_open = max(most_open, len(walk._stack))
    assert most_open <= 10  # never more open directories (file descriptors) than the bound
    assert walk.errors == 1  # the one directory not descended into is counted
    assert walk.bytes < du(root) - 90_000  # the data below it was not counted


def test_default_depth_bound_covers_the_deepest_legal_repository(tmp_path):
    # a repository name of 128 one-letter components is 255 characters, the registry's limit
    name = "/".join(["a"] * 128)
    link = (tmp_path / "reg/docker/registry/v2/repositories" / name /
            "_manifests/tags/latest/index/sha256" / ("0" * 64))
    link.mkdir(parents=True)
    (link / "link").write_text("sha256:" + "0" * 64)
    walk = walk_all(tmp_path / "reg", budget=500)
    assert walk.errors == 0
    assert walk.bytes == du(tmp_path / "reg")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the walk as another user (nobody)")
def test_permission_denied_directory_is_counted_and_published(tmp_path):
    # root reads every directory, so the walk runs in a child process that drops to nobody once regslo is
    # imported (the interpreter lives under /root), over a tree outside pytest's private temporary directory
    base = Path(tempfile.mkdtemp(prefix="regslo-walk-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        (base / "open").mkdir()
        (base / "open/data").write_bytes(b"a" * 10_000)
        (base / "closed").mkdir()
        (base / "closed/data").write_bytes(b"b" * 10_000)
        os.chmod(base / "closed", 0o000)
        code = ("import os, sys; from regslo.sources.storage import Walk\n"
                "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
                "w = Walk(sys.argv[1])\n"
                "while not w.step(100): pass\n"
                "print(w.errors, w.bytes, w.failed)")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        out = subprocess.run([sys.executable, "-c", code, str(base)], env=env,
                             capture_output=True, text=True, timeout=60, cwd="/")
        assert out.returncode == 0, out.stderr
        errors, nbytes, failed = out.stdout.split()
        assert errors == "1" and failed == "False"
        assert int(nbytes) == du(base) - du(base / "closed") + os.lstat(base / "closed").st_blocks * 512
    finally:
        os.chmod(base / "closed", 0o755)
        shutil.rmtree(base)


def test_skipped_entries_are_published_with_the_walk(tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "MAX_DEPTH", 3)
    root = tmp_path / "reg"
    (root / "a/b/c/d").mkdir(parents=True)
    registry = CollectorRegistry()
    monitor = StorageMonitor(config_for(root), registry)
    try:
        for _ in range(5):
            monitor.tick()
        text = generate_latest(registry).decode()
    finally:
        monitor.stop()
    assert 'regslo_storage_scan_skipped_entries{registry="r1"} 1.0' in text
    assert 'regslo_storage_registry_bytes{registry="r1"}' in text


def test_missing_root_publishes_no_registry_bytes(tmp_path, caplog):
    root = tmp_path / "reg"
    root.mkdir()
    regs = config_for(root)
    registry = CollectorRegistry()
    monitor = StorageMonitor(regs, registry)
    try:
        for _ in range(3):
            monitor.tick()
        text = generate_latest(registry).decode()
        assert 'regslo_storage_registry_bytes{registry="r1"} 4096.0' in text  # an empty directory
        stamp = [line for line in text.splitlines() if line.startswith("regslo_storage_scan_timestamp_seconds{")]
        root.rmdir()
        monitor.tracked[0].next_walk = 0  # walk again at once
        for _ in range(3):
            monitor.tick()
        text = generate_latest(registry).decode()
    finally:
        monitor.stop()
    # the last real measurement stays, and its timestamp ages: a walk of nothing is not "0 bytes, now"
    assert 'regslo_storage_registry_bytes{registry="r1"} 4096.0' in text
    assert [line for line in text.splitlines() if line.startswith("regslo_storage_scan_timestamp_seconds{")] == stamp
    assert "cannot read the registry root" in caplog.text


def test_a_low_scan_rate_is_held_too(tmp_path):
    # scan_rate 2: at 10 ticks a second, only every fifth tick may examine an entry
    root = tmp_path / "reg"
    for i in range(20):
        (root / f"f{i:02d}").parent.mkdir(parents=True, exist_ok=True)
        (root / f"f{i:02d}").write_bytes(b"x")
    monitor = StorageMonitor(config_for(root, scan_rate=2), CollectorRegistry())
    try:
        ticks = 0
        while monitor.tracked[0].walk is None or monitor.tracked[0].walk.entries < 4:
            monitor.tick()
            ticks += 1
            assert ticks < 1000
    finally:
        monitor.stop()
    assert ticks >= 15  # 4 entries at 2 a second are 2 s of 0.1 s ticks (the first after 0.5 s of credit)
