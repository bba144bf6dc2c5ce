"""SLOState and the generated recording rules agree on the same data (rules evaluated by real promtool)."""

from __future__ import annotations

import subprocess

import pytest
from prometheus_client import CollectorRegistry

from regslo.outputs import rules
from regslo.outputs.yamltext import dump
from regslo.slo.model import SLISpec, SLO, Tier
from regslo.slo.state import SLOState
from regslo.units import format_duration
from tests.conftest import require
from tests.unit.slo.contract import probe_counters

STEP = 60
TIERS = (Tier("page", 3600, 300, 14.4), Tier("page", 1800, 600, 6.0), Tier("ticket", 7200, 900, 3.0))
SLOS = [
    SLO(name="pull-us", sli=SLISpec("availability", "probe", "pull", registry="us"), objective=99.5,
        period=30 * 86400.0, tiers=TIERS),
    SLO(name="pull-fast", sli=SLISpec("latency", "probe", "pull", threshold=2.0), objective=99.0,
        period=3600.0, tiers=TIERS),  # a period shorter than the run: the period window slides
]
CHECK_AT = (1800, 4500, 7200, 9000, 10800)


def drive():
    """Three hours of probe results with an outage and a slow spell; scrape-like samples every minute."""
    source = CollectorRegistry()
    runs, fails, hist = probe_counters(source)
    for reg, region in (("us", "us-east"), ("eu", "eu-west")):
        runs.labels(reg, region, "pull")
        fails.labels(reg, region, "pull", "timeout")
        hist.labels(reg, region, "pull")
    state = SLOState(SLOS, source)
    scraped: dict[str, list[float]] = {}
    snapshots = {}
    for i, t in enumerate(range(0, 10800 + 1, STEP)):
        if t and not 8400 < t <= 9000:  # a 10-minute gap: short windows have no data
            for reg, region in (("us", "us-east"), ("eu", "eu-west")):
                for k in range(6):
                    runs.labels(reg, region, "pull").inc()
                    broken = reg == "us" and 4000 < t <= 4800 and k < 4 or reg == "eu" and k == 0
                    if broken:
                        fails.labels(reg, region, "pull", "timeout").inc()
                    else:
                        hist.labels(reg, region, "pull").observe(3.0 if 6000 < t <= 7000 and k < 2 else 0.5)
        for family in source.collect():
            for s in family.samples:
                if s.name.endswith(("_total", "_bucket")):
                    key = s.name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items())) + "}"
                    scraped.setdefault(key, []).append(s.value)
        state.sample(now=t)
        if t in CHECK_AT:
            snapshots[t] = {s["slo"]: s for s in state.snapshot()}
    return scraped, snapshots


def expectations(snapshots, offset: float = 0.0) -> list[dict]:
    tests = []
    for t, snaps in snapshots.items():
        for slo in SLOS:
            snap = snaps[slo.name]
            labels = slo.rule_labels()
            checks = [(f'{rules.BURN_RATE}{{slo="{slo.name}",window="{format_duration(w)}"}}',
                       snap["burn_rates"][format_duration(w)], {**labels, "window": format_duration(w)})
                      for w in slo.windows()]
            checks.append((f'{rules.BUDGET_REMAINING}{{slo="{slo.name}"}}', snap["error_budget_remaining"], labels))
            for selector, value, lbls in checks:
                text = "{" + ",".join(f'{k}="{v}"' for k, v in lbls.items()) + "}"
                if value is None:
                    tests.append({"expr": selector, "eval_time": format_duration(t), "exp_samples": []})
                else:
                    tests.append({"expr": f"abs({selector} - {value + offset!r}) < bool 1e-9",
                                  "eval_time": format_duration(t), "exp_samples": [{"labels": text, "value": 1}]})
    return tests


def run_promtool(tmp_path, scraped, tests) -> subprocess.CompletedProcess:
    (tmp_path / "rules.yml").write_text(dump({"groups": [rules.rule_group(s) for s in SLOS]}))
    series = [{"series": k, "values": " ".join(repr(v) for v in vals)} for k, vals in sorted(scraped.items())]
    doc = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
           "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": tests}]}
    (tmp_path / "test.yml").write_text(dump(doc))
    return subprocess.run([require("promtool"), "test", "rules", "test.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def driven():
    return drive()


def test_state_agrees_with_the_recording_rules(tmp_path, driven):
    scraped, snapshots = driven
    tests = expectations(snapshots)
    assert sum(e["exp_samples"] == [] for e in tests) >= 4, "the gap must leave short windows without data"
    burning = [s for snaps in snapshots.values() for s in snaps.values() if s["status"] in ("page", "ticket")]
    assert burning, "the scenario must make some SLO burn, or agreement proves little"
    result = run_promtool(tmp_path, scraped, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_disagreement_would_be_caught(tmp_path, driven):
    scraped, snapshots = driven
    result = run_promtool(tmp_path, scraped, expectations(snapshots, offset=0.01))
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr
