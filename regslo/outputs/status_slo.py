"""The SLO part of the status page: SLOState snapshot entries -> normalised dicts with a status colour.

``SLOState.snapshot()`` (regslo/slo/state.py) gives per SLO the objective, the period SLI, the error budget
left, a burn rate per alert window and its alert tiers with whether each fires. This module turns that into
the ``slos`` list of ``/api/v1/status``: ratios everywhere, windows as in the config (``5m``, ``1h``), each
window's alert threshold, and one colour:

- critical: a page tier fires (both its windows burn faster than its factor), or the error budget is spent;
- warn: a ticket tier fires, or less than a quarter of the budget is left;
- unknown: no data yet; ok otherwise.
Without tier data (another state implementation) a burn rate of 14.4, the workbook's fast page factor, is
critical and any burn rate above 1 is a warning.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("regslo.status")
PAGE_BURN = 14.4
WARN_BUDGET = 0.25


def _number(d: dict, *keys: str) -> float | None:
    for k in keys:
        v = d.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf"):
            return float(v)
    return None


def _ratio(v: float | None) -> float | None:
    """SLO values may come as percent (99.9) or ratio (0.999); the model uses ratios."""
    if v is None:
        return None
    return v / 100.0 if v > 1.0 else v


def window_text(window: Any) -> str:
    """Windows as people write them: 3600 -> "1h", 300.0 -> "5m"; strings pass through."""
    if isinstance(window, bool) or not isinstance(window, (int, float)):
        return str(window)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if window >= size and window % size == 0:
            return f"{int(window // size)}{unit}"
    return f"{window:g}s"


def _burn_rates(raw: Any) -> list[dict]:
    """``{"5m": 0.4}`` or ``[{"window": "5m", "rate": 0.4, "threshold": 14.4}]`` -> list of dicts."""
    out = []
    items = raw.items() if isinstance(raw, dict) else enumerate(raw or [])
    for key, value in items:
        if isinstance(value, dict):
            window, rate = value.get("window", key), _number(value, "rate", "burn_rate", "value")
            threshold = _number(value, "threshold", "factor")
        else:
            window, rate, threshold = key, _number({"v": value}, "v"), None
        out.append({"window": window_text(window), "rate": rate, "threshold": threshold})
    return out


def _tiers(raw: Any) -> list[dict]:
    out = []
    for t in raw or []:
        if isinstance(t, dict):
            out.append({"severity": str(t.get("severity", "")), "long_window": window_text(t.get("long_window")),
                        "short_window": window_text(t.get("short_window")),
                        "burn_rate": _number(t, "burn_rate", "threshold"), "firing": bool(t.get("firing"))})
    return out


def _level(rate: float | None, window: str, tiers: list[dict], threshold: float | None) -> str | None:
    """The most severe alert tier using ``window`` whose factor ``rate`` exceeds (page, ticket or None)."""
    if rate is None:
        return None
    if not tiers:
        return "page" if rate >= (threshold or PAGE_BURN) else "ticket" if rate > 1.0 else None
    # strictly above, as SLOState and the generated alert rules compare
    reached = {t["severity"] for t in tiers if window in (t["long_window"], t["short_window"])
               and t["burn_rate"] is not None and rate > t["burn_rate"]}
    return "page" if "page" in reached else "ticket" if "ticket" in reached else None


def slo_entry(raw: dict) -> dict:
    """Normalise one SLOState snapshot entry and give it a status colour (see the module docstring)."""
    objective = _ratio(_number(raw, "objective_ratio", "objective"))
    sli = _ratio(_number(raw, "sli_ratio", "sli", "current_sli"))
    budget = _number(raw, "error_budget_remaining_ratio", "error_budget_remaining", "budget_remaining")
    tiers = _tiers(raw.get("tiers"))
    burns = [{"window": b["window"], "rate": b["rate"], "level": _level(b["rate"], b["window"], tiers, b["threshold"])}
             for b in _burn_rates(raw.get("burn_rates") or raw.get("burn_rate") or {})]
    firing = {t["severity"] for t in tiers if t["firing"]}
    if isinstance(raw.get("status"), str) and raw["status"] in ("page", "ticket"):
        firing.add(raw["status"])
    if not tiers:  # no tier data: the burn levels stand in for firing alerts
        firing |= {b["level"] for b in burns if b["level"]}
    alert = "page" if "page" in firing else "ticket" if "ticket" in firing else None
    if sli is None and budget is None and all(b["rate"] is None for b in burns):
        status = "unknown"
    elif alert == "page" or (budget is not None and budget <= 0):
        status = "critical"
    elif alert == "ticket" or (budget is not None and budget < WARN_BUDGET):
        status = "warn"
    else:
        status = "ok"
    return {"name": str(raw.get("name", "?")), "description": str(raw.get("description") or ""),
            "period": str(raw.get("period") or "") or None, "objective_ratio": objective, "sli_ratio": sli,
            "error_budget_remaining_ratio": budget, "burn_rates": burns, "tiers": tiers, "alert": alert,
            "status": status}


def slo_snapshot(slo_state: Any) -> list[dict]:
    if slo_state is None or not hasattr(slo_state, "snapshot"):
        return []
    try:
        raw = slo_state.snapshot()
    except Exception:  # noqa: BLE001 - the registries part of the page must survive a broken SLO state
        log.exception("SLO state snapshot failed; the status page shows no SLOs")
        return []
    if isinstance(raw, dict):
        raw = raw.get("slos", list(raw.values()))
    return [slo_entry(item) for item in raw or [] if isinstance(item, dict)]
