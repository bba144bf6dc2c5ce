"""The ``traffic:`` section: abuse and rate-limiting alerts on the request counts from the logs (F9).

```yaml
traffic:
  surge_factor: 5          # RegsloTrafficSurge: a registry's 10m request rate above 5x its previous day's rate
  surge_min_rate: 1        # requests/s: a registry quieter than this over 10m never "surges"
  rate_limited_ratio: 5%   # RegsloRateLimiting: more than this share of requests answered 429, for 10m
```

Every key is optional; the alerts are generated whenever ``logs:`` has a source that counts requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from regslo.config.base import Errors, Section

_KEYS = {"surge_factor", "surge_min_rate", "rate_limited_ratio"}


@dataclass(frozen=True)
class TrafficConfig:
    surge_factor: float = 5.0
    surge_min_rate: float = 1.0
    rate_limited_ratio: float = 0.05


def _share(value: Any) -> float:
    """``5%`` or ``0.05`` -> 0.05; must lie strictly between 0 and 1."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            share = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"must be a share such as 5% or 0.05, got {value!r}") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        share = float(value)
    else:
        raise ValueError(f"must be a share such as 5% or 0.05, got {value!r}")
    if not 0 < share < 1:
        raise ValueError(f"must be between 0 and 1 (0% and 100%), got {value!r}")
    return share


def parse(raw: Any, path: str, errors: Errors) -> TrafficConfig:
    if raw is None:
        return TrafficConfig()
    sec = Section(raw, path, errors, known=_KEYS)
    factor = sec.float("surge_factor", 5.0)
    if factor is not None and factor <= 1:
        errors.add(sec.key("surge_factor"), f"must be greater than 1, got {sec.raw['surge_factor']!r}")
    min_rate = sec.float("surge_min_rate", 1.0)
    if min_rate is not None and min_rate < 0:
        errors.add(sec.key("surge_min_rate"), f"must not be negative, got {sec.raw['surge_min_rate']!r}")
    share = sec.convert("rate_limited_ratio", _share, 0.05)
    return TrafficConfig(surge_factor=factor or 5.0, surge_min_rate=min_rate if min_rate is not None else 1.0,
                         rate_limited_ratio=share)
