"""The generated rules and their generated tests, run by the real promtool and amtool."""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from tests.conftest import require


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([require("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_promtool_check_rules_passes(generated):
    files = sorted(p.name for p in (generated / "alerts").glob("*.rules.yml"))
    assert len([f for f in files if not f.startswith("regslo-")]) == 7  # one per SLO, plus extras' files
    result = promtool("check", "rules", *files, cwd=generated / "alerts")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files)


def test_generated_promtool_tests_pass(generated):
    tests = sorted(p.name for p in (generated / "alerts").glob("*_test.yml"))
    assert len([t for t in tests if not t.startswith("regslo-")]) == 7  # one per SLO, plus extras' tests
    with ThreadPoolExecutor(max_workers=4) as pool:  # one promtool per SLO, in parallel
        results = list(pool.map(lambda t: promtool("test", "rules", t, cwd=generated / "alerts"), tests))
    for name, result in zip(tests, results):
        assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"
        assert "SUCCESS" in result.stdout


def test_every_slo_test_covers_the_scenarios(generated):
    for path in (generated / "alerts").glob("*_test.yml"):
        if path.name.startswith("regslo-"):  # extras' tests (regslo/outputs/extras) have their own scenarios
            continue
        names = [g["name"] for g in yaml.safe_load(path.read_text())["tests"]]
        assert names[0].startswith("100% outage") and any(n.startswith("traffic gap") for n in names), path.name
        assert any("never pages" in n for n in names) and any("opens a ticket" in n for n in names), path.name
        # issue 8: no no-data ticket at start-up before no_data_after, and one after it when the source is silent
        assert [n.split(":")[0] for n in names[-3:]] == ["start-up with traffic from the first evaluation",
                                                       "start-up with a silent source (series at 0)",
                                                       "start-up with no series at all"], path.name


def copy_alerts(generated: Path, tmp_path: Path, slo: str) -> Path:
    for suffix in (".rules.yml", "_test.yml"):
        shutil.copy(generated / "alerts" / f"{slo}{suffix}", tmp_path / f"{slo}{suffix}")
    return tmp_path / f"{slo}.rules.yml"


def test_generated_tests_catch_broken_rules(generated, tmp_path):
    """Mutants of the rules must fail their generated tests: the tests can fail."""
    mutants = {
        "pull-availability": [("> 14.4\n", "> 144\n"), ("> 0)", ">= 0)"), ("[30d:5m]", "[30d:1h]"),
                              # the no-data start-up guard: dropped (fires at start-up) or too short
                              ('\n      unless on() absent(regslo_slo:objective:ratio{slo="pull-availability"} '
                               'offset 15m)', ""),
                              ('ratio{slo="pull-availability"} offset 15m)', 'ratio{slo="pull-availability"} '
                                                                           'offset 10m)')],
        "user-pull-availability": [('code=~"5..|429"', 'code=~"5.."'), ('code=~"429|[^4].*"', 'code=~".*"')],
        "pull-latency": [('le="2.0"', 'le="2.5"')],
        "ping-availability-demo": [('window="1m"} > 14.4', 'window="2m"} > 14.4')],
        "regslo-supply-chain": [('{kind="signature"}', '{kind="sbom"}'), ("_count[1d])) > 0)", "_count[1d])) >= 0)"),
                                ("> 0.1\n", "> 0.5\n"), ("for: 15m", "for: 1h")],
        "regslo-cache": [("HIT|STALE|UPDATING|REVALIDATED", "HIT|UPDATING|REVALIDATED"), ('{status!="none"}', "")],
    }
    jobs = []
    for slo, edits in mutants.items():
        for i, (old, new) in enumerate(edits):
            workdir = tmp_path / f"{slo}-{i}"
            workdir.mkdir()
            rules = copy_alerts(generated, workdir, slo)
            text = rules.read_text()
            assert old in text, (slo, old)
            rules.write_text(text.replace(old, new))
            jobs.append((slo, old, workdir))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda j: promtool("test", "rules", f"{j[0]}_test.yml", cwd=j[2]), jobs))
    for (slo, old, _), result in zip(jobs, results):
        assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr, f"mutant {slo} {old!r} survived"


def test_amtool_check_config_passes(generated):
    result = subprocess.run([require("amtool"), "check-config", "alertmanager.yml"], cwd=generated / "alerts",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def routes(generated: Path, *labels: str) -> str:
    result = subprocess.run([require("amtool"), "config", "routes", "test", "--config.file=alertmanager.yml",
                             *labels], cwd=generated / "alerts", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_pages_and_tickets_route_to_their_receivers(generated):
    assert routes(generated, "alertname=RegsloBurnRatePage", "severity=page", "slo=x") == "regslo-pager"
    assert routes(generated, "alertname=RegsloBurnRateTicket", "severity=ticket", "slo=x") == "regslo-ticket"
    assert routes(generated, "alertname=RegsloSLINoData", "severity=ticket", "slo=x") == "regslo-ticket"
    assert routes(generated, "alertname=SomethingElse", "severity=page") == "regslo-default"


def test_alertmanager_groups_inhibits_and_mutes(generated):
    am = yaml.safe_load((generated / "alerts" / "alertmanager.yml").read_text())
    for route in am["route"]["routes"]:
        assert route["group_by"] == ["slo", "registry"] and route["mute_time_intervals"] == ["maintenance"]
    (inhibit,) = am["inhibit_rules"]
    assert 'severity="page"' in inhibit["source_matchers"] and 'severity="ticket"' in inhibit["target_matchers"]
    assert inhibit["equal"] == ["slo"]
    assert am["time_intervals"][0]["name"] == "maintenance"


def test_prometheus_operator_rules_pass_promtool(example_config, tmp_path):
    from regslo.outputs.generate import render
    resource = yaml.safe_load(render(example_config, "prometheus-operator")["alerts/regslo.prometheusrule.yml"])
    assert resource["kind"] == "PrometheusRule" and resource["metadata"]["name"] == "regslo-slos"
    (tmp_path / "spec.yml").write_text(yaml.safe_dump({"groups": resource["spec"]["groups"]}))
    result = promtool("check", "rules", "spec.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{sum(len(g['rules']) for g in resource['spec']['groups'])} rules found" in result.stdout
