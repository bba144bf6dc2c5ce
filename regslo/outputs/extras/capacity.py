"""Capacity and garbage collection: storage alerts, GC alert, their promtool tests and dashboard panels.

Rules exist only for what the config measures: registries with ``storage:`` get RegsloStorageFillingUp
(page within ``page_within``, ticket within ``ticket_within``) and RegsloStorageAboveTarget; registries with a
``distribution-gc`` log source get RegsloGCNotRunning (``gc.max_age``, default 8 days).
"""

from __future__ import annotations

from typing import Any

from regslo.config.storage import GCConfig
from regslo.outputs.extras._common import runbook
from regslo.outputs.extras._panels import DATASOURCE, panel, row
from regslo.slo.model import number
from regslo.units import format_duration


NAME = "capacity"
FILLING = "RegsloStorageFillingUp"
ABOVE = "RegsloStorageAboveTarget"
GC_ALERT = "RegsloGCNotRunning"
USED_RATIO = "1 - regslo_storage_available_bytes{{registry=\"{r}\"}} / regslo_storage_capacity_bytes{{registry=\"{r}\"}}"


def storage_registries(config: Any) -> list:
    return [r for r in config.registries if getattr(r, "storage", None)]


def gc_registries(config: Any) -> list[tuple[str, float]]:
    """(name, max_age) of every registry with a distribution-gc log source."""
    logs = getattr(config, "logs", None)
    sources = {s.registry for s in getattr(logs, "sources", ()) if s.format == "distribution-gc"}
    return [(r.name, (r.gc or GCConfig()).max_age) for r in config.registries if r.name in sources]


def _for(seconds: float) -> dict[str, str]:
    return {"for": format_duration(seconds)} if seconds > 0 else {}


def filling_rule(config: Any, reg: Any, severity: str) -> dict[str, Any]:
    st = reg.storage
    within = st.page_within if severity == "page" else st.ticket_within
    return {
        "alert": FILLING,
        "expr": f'regslo_storage_full_in_seconds{{registry="{reg.name}"}} < {number(within)}',
        **_for(st.alert_for),
        "labels": {"severity": severity, "registry": reg.name},
        "annotations": filling_annotations(config, reg, severity),
    }


def filling_annotations(config: Any, reg: Any, severity: str) -> dict[str, str]:
    st = reg.storage
    within = format_duration(st.page_within if severity == "page" else st.ticket_within)
    return {
        "summary": f"{reg.name}: registry storage projected full within {within}",
        "description": (f"At the growth of the last {format_duration(st.window)} the filesystem holding "
                        f"{st.path} fills up within {within}; pushes fail when it is full. Run garbage "
                        "collection or add space."),
        "runbook_url": runbook(config, "storage-filling-up.md"),
    }


def above_annotations(config: Any, reg: Any) -> dict[str, str]:
    target = number(reg.storage.target * 100)
    return {
        "summary": f"{reg.name}: registry storage above its {target}% target",
        "description": (f"More than {target}% of the filesystem holding {reg.storage.path} is used: the "
                        "headroom for growth and garbage collection is shrinking."),
        "runbook_url": runbook(config, "storage-above-target.md"),
    }


def gc_annotations(config: Any, name: str, max_age: float) -> dict[str, str]:
    return {
        "summary": f"{name}: no successful garbage collection for {format_duration(max_age)}",
        "description": (f"regslo reads {name}'s garbage-collection output but saw no successful run for "
                        f"{format_duration(max_age)}: unreferenced blobs keep their space."),
        "runbook_url": runbook(config, "gc-not-running.md"),
    }


def groups(config: Any) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for reg in storage_registries(config):
        rules.append(filling_rule(config, reg, "page"))
        rules.append(filling_rule(config, reg, "ticket"))
        rules.append({
            "alert": ABOVE,
            "expr": f"{USED_RATIO.format(r=reg.name)} > {number(reg.storage.target)}",
            **_for(reg.storage.alert_for),
            "labels": {"severity": "ticket", "registry": reg.name},
            "annotations": above_annotations(config, reg),
        })
    for name, max_age in gc_registries(config):
        labels = {"severity": "ticket", "registry": name}
        rules.append({"alert": GC_ALERT,
                      "expr": f'time() - regslo_gc_last_success_timestamp_seconds{{registry="{name}"}} > {number(max_age)}',
                      "for": "10m", "labels": {**labels, "reason": "stale"},
                      "annotations": gc_annotations(config, name, max_age)})
        # the GC source is there (its counters exist) but no run ever succeeded
        rules.append({"alert": GC_ALERT,
                      "expr": (f'max by (registry) (regslo_gc_runs_total{{registry="{name}",result="success"}}) == 0\n'
                               f'unless on (registry) regslo_gc_last_success_timestamp_seconds{{registry="{name}"}}'),
                      "for": format_duration(max_age), "labels": {**labels, "reason": "never"},
                      "annotations": gc_annotations(config, name, max_age)})
    return [{"name": "regslo-capacity", "rules": rules}] if rules else []


# -- promtool tests ---------------------------------------------------------------------------------------
def _minutes(seconds: float) -> int:
    return int(seconds // 60) + 1


def tests(config: Any) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    stores = storage_registries(config)
    if stores:
        reg = stores[0]
        st = reg.storage
        name = reg.name
        steps = _minutes(st.alert_for) + 5
        at = f"{steps}m"
        sel = f'{{registry="{name}"}}'
        page_in = number(st.page_within / 2)  # inside the page horizon: page and ticket
        ticket_in = number((st.page_within + st.ticket_within) / 2)  # only the ticket horizon
        full = {"exp_labels": {"severity": "page", "registry": name}, "exp_annotations": filling_annotations(config, reg, "page")}
        tick = {"exp_labels": {"severity": "ticket", "registry": name},
                "exp_annotations": filling_annotations(config, reg, "ticket")}
        cases.append({"name": f"{FILLING} pages and tickets when {name} is projected full soon", "interval": "1m",
                      "input_series": [{"series": f"regslo_storage_full_in_seconds{sel}",
                                        "values": f"{page_in}x{steps + 5}"}],
                      "alert_rule_test": [{"eval_time": at, "alertname": FILLING, "exp_alerts": [full, tick]}]})
        cases.append({"name": f"{FILLING} only tickets further out", "interval": "1m",
                      "input_series": [{"series": f"regslo_storage_full_in_seconds{sel}",
                                        "values": f"{ticket_in}x{steps + 5}"}],
                      "alert_rule_test": [{"eval_time": at, "alertname": FILLING, "exp_alerts": [tick]}]})
        cases.append({"name": f"{FILLING} stays silent when {name} is not growing", "interval": "1m",
                      "input_series": [{"series": f"regslo_storage_full_in_seconds{sel}", "values": " ".join(["+Inf"] * (steps + 6))}],
                      "alert_rule_test": [{"eval_time": at, "alertname": FILLING, "exp_alerts": []}]})
        capacity = 1_000_000_000
        above = int(capacity * (1 - (st.target + 1) / 2))  # used halfway between target and full
        below = int(capacity * (1 - st.target / 2))  # used at half the target
        cases.append({"name": f"{ABOVE} fires above {number(st.target * 100)}% used", "interval": "1m",
                      "input_series": [{"series": f"regslo_storage_capacity_bytes{sel}", "values": f"{capacity}x{steps + 5}"},
                                       {"series": f"regslo_storage_available_bytes{sel}", "values": f"{above}x{steps + 5}"}],
                      "alert_rule_test": [{"eval_time": at, "alertname": ABOVE, "exp_alerts": [
                          {"exp_labels": {"severity": "ticket", "registry": name},
                           "exp_annotations": above_annotations(config, reg)}]}]})
        cases.append({"name": f"{ABOVE} stays silent below the target", "interval": "1m",
                      "input_series": [{"series": f"regslo_storage_capacity_bytes{sel}", "values": f"{capacity}x{steps + 5}"},
                                       {"series": f"regslo_storage_available_bytes{sel}", "values": f"{below}x{steps + 5}"}],
                      "alert_rule_test": [{"eval_time": at, "alertname": ABOVE, "exp_alerts": []}]})
        cases.append({"name": f"{ABOVE} and {FILLING} stay silent without data", "interval": "1m",
                      "input_series": [],
                      "alert_rule_test": [{"eval_time": at, "alertname": ABOVE, "exp_alerts": []},
                                          {"eval_time": at, "alertname": FILLING, "exp_alerts": []}]})
    gcs = gc_registries(config)
    if gcs:
        name, max_age = gcs[0]
        minutes = int(max_age // 60) + 60  # an hour past max_age (and past the 10m hold) at the last sample
        at = f"{minutes}m"

        def exp(reason: str) -> list[dict[str, Any]]:
            return [{"exp_labels": {"severity": "ticket", "registry": name, "reason": reason},
                     "exp_annotations": gc_annotations(config, name, max_age)}]

        runs = f'regslo_gc_runs_total{{registry="{name}",result="success"}}'
        last = f'regslo_gc_last_success_timestamp_seconds{{registry="{name}"}}'
        days = minutes // 1440 + 1
        daily = " ".join(f"{d * 86400}x1439" for d in range(days))  # the last success moves on every day
        cases.append({"name": f"{GC_ALERT} fires when the last success is older than {format_duration(max_age)}",
                      "interval": "1m",
                      "input_series": [{"series": runs, "values": f"1x{minutes}"}, {"series": last, "values": f"0x{minutes}"}],
                      "alert_rule_test": [{"eval_time": at, "alertname": GC_ALERT, "exp_alerts": exp("stale")}]})
        cases.append({"name": f"{GC_ALERT} fires when a GC source never saw a success", "interval": "1m",
                      "input_series": [{"series": runs, "values": f"0x{minutes}"}],
                      "alert_rule_test": [{"eval_time": at, "alertname": GC_ALERT, "exp_alerts": exp("never")}]})
        cases.append({"name": f"{GC_ALERT} stays silent with daily GC runs", "interval": "1m",
                      "input_series": [{"series": runs, "values": f"1+0x{minutes}"}, {"series": last, "values": daily}],
                      "alert_rule_test": [{"eval_time": at, "alertname": GC_ALERT, "exp_alerts": []}]})
        cases.append({"name": f"{GC_ALERT} stays silent without data", "interval": "1m", "input_series": [],
                      "alert_rule_test": [{"eval_time": at, "alertname": GC_ALERT, "exp_alerts": []}]})
    return cases


# -- panels -----------------------------------------------------------------------------------------------


# the dashboards' registry and region variables (every capacity series has a registry label)
SELECTED = ' and on (registry) regslo_registry_info{registry=~"$registry",region=~"$region"}'


def _target(expr: str, legend: str = "{{registry}}", instant: bool = False) -> dict[str, Any]:
    target = {"refId": "A", "datasource": dict(DATASOURCE), "expr": f"({expr}){SELECTED}", "legendFormat": legend}
    if instant:
        target.update(instant=True, format="table")
    return target


def _stat(title: str, expr: str, unit: str, description: str, w: int = 6, **defaults: Any) -> dict[str, Any]:
    return {"type": "stat", "title": title, "description": description, "datasource": dict(DATASOURCE), "gridPos": {"w": w, "h": 4},
            "targets": [_target(expr)],
            "fieldConfig": {"defaults": {"unit": unit, **defaults}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}}


def _series(title: str, exprs: list[tuple[str, str]], unit: str, description: str, w: int = 12) -> dict[str, Any]:
    return panel(title, [(f"({expr}){SELECTED}", legend) for expr, legend in exprs], unit=unit, w=w,
                 description=description)


def panels(config: Any, dashboard: str) -> list[dict[str, Any]]:
    stores = storage_registries(config)
    gcs = gc_registries(config)
    out: list[dict[str, Any]] = []
    if dashboard == "exec" and stores:
        target = min(r.storage.target for r in stores)
        out.append(row("Storage"))
        out.append(_stat("Storage used", "1 - regslo_storage_available_bytes / regslo_storage_capacity_bytes",
                         "percentunit", f"Share of each registry's filesystem in use (target below "
                                        f"{number(target * 100)}%).", w=12, min=0, max=1,
                         thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                                   {"color": "orange", "value": target},
                                                                   {"color": "red", "value": 0.9}]}))
        out.append(_stat("Projected full", "(time() + (regslo_storage_full_in_seconds < +Inf)) * 1000",
                         "dateTimeAsIso", "When each filesystem fills up at the growth of the last "
                                          "storage.window (robust linear fit); empty when not growing.", w=12,
                         noValue="not growing"))
    if dashboard == "debug" and (stores or gcs):
        out.append(row("Storage and garbage collection"))
    if dashboard == "debug" and stores:
        out.append(_series("Registry bytes", [
            ("regslo_storage_registry_bytes", "{{registry}} registry root"),
            ("regslo_storage_capacity_bytes - regslo_storage_available_bytes", "{{registry}} filesystem used"),
            ("regslo_storage_capacity_bytes", "{{registry}} capacity")], "bytes",
            "Bytes under each registry root (from the background walk) against the filesystem's use."))
        out.append(_series("Time to full", [("regslo_storage_full_in_seconds < +Inf", "{{registry}}")], "s",
                           "Projected seconds until full (gaps: not growing)."))
        out.append(_series("Storage walk", [
            ("time() - regslo_storage_scan_timestamp_seconds", "{{registry}} age"),
            ("regslo_storage_scan_duration_seconds", "{{registry}} duration")], "s",
            "Age and duration of the last complete walk of the registry root."))
    if dashboard == "debug" and gcs:
        out.append(_series("GC runs", [("increase(regslo_gc_runs_total[1d])", "{{registry}} {{result}}")], "short",
                           "Garbage-collection runs per day, by result."))
        out.append(_series("GC deletions", [
            ("increase(regslo_gc_blobs_deleted_total[1d])", "{{registry}} blobs"),
            ("increase(regslo_gc_manifests_deleted_total[1d])", "{{registry}} manifests")], "short",
            "Blobs and untagged manifests garbage collection deleted per day."))
        out.append(_series("GC reclaimed bytes", [("increase(regslo_gc_reclaimed_bytes_total[1d])", "{{registry}}")],
                           "bytes", "Filesystem bytes freed by garbage collection per day (storage-measured "
                                    "registries only)."))
        out.append(_series("Since last successful GC", [
            ("time() - regslo_gc_last_success_timestamp_seconds", "{{registry}} age"),
            ("regslo_gc_duration_seconds", "{{registry}} last run duration")], "s",
            "Time since the last successful garbage collection, and how long the last run took."))
    return out
