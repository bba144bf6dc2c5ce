"""`regslo backtest --logs`: the same requests through the tailer's replay and through the backtest give the
same SLI, and the backtest pages where the logs show an outage."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from regslo.config import load_config
from regslo.slo.sli import event_query
from regslo.sources.logs.replay import replay

ROOT = Path(__file__).resolve().parents[3]
T0 = 1795737600  # 2026-11-27T00:00:00Z: the day the real sample logs were written (07:44-07:46)
CONFIG = """
registries:
  - {name: us, url: "http://127.0.0.1:1", region: us-east}
  - {name: eu, url: "http://127.0.0.1:2", region: eu-west}
logs:
  sources:
    - {path: /var/log/us.log, format: nginx, registry: us}
    - {path: /var/log/eu.log, format: distribution, registry: eu}
slos:
  - name: user-pulls
    sli: {kind: availability, source: logs, operation: pull}
    objective: 99
    period: 1d
    tiers: &tiers
      - {severity: page, long_window: 1h, short_window: 5m, burn_rate: 14.4}
      - {severity: ticket, long_window: 6h, short_window: 30m, burn_rate: 3}
  - name: user-pulls-fast-us
    sli: {kind: latency, source: logs, operation: pull, registry: us, threshold: 1s}
    objective: 99
    period: 1d
    tiers: *tiers
  - name: user-pushes-eu
    sli: {kind: availability, source: logs, operation: push, registry: eu}
    objective: 99
    period: 1d
    tiers: *tiers
"""


def _clf(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")


def nginx_log(path: Path, seed: int = 3) -> None:
    """10 hours of pulls and pushes, one request every ~2 s, with a 500/503 outage 03:00-03:20, a 429 burst,
    404s (the client's fault: not valid), slow pulls 06:00-06:30 and a few lines that are not requests."""
    rng = random.Random(seed)
    lines = []
    t = float(T0)
    while t < T0 + 10 * 3600:
        t += rng.uniform(0.5, 3.5)
        h = (t - T0) / 3600
        push = rng.random() < 0.2
        uri = "/v2/team/app/blobs/uploads/" if push else f"/v2/team/app/manifests/v{rng.randint(1, 9)}"
        method = "POST" if push else "GET"
        code = 200
        if 3 <= h < 3 + 1 / 3 and rng.random() < 0.6:
            code = rng.choice((500, 503))
        elif 8 <= h < 8.1 and rng.random() < 0.5:
            code = 429
        elif rng.random() < 0.03:
            code = 404
        seconds = rng.uniform(1.2, 4.0) if 6 <= h < 6.5 and rng.random() < 0.7 else rng.uniform(0.01, 0.4)
        lines.append(f'10.0.0.{rng.randint(1, 9)} - - [{_clf(t)}] "{method} {uri} HTTP/1.1" {code} 512 "-" '
                     f'"docker/24.0" {seconds:.3f} {seconds:.3f}')
        if rng.random() < 0.01:
            lines.append("garbage that is not a request")
    path.write_text("\n".join(lines) + "\n")


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run([sys.executable, "-m", "regslo", "backtest", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def _sli_from_registry(registries: list[CollectorRegistry], slo) -> float:
    """bad / valid from the counters the tailer exports, with the rules' selectors."""
    query = event_query(slo.sli)
    sums = {"valid": 0.0, "bad": 0.0, "good": 0.0}
    for registry in registries:
        for family in registry.collect():
            for sample in family.samples:
                for role, sel in (("valid", query.valid), ("bad", query.bad), ("good", query.good)):
                    if sel is not None and sel.matches(sample.name, sample.labels):
                        sums[role] += sample.value
    bad = sums["bad"] if query.bad is not None else max(sums["valid"] - sums["good"], 0.0)
    return 1 - bad / sums["valid"]


def test_replay_and_backtest_give_the_same_sli(tmp_path, samples):
    us_log = tmp_path / "us.log"
    nginx_log(us_log)
    eu_log = samples / "r1-json-mixed.log"  # a real registry's docker-logs stream (requests and durations)
    (tmp_path / "c.yml").write_text(CONFIG)
    config = load_config(tmp_path / "c.yml", check_secrets=False)
    tailer = [replay([str(us_log)], "nginx", "us"), replay([str(eu_log)], "distribution", "eu")]

    result = _cli(["-c", str(tmp_path / "c.yml"), "--logs", f"nginx:us:{us_log}",
                   "--logs", f"distribution:eu:{eu_log}", "--format", "json", "--objective", "95,99,99.9"])
    assert result.returncode == 0, result.stderr
    report = {s["name"]: s for s in json.loads(result.stdout)["slos"]}
    for slo in config.slos:
        expected = _sli_from_registry(tailer, slo)
        assert report[slo.name]["sli"] == expected, slo.name
        assert report[slo.name]["budget_consumed"] == pytest.approx((1 - expected) / slo.error_budget, rel=1e-12)
    assert 0.9 < report["user-pulls"]["sli"] < 0.99, "the outage and 429s cost pulls; 404s do not count"
    assert report["user-pushes-eu"]["valid_events"] > 0

    pages = [a for a in report["user-pulls"]["alerts"] if a["severity"] == "page"]
    assert len(pages) == 1, report["user-pulls"]["alerts"]
    # 60 % errors from 03:00: the 1h window passes 14.4 x 1 % after 0.144 x 3600 s / 0.6 = 14.4 min
    assert T0 + 3 * 3600 + 780 < pages[0]["start"] < T0 + 3 * 3600 + 960 < pages[0]["end"] < T0 + 4 * 3600
    slow = [a for a in report["user-pulls-fast-us"]["alerts"] if a["severity"] == "page"]
    assert any(T0 + 6 * 3600 < a["start"] < T0 + 6.5 * 3600 for a in slow), slow
    whatif = report["user-pulls"]["what_if"]
    assert [w["objective"] for w in whatif] == [95, 99, 99.9]
    assert whatif[0]["pages"] <= whatif[1]["pages"] <= whatif[2]["pages"]


def test_logs_bad_input_is_one_line(tmp_path):
    (tmp_path / "c.yml").write_text(CONFIG)
    cfg = str(tmp_path / "c.yml")
    (tmp_path / "empty.log").write_text("nothing to see\n")
    (tmp_path / "one.log").write_text('10.0.0.2 - - [27/Nov/2026:00:00:01 +0000] "GET /v2/a/manifests/v1 HTTP/1.1" '
                                      '200 512 "-" "docker/24.0" 0.195 0.195\n')
    cases = [
        (["--logs", "nginx:us"], 2, "expected FORMAT:REGISTRY:FILE"),
        (["--logs", "notifications:eu:/x"], 2, "has no request lines"),
        (["--logs", f"nginx:us:{tmp_path / 'missing.log'}"], 2, "cannot read"),
        (["--logs", f"nginx:us:{tmp_path / 'empty.log'}"], 1, "no timed request lines"),
        (["--logs", f"nginx:us:{tmp_path / 'empty.log'}", "--step", "10m"], 2, "longer than the 5m window"),
        (["--logs", f"nginx:us:{tmp_path / 'empty.log'}", "--start", "now", "--end", "now-1d"], 2, "must be before"),
        ([], 2, "give either --prometheus"),
        (["--prometheus", "http://127.0.0.1:1"], 2, "needs --start and --end"),
        (["--logs", f"nginx:us:{tmp_path / 'empty.log'}", "--objective", "99,abc"], 2, "--objective"),
        (["--logs", f"nginx:us:{tmp_path / 'empty.log'}", "--slo", "nope"], 2, "unknown SLO 'nope'"),
        (["--logs", f"nginx:us:{tmp_path / 'empty.log'}", "--start", "0", "--end", "now", "--step", "1s"], 2,
         "use a larger --step"),
        (["--logs", f"nginx:us:{tmp_path / 'one.log'}", "--start", "2020-01-01T00:00:00Z", "--end",
          "2020-01-02T00:00:00Z"], 1, "the logs hold requests from 2026-11-27 00:00:01 to 2026-11-27 00:00:01 UTC, "
         "none between"),
        (["--logs", f"nginx:us:{tmp_path / 'one.log'}", "--start", "2027-01-01T00:00:00Z"], 1, "none between"),
        (["--logs", f"nginx:us:{tmp_path / 'one.log'}", "--chart", str(tmp_path / "missing" / "c.svg")], 2,
         "--chart: cannot write into the directory"),
    ]
    for args, code, text in cases:
        result = _cli(["-c", cfg, *args])
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.returncode == code and len(errors) == 1 and text in errors[0], (args, result.stderr)
        assert "Traceback" not in result.stderr
    bad_config = tmp_path / "bad.yml"
    bad_config.write_text("slos: 3\n")
    result = _cli(["-c", str(bad_config), "--logs", f"nginx:us:{tmp_path / 'empty.log'}"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
