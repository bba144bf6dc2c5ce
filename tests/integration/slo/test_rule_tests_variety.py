"""Generated promtool tests hold for SLOs unlike the example: tiny and huge budgets, short periods,
custom and one-severity tiers, region selectors, every SLI kind."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import yaml

from regslo.config import parse_config
from regslo.outputs.generate import render, write
from tests.conftest import require
from tests.integration.slo.conftest import EXAMPLE

SLOS = [
    {"name": "four-nines-90d", "objective": 99.99, "period": "90d",
     "sli": {"kind": "availability", "source": "probe", "operation": "push", "registry": "eu"}},
    {"name": "ninety-one-hour", "objective": 90, "period": "1h",
     "sli": {"kind": "latency", "source": "probe", "operation": "ping", "threshold": "250ms"}},
    {"name": "logs-region-2d", "objective": 99.5, "period": "2d",
     "sli": {"kind": "availability", "source": "logs", "region": "ap-south", "operation": "push"}},
    {"name": "custom-tiers", "objective": 99, "period": "7d",
     "sli": {"kind": "freshness", "destination": "ap", "threshold": "2m"},
     "tiers": [{"severity": "page", "long_window": "30m", "short_window": "2m", "burn_rate": 20},
               {"severity": "ticket", "long_window": "6h", "budget_share": 5}], "no_data_after": "10m"},
    {"name": "ticket-only", "objective": 99.5, "period": "6h",
     "sli": {"kind": "latency", "source": "logs", "threshold": "10s"},
     "tiers": [{"severity": "ticket", "long_window": "1h", "budget_share": 20}]},
    {"name": "prod-signed", "objective": 99, "period": "30d", "no_data_after": "12h",
     "sli": {"kind": "coverage", "artifact": "signature", "region": "eu-west"}},
    {"name": "prod-scanned-ticket", "objective": 95, "period": "7d", "no_data_after": "1d",
     "sli": {"kind": "coverage", "source": "inspect", "artifact": "vulnerability_report", "registry": "eu"},
     "tiers": [{"severity": "ticket", "long_window": "1d", "budget_share": 25}]},
]


def test_generated_tests_pass_for_assorted_slos(tmp_path):
    base = yaml.safe_load(EXAMPLE.read_text())
    config = parse_config(yaml.safe_dump({**base, "slos": SLOS}), check_secrets=False)
    assert [s.name for s in config.slos] == [s["name"] for s in SLOS]
    write(render(config), tmp_path)
    alerts = tmp_path / "alerts"
    tests = sorted(p.name for p in alerts.glob("*_test.yml"))
    assert len([t for t in tests if not t.startswith("regslo-")]) == len(SLOS)
    promtool = require("promtool")
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda t: subprocess.run([promtool, "test", "rules", t], cwd=alerts,
                                                         capture_output=True, text=True, timeout=120), tests))
    for name, result in zip(tests, results):
        assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"
