"""Cost of the storage walk (regslo_storage_registry_bytes): seconds per 100k files, against ``du``.

    python3 bench/storage_walk.py [--files 100000] [--dir /var/tmp] [--runs 3]

Builds a registry-shaped tree (blobs/sha256/<2 hex>/<digest>/data, one small file per blob) of ``--files``
blobs under ``--dir``, then times, in the same run and on the same warm page cache:

- ``du -s -B1`` (the anchor: the real tool doing the same sum),
- ``Walk.step`` without a rate limit (what one full walk costs in CPU and wall time),

and prints seconds per 100k files and the ratio to ``du``. The monitor thread runs the walk at most
``scan_rate`` entries per second (default 20,000), so a 100k-blob store (~200k entries: a directory and a
file per blob) takes ~10 s of wall time per walk at a small fraction of one CPU.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regslo.sources.storage import Walk  # noqa: E402


def build(root: Path, files: int) -> None:
    base = root / "docker/registry/v2/blobs/sha256"
    for i in range(files):
        digest = f"{i:064x}"
        d = base / digest[-2:] / digest
        d.mkdir(parents=True, exist_ok=True)
        with open(d / "data", "wb") as f:
            f.write(b"x" * 100)


def time_du(root: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    out = subprocess.run(["du", "-s", "-B1", str(root)], capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - t0, int(out.split()[0])


def time_walk(root: Path) -> tuple[float, float, int, int]:
    t0, c0 = time.perf_counter(), time.process_time()
    walk = Walk(str(root))
    while not walk.step(10_000):
        pass
    walk.close()
    return time.perf_counter() - t0, time.process_time() - c0, walk.bytes, walk.entries


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--dir", default=None, help="where to build the tree (default: the temp dir)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="regslo-walk-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        build(root, args.files)
        print(f"built {args.files} blobs under {root} in {time.perf_counter() - t0:.1f}s")
        time_du(root)  # warm the cache for both
        du_t, walk_t, walk_cpu = [], [], []
        for _ in range(args.runs):
            t, du_bytes = time_du(root)
            du_t.append(t)
            wt, cpu, walk_bytes, entries = time_walk(root)
            walk_t.append(wt)
            walk_cpu.append(cpu)
            assert abs(walk_bytes - du_bytes) <= 0.01 * du_bytes, (walk_bytes, du_bytes)
        per = 100_000 / args.files
        du_m, walk_m, cpu_m = (statistics.median(x) for x in (du_t, walk_t, walk_cpu))
        print(f"entries walked: {entries} (files and directories)")
        print(f"du -s:      {du_m * per:.3f} s per 100k files (median of {args.runs})")
        print(f"Walk:       {walk_m * per:.3f} s per 100k files wall, {cpu_m * per:.3f} s CPU "
              f"(ratio to du: {walk_m / du_m:.2f}x)")
        print(f"rate-limited at the default 20,000 entries/s: {entries / 20_000 * per:.1f} s per 100k files "
              f"wall, at {cpu_m / (entries / 20_000) * 100:.0f}% of one CPU")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
