"""Headless Chromium for the status page tests: the DOM after load, and a screenshot."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import require

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "status"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def _run(profile: Path, *args: str) -> subprocess.CompletedProcess:
    binary = require("chromium")
    cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        raise AssertionError(f"chromium exited {res.returncode}: {res.stderr[-2000:]}")
    return res


def dump_dom(url: str, profile: Path) -> str:
    """The page's DOM as Chromium built it (what a person's browser shows, minus pixels)."""
    return _run(profile, "--dump-dom", url).stdout


def screenshot(url: str, name: str, profile: Path, size: str = "1280,1400") -> Path:
    """A PNG of the page, kept under test-artifacts/status/ for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    _run(profile, f"--screenshot={path}", f"--window-size={size}", url)
    return path
