"""Write regslo configs for real registries started by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from regslo.config import Config, load_config


def registry_entry(reg: Any, **extra: Any) -> dict:
    entry = {"name": reg.name, "url": reg.url, "region": f"region-{reg.name}"}
    entry.update(extra)
    return entry


def write_config(path: Path, registries: list[dict], **sections: Any) -> Path:
    doc: dict[str, Any] = {"registries": registries}
    doc["probes"] = {"interval": "5s", "timeout": "4s", "blob_size": "4KiB", **sections.pop("probes", {})}
    doc.update(sections)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def make_config(tmp_path: Path, regs: list[Any], **sections: Any) -> Config:
    path = write_config(tmp_path / "regslo.yml", [registry_entry(r) for r in regs], **sections)
    return load_config(path)
