"""The extras seam: a capability module's rule groups, promtool tests and panels reach the generated files."""

from __future__ import annotations

import json
import types

import yaml

from regslo.config import parse_config
from regslo.outputs import extras, generate

CONFIG = """
registries:
  - {name: us, url: "http://127.0.0.1:5000", region: us-east}
"""


def fake_module():
    mod = types.ModuleType("fake")
    mod.NAME = "fake"
    mod.groups = lambda config: [{"name": "regslo-fake", "rules": [
        {"alert": "RegsloFake", "expr": "vector(1)", "labels": {"severity": "ticket"}}]}]
    mod.tests = lambda config: [{"interval": "1m", "alert_rule_test": [
        {"eval_time": "1m", "alertname": "RegsloFake", "exp_alerts": [{"exp_labels": {"severity": "ticket"}}]}]}]
    mod.panels = lambda config, dashboard: ([{"type": "stat", "title": "Fake", "gridPos": {"w": 6, "h": 4},
                                              "targets": [{"expr": "vector(1)"}]}] if dashboard == "debug" else [])
    return mod


def test_extra_module_outputs_reach_rules_tests_and_dashboards(monkeypatch):
    monkeypatch.setattr(extras, "modules", lambda: [fake_module()])
    files = generate.render(parse_config(CONFIG))
    rules = yaml.safe_load(files["alerts/regslo-fake.rules.yml"])
    assert rules["groups"][0]["rules"][0]["alert"] == "RegsloFake"
    test = yaml.safe_load(files["alerts/regslo-fake_test.yml"])
    assert test["rule_files"] == ["regslo-fake.rules.yml"] and len(test["tests"]) == 1
    debug = json.loads(files["dashboards/regslo-debug.json"])
    fake = [p for p in debug["panels"] if p["title"] == "Fake"]
    assert len(fake) == 1 and fake[0]["id"] == max(p["id"] for p in debug["panels"])
    exec_ = json.loads(files["dashboards/regslo-exec.json"])
    assert not [p for p in exec_["panels"] if p["title"] == "Fake"]
    operator = yaml.safe_load(generate.render(parse_config(CONFIG), fmt="prometheus-operator")[
        "alerts/regslo.prometheusrule.yml"])
    assert operator["spec"]["groups"][-1]["name"] == "regslo-fake"


def test_module_without_groups_writes_no_rule_file(monkeypatch):
    mod = fake_module()
    mod.groups = lambda config: []
    monkeypatch.setattr(extras, "modules", lambda: [mod])
    files = generate.render(parse_config(CONFIG))
    assert not [k for k in files if "regslo-fake" in k]
