"""The generated integrity rules for assorted configs: shape, and promtool running their own tests."""

import subprocess

import yaml

from regslo.config import parse_config
from regslo.outputs import extras
from regslo.outputs.extras import integrity
from tests.conftest import require

BASE = "registries: [{name: us, url: 'http://a'}, {name: eu, url: 'http://b'}]\n"


def rules_by_alert(config) -> dict:
    (group,) = integrity.groups(config)
    out: dict = {}
    for rule in group["rules"]:
        out.setdefault(rule.get("alert") or rule.get("record"), []).append(rule)
    return out


def test_minimal_config_gets_the_always_on_alerts_only():
    rules = rules_by_alert(parse_config(BASE))
    assert set(rules) == {"RegsloDigestMismatch", "RegsloTokenServiceDown"}
    assert rules["RegsloDigestMismatch"][0]["labels"] == {"severity": "page"}
    assert rules["RegsloTokenServiceDown"][0]["for"] == "3m"


def test_optional_sections_add_their_alerts_with_configured_severity_and_grace():
    config = parse_config(BASE + "logs: [{format: notifications, registry: us}]\n"
                                 "immutable_tags: {patterns: ['base/*:3.*'], severity: page}\n"
                                 "consistency:\n"
                                 "  - {repository: base/alpine, tags: ['3.19', latest], grace: 0s}\n"
                                 "  - {repository: app/web, tags: [stable], grace: 90s}\n")
    rules = rules_by_alert(config)
    assert rules["RegsloProtectedTagOverwritten"][0]["labels"] == {"severity": "page"}
    alpine, web = rules["RegsloTagInconsistent"]
    assert "for" not in alpine and web["for"] == "1m30s"
    assert 'tag=~"3\\\\.19|latest"' in alpine["expr"]  # a dot in a tag matches only a dot
    assert integrity.AUTH_RATIO in rules


def test_generated_tests_pass_for_an_assorted_config(tmp_path):
    config = parse_config(BASE + "logs: [{format: notifications, registry: us}]\n"
                                 "immutable_tags: {patterns: ['base/*:3.*'], severity: page}\n"
                                 "consistency:\n"
                                 "  - {repository: base/alpine, tags: ['3.19', latest], grace: 0s}\n"
                                 "  - {repository: app/web, tags: [stable], grace: 90s}\n")
    files = extras.files(config)
    for name, text in files.items():
        if "integrity" in name:
            (tmp_path / name.split("/")[-1]).write_text(text)
    doc = yaml.safe_load((tmp_path / "regslo-integrity_test.yml").read_text())
    assert len([t for t in doc["tests"] if "RegsloTagInconsistent" in t["name"]]) == 6
    res = subprocess.run([require("promtool"), "test", "rules", "regslo-integrity_test.yml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
