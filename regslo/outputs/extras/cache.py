"""Cache hit ratio (M13) of a caching proxy in front of a registry: nginx ``proxy_cache`` with
``$upstream_cache_status`` in the log_format of an ``nginx`` log source. A recorded hit ratio per registry
and on-call/debug panels; nothing is generated when no source logs the cache status.

A request counts as served from the cache when its status is HIT, STALE, UPDATING or REVALIDATED (nginx
answered from its copy); MISS, EXPIRED and BYPASS went to the registry. Requests the cache was not
involved in (status "-", counted as ``none``) are left out of the ratio. See docs/logs.md.
"""

from __future__ import annotations

from typing import Any

from regslo.outputs.extras._panels import panel

NAME = "cache"
METRIC = "regslo_registry_cache_requests_total"
HIT_RATIO = "regslo:registry_cache_hit:ratio_rate5m"
SERVED_FROM_CACHE = "HIT|STALE|UPDATING|REVALIDATED"


def cache_sources(config: Any) -> list[Any]:
    logs = getattr(config, "logs", None)
    return [s for s in (logs.sources if logs else ()) if s.format == "nginx" and s.log_format
            and "upstream_cache_status" in s.log_format]


def groups(config: Any) -> list[dict[str, Any]]:
    if not cache_sources(config):
        return []
    expr = (f'sum by (registry) (rate({METRIC}{{status=~"{SERVED_FROM_CACHE}"}}[5m]))\n'
            f'/ (sum by (registry) (rate({METRIC}{{status!="none"}}[5m])) > 0)')
    return [{"name": "regslo-cache", "rules": [{"record": HIT_RATIO, "expr": expr}]}]


def tests(config: Any) -> list[dict[str, Any]]:
    if not cache_sources(config):
        return []
    lab = 'registry="edge",operation="pull"'
    series = [
        # per minute: 60 HIT, 15 STALE, 15 MISS, 30 EXPIRED -> 75 of 120 served from the cache; 500 uncached
        {"series": f'{METRIC}{{{lab},status="HIT"}}', "values": "0+60x20"},
        {"series": f'{METRIC}{{{lab},status="STALE"}}', "values": "0+15x20"},
        {"series": f'{METRIC}{{{lab},status="MISS"}}', "values": "0+15x20"},
        {"series": f'{METRIC}{{{lab},status="EXPIRED"}}', "values": "0+30x20"},
        {"series": f'{METRIC}{{{lab},status="none"}}', "values": "0+500x20"},
        # a registry whose proxy saw only uncached requests: no ratio, and no NaN
        {"series": f'{METRIC}{{registry="quiet",operation="pull",status="none"}}', "values": "0+5x20"},
    ]
    exprs = [{"expr": HIT_RATIO, "eval_time": "20m",
              "exp_samples": [{"labels": f'{HIT_RATIO}{{registry="edge"}}', "value": 0.625}]},
             {"expr": f'{HIT_RATIO}{{registry="quiet"}}', "eval_time": "20m", "exp_samples": []}]
    return [{"name": "hit ratio counts HIT and STALE as served from the cache, leaves uncached requests out",
             "interval": "1m", "input_series": series, "promql_expr_test": exprs}]


def panels(config: Any, dashboard: str) -> list[dict[str, Any]]:
    if not cache_sources(config):
        return []
    sel = 'registry=~"$registry"'
    if dashboard == "oncall":
        return [panel("Cache hit ratio", [(f"{HIT_RATIO}{{{sel}}}", "{{registry}}")], unit="percentunit", w=24,
                      max=1, description="Share of cache lookups nginx answered from its cache (HIT, STALE, "
                                         "UPDATING, REVALIDATED); a falling ratio means cold caches and slower pulls.")]
    if dashboard == "debug":
        return [panel("Cache requests by status", [
            (f"sum by (registry, status) (rate({METRIC}{{{sel}}}[$__rate_interval]))", "{{registry}} {{status}}")],
            unit="reqps", w=24, description="Requests through the caching proxy by nginx $upstream_cache_status "
                                            "(none: not a cached location).")]
    return []
