"""Generated dashboards: valid Grafana JSON, every query accepted by a real Prometheus, regslo names only."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from regslo.outputs import rules
from regslo.outputs.dashboards import queries
from tests.conftest import require
from tests.integration.slo.conftest import serve

COUNTERS = ["regslo_probe_runs_total", "regslo_probe_failures_total", "regslo_replication_checks_total",
            "regslo_replication_timeouts_total", "regslo_registry_requests_total",
            "regslo_registry_response_bytes_total", "regslo_registry_repository_requests_total",
            "regslo_registry_events_total", "regslo_registry_tag_overwrites_total", "regslo_log_lines_total",
            "regslo_registry_auth_failures_total", "regslo_registry_protected_tag_overwrites_total",
            "regslo_auth_token_requests_total", "regslo_replication_digest_mismatches_total",
            "regslo_gc_runs_total", "regslo_gc_blobs_deleted_total", "regslo_gc_manifests_deleted_total",
            "regslo_gc_reclaimed_bytes_total"]
GAUGES = ["regslo_probe_last_success_timestamp_seconds", "regslo_build_info", "regslo_log_last_line_timestamp_seconds",
          "regslo_tag_consistent", "regslo_tag_digests", "regslo:registry_auth_failures:ratio_rate5m",
          "regslo_storage_capacity_bytes", "regslo_storage_available_bytes", "regslo_storage_registry_bytes",
          "regslo_storage_scan_timestamp_seconds", "regslo_storage_scan_duration_seconds",
          "regslo_storage_full_in_seconds", "regslo_gc_last_success_timestamp_seconds", "regslo_gc_duration_seconds",
          "regslo_registry_info", "regslo:registry_requests:rate10m", "regslo:registry_requests:rate1d",
          "regslo:registry_requests_rate_limited:ratio_rate5m"]
HISTOGRAMS = ["regslo_probe_duration_seconds", "regslo_probe_phase_duration_seconds",
              "regslo_replication_lag_seconds", "regslo_registry_request_duration_seconds"]
# image inspector and cache hit ratio (regslo/outputs/extras/supply_chain.py, cache.py)
COUNTERS += ["regslo_pushed_images_inspected_total", "regslo_pushed_images_with_artifact_total",
             "regslo_inspect_failures_total", "regslo_inspect_dropped_total", "regslo_inspect_skipped_total",
             "regslo_registry_cache_requests_total"]
GAUGES += ["regslo_inspect_queue_length"]
HISTOGRAMS += ["regslo_pushed_image_size_bytes"]
EXTRA_RECORDS = ["regslo:pushed_images_signed:ratio1d", "regslo:pushed_images_sbom:ratio1d",
                 "regslo:pushed_images_scanned:ratio1d", "regslo:pushed_images_provenance:ratio1d",
                 "regslo:pushed_image_size_bytes:mean1d", "regslo:registry_cache_hit:ratio_rate5m"]
KNOWN = set(COUNTERS + EXTRA_RECORDS + GAUGES + list(rules.RECORDS) + ["ALERTS"]
            + [h + s for h in HISTOGRAMS for s in ("_bucket", "_count", "_sum")])
GRAFANA_VARS = {"$__rate_interval": "5m", "$registry": ".*", "$region": ".*", "$slo": ".*"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
            "offset", "Inf", "NaN"}


def concrete(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    match = re.fullmatch(r"label_values\((.*),\s*\w+\)", expr)
    return match.group(1) if match else expr


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    tokens = [m.group(1) for m in re.finditer(r"(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?", text)
              if not m.group(2)]  # a name followed by "(" is a function
    return {t for t in tokens if t not in KEYWORDS}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("prometheus")
    (workdir / "prometheus.yml").write_text("global: {scrape_interval: 1m}\nscrape_configs: []\n")
    with serve([require("prometheus"), f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}"]) as url:
        yield url


@pytest.fixture(scope="module")
def dashboards(example_files):
    return {name: json.loads(text) for name, text in example_files.items() if name.startswith("dashboards/")}


def test_three_dashboards_with_the_panels_the_issue_asks_for(dashboards):
    assert set(dashboards) == {"dashboards/regslo-exec.json", "dashboards/regslo-oncall.json",
                               "dashboards/regslo-debug.json"}
    titles = {name: " | ".join(p["title"] for p in d["panels"]) for name, d in dashboards.items()}
    for needle in ("pull-availability: objective", "SLI over 30d", "error budget remaining", "status",
                   "Push and pull success", "Replication"):
        assert needle in titles["dashboards/regslo-exec.json"], needle
    for needle in ("burn rate per window", "Firing SLO alerts", "p95 / p99", "failures by reason",
                   "Auth failures", "Replication lag"):
        assert needle in titles["dashboards/regslo-oncall.json"], needle
    for needle in ("phase duration", "by registry and region", "Top repositories", "Log lines",
                   "last successful probe", "last scraped"):
        assert needle in titles["dashboards/regslo-debug.json"], needle


def test_grafana_structure(dashboards):
    for name, d in dashboards.items():
        assert d["uid"].startswith("regslo-") and d["schemaVersion"] >= 30 and d["title"]
        variables = {v["name"]: v for v in d["templating"]["list"]}
        assert {"datasource", "registry", "region"} <= set(variables), name
        assert variables["registry"]["includeAll"] and variables["registry"]["allValue"] == ".*"
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids))
        for panel in d["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, (name, panel["title"])
            if panel["type"] != "row":
                assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}"
                assert [t["refId"] for t in panel["targets"]] == list("ABCDEFGH"[:len(panel["targets"])])
    oncall = dashboards["dashboards/regslo-oncall.json"]
    burn = next(p for p in oncall["panels"] if p["title"] == "pull-availability: burn rate per window")
    steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 1, 3, 6, 14.4]


def test_every_query_names_only_regslo_metrics_and_generated_rules(dashboards):
    for name, d in dashboards.items():
        for expr in queries(d):
            names = metric_names(concrete(expr))
            assert names and names <= KNOWN, (name, expr, names - KNOWN)


def test_the_name_check_catches_foreign_metrics():
    assert metric_names('sum by (job) (rate(up{job="x"}[5m])) / on() node_load1') == {"up", "node_load1"}


def test_every_query_runs_on_a_real_prometheus(prometheus, dashboards):
    exprs = sorted({concrete(e) for d in dashboards.values() for e in queries(d)})
    assert len(exprs) > 30
    with httpx.Client(base_url=prometheus, timeout=10) as client:
        for expr in exprs:
            response = client.get("/api/v1/query", params={"query": expr})
            body = response.json()
            assert response.status_code == 200 and body["status"] == "success", (expr, body)
        bad = client.get("/api/v1/query", params={"query": "sum(rate(regslo_probe_runs_total[5m]) by"})
        assert bad.json()["status"] == "error"  # the check can fail
