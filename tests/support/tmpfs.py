"""A small tmpfs mounted for one test (needs root; the caller skips with a clear reason otherwise)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest


def skip_unless_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs of a fixed size needs root (CI runs as root); without it there is no "
                    "filesystem small enough to fill and measure")


@contextlib.contextmanager
def mounted_tmpfs(where: Path, size: str = "32m") -> Iterator[Path]:
    skip_unless_root()
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
                         capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()}): a container without CAP_SYS_ADMIN")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def df(path: Path) -> tuple[int, int]:
    """(size, available) bytes as the real ``df`` prints them."""
    out = subprocess.run(["df", "-B1", "--output=size,avail", str(path)], capture_output=True, text=True,
                         check=True, timeout=30).stdout.split("\n")[1].split()
    return int(out[0]), int(out[1])


def du(path: Path) -> int:
    """Allocated bytes under ``path`` as the real ``du`` counts them."""
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True, timeout=60)
    return int(out.stdout.split()[0])
