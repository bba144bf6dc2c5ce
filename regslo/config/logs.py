"""The ``logs:`` section (log tailer). Owned by the log-tailer work; see docs/logs.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regslo.config.base import Errors


def parse(raw: Any, path: str, errors: Errors, config: Any, base_dir: Path) -> Any:
    """Validate the ``logs`` section; return its model (None when absent)."""
    if raw is None:
        return None
    errors.add(path, "log tailing is not implemented yet")
    return None
