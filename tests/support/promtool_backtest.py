"""Prometheus' own evaluation of the generated SLO rules over a written history, for backtest tests and the
benchmark: counters -> OpenMetrics -> ``promtool tsdb create-blocks-from openmetrics`` -> a Prometheus serving
the blocks -> ``promtool tsdb create-blocks-from rules`` (the generated recording rules, and each tier's
alert as a recording rule) -> ``promtool tsdb dump`` -> series.

``create-blocks-from rules`` evaluates recording rules only, each on its own over the source data, and
writes no staleness markers. So rules that read other rules would see stale neighbours for up to 5 minutes
after a gap. To keep the live semantics (records of a group evaluated in order at the same time, a missing
result is missing), each alert's ``regslo_slo:burn_rate`` selectors are replaced by the burn-rate rule's
own expression with its ``regslo_slo:error_ratio`` selector replaced by that rule's expression: the text
of the generated rules, composed, never rewritten by hand.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Iterable

import numpy as np

from regslo.outputs import rules
from regslo.outputs.yamltext import dump
from regslo.slo.model import SLO
from regslo.units import format_duration

ALERT_RECORD = "regslo_backtest:alert"


def write_openmetrics(path: Path, families: dict[str, str], series: dict[str, tuple[np.ndarray, np.ndarray]],
                      t_min: int | None = None, t_max: int | None = None) -> None:
    """``families``: family name -> type; ``series``: ``name{labels}`` -> (ms times, values); only samples in
    [t_min, t_max) when given (promtool re-reads the whole file for every 2h block it writes, so long
    histories load much faster as one file per day)."""
    with open(path, "w") as f:
        by_family: dict[str, list[str]] = {}
        for key in series:
            name = key.split("{", 1)[0]
            family = next(fam for fam in families if name.startswith(fam))
            by_family.setdefault(family, []).append(key)
        for family, keys in by_family.items():
            f.write(f"# TYPE {family} {families[family]}\n")
            for key in keys:
                t, v = series[key]
                if t_min is not None or t_max is not None:
                    keep = (t >= (t_min if t_min is not None else t[0])) & (t < (t_max if t_max is not None else t[-1] + 1))
                    t, v = t[keep], v[keep]
                f.write("".join(f"{key} {value!r} {ms / 1000:.3f}\n" for ms, value in zip(t.tolist(), v.tolist())))
        f.write("# EOF\n")


def load_history(promtool: str, families: dict[str, str], series: dict[str, tuple[np.ndarray, np.ndarray]],
                 work: Path, out: Path, slice_ms: int = 86_400_000) -> None:
    """Write and import the history one ``slice_ms`` slice at a time (aligned, so blocks never overlap)."""
    first = min(int(t[0]) for t, _ in series.values() if len(t))
    last = max(int(t[-1]) for t, _ in series.values() if len(t))
    a = first - first % slice_ms
    while a <= last:
        path = work / f"history-{a}.om"
        write_openmetrics(path, families, series, a, a + slice_ms)
        run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(path), str(out)])
        path.unlink()
        a += slice_ms


def _selector_text(record: dict) -> str:
    labels = {"slo": record["labels"]["slo"]}
    if "window" in record["labels"]:
        labels["window"] = record["labels"]["window"]
    text = ",".join('%s="%s"' % item for item in labels.items())
    return f"{record['record']}{{{text}}}"


def backfill_rules(slos: Iterable[SLO]) -> dict:
    """A rule file: every SLO's generated window error ratios, and per tier its alert expression (with
    recorded selectors replaced by the rules that record them) as the record ``regslo_backtest:alert``."""
    groups = []
    for slo in slos:
        records = rules.records(slo)
        exprs = {_selector_text(r): r["expr"] for r in records if r["record"] in (rules.ERROR_RATIO, rules.BURN_RATE)}
        out = [r for r in records if r["record"] == rules.ERROR_RATIO]
        for tier in slo.tiers:
            alert = rules.tier_alert(slo, tier, "")
            assert "for" not in alert, "the generated alerts have no for:; compare runs directly"
            out.append({"record": ALERT_RECORD, "expr": _inline(alert["expr"], exprs), "labels": alert["labels"]})
        groups.append({"name": rules.group_name(slo), "rules": out})
    return {"groups": groups}


def _inline(expr: str, exprs: dict[str, str]) -> str:
    for _ in range(3):  # burn_rate -> error_ratio -> counters
        for selector, body in exprs.items():
            expr = expr.replace(selector, f"({body})")
    assert "regslo_slo:" not in expr, expr
    return expr


def run(argv: list[str], timeout: float = 1800) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {result.stderr[-2000:]}")
    return result.stdout


def create_blocks_from_rules(promtool: str, url: str, rule_file: Path, out: Path, start: float, end: float,
                             step: float) -> None:
    run([promtool, "tsdb", "create-blocks-from", "rules", "--quiet", f"--url={url}", f"--start={int(start)}",
         f"--end={int(end)}", f"--eval-interval={format_duration(step)}", f"--output-dir={out}", str(rule_file)])


_DUMP = re.compile(r"^\{(.*)\} (\S+) (-?\d+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def dump_series(promtool: str, db: Path) -> dict[tuple, dict[int, float]]:
    """``promtool tsdb dump`` of a directory: sorted label items -> {ms: value}."""
    out: dict[tuple, dict[int, float]] = {}
    for line in run([promtool, "tsdb", "dump", str(db)]).splitlines():
        m = _DUMP.match(line.strip())
        if not m:
            continue
        labels = tuple(sorted(_LABEL.findall(m.group(1))))
        out.setdefault(labels, {})[int(m.group(3))] = float(m.group(2))
    return out


def intervals(times_ms: Iterable[int], step_ms: int, last_ms: int) -> list[tuple[int, int, bool]]:
    """Runs of consecutive evaluations with a sample -> (start ms, end ms, ongoing): the end is the first
    evaluation without the alert, or ``last_ms`` while it still fires there (as the backtest reports)."""
    ts = sorted(times_ms)
    out = []
    i = 0
    while i < len(ts):
        j = i
        while j + 1 < len(ts) and ts[j + 1] - ts[j] == step_ms:
            j += 1
        ongoing = ts[j] >= last_ms
        out.append((ts[i], last_ms if ongoing else ts[j] + step_ms, ongoing))
        i = j + 1
    return out


def rule_file_text(slos: Iterable[SLO]) -> str:
    return dump(backfill_rules(slos))
