"""Parsing and formatting of durations and sizes as users write them in the config.

Durations follow Prometheus' grammar (``30s``, ``5m``, ``1h30m``, ``1d``, ``1w``, ``250ms``) so that a
window written in regslo's config means the same thing in the generated PromQL. Sizes accept IEC
(``1MiB``) and SI (``1MB``) suffixes and plain byte counts.
"""

from __future__ import annotations

import re

_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "y": 365 * 86400.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]i?[bB]?|[bB])?\s*$")
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024, "ki": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2, "mi": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "gi": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4, "ti": 1024**4,
}


def parse_duration(value: object) -> float:
    """Return seconds for ``30s``/``5m``/``1h30m``/``1d`` or a bare number of seconds.

    Raises ``ValueError`` with a message fit to show a user.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s or 5m, got {value!r}")
    if isinstance(value, (int, float)):
        if value != value or value < 0:  # NaN compares false with everything
            raise ValueError(f"duration must be a non-negative number of seconds, got {value!r}")
        return _bounded(float(value), value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a duration like 30s or 5m, got {value!r}")
    text = value.strip()
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"expected a duration like 30s, 5m or 1h30m, got {value!r}")
    return _bounded(total, value)


MAX_DURATION = 100 * 365 * 86400.0  # a century: larger values are typos, and overflow later arithmetic


def _bounded(seconds: float, value: object) -> float:
    if not seconds <= MAX_DURATION:  # also catches infinity
        raise ValueError(f"duration must be at most 100 years, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Format seconds as the shortest Prometheus duration (``3600`` -> ``1h``, ``90`` -> ``1m30s``)."""
    if seconds <= 0:
        return "0s"
    ms = int(round(seconds * 1000))
    out = []
    for unit, size in (("w", 604800000), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            count, ms = divmod(ms, size)
            out.append(f"{count}{unit}")
    return "".join(out)


def parse_size(value: object) -> int:
    """Return bytes for ``1MiB``, ``512KiB``, ``10MB`` or a plain integer."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size like 1MiB, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size must not be negative, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a size like 1MiB, got {value!r}")
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"expected a size like 1MiB or 512KiB, got {value!r}")
    unit = (match.group(2) or "").lower()
    if unit not in _SIZE_UNITS:
        raise ValueError(f"unknown size unit in {value!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def format_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"
