"""Backtest speed: 20 SLOs over 30 days at 30 s steps, against Prometheus evaluating the same rules.

    python3 bench/backtest.py [--slos 20] [--days 30] [--step 30s] [--scrape 30s] [--promtool-slos 1] [--no-promtool]

1. Writes a counter history (a runs and a failures counter per SLO, scraped every ``--scrape``, with a few
   outages and slow burns per SLO) for ``--days`` plus the 3-day lookback of the longest default window.
2. Times the backtest's computation on one core (the process is pinned to CPU 0), fetch excluded: every
   window's error ratio, every tier's alerts and the period SLIs of every SLO.
3. Loads the same history into a real Prometheus (``promtool tsdb create-blocks-from openmetrics``) and
   times ``promtool tsdb create-blocks-from rules`` evaluating the same rules (each window's generated error
   ratio and each tier's alert expression) over the same range and step. Prometheus needs hours for all
   20 SLOs over 30 days on a small machine, so by default it evaluates the rules of ``--promtool-slos 1``
   SLO and the time is scaled by 20 (every SLO here has the same default tiers, so the same rule shapes
   and per-step work; rule evaluation is sequential). ``--promtool-slos 20`` measures everything.
4. Prints both times and their ratio, and the time to fetch the raw samples from that Prometheus.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regslo.config import parse_config  # noqa: E402
from regslo.slo.backtest import Counter, SLOBacktest, eval_times, selectors  # noqa: E402
from regslo.slo.backtest_sources import PrometheusSource  # noqa: E402
from regslo.slo.sli import event_query  # noqa: E402
from regslo.units import parse_duration  # noqa: E402
from tests.support import promtool_backtest as pb  # noqa: E402
from tests.support.registry import free_port, wait_port  # noqa: E402

DAY = 86400
T0 = 1767225600  # 2026-01-01T00:00:00Z: the range starts 3 days later (the longest window's lookback)
LOOKBACK = 3 * DAY
OPS = ("ping", "push", "pull")


def config_text(n: int) -> str:
    regs = sorted({i // len(OPS) for i in range(n)})
    lines = ["registries:"] + [f'  - {{name: r{r}, url: "http://127.0.0.1:{9000 + r}", region: z{r}}}' for r in regs]
    lines.append("slos:")
    for i in range(n):
        r, op = i // len(OPS), OPS[i % len(OPS)]
        lines += [f"  - name: {op}-r{r}", f"    sli: {{kind: availability, source: probe, operation: {op}, registry: r{r}}}",
                  f"    objective: {(99.9, 99.5, 99.0)[i % 3]}", "    period: 30d"]
    return "\n".join(lines) + "\n"


def history(n: int, days: int, scrape: float, seed: int = 11) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    t = np.arange(T0 * 1000, (T0 + LOOKBACK + days * DAY) * 1000 + 1, int(scrape * 1000), dtype=np.int64)
    series = {}
    for i in range(n):
        r, op = i // len(OPS), OPS[i % len(OPS)]
        labels = f'probe="{op}",region="z{r}",registry="r{r}"'
        p = np.full(len(t), 0.0005)
        for _ in range(4):  # outages: 100 % for 5-40 minutes
            a = rng.integers(0, len(t) - 100)
            p[a:a + rng.integers(10, 80)] = 1.0
        for _ in range(3):  # slow burns: 1-8 % for 2-12 hours
            a = rng.integers(0, len(t) - 1500)
            p[a:a + rng.integers(240, 1440)] = rng.uniform(0.01, 0.08)
        stamps = t + rng.integers(-500, 500, len(t))
        fails = np.cumsum(rng.binomial(2, p)).astype(float)
        present = fails > 0
        series[f"regslo_probe_runs_total{{{labels}}}"] = (stamps, np.arange(1, len(t) + 1) * 2.0)
        series[f'regslo_probe_failures_total{{{labels},reason="timeout"}}'] = (stamps[present], fails[present])
    return series


def compute(config, data, start: float, end: float, step: float) -> tuple[float, int]:
    """Seconds for the whole backtest computation of every SLO, and the number of alerts."""
    by_metric: dict[str, list[Counter]] = {}
    for key, (t, v) in data.items():
        name, rest = key.split("{", 1)
        labels = dict(item.split("=", 1) for item in rest.rstrip("}").split(","))
        by_metric.setdefault(name, []).append(Counter({k: v.strip('"') for k, v in labels.items()}, t, v))
    inputs = []
    for slo in config.slos:
        series = {role: [c for c in by_metric.get(sel.metric, []) if sel.matches(sel.metric, c.labels)]
                  for role, sel in selectors(event_query(slo.sli)).items()}
        inputs.append((slo, series))
    began = time.process_time()
    alerts = 0
    times = eval_times(start, end, step)
    for slo, series in inputs:
        bt = SLOBacktest(slo, series, times)
        alerts += len(bt.alerts())
        bt.periods(start, end)
    return time.process_time() - began, alerts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slos", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--step", default="30s")
    parser.add_argument("--scrape", default="30s")
    parser.add_argument("--promtool-slos", type=int, default=1, metavar="K",
                        help="evaluate the rules of K SLOs with promtool and scale to all (default 1)")
    parser.add_argument("--no-promtool", action="store_true", help="only time the backtest")
    args = parser.parse_args()
    step, scrape = parse_duration(args.step), parse_duration(args.scrape)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    config = parse_config(config_text(args.slos), check_secrets=False)
    start, end = T0 + LOOKBACK, T0 + LOOKBACK + args.days * DAY
    data = history(args.slos, args.days, scrape)
    samples = sum(len(t) for t, _ in data.values())
    print(f"{args.slos} SLOs, {args.days} days at {args.step} steps ({len(eval_times(start, end, step))} evaluations), "
          f"{len(data)} series, {samples:,} samples scraped every {args.scrape}")
    seconds, alerts = compute(config, data, start, end, step)
    print(f"backtest computation (one core, fetch excluded): {seconds:.2f} s, {alerts} alerts "
          f"({'under' if seconds < 5 else 'OVER'} the 5 s goal)")
    if args.no_promtool:
        return 0
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    if not promtool or not prometheus:
        print("promtool/prometheus not installed: no anchor", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="regslo-bench-") as tmp:
        work = Path(tmp)
        began = time.monotonic()
        pb.load_history(promtool, {"regslo_probe_runs": "counter", "regslo_probe_failures": "counter"}, data,
                        work, work / "data")
        del data
        print(f"history loaded into TSDB blocks with promtool in {time.monotonic() - began:.0f} s")
        measured = config.slos[:max(1, min(args.promtool_slos, len(config.slos)))]
        (work / "rules.yml").write_text(pb.rule_file_text(measured))
        rules = sum(1 for line in (work / "rules.yml").read_text().splitlines() if "- record:" in line)
        (work / "prometheus.yml").write_text("global: {scrape_interval: 1m}\nscrape_configs: []\n")
        port = free_port()
        proc = subprocess.Popen([prometheus, f"--config.file={work / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={work / 'data'}", "--storage.tsdb.retention.time=100y",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, timeout=60)
            url = f"http://127.0.0.1:{port}"
            source = PrometheusSource(url, timeout=600, progress=None)
            began = time.monotonic()
            for slo in config.slos:
                for sel in selectors(event_query(slo.sli)).values():
                    source.fetch(sel, start - LOOKBACK, end)
            fetch = time.monotonic() - began
            source.close()
            began = time.monotonic()
            pb.create_blocks_from_rules(promtool, url, work / "rules.yml", work / "evaluated", start, end, step)
            prom_measured = time.monotonic() - began
            prom = prom_measured * len(config.slos) / len(measured)
        finally:
            proc.terminate()
            proc.wait(30)
    print(f"fetching the raw samples from Prometheus: {fetch:.1f} s (not part of the computation)")
    scaled = "" if len(measured) == len(config.slos) else \
        f", measured {prom_measured:.1f} s for {len(measured)} SLO(s) x {len(config.slos)}/{len(measured)}"
    print(f"promtool tsdb create-blocks-from rules, same rules ({rules} for {len(measured)} SLO(s)), range and step: "
          f"{prom:.1f} s wall clock for {len(config.slos)} SLOs{scaled}")
    print(f"ratio: backtest is {prom / seconds:.0f}x faster than Prometheus evaluating the rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
