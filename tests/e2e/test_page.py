"""A region breaks, the page arrives; every dashboard query has data; the region returns, the page resolves.

Real processes only (see conftest.py). The tests run in file order on one module-scoped stack: the outage
test leaves region ``eu`` (the replication destination) down, so the dashboard queries run while a page
fires, failures exist and replication checks time out, and the last test brings ``eu`` back. The bounds are derived in conftest.page_bound / resolve_bound and documented in
docs/demo.md ("How long until a page").
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.e2e.conftest import page_bound, query, resolve_bound, wait_until

pytestmark = pytest.mark.slow
STATE: dict = {}
AVAILABILITY = "pull-us|pull-eu|push-us"  # the latency SLO may flap on a loaded machine; these must not


def _settled(stack) -> bool:
    burn = query(stack, 'regslo_slo:burn_rate{slo="pull-eu"}')["result"]
    firing = query(stack, f'ALERTS{{alertstate="firing",severity="page",slo=~"{AVAILABILITY}"}}')["result"]
    success = query(stack, 'regslo_probe_last_success_timestamp_seconds{probe="pull"} > 0')["result"]
    return len(burn) >= 2 and not firing and len(success) == 2


def test_page_arrives_within_bound_when_a_region_stops(stack):
    assert stack.features == {"logs": True, "slos": True, "rules": True}, stack.features
    wait_until(lambda: _settled(stack), 90, what="stack settled (burn rates recorded, no page firing)")
    bound = page_bound(stack, "pull-eu")
    t_break = time.time()
    stack.break_region("eu")
    page = stack.receiver.wait_for(lambda a: a.status == "firing" and a.matches(severity="page", slo="pull-eu",
                                                                                registry="eu"),
                                   timeout=bound + 30, since=t_break)
    assert page is not None, f"no page for pull-eu/eu within {bound + 30:.0f}s: {stack.receiver.alerts}"
    elapsed = page.received - t_break
    print(f"page after {elapsed:.1f}s (bound {bound:.1f}s)")
    assert elapsed <= bound, f"page took {elapsed:.1f}s, bound {bound:.1f}s"
    assert page.name == "RegsloBurnRatePage"
    assert {"long_window", "short_window", "burn_rate"} <= set(page.labels)
    assert page.annotations.get("runbook_url") and page.annotations.get("summary")
    # the healthy region's availability does not page
    assert not [a for a in stack.receiver.alerts if a.received >= t_break and a.matches(registry="us", severity="page")
                and a.labels.get("slo") in AVAILABILITY.split("|")]
    STATE["broken_at"] = t_break


def _substitute(expr: str) -> str:
    expr = expr.replace("$__rate_interval", "1m").replace("${__rate_interval}", "1m")
    expr = expr.replace("$__interval", "15s").replace("${__interval}", "15s").replace("$__range", "5m")
    return re.sub(r"\$\{[^}]+\}|\$[A-Za-z_]\w*|\[\[\w+\]\]", ".*", expr)


def _panel_queries(board: dict) -> list[tuple[str, str]]:
    out = []

    def walk(panels: list) -> None:
        for panel in panels:
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    out.append((f"{board.get('title')} / {panel.get('title')}", target["expr"]))
            walk(panel.get("panels") or [])

    walk(board.get("panels") or [])
    return out


def test_every_dashboard_panel_query_returns_data(stack):
    if "broken_at" in STATE:  # let failures and the firing page reach every window the panels look at
        time.sleep(max(0.0, STATE["broken_at"] + 20 - time.time()))
    # "after the stack has run for a while": the period SLI sums the 5-minute increases at 5-minute steps
    # aligned to the clock, so it has its first point once a 5-minute boundary has passed (at most 5 min).
    # Each SLO is its own rule group and Prometheus evaluates the groups at different offsets within the
    # evaluation interval (later still on a busy machine), so the first SLO's point after a boundary says
    # nothing about the others: waiting for "any" series once let the pull-eu panel be queried a moment
    # before its group recorded. Wait for every SLO's series; the panels then query settled data.
    names = {slo.name for slo in stack.service.config.slos}

    def period_recorded() -> set[str]:
        return {r["metric"].get("slo") for r in query(stack, "regslo_slo:sli_ratio:period")["result"]}

    wait_until(lambda: names <= period_recorded(), 330, interval=2,
               what=f"the period SLI's first 5-minute step for every SLO {sorted(names)}")
    boards = sorted((stack.out_dir / "dashboards").glob("*.json"))
    assert len(boards) >= 3, boards
    problems, count = [], 0
    for path in boards:
        for where, expr in _panel_queries(json.loads(path.read_text())):
            count += 1
            promql = _substitute(expr)
            try:
                data = query(stack, promql)
            except AssertionError as exc:
                problems.append(f"{path.name}: {where}: error {exc}")
                continue
            if not data["result"]:
                problems.append(f"{path.name}: {where}: empty result for {promql}")
    assert count >= 10, f"only {count} panel queries found"
    assert not problems, "\n".join(problems)


def test_page_resolves_after_the_region_returns(stack):
    if stack.regions["eu"].state == "up":
        pytest.skip("needs the outage of the first test")
    bound = resolve_bound(stack, "pull-eu")
    fired = {tuple(sorted(a.labels.items())) for a in stack.receiver.alerts
             if a.status == "firing" and a.matches(severity="page", slo="pull-eu", registry="eu")}
    assert fired
    t_fix = time.time()
    stack.fix_region("eu")

    def all_resolved() -> bool:
        done = {tuple(sorted(a.labels.items())) for a in stack.receiver.alerts
                if a.received >= t_fix and a.status == "resolved"}
        return fired <= done

    wait_until(all_resolved, bound + 30, interval=0.2, what=f"every pull-eu page resolved ({len(fired)} tiers)")
    last = max(a.received for a in stack.receiver.alerts if a.status == "resolved" and a.matches(slo="pull-eu"))
    elapsed = last - t_fix
    print(f"resolved after {elapsed:.1f}s (bound {bound:.1f}s)")
    assert elapsed <= bound, f"resolution took {elapsed:.1f}s, bound {bound:.1f}s"
    assert not query(stack, 'ALERTS{alertstate="firing",severity="page",slo="pull-eu"}')["result"]
