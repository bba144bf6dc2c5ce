"""The dashboards' ``region`` variable filters log and replication panels too: their queries, with $region
set, evaluated by promtool on series of two registries in two regions return only the chosen region's."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from tests.conftest import require

VARS = {"$__rate_interval": "5m", "$registry": ".*", "$region": "eu-west"}
SERIES = [
    ('regslo_registry_info{registry="us",region="us-east"}', "1+0x20"),
    ('regslo_registry_info{registry="eu",region="eu-west"}', "1+0x20"),
    ('regslo_registry_requests_total{registry="us",operation="pull",code="200"}', "0+60x20"),
    ('regslo_registry_requests_total{registry="eu",operation="pull",code="200"}', "0+120x20"),
    ('regslo_registry_repository_requests_total{registry="us",repository="a",operation="pull",class="5xx"}', "0+60x20"),
    ('regslo_registry_repository_requests_total{registry="eu",repository="b",operation="pull",class="429"}', "0+30x20"),
    ('regslo_registry_repository_requests_total{registry="eu",repository="c",operation="pull",class="2xx"}', "0+60x20"),
    ('regslo_replication_timeouts_total{source="us",destination="eu"}', "0+6x20"),
    ('regslo_replication_checks_total{source="us",destination="eu"}', "0+60x20"),
    ('regslo_replication_timeouts_total{source="eu",destination="us"}', "0+30x20"),
    ('regslo_replication_checks_total{source="eu",destination="us"}', "0+60x20"),
]


def _query(dashboards: dict, board: str, title: str) -> str:
    panel = next(p for p in dashboards[f"dashboards/regslo-{board}.json"]["panels"] if p["title"] == title)
    expr = panel["targets"][0]["expr"]
    for var, value in VARS.items():
        expr = expr.replace(var, value)
    return expr


def test_region_variable_filters_log_and_replication_panels(example_files, tmp_path):
    dashboards = {n: json.loads(t) for n, t in example_files.items() if n.startswith("dashboards/")}
    cases = [
        ("debug", "Requests by operation and code", [({"registry": "eu", "operation": "pull", "code": "200"}, 2.0)]),
        ("debug", "Repositories with the most 5xx/429",
         [({"registry": "eu", "repository": "b"}, 0.5), ({"registry": "eu", "repository": "c"}, 0.0)]),
        ("exec", "Replication: checks within their timeout", [({"source": "eu", "destination": "us"}, 0.5)]),
    ]
    tests = [{"interval": "1m", "input_series": [{"series": s, "values": v} for s, v in SERIES],
              "promql_expr_test": [{"expr": _query(dashboards, board, title), "eval_time": "15m",
                                    "exp_samples": [{"labels": "{" + ",".join(f'{k}="{v}"' for k, v in labels.items())
                                                     + "}", "value": value} for labels, value in expected]}
                                   for board, title, expected in cases]}]
    path = tmp_path / "region_test.yml"
    path.write_text(yaml.safe_dump({"rule_files": [], "tests": tests}))
    res = subprocess.run([require("promtool"), "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    # the check can fail: the us registry's series are not what the eu-west region shows
    tests[0]["promql_expr_test"][0]["exp_samples"][0]["labels"] = '{registry="us",operation="pull",code="200"}'
    path.write_text(yaml.safe_dump({"rule_files": [], "tests": tests}))
    res = subprocess.run([require("promtool"), "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode != 0


# series about one registry (probes, its logs, its storage and GC, its token server) or one replication
# pair: a panel showing them follows the region variable (regslo_registry_info is the join itself)
PER_REGISTRY = re.compile(r"\b(regslo_(?:probe|registry|replication|storage|gc|auth)_\w+|regslo:registry_\w+)")


def test_every_panel_on_registry_series_follows_the_region_variable(example_files):
    """Generated panels (templates and every extras module, with the example config's storage, GC, integrity
    and traffic sections) filter on $region wherever they show per-registry or replication series."""
    unfiltered, checked = [], 0
    for name, text in example_files.items():
        if not name.startswith("dashboards/"):
            continue
        for panel in json.loads(text)["panels"]:
            for target in panel.get("targets", []):
                metrics = set(PER_REGISTRY.findall(target["expr"])) - {"regslo_registry_info"}
                if metrics:
                    checked += 1
                    if "$region" not in target["expr"]:
                        unfiltered.append((name, panel["title"], sorted(metrics)))
    assert checked > 40 and not unfiltered, unfiltered
