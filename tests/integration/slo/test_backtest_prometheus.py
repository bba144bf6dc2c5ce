"""`regslo backtest` against Prometheus' own evaluation of the generated rules over the same history.

A counter history with known incidents, series that start, stop and reset, scrape jitter and a scrape gap
(tests/support/backtest_history.py) is written as OpenMetrics and loaded with
``promtool tsdb create-blocks-from openmetrics``; a real Prometheus serves the blocks; ``promtool tsdb
create-blocks-from rules`` evaluates the generated error-ratio rules and each tier's alert expression over
them; ``promtool tsdb dump`` reads the result back. The backtest reads the same Prometheus.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from regslo.config import load_config
from regslo.slo.backtest import SLOBacktest, eval_times, selectors
from regslo.slo.backtest_sources import PrometheusSource
from regslo.slo.sli import event_query
from regslo.units import format_duration
from tests.conftest import require
from tests.integration.slo.conftest import serve
from tests.support import promtool_backtest as pb
from tests.support.backtest_history import CONFIG, DAY, FAMILIES, history

ROOT = Path(__file__).resolve().parents[3]
T0 = 1767225600  # 2026-01-01T00:00:00Z
START, END, STEP = T0, T0 + 2 * DAY, 30
STEP_MS = STEP * 1000


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(Prometheus URL, config path, config, Prometheus' results by SLO) for the whole module."""
    promtool = require("promtool")
    work = tmp_path_factory.mktemp("backtest")
    pb.write_openmetrics(work / "history.om", FAMILIES, history(T0))
    pb.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(work / "history.om"),
            str(work / "data")])
    (work / "prometheus.yml").write_text("global: {scrape_interval: 1m}\nscrape_configs: []\n")
    config_path = work / "regslo.yml"
    config_path.write_text(CONFIG)
    config = load_config(config_path, check_secrets=False)
    (work / "rules.yml").write_text(pb.rule_file_text(config.slos))
    pb.run([promtool, "check", "rules", str(work / "rules.yml")])
    with serve([require("prometheus"), f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}", "--storage.tsdb.retention.time=100y"]) as url:
        pb.create_blocks_from_rules(promtool, url, work / "rules.yml", work / "evaluated", START, END, STEP)
        (work / "evaluated" / "wal").mkdir(exist_ok=True)  # `tsdb dump` wants a WAL directory
        dumped = pb.dump_series(promtool, work / "evaluated")
        by_slo: dict[str, dict] = {}
        for labels, samples in dumped.items():
            by_slo.setdefault(dict(labels)["slo"], {})[labels] = samples
        yield url, config_path, config, by_slo


def _find(results: dict, **want: str) -> dict[int, float]:
    for labels, samples in results.items():
        d = dict(labels)
        if all(d.get(k) == v for k, v in want.items()):
            return samples
    return {}


BLOCK_MS = 2 * 3600 * 1000


def lost(t: int) -> bool:
    """``create-blocks-from rules`` queries each 2h block from the group's slot at or before the block start
    but ends the previous block on the last whole second before it, and drops results outside the block:
    a slot in the last second before a block boundary is never written. Live Prometheus evaluates it."""
    return t % BLOCK_MS > BLOCK_MS - 1000


def _prometheus_alerts(results: dict, tier, first_ms: int, last_ms: int) -> list[tuple[int, int, bool]]:
    samples = _find(results, __name__=pb.ALERT_RECORD, severity=tier.severity,
                    long_window=format_duration(tier.long_window), short_window=format_duration(tier.short_window))
    times = {t for t in samples if first_ms <= t <= last_ms}
    # a lost slot between two firing evaluations was firing too (an alert cannot blink for one evaluation
    # exactly there); at a lost start or end the comparison allows one step
    times |= {t + STEP_MS for t in times if lost(t + STEP_MS) and t + 2 * STEP_MS in times}
    return pb.intervals(sorted(times), STEP_MS, last_ms)


def _grid_offset(results: dict) -> float:
    """Prometheus evaluates a group at a fixed offset within the interval (a hash of its name and file)."""
    return (min(min(s) for s in results.values()) % STEP_MS) / 1000


def _backtests(url: str, config, offsets: dict[str, float] | None = None) -> dict[str, SLOBacktest]:
    source = PrometheusSource(url, progress=None)
    try:
        out = {}
        for slo in config.slos:
            series = {role: source.fetch(sel, START - DAY - STEP, END) for role, sel in selectors(event_query(slo.sli)).items()}
            offset = (offsets or {}).get(slo.name, 0.0)
            out[slo.name] = SLOBacktest(slo, series, eval_times(START, END, STEP, offset))
        return out
    finally:
        source.close()


def test_burn_rates_and_alerts_match_prometheus_exactly_on_its_evaluation_grid(world):
    url, _, config, prom = world
    offsets = {name: _grid_offset(results) for name, results in prom.items()}
    assert len(set(offsets.values())) > 1, "groups are slotted at different offsets"
    compared = gaps = alerts = exact = 0
    for name, bt in _backtests(url, config, offsets).items():
        results = prom[name]
        slo = bt.slo
        grid = {int(t) for t in bt.times if not lost(int(t))}
        for window in slo.windows():
            theirs = {t: v for t, v in _find(results, __name__="regslo_slo:error_ratio",
                                             window=format_duration(window)).items() if t in grid}
            ours = {int(t): float(v) for t, v in zip(bt.times, bt.ratios[window]) if not np.isnan(v) and int(t) in grid}
            assert set(ours) == set(theirs), (name, window, sorted(set(ours) ^ set(theirs))[:5])
            for t, v in theirs.items():
                assert ours[t] == pytest.approx(v, rel=1e-9, abs=1e-15), (name, window, t)
            compared += len(theirs)
            gaps += len(grid) - len(theirs)
        first, last = int(bt.times[0]), int(bt.times[-1])
        mine = bt.alerts()
        for tier in slo.tiers:
            expected = _prometheus_alerts(results, tier, first, last)
            got = [(round(a.start * 1000), round(a.end * 1000), a.ongoing) for a in mine
                   if (a.severity, a.long_window, a.short_window) == (tier.severity, tier.long_window, tier.short_window)]
            assert len(got) == len(expected), (name, tier, got, expected)
            for ours_a, theirs_a in zip(got, expected):
                for x, y in zip(ours_a[:2], theirs_a[:2]):
                    # equal, or one step apart where promtool lost the slot (see lost())
                    assert x == y or (abs(x - y) == STEP_MS and (lost(min(x, y)) or lost(max(x, y) - STEP_MS))), \
                        (name, tier, got, expected)
                    exact += x == y
            alerts += len(expected)
    assert compared > 50_000 and gaps > 100, "the scenario has data and gaps (no-data evaluations)"
    assert alerts >= 8, "the scenario must raise pages and tickets, or agreement proves little"


def test_cli_on_its_own_grid_is_within_one_step_of_prometheus(world, capsys):
    """The CLI cannot know a group's slot, so it evaluates at multiples of --step: alerts may move by up to
    one step, never more. Prints the largest disagreement seen."""
    url, config_path, config, prom = world
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, "-m", "regslo", "backtest", "-c", str(config_path), "--prometheus", url,
                             "--start", str(START), "--end", str(END), "--step", f"{STEP}s", "--format", "json"],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert "chunk 2/2" in result.stderr, "2 days at 15 s scrapes is over 10,000 points per series: two chunks"
    report = {s["name"]: s for s in json.loads(result.stdout)["slos"]}
    worst = 0.0
    total = 0
    for slo in config.slos:
        got = report[slo.name]
        assert {"name", "alerts", "sli", "budget_consumed"} <= set(got)
        results = prom[slo.name]
        for tier in slo.tiers:
            theirs = _prometheus_alerts(results, tier, START * 1000, END * 1000)
            ours = [a for a in got["alerts"] if (a["severity"], a["long_window"], a["short_window"])
                    == (tier.severity, format_duration(tier.long_window), format_duration(tier.short_window))]
            assert len(ours) == len(theirs), (slo.name, tier, ours, theirs)
            for a, (start_ms, end_ms, _) in zip(ours, theirs):
                assert {"severity", "long_window", "short_window", "start", "end", "peak_burn_rate"} <= set(a)
                for mine, edge in ((a["start"], start_ms), (a["end"], end_ms)):
                    # an edge right after a slot promtool lost (see lost()) may really have been that slot
                    candidates = [edge] + ([edge - STEP_MS] if lost(edge - STEP_MS) else [])
                    worst = max(worst, min(abs(mine - c / 1000) for c in candidates) / STEP)
                assert a["peak_burn_rate"] > tier.burn_rate
            total += len(theirs)
    assert total >= 8
    assert worst <= 1.0, worst
    with capsys.disabled():
        print(f"\nbacktest CLI vs Prometheus: {total} alerts, largest disagreement {worst:.3f} steps")


def test_the_comparison_has_teeth(world, monkeypatch):
    """Without increase()'s extrapolation, or without undoing resets, the ratios differ from Prometheus' by far
    more than the 1e-9 the exact comparison allows."""
    url, _, config, prom = world
    slo = config.slos[0]
    offsets = {slo.name: _grid_offset(prom[slo.name])}
    bt = _backtests(url, config, offsets)[slo.name]
    window = slo.windows()[0]
    theirs = _find(prom[slo.name], __name__="regslo_slo:error_ratio", window=format_duration(window))
    valid = bt.series["valid"]
    bad = bt.series["bad"]
    w_ms = int(window * 1000)

    def naive(counters, t):  # last - first without extrapolation
        total = 0.0
        for c in counters:
            inside = (c.t >= t - w_ms) & (c.t <= t)
            if inside.sum() >= 2:
                total += c.v[inside][-1] - c.v[inside][0]
        return total

    diffs = []
    for t in list(theirs)[::97][:60]:
        v = naive(valid, t)
        if v > 0:
            diffs.append(abs(naive(bad, t) / v - theirs[t]))
    assert max(diffs) > 1e-6

    import regslo.slo.backtest as engine
    monkeypatch.setattr(engine, "reset_corrected", lambda v: np.asarray(v, dtype=float).copy())
    broken = _backtests(url, config, offsets)[slo.name]
    ours = dict(zip(broken.times.tolist(), broken.ratios[window].tolist()))
    wrong = [t for t, v in theirs.items() if t in ours and not ours[t] == pytest.approx(v, rel=1e-9)]
    assert len(wrong) > 5


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run([sys.executable, "-m", "regslo", "backtest", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def _one_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_unreachable_prometheus_is_one_line_and_exit_1(world):
    from tests.support.registry import free_port
    _, config_path, _, _ = world
    result = _cli(["-c", str(config_path), "--prometheus", f"http://127.0.0.1:{free_port()}",
                   "--start", str(START), "--end", str(END)])
    assert result.returncode == 1
    assert "cannot reach Prometheus" in _one_line(result)


def test_a_range_without_data_is_one_line_and_exit_1(world):
    url, config_path, _, _ = world
    result = _cli(["-c", str(config_path), "--prometheus", url, "--start", "2020-01-01T00:00:00Z",
                   "--end", "2020-01-03T00:00:00Z"])
    assert result.returncode == 1
    assert "no regslo samples between 2020-01-01" in _one_line(result)


def test_an_slo_whose_selectors_match_nothing_is_named_and_the_others_still_report(world, tmp_path):
    url, _, _, _ = world
    text = CONFIG.replace("  - {name: eu,", "  - {name: ap, url: \"http://127.0.0.1:3\", region: ap-south}\n  - {name: eu,")
    text += ("  - name: pull-ap\n    sli: {kind: availability, source: probe, operation: pull, registry: ap}\n"
             "    objective: 99.9\n    period: 1d\n")
    (tmp_path / "c.yml").write_text(text)
    result = _cli(["-c", str(tmp_path / "c.yml"), "--prometheus", url, "--start", str(START), "--end", str(END),
                   "--format", "json"])
    assert result.returncode == 1
    line = _one_line(result)
    assert "slo pull-ap" in line and 'registry="ap"' in line and "matches no series" in line
    assert [s["name"] for s in json.loads(result.stdout)["slos"]] == ["pull-availability", "pull-latency",
                                                                      "pull-availability-eu"]


def test_chart_and_what_if_table(world, tmp_path):
    url, config_path, _, _ = world
    chart = tmp_path / "burn.svg"
    result = _cli(["-c", str(config_path), "--prometheus", url, "--start", str(START), "--end", str(END),
                   "--slo", "pull-availability", "--objective", "99,99.5,99.9", "--chart", str(chart)])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "what if:" in out and "OBJECTIVE" in out and "99.9%" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("99%", "99.5%", "99.9%"))]
    pages = [int(r[1]) for r in rows]
    assert pages == sorted(pages) and pages[0] < pages[-1], "a stricter objective pages at least as often"
    assert "PERIOD START" in out and len([r for r in out.splitlines() if r.strip().startswith("2026-01-0")]) >= 2, \
        "two 1d periods in two days, each with its SLI and budget"
    assert "pages (" in out and "/week)" in out
    svg = chart.read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") >= 6 and 'class="bad"' in svg
    import xml.etree.ElementTree as ET
    root = ET.fromstring(svg)  # a well-formed standalone document, as browsers and converters need
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_fetch_chunks_stay_under_11000_points_per_series_and_lose_nothing(world):
    """Chunks are sized from count_over_time; a chunk that still returns more than 11,000 points for a series
    (here: sized for 20,000 on purpose) is halved and asked again. The samples are the same either way."""
    import io

    from regslo.slo.backtest_sources import MAX_POINTS

    url, _, config, _ = world
    selector = event_query(config.slos[0].sli).valid
    accepted: list[int] = []

    class Recording(PrometheusSource):
        def _query(self, expr, at):
            result = super()._query(expr, at)
            if "count_over_time" not in expr:
                longest = max((len(item["values"]) for item in result), default=0)
                if longest <= MAX_POINTS:
                    accepted.append(longest)
            return result

    progress = io.StringIO()
    greedy = Recording(url, progress=progress, chunk_points=20_000)
    try:
        got = greedy.fetch(selector, START - DAY, END, label="runs")
    finally:
        greedy.close()
    reference = PrometheusSource(url, progress=None)
    try:
        expected = reference.fetch(selector, START - DAY, END)
    finally:
        reference.close()
    assert len(accepted) >= 2 and max(accepted) <= MAX_POINTS
    assert "backtest: fetching runs: chunk" in progress.getvalue()
    key = lambda c: tuple(sorted(c.labels.items()))  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, expected)) and len(got) == 2
    for a, b in zip(sorted(got, key=key), sorted(expected, key=key)):
        assert np.array_equal(a.t, b.t) and np.array_equal(a.v, b.v)
    assert max(len(c.t) for c in got) > MAX_POINTS, "one series is longer than a single response may be"


def test_a_query_prometheus_refuses_is_its_error_in_one_line_and_exit_1(world, tmp_path):
    """A real Prometheus with a small --query.max-samples answers the fetch with HTTP 422 and its error JSON
    (the same blocks, copied: two servers cannot share a TSDB directory)."""
    import shutil

    url, config_path, _, _ = world
    data = config_path.parent / "data"
    for block in data.iterdir():
        if (block / "meta.json").exists():
            shutil.copytree(block, tmp_path / "data" / block.name)
    with serve([require("prometheus"), f"--config.file={config_path.parent / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}", "--storage.tsdb.retention.time=100y",
                "--query.max-samples=1000"]) as small:
        import time

        import httpx
        deadline = time.monotonic() + 60  # the port opens before the TSDB is ready (503 until then)
        while httpx.get(f"{small}/-/ready", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "Prometheus did not become ready"
            time.sleep(0.2)
        result = _cli(["-c", str(config_path), "--prometheus", small, "--start", str(START), "--end", str(END)])
    assert result.returncode == 1
    line = _one_line(result)
    assert "Prometheus refused the query" in line and "HTTP 422" in line and "too many samples" in line, line
