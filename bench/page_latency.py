"""Time from stopping a registry to the page arriving at the webhook receiver, in the demo stack.

    python3 bench/page_latency.py [--runs 3] [--region us] [--slo pull-us] [--fast]

Each run starts a fresh demo stack (embedded config, the demo's timers: probes, scrapes and rule evaluation
every 5 s, Alertmanager group_wait 5 s) on free loopback ports, lets it settle (the SLO's burn rates recorded,
its windows full of successes, no page firing), stops the region's registry and waits for the first
``severity=page`` notification for that SLO and registry. ``--fast`` uses the e2e tests' 1 s timers instead.
Prints each run, min/median/max and the theoretical bound from regslo.demo.bounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regslo.demo.bounds import page_bound  # noqa: E402
from regslo.demo.procs import free_port  # noqa: E402
from regslo.demo.stack import Ports, Stack, Timing  # noqa: E402

FAST = Timing(probe_interval=1.0, probe_timeout=1.0, scrape_interval=1.0, evaluation_interval=1.0,
              group_wait=1.0, group_interval=1.0, replication_delay=1.0)


def _query(stack: Stack, expr: str) -> list:
    resp = httpx.get(f"http://127.0.0.1:{stack.ports.prometheus}/api/v1/query", params={"query": expr}, timeout=5)
    return resp.json()["data"]["result"]


def _settle(stack: Stack, slo_name: str, timeout: float = 180) -> None:
    slo = next(s for s in stack.service.config.slos if s.name == slo_name)
    windows = len(slo.windows())
    longest_page = max(t.long_window for t in slo.tiers if t.severity == "page")
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        burn = _query(stack, f'regslo_slo:burn_rate{{slo="{slo_name}"}}')
        firing = _query(stack, f'ALERTS{{alertstate="firing",severity="page",slo="{slo_name}"}}')
        if len(burn) >= windows and not firing and time.monotonic() - t0 >= longest_page:
            return
        time.sleep(1)
    raise RuntimeError(f"stack did not settle within {timeout:g}s")


def one_run(region: str, slo_name: str, timing: Timing) -> tuple[float, str]:
    ports = Ports(registries=(free_port(), free_port()), replicator=free_port(), regslo=free_port(),
                  prometheus=free_port(), alertmanager=free_port(), receiver=free_port())
    with tempfile.TemporaryDirectory(prefix="regslo-bench-") as tmp:
        stack = Stack(Path(tmp), ports, timing, echo=lambda s: None)
        stack.start()
        try:
            _settle(stack, slo_name)
            bound = page_bound(stack.service.config, timing, slo_name)
            t_break = time.time()
            stack.break_region(region)
            page = stack.receiver.wait_for(lambda a: a.status == "firing" and a.matches(
                severity="page", slo=slo_name, registry=region), timeout=bound.total * 3 + 60, since=t_break)
            if page is None:
                raise RuntimeError(f"no page within {bound.total * 3 + 60:g}s")
            return page.received - t_break, bound.explain()
        finally:
            stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--region", default="us")
    parser.add_argument("--slo", default="pull-us")
    parser.add_argument("--fast", action="store_true", help="1 s timers (as the e2e tests) instead of the demo's")
    args = parser.parse_args()
    timing = FAST if args.fast else Timing()
    latencies = []
    explain = ""
    for i in range(args.runs):
        seconds, explain = one_run(args.region, args.slo, timing)
        latencies.append(seconds)
        print(f"run {i + 1}/{args.runs}: page for {args.slo}/{args.region} after {seconds:.1f}s", flush=True)
    print(f"page latency over {args.runs} runs ({'fast' if args.fast else 'demo'} timers): "
          f"min {min(latencies):.1f}s  median {statistics.median(latencies):.1f}s  max {max(latencies):.1f}s")
    print(f"theoretical bound: {explain}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
