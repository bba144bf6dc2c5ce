"""Abuse and rate limiting (F9): request-rate recording rules, RegsloTrafficSurge and RegsloRateLimiting.

Both are ticket alerts on the request counts regslo reads from the registries' logs
(``regslo_registry_requests_total``), per registry:

- RegsloTrafficSurge: the request rate over 10 minutes is above ``traffic.surge_factor`` (default 5) times
  the registry's rate over the previous day (the day ending 10 minutes ago, so the surge does not raise its
  own baseline), and above ``traffic.surge_min_rate`` requests/s. Silent without a day of history.
- RegsloRateLimiting: more than ``traffic.rate_limited_ratio`` (default 5%) of the requests of the last
  5 minutes were answered 429, for 10 minutes.

Generated only when a log source counts requests (the formats below); thresholds come from ``traffic:``.
"""

from __future__ import annotations

from typing import Any

from regslo.config.traffic import TrafficConfig
from regslo.outputs.extras._common import expected_alert, first_registry, promtool_case, runbook
from regslo.outputs.extras._panels import panel
from regslo.slo.model import number

NAME = "traffic"
SURGE = "RegsloTrafficSurge"
RATE_LIMITING = "RegsloRateLimiting"
REQUEST_FORMATS = ("distribution-json", "distribution-text", "combined", "distribution", "nginx")
RATE_10M = "regslo:registry_requests:rate10m"
RATE_1D = "regslo:registry_requests:rate1d"
LIMITED_RATIO = "regslo:registry_requests_rate_limited:ratio_rate5m"
RECORDS = (RATE_10M, RATE_1D, LIMITED_RATIO)
SURGE_FOR = "5m"
LIMITING_FOR = "10m"
_REQ = "regslo_registry_requests_total"


def settings(config: Any) -> TrafficConfig:
    return getattr(config, "traffic", None) or TrafficConfig()


def enabled(config: Any) -> bool:
    logs = getattr(config, "logs", None)
    return any(s.format in REQUEST_FORMATS for s in getattr(logs, "sources", ()))


def records() -> list[dict[str, str]]:
    all_5m = f"sum by (registry) (rate({_REQ}[5m]))"
    return [
        {"record": RATE_10M, "expr": f"sum by (registry) (rate({_REQ}[10m]))"},
        {"record": RATE_1D, "expr": f"sum by (registry) (rate({_REQ}[1d]))"},
        # 0 (not empty) while no 429 series exists, so panels and the alert see every registry
        {"record": LIMITED_RATIO,
         "expr": f'(sum by (registry) (rate({_REQ}{{code="429"}}[5m])) or {all_5m} * 0)\n/ {all_5m}'},
    ]


def surge_alert(config: Any) -> dict[str, Any]:
    t = settings(config)
    factor = number(t.surge_factor)
    return {
        "alert": SURGE,
        # the last clause: a day of history (rate over a day of which only minutes exist is far too low)
        "expr": (f"{RATE_10M} > {factor} * ({RATE_1D} offset 10m)\n"
                 f"and {RATE_10M} > {number(t.surge_min_rate)}\n"
                 f"and on (registry) count by (registry) ({_REQ} offset 1d)"),
        "for": SURGE_FOR,
        "labels": {"severity": "ticket"},
        "annotations": {
            "summary": "{{ $labels.registry }}: request rate " + f"over {factor}x the previous day's",
            "description": ("{{ $labels.registry }} served more than " + f"{factor} times as many requests/s "
                            "over the last 10 minutes as on average over the previous day: a client loop, a CI "
                            "fan-out, a scraper or an attack. Check which repositories and clients."),
            "runbook_url": runbook(config, "traffic-surge.md"),
        },
    }


def rate_limiting_alert(config: Any) -> dict[str, Any]:
    share = number(settings(config).rate_limited_ratio * 100)
    return {
        "alert": RATE_LIMITING,
        "expr": f"{LIMITED_RATIO} > {number(settings(config).rate_limited_ratio)}",
        "for": LIMITING_FOR,
        "labels": {"severity": "ticket"},
        "annotations": {
            "summary": "{{ $labels.registry }}: " + f"over {share}% of requests rate limited (429)",
            "description": (f"More than {share}% of " + "{{ $labels.registry }}'s requests were answered 429 "
                            f"Too Many Requests for {LIMITING_FOR}: clients are being throttled (an abusive "
                            "client, or limits too tight for legitimate traffic)."),
            "runbook_url": runbook(config, "rate-limiting.md"),
        },
    }


def groups(config: Any) -> list[dict[str, Any]]:
    if not enabled(config):
        return []
    return [{"name": "regslo-traffic", "rules": [*records(), surge_alert(config), rate_limiting_alert(config)]}]


# -- promtool tests ---------------------------------------------------------------------------------------
def tests(config: Any) -> list[dict[str, Any]]:
    if not enabled(config):
        return []
    t = settings(config)
    reg = first_registry(config)
    ok = f'{_REQ}{{registry="{reg}",operation="pull",code="200"}}'
    limited = f'{_REQ}{{registry="{reg}",operation="pull",code="429"}}'
    day = 1440
    # a steady day at `base` requests/s, then a surge of factor + 1 times it (at least the minimum rate)
    base = max(1.0, t.surge_min_rate)
    surge = base * (t.surge_factor + 1)
    b, s = base * 60, surge * 60
    steady = f"0+{number(b)}x{day}"
    surge_values = f"{steady} {number(b * day)}+{number(s)}x40"
    calm_values = f"0+{number(b)}x{day + 40}"
    surge_rule = surge_alert(config)
    # 10m of surge make the 10m rate exactly `surge`; the alert holds for SURGE_FOR first
    fire = [expected_alert(surge_rule, {"registry": reg})]
    cases = [
        promtool_case(f"{SURGE} fires when the 10m rate is {number(t.surge_factor + 1)}x the previous day's",
                      [(ok, surge_values)],
                      [(f"{day}m", SURGE, []), (f"{day + 10}m", SURGE, []), (f"{day + 20}m", SURGE, fire)]),
        promtool_case(f"{SURGE} is silent on a steady day, on a rise below the factor and on no history",
                      [(ok, calm_values),
                       (ok.replace('"pull"', '"push"'),
                        f"0+{number(b)}x{day} {number(b * day)}+{number(b * (t.surge_factor - 0.5))}x40"),
                       (ok.replace(f'"{reg}"', '"new"'), f"0+{number(s)}x40")],
                      [(f"{day + 30}m", SURGE, []), ("30m", SURGE, [])]),
        promtool_case(f"{SURGE}: no data", [], [(f"{day + 30}m", SURGE, [])]),
    ]
    # 429s: a share twice the threshold from minute 10 on; the alert waits LIMITING_FOR
    share = min(0.9, t.rate_limited_ratio * 2)
    good, bad = 600 * (1 - share), 600 * share
    limit_rule = rate_limiting_alert(config)
    cases += [
        promtool_case(f"{RATE_LIMITING} fires when over {number(t.rate_limited_ratio * 100)}% of requests get 429 for 10m",
                      [(ok, f"0+{number(good)}x60"), (limited, f"0x10 0+{number(bad)}x50")],
                      [("14m", RATE_LIMITING, []), ("20m", RATE_LIMITING, []),
                       ("26m", RATE_LIMITING, [expected_alert(limit_rule, {"registry": reg})])]),
        promtool_case(f"{RATE_LIMITING} is silent below the threshold, on healthy data and on no data",
                      [(ok, "0+600x60"), (limited, f"0+{number(600 * t.rate_limited_ratio / 2)}x60"),
                       (ok.replace(f'"{reg}"', '"healthy"'), "0+600x60")],
                      [("40m", RATE_LIMITING, [])]),
        promtool_case(f"{RATE_LIMITING}: no data", [], [("40m", RATE_LIMITING, [])]),
    ]
    return cases


# -- dashboard panels --------------------------------------------------------------------------------------
IN_REGION = ' and on (registry) regslo_registry_info{region=~"$region"}'


def panels(config: Any, dashboard: str) -> list[dict[str, Any]]:
    if dashboard not in ("oncall", "debug") or not enabled(config):
        return []
    t = settings(config)
    sel = '{registry=~"$registry"}'
    out = [panel("Request rate: last 10m against the previous day", [
        (f"{RATE_10M}{sel}{IN_REGION}", "{{registry}} last 10m"),
        (f"{number(t.surge_factor)} * ({RATE_1D}{sel}{IN_REGION})", "{{registry}} " + f"{number(t.surge_factor)}x previous day")],
        unit="reqps", description=f"{SURGE} when the first line stays above the second (and above "
                                  f"{number(t.surge_min_rate)} requests/s) for {SURGE_FOR}.")]
    out.append(panel("Share of requests rate limited (429)", [(f"{LIMITED_RATIO}{sel}{IN_REGION}", "{{registry}}")],
                     unit="percentunit", description=f"{RATE_LIMITING} when above "
                                                     f"{number(t.rate_limited_ratio * 100)}% for {LIMITING_FOR}.",
                     steps=[("green", None), ("orange", t.rate_limited_ratio)]))
    return out
