"""The ``alerting:`` and ``dashboards:`` config sections: knobs shared by every SLO's generated output.

```yaml
alerting:
  min_window: 1m                  # shortest alert window after scaling (at least 2 probe intervals)
  runbook_base_url: https://git.example/regslo/docs/runbooks   # default runbook links point here
  maintenance:                    # Alertmanager mute time interval "maintenance" (UTC)
    - {weekdays: [saturday], times: [{start_time: "02:00", end_time: "04:00"}]}
dashboards:
  url: https://grafana.example.com   # base of the dashboard links in alert annotations
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from regslo.config.base import Errors, Section, join

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
DEFAULT_MAINTENANCE = ({"weekdays": ["saturday"], "times": [{"start_time": "02:00", "end_time": "04:00"}]},)
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_RANGE = re.compile(r"^(\d+)(?::(\d+))?$")
_INTERVAL_KEYS = {"weekdays", "times", "days_of_month", "months", "years"}


@dataclass(frozen=True)
class AlertingSettings:
    min_window: float = 60.0
    runbook_base_url: str = "docs/runbooks"
    maintenance: tuple[dict, ...] = DEFAULT_MAINTENANCE


@dataclass(frozen=True)
class DashboardSettings:
    url: str = ""


def parse_alerting(raw: Any, path: str, errors: Errors) -> AlertingSettings:
    d = AlertingSettings()
    if raw is None:
        return d
    sec = Section(raw, path, errors, known={"min_window", "runbook_base_url", "maintenance"})
    min_window = sec.duration("min_window", d.min_window)
    if min_window is not None and not 15 <= min_window <= 3600:
        errors.add(sec.key("min_window"), "must be between 15s and 1h")
    base = (sec.str("runbook_base_url", d.runbook_base_url) or d.runbook_base_url).rstrip("/")
    maintenance = d.maintenance
    if sec.has("maintenance"):
        maintenance = tuple(_interval(item, join(sec.key("maintenance"), i), errors)
                            for i, item in enumerate(sec.list("maintenance")))
    return AlertingSettings(min_window=min_window or d.min_window, runbook_base_url=base, maintenance=maintenance)


def parse_dashboards(raw: Any, path: str, errors: Errors) -> DashboardSettings:
    if raw is None:
        return DashboardSettings()
    sec = Section(raw, path, errors, known={"url"})
    url = sec.str("url", "") or ""
    if url and not url.startswith(("http://", "https://")):
        errors.add(sec.key("url"), f"must be an http:// or https:// URL, got {url!r}")
    return DashboardSettings(url=url.rstrip("/"))


def _interval(raw: Any, path: str, errors: Errors) -> dict:
    """One Alertmanager time interval, checked here so ``check-config`` names the key."""
    sec = Section(raw, path, errors, known=_INTERVAL_KEYS)
    out: dict = {}
    weekdays = [str(w).lower() for w in sec.list("weekdays")]
    for i, day in enumerate(weekdays):
        if any(part not in WEEKDAYS for part in day.split(":")):
            errors.add(join(sec.key("weekdays"), i), f"must be a weekday or range like monday:friday, got {day!r}")
    if weekdays:
        out["weekdays"] = weekdays
    times = []
    for i, item in enumerate(sec.list("times")):
        tsec = Section(item, join(sec.key("times"), i), errors, known={"start_time", "end_time"})
        start, end = tsec.str("start_time", required=True), tsec.str("end_time", required=True)
        for key, value in (("start_time", start), ("end_time", end)):
            if value is not None and not _TIME.match(value):
                errors.add(tsec.key(key), f"must be HH:MM (UTC), got {value!r}")
        if start and end and _TIME.match(start) and _TIME.match(end) and start >= end:
            errors.add(tsec.path, "start_time must be before end_time")
        times.append({"start_time": start, "end_time": end})
    if times:
        out["times"] = times
    for key in ("days_of_month", "months", "years"):
        values = [str(v) for v in sec.list(key)]
        if values:
            out[key] = values
    if not out:
        errors.add(path, "must give at least one of weekdays, times, days_of_month, months, years")
    return out
