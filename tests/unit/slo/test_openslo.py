"""OpenSLO v1 export, and import of the ratio and threshold SLIs regslo can express."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from regslo.config import load_config, parse_config
from regslo.outputs.openslo import OpenSLOImportError, export, import_text

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "regslo.yml"

THRESHOLD = """
apiVersion: openslo/v1
kind: SLI
metadata: {name: pull-p99}
spec:
  thresholdMetric:
    metricSource:
      type: Prometheus
      spec: {query: 'histogram_quantile(0.99, sum by (le) (rate(regslo_probe_duration_seconds_bucket{probe="pull",registry="us"}[5m])))'}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: pull-fast, labels: {team: registry}}
spec:
  service: registry
  indicatorRef: pull-p99
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{op: lte, value: 2.5, target: 0.995}]
"""


@pytest.fixture(scope="module")
def config():
    return load_config(EXAMPLE, check_secrets=False)


def test_export_is_an_openslo_v1_slo_with_a_ratio_metric(config):
    doc = yaml.safe_load(export(config.slos[0]))
    assert (doc["apiVersion"], doc["kind"], doc["metadata"]["name"]) == ("openslo/v1", "SLO", "pull-availability")
    ratio = doc["spec"]["indicator"]["spec"]["ratioMetric"]
    assert ratio["counter"] is True
    assert ratio["bad"]["metricSource"]["spec"]["query"] == 'sum(regslo_probe_failures_total{probe="pull"})'
    assert ratio["total"]["metricSource"]["spec"]["query"] == 'sum(regslo_probe_runs_total{probe="pull"})'
    assert doc["spec"]["objectives"] == [{"displayName": "99.9%", "target": 0.999}]
    assert doc["spec"]["timeWindow"] == [{"duration": "30d", "isRolling": True}]
    cond = doc["spec"]["alertPolicies"][0]["spec"]["conditions"][0]["spec"]
    # alertAfter is how long the condition must hold before alerting (OpenSLO README, AlertCondition notes);
    # the generated Prometheus alert has no `for:`, so 0m, and the 5m short window is in the description
    assert cond == {"severity": "page", "condition": {"kind": "burnrate", "op": "gt", "threshold": 14.4,
                                                      "lookbackWindow": "1h", "alertAfter": "0m"}}
    assert "over both 1h and 5m" in doc["spec"]["alertPolicies"][0]["spec"]["description"]
    rules = yaml.safe_load(Path(EXAMPLE.parents[1] / "alerts" / "pull-availability.rules.yml").read_text())
    page = next(r for r in rules["groups"][0]["rules"] if r.get("alert") == "RegsloBurnRatePage"
                and r["labels"]["long_window"] == "1h")
    assert "for" not in page  # what alertAfter: 0m states


def test_export_then_import_round_trips_every_example_slo(config):
    text = "---\n".join(export(s) for s in config.slos)
    imported = yaml.safe_load(import_text(text))["slos"]
    base = yaml.safe_load(EXAMPLE.read_text())
    merged = parse_config(yaml.safe_dump({**base, "slos": imported}), check_secrets=False)
    for before, after in zip(config.slos, merged.slos):
        assert (after.name, after.sli.kind, after.sli.source, after.sli.operation, after.sli.threshold,
                after.objective, after.period, after.labels) == \
               (before.name, before.sli.kind, before.sli.source, before.sli.operation, before.sli.threshold,
                before.objective, before.period, before.labels)
        assert after.tiers == before.tiers


def test_threshold_metric_imports_as_a_latency_slo():
    (slo,) = yaml.safe_load(import_text(THRESHOLD))["slos"]
    assert slo == {"name": "pull-fast", "description": "", "period": "28d", "objective": 99.5,
                   "labels": {"team": "registry"},
                   "sli": {"kind": "latency", "source": "probe", "operation": "pull", "registry": "us",
                           "threshold": "2s500ms"}}


@pytest.mark.parametrize("text,message", [
    (THRESHOLD.replace("regslo_probe_duration_seconds_bucket", "http_request_duration_seconds_bucket"),
     "must read exactly one regslo metric"),
    (THRESHOLD.replace("op: lte", "op: gte"), "imports only as 'op: lt|lte'"),
    (THRESHOLD.replace("target: 0.995", "target: 99.5"), "objectives[0].target: must be a ratio between 0 and 1"),
    (THRESHOLD.replace("openslo/v1\nkind: SLO", "openslo/v2alpha\nkind: SLO"), "apiVersion: must be openslo/v1"),
    ("a: [", "invalid YAML"),
    ("kind: Service\n", "no OpenSLO v1 SLO documents found"),
    # the labels annotation: a number crashed with TypeError, a list became the label a: b, a number value passed
    *[(THRESHOLD.replace("metadata: {name: pull-fast, labels: {team: registry}}",
                         "metadata: {name: pull-fast, annotations: {regslo/labels: '%s'}}" % bad),
       "not a JSON object of string labels") for bad in ('5', '["ab"]', '{"team": 3}')],
])
def test_unimportable_documents_are_explained(text, message):
    with pytest.raises(OpenSLOImportError) as exc:
        import_text(text)
    assert any(message in p for p in exc.value.problems), exc.value.problems


def test_cli_imports_and_exports(tmp_path):
    src = tmp_path / "slo.yaml"
    src.write_text(THRESHOLD)
    run = [sys.executable, "-m", "regslo", "generate"]
    result = subprocess.run(run + ["--import-openslo", str(src)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "name: pull-fast" in result.stdout
    src.write_text("kind: Nothing\n")
    result = subprocess.run(run + ["--import-openslo", str(src)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    result = subprocess.run(run + ["-c", str(EXAMPLE), "-o", str(tmp_path / "out"), "--openslo"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "out" / "openslo").glob("*.yaml"))) == 7
