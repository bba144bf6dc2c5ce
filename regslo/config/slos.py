"""The ``slos:`` section. Owned by the SLO work; see docs/slo.md."""

from __future__ import annotations

from typing import Any

from regslo.config.base import Errors


def parse(raw: Any, path: str, errors: Errors, config: Any) -> list:
    """Validate the ``slos`` section; return the list of SLO models."""
    if raw is None:
        return []
    errors.add(path, "SLOs are not implemented yet")
    return []
