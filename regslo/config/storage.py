"""``registries[].storage`` and ``registries[].gc``: capacity and garbage collection (docs/operations.md).

    registries:
      - name: us
        url: https://registry.us.example.com
        storage:
          path: /var/lib/registry     # the registry's storage.filesystem.rootdirectory, mounted here
          target: 70%                 # RegsloStorageAboveTarget above this share of the filesystem
          window: 6h                  # growth is fitted over this much history
          page_within: 6h             # RegsloStorageFillingUp pages when projected full within this
          ticket_within: 4d           # ... and opens a ticket within this
          alert_for: 10m
          sample_interval: 30s        # statvfs and projection cadence
          scan_interval: 10m          # pause between two walks of the registry root
          scan_rate: 20000            # files per second the walk may stat, at most
        gc:
          max_age: 8d                 # RegsloGCNotRunning when no successful GC for this long

statvfs measures only a filesystem this host mounts: object storage (s3, gcs, azure, swift) is refused
with a pointer to the provider metrics, and network or FUSE mounts get a warning.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regslo.config.base import Errors, Section

_STORAGE_KEYS = {"path", "target", "window", "page_within", "ticket_within", "alert_for", "sample_interval",
                 "scan_interval", "scan_rate"}
_OBJECT_STORE = re.compile(r"^(s3|gs|gcs|azure|az|swift|oss|wasbs?|abfss?)://", re.IGNORECASE)
_REMOTE_FS = ("nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs", "9p", "fuse")
DOCS = "docs/operations.md#object-storage"


@dataclass(frozen=True)
class StorageConfig:
    path: Path
    target: float = 0.70
    window: float = 6 * 3600.0
    page_within: float = 6 * 3600.0
    ticket_within: float = 4 * 86400.0
    alert_for: float = 600.0
    sample_interval: float = 30.0
    scan_interval: float = 600.0
    scan_rate: int = 20_000


@dataclass(frozen=True)
class GCConfig:
    max_age: float = 8 * 86400.0


def _ratio(value: Any) -> float:
    """``70%``, ``0.7`` or ``70`` -> 0.7."""
    if isinstance(value, bool):
        raise ValueError(f"must be a percentage like 70% or a fraction like 0.7, got {value!r}")
    if isinstance(value, str) and value.strip().endswith("%"):
        number = float(value.strip()[:-1])
        number /= 100
    elif isinstance(value, (int, float)):
        number = float(value) / 100 if value > 1 else float(value)
    else:
        raise ValueError(f"must be a percentage like 70% or a fraction like 0.7, got {value!r}")
    if not 0 < number < 1:
        raise ValueError(f"must be between 0% and 100% (exclusive), got {value!r}")
    return number


def parse_storage(raw: Any, path: str, errors: Errors, base_dir: Path) -> StorageConfig | None:
    if raw is None:
        return None
    sec = Section(raw, path, errors, known=_STORAGE_KEYS)
    if not isinstance(raw, dict):
        return None  # Section said "must be a mapping": one line, not a second one about path
    d = StorageConfig(path=Path("/"))
    where = sec.str("path", required=True)
    target = sec.convert("target", _ratio, d.target)
    window = sec.duration("window", d.window)
    page = sec.duration("page_within", d.page_within)
    ticket = sec.duration("ticket_within", d.ticket_within)
    alert_for = sec.duration("alert_for", d.alert_for, positive=False)
    sample = sec.duration("sample_interval", d.sample_interval)
    scan = sec.duration("scan_interval", d.scan_interval)
    rate = sec.int("scan_rate", d.scan_rate, minimum=1)
    if page and ticket and page > ticket:
        errors.add(sec.key("page_within"), "must not exceed ticket_within (a page is for the nearer danger)")
    if sample and window and window < 5 * sample:
        errors.add(sec.key("window"), f"must hold at least 5 samples of sample_interval ({sample:g}s)")
    if where is None:
        return None
    if _OBJECT_STORE.match(where):
        errors.add(sec.key("path"), f"{where} is object storage, which statvfs cannot measure; remove "
                                    f"storage: and use the provider's bucket metrics (see {DOCS})")
        return None
    local = Path(os.path.abspath(Path(where).expanduser() if Path(where).expanduser().is_absolute()
                                 else base_dir / Path(where).expanduser()))
    if errors.check_secrets:  # only where regslo runs: `regslo generate` may run on another machine
        if not local.is_dir():
            errors.add(sec.key("path"), f"{local} is not a directory on this host; regslo must run beside the "
                                        "registry with its rootdirectory mounted (object storage: see "
                                        f"{DOCS})")
        else:
            fstype = mount_type(local)
            if fstype and fstype.split(".")[0] in _REMOTE_FS:
                errors.warn(sec.key("path"), f"{local} is on a {fstype} mount: capacity and free space are what "
                                             f"the mount reports, which may not be the real store (see {DOCS})")
    return StorageConfig(path=local, target=target, window=window or d.window, page_within=page or d.page_within,
                         ticket_within=ticket or d.ticket_within,
                         alert_for=d.alert_for if alert_for is None else alert_for,
                         sample_interval=sample or d.sample_interval, scan_interval=scan or d.scan_interval,
                         scan_rate=rate or d.scan_rate)


def parse_gc(raw: Any, path: str, errors: Errors) -> GCConfig | None:
    if raw is None:
        return None
    sec = Section(raw, path, errors, known={"max_age"})
    return GCConfig(max_age=sec.duration("max_age", GCConfig.max_age) or GCConfig.max_age)


def mount_type(path: Path) -> str | None:
    """The filesystem type of the mount holding ``path`` (longest mount point prefix in /proc/mounts)."""
    try:
        text = Path("/proc/mounts").read_text()
    except OSError:
        return None
    best, fstype = "", None
    target = str(path.resolve())
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, fstype = point, parts[2]
    return fstype


def check_gc_sources(registries: list, logs: Any, errors: Errors) -> None:
    """A ``gc:`` block without a distribution-gc log source would never see a run."""
    sources = {s.registry for s in getattr(logs, "sources", ()) if s.format == "distribution-gc"}
    for i, reg in enumerate(registries):
        if getattr(reg, "gc", None) is not None and reg.name not in sources:
            errors.warn(f"registries[{i}].gc", f"no logs source with format distribution-gc for registry "
                                               f"{reg.name!r}: GC runs cannot be seen")
