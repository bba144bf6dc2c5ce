"""``regslo_build_info{version,revision,pythonversion}``: which regslo, from which commit, on which Python.

The revision comes from, in order: the ``REGSLO_REVISION`` environment variable (set by the Dockerfile's
build argument), a ``REVISION`` file beside the package (written by a packaging step), or ``git`` when regslo
runs from a checkout. Unknown, it is the empty string, which Prometheus treats as no label.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from functools import lru_cache
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge

from regslo import __version__

_REVISION = re.compile(r"^[0-9a-f]{7,64}$")


@lru_cache(maxsize=1)
def revision() -> str:
    value = os.environ.get("REGSLO_REVISION", "").strip()
    package = Path(__file__).resolve().parent.parent
    if not value:
        try:
            value = (package / "REVISION").read_text().strip()
        except OSError:
            value = ""
    if not value and (package.parent / ".git").exists():
        try:
            out = subprocess.run(["git", "-C", str(package.parent), "rev-parse", "HEAD"], capture_output=True,
                                 text=True, timeout=2, check=False)
            value = out.stdout.strip() if out.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            value = ""
    value = value.lower()
    return value if _REVISION.match(value) else ""


def register(registry: CollectorRegistry) -> Gauge:
    gauge = Gauge("regslo_build_info", "Always 1; the labels say which regslo runs, built from which revision, "
                  "on which Python.", ["version", "revision", "pythonversion"], registry=registry)
    gauge.labels(__version__, revision(), platform.python_version()).set(1)
    return gauge
