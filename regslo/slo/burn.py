"""Burn-rate math: default alert tiers for any period, derived from the share of budget each tier spends.

The SRE Workbook's table is written for 30 days (page 1h/5m at 14.4x, ...). What stays meaningful for other
periods is the *budget share* a tier has spent when it fires (2 %, 5 %, 10 %, 10 %), so

    burn_rate = budget_share * period / long_window

gives 14.4 for 30d, 13.44 for 28d, 3.36 for 7d. Short periods (1 day or less) are for demos and fast
feedback: their windows shrink by ``period / 30d`` (rounded to a multiple of 15 s) so a 1-hour SLO pages
within seconds, keeping the workbook burn rates; then every window is floored at ``min_window`` (never
shorter than two probe intervals, so a window holds data).
docs/slo.md states the same rule; the end-to-end tests derive their page-arrival bound from it.
"""

from __future__ import annotations

from regslo.slo.model import Tier, number
from regslo.units import format_duration

DAY = 86400.0
REFERENCE_PERIOD = 30 * DAY
SCALE_AT_OR_BELOW = DAY
# (severity, long window, short window, budget share spent when it fires)
WORKBOOK_TIERS = (
    ("page", 3600.0, 300.0, 0.02),
    ("page", 6 * 3600.0, 1800.0, 0.05),
    ("ticket", DAY, 2 * 3600.0, 0.10),
    ("ticket", 3 * DAY, 6 * 3600.0, 0.10),
)


def scale_factor(period: float) -> float:
    """Factor applied to the workbook windows: 1 above one day, ``period / 30d`` at one day or less."""
    return period / REFERENCE_PERIOD if period <= SCALE_AT_OR_BELOW else 1.0


def round_burn(value: float) -> float:
    """Burn rates keep four significant digits so they print the same everywhere (14.4, 0.2333)."""
    return float(f"{value:.4g}")


def burn_for_share(share: float, period: float, long_window: float) -> float:
    return round_burn(share * period / long_window)


def scaled_window(window: float, factor: float, min_window: float) -> float:
    """``window * factor`` rounded to a multiple of 15 s, and at least ``min_window``."""
    return max(float(round(window * factor / 15) * 15), min_window)


def default_tiers(period: float, error_budget: float, min_window: float) -> tuple[tuple[Tier, ...], list[str]]:
    """The workbook tiers for ``period``; tiers that cannot work are left out with a note saying why."""
    factor = scale_factor(period)
    tiers: list[Tier] = []
    notes: list[str] = []
    max_burn = 1.0 / error_budget
    for severity, long_w, short_w, share in WORKBOOK_TIERS:
        burn = burn_for_share(share, period, long_w * factor)
        long_s = scaled_window(long_w, factor, min_window)
        short_s = scaled_window(short_w, factor, min_window)
        label = f"{severity} {format_duration(long_s)}/{format_duration(short_s)}"
        if long_s > period:
            notes.append(f"default tier {label} left out: its long window is longer than the period")
            continue
        if burn >= max_burn:
            notes.append(f"default tier {label} left out: burn rate {number(burn)} can never be reached "
                         f"(the maximum is {number(round_burn(max_burn))} at this objective)")
            continue
        tiers.append(Tier(severity, long_s, short_s, burn))
    return tuple(tiers), notes


def max_burn_rate(error_budget: float) -> float:
    """An error ratio of 100 % burns the budget at 1 / (1 - objective)."""
    return 1.0 / error_budget


def detection_bound(slo, severity: str = "page", error_ratio: float = 1.0) -> float | None:
    """Seconds from the start of an outage with ``error_ratio`` until the first ``severity`` tier fires
    (before adding one evaluation interval, one scrape interval and Alertmanager's group_wait), or None
    when the SLO has no tier of that severity. docs/slo.md: "Page-arrival bound"."""
    times = [t.detection_time(slo.error_budget, error_ratio) for t in slo.tiers if t.severity == severity]
    return min(times) if times else None
