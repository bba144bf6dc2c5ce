"""The OpenSLO v1 documents regslo writes satisfy OpenSLO v1's validation rules.

No Python validator for OpenSLO exists, so the rules are encoded here, each with a comment naming where it
comes from: the reference implementation github.com/OpenSLO/go-sdk, package pkg/openslo/v1 (files named
below; rules read from its govy validators), and the specification README of github.com/OpenSLO/OpenSLO.
Only what regslo's export can produce is checked (SLO documents with an inline ratioMetric indicator and
inline alert policies, conditions and notification targets). The last tests feed known-bad documents to the
checker, so it can fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from regslo.config import load_config, parse_config
from regslo.outputs.openslo import dns_label, export, import_text, name_clashes, shorthand

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "regslo.yml"

# go-sdk objects.go validationRulesMetadata: name uses rules.StringDNSLabel (RFC 1123 label)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# go-sdk objects.go labelKeyRegexp
LABEL_KEY = re.compile(r"^[a-z0-9]([-._a-z0-9]{0,61}[a-z0-9])?$")
# go-sdk objects.go annotationKeyLengthRegexp and annotationKeyRegexp
ANNOTATION_KEY_LENGTH = re.compile(r"^(.{0,253}/)?.{0,63}$")
ANNOTATION_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?"
                            r"[a-z0-9]([-._a-z0-9]{0,61}[a-z0-9])?$")
# go-sdk duration_shorthand.go: UnmarshalText scans "%d%s"; validDurationUnits m h d w M Q Y; value >= 0
DURATION = re.compile(r"^\d+[mhdwMQY]$")
OPERATORS = {"gt", "lt", "gte", "lte"}  # go-sdk objects.go validOperators


def metadata_problems(meta: dict, where: str) -> list[str]:
    out = []
    # go-sdk objects.go validationRulesMetadata: metadata required; name required, StringDNSLabel
    if not isinstance(meta, dict) or not DNS_LABEL.match(str(meta.get("name") or "")):
        return [f"{where}.metadata.name is not a DNS-1123 label: {meta!r}"]
    # go-sdk objects.go validationRulesMetadata: displayName OmitEmpty, StringMaxLength(63)
    if len(meta.get("displayName") or "") > 63:
        out.append(f"{where}.metadata.displayName longer than 63")
    # go-sdk objects.go labelsValidator: keys match labelKeyRegexp; Label is a string or a list of strings
    for key, value in (meta.get("labels") or {}).items():
        if not LABEL_KEY.match(key):
            out.append(f"{where}.metadata.labels key {key!r}")
        if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            out.append(f"{where}.metadata.labels[{key}] value {value!r}")
    # go-sdk objects.go annotationsValidator: keys match both annotation regexps; values strings
    for key, value in (meta.get("annotations") or {}).items():
        if not (ANNOTATION_KEY_LENGTH.match(key) and ANNOTATION_KEY.match(key)) or not isinstance(value, str):
            out.append(f"{where}.metadata.annotations key {key!r}")
    return out


def description_problems(spec: dict, where: str) -> list[str]:
    # go-sdk slo.go / alert_policy.go / alert_condition.go / alert_notification_target.go / sli.go:
    # description rules.StringMaxLength(1050)
    return [f"{where}.description longer than 1050"] if len(spec.get("description") or "") > 1050 else []


def duration_problems(value: object, where: str) -> list[str]:
    return [] if isinstance(value, str) and DURATION.match(value) else [f"{where}: {value!r} is no duration shorthand"]


def metric_spec_problems(metric: object, where: str) -> list[str]:
    # go-sdk sli.go sliMetricSpecValidation: metricSource.spec required, at least one key
    source = (metric or {}).get("metricSource") if isinstance(metric, dict) else None
    if not isinstance(source, dict) or not isinstance(source.get("spec"), dict) or not source["spec"]:
        return [f"{where}.metricSource.spec must be a non-empty map"]
    return []


def slo_problems(doc: dict) -> list[str]:
    out = []
    # go-sdk objects.go validationRulesAPIVersion / validationRulesKind
    if doc.get("apiVersion") != "openslo/v1" or doc.get("kind") != "SLO":
        out.append("apiVersion/kind")
    out += metadata_problems(doc.get("metadata"), "slo")
    spec = doc.get("spec") or {}
    out += description_problems(spec, "spec")
    # go-sdk slo.go sloSpecValidation: service required
    if not spec.get("service"):
        out.append("spec.service required")
    # go-sdk slo.go: budgetingMethod required, one of Occurrences, Timeslices, RatioTimeslices
    if spec.get("budgetingMethod") not in ("Occurrences", "Timeslices", "RatioTimeslices"):
        out.append("spec.budgetingMethod")
    # go-sdk slo.go validationRuleForIndicator + getSLOIndicatorValidation: exactly one of indicator/indicatorRef
    if ("indicator" in spec) == ("indicatorRef" in spec):
        out.append("spec: exactly one of indicator, indicatorRef")
    indicator = spec.get("indicator") or {}
    if indicator:
        out += metadata_problems(indicator.get("metadata"), "spec.indicator")
        ispec = indicator.get("spec") or {}
        out += description_problems(ispec, "spec.indicator.spec")
        # go-sdk sli.go sliSpecValidation: thresholdMetric and ratioMetric mutually exclusive, one required
        if ("ratioMetric" in ispec) == ("thresholdMetric" in ispec):
            out.append("spec.indicator.spec: exactly one of ratioMetric, thresholdMetric")
        ratio = ispec.get("ratioMetric")
        if ratio is not None:
            # go-sdk sli.go sliRatioMetricValidation / sliFractionMetricValidation: total (not raw), and
            # exactly one of good, bad
            if "total" not in ratio or "raw" in ratio or ("good" in ratio) == ("bad" in ratio):
                out.append("ratioMetric: total and exactly one of good/bad")
            for part in ("total", "good", "bad"):
                if part in ratio:
                    out += metric_spec_problems(ratio[part], f"ratioMetric.{part}")
    # go-sdk slo.go: timeWindow SliceLength(1, 1); duration required shorthand; rolling xor calendar
    windows = spec.get("timeWindow") or []
    if len(windows) != 1:
        out.append("spec.timeWindow must hold exactly one window")
    for w in windows:
        out += duration_problems(w.get("duration"), "spec.timeWindow[].duration")
        if bool(w.get("isRolling")) == ("calendar" in w):
            out.append("spec.timeWindow[]: 'calendar' set exactly when isRolling is false")
    # go-sdk slo.go sloObjectiveValidation: target xor targetPercent; 0 <= target < 1
    # go-sdk slo.go sloRatioObjectiveValidationWhenInlinedSLI: op and value forbidden with a ratioMetric
    for o in spec.get("objectives") or [None]:
        if not isinstance(o, dict) or ("target" in o) == ("targetPercent" in o):
            out.append("objective: exactly one of target, targetPercent")
            continue
        if "target" in o and not 0 <= o["target"] < 1:
            out.append("objective.target outside [0, 1)")
        if (indicator.get("spec") or {}).get("ratioMetric") is not None and ("op" in o or "value" in o):
            out.append("objective: op/value forbidden for a ratioMetric")
    for i, policy in enumerate(spec.get("alertPolicies") or []):
        out += policy_problems(policy, f"spec.alertPolicies[{i}]")
    return out


def policy_problems(policy: dict, where: str) -> list[str]:
    out = []
    # go-sdk slo.go sloAlertPolicyValidation: inline policy kind AlertPolicy, metadata, spec required
    if policy.get("kind") != "AlertPolicy":
        out.append(f"{where}.kind")
    out += metadata_problems(policy.get("metadata"), where)
    spec = policy.get("spec") or {}
    out += description_problems(spec, f"{where}.spec")
    # go-sdk alert_policy.go alertPolicySpecValidation: conditions SliceLength(1, 1)
    conditions = spec.get("conditions") or []
    if len(conditions) != 1:
        out.append(f"{where}.spec.conditions must hold exactly one condition")
    for c in conditions:
        # go-sdk alert_policy.go alertPolicyConditionValidation: inline kind AlertCondition, metadata, spec
        if c.get("kind") != "AlertCondition":
            out.append(f"{where}: condition kind")
        out += metadata_problems(c.get("metadata"), f"{where}.condition")
        cspec = c.get("spec") or {}
        out += description_problems(cspec, f"{where}.condition.spec")
        # go-sdk alert_condition.go alertConditionSpecValidation: severity required
        if not cspec.get("severity"):
            out.append(f"{where}: condition severity required")
        cond = cspec.get("condition") or {}
        # go-sdk alert_condition.go: kind one of burnrate; op required and valid; threshold required;
        # lookbackWindow required shorthand; alertAfter optional shorthand
        if cond.get("kind") != "burnrate" or cond.get("op") not in OPERATORS or \
                not isinstance(cond.get("threshold"), (int, float)):
            out.append(f"{where}: burnrate condition kind/op/threshold")
        out += duration_problems(cond.get("lookbackWindow"), f"{where}.lookbackWindow")
        if "alertAfter" in cond:
            out += duration_problems(cond["alertAfter"], f"{where}.alertAfter")
    # go-sdk alert_policy.go alertPolicySpecValidation: notificationTargets SliceMinLength(1)
    targets = spec.get("notificationTargets") or []
    if not targets:
        out.append(f"{where}.spec.notificationTargets needs at least one target")
    for t in targets:
        if "targetRef" in t:
            # go-sdk alert_policy.go alertPolicyNotificationTargetValidation: targetRef StringDNSLabel
            if not DNS_LABEL.match(str(t["targetRef"])):
                out.append(f"{where}: targetRef")
            continue
        # go-sdk alert_policy.go: inline kind AlertNotificationTarget, metadata, spec;
        # alert_notification_target.go alertNotificationTargetSpecValidation: target required
        if t.get("kind") != "AlertNotificationTarget" or not (t.get("spec") or {}).get("target"):
            out.append(f"{where}: inline notification target kind/target")
        out += metadata_problems(t.get("metadata"), f"{where}.notificationTarget")
        out += description_problems(t.get("spec") or {}, f"{where}.notificationTarget.spec")
    return out


def _stress_config():
    """SLOs that push every rule: '_' and '.' in names, 63-character names, a description longer than 63,
    a 1h period with 30s windows (no whole minutes), a label key OpenSLO refuses."""
    base = yaml.safe_load(EXAMPLE.read_text())
    slo = {"sli": {"kind": "availability", "source": "probe", "operation": "pull"}, "objective": 99}
    base["alerting"] = {"min_window": "30s"}
    base["slos"] = [
        {"name": "pull_avail.eu", **slo, "description": "Images can be pulled from the eu region, measured "
                                                         "by regslo's pull probe every interval", "period": "1h"},
        {"name": "a" * 63, **slo, "period": "28d", "labels": {"Team_Name": "x", "team": "y"}},
        {"name": "b.c_d-", **slo, "period": "7d"},
    ]
    return parse_config(yaml.safe_dump(base), check_secrets=False)


@pytest.fixture(scope="module")
def documents():
    configs = [load_config(EXAMPLE, check_secrets=False), _stress_config()]
    return [(slo, yaml.safe_load(export(slo))) for config in configs for slo in config.slos]


def test_every_exported_document_satisfies_the_openslo_v1_rules(documents):
    assert len(documents) >= 10
    for slo, doc in documents:
        assert slo_problems(doc) == [], slo.name


def test_each_alert_policy_notifies_its_alertmanager_receiver(documents):
    for slo, doc in documents:
        for policy in doc["spec"]["alertPolicies"]:
            severity = policy["spec"]["conditions"][0]["spec"]["severity"]
            (target,) = policy["spec"]["notificationTargets"]
            assert target["metadata"]["name"] == {"page": "regslo-pager", "ticket": "regslo-ticket"}[severity]
            assert target["spec"]["target"] == "alertmanager"


def test_names_are_mapped_and_the_import_restores_them(documents):
    by_name = {slo.name: doc for slo, doc in documents}
    doc = by_name["pull_avail.eu"]
    assert doc["metadata"]["name"] == "pull-avail-eu"
    assert doc["metadata"]["annotations"]["regslo/name"] == "pull_avail.eu"
    assert len(doc["metadata"]["displayName"]) <= 63 and doc["spec"]["description"].startswith("Images can")
    assert doc["spec"]["timeWindow"][0]["duration"] == "1h"
    assert by_name["b.c_d-"]["metadata"]["name"] == "b-c-d"
    long_doc = by_name["a" * 63]
    assert long_doc["spec"]["indicator"]["metadata"]["name"] != long_doc["metadata"]["name"]
    assert len(long_doc["spec"]["indicator"]["metadata"]["name"]) <= 63
    assert "Team_Name" not in long_doc["metadata"]["labels"]
    # the round trip gives back the regslo names, labels (also the refused key) and periods
    config = _stress_config()
    imported = yaml.safe_load(import_text("---\n".join(export(s) for s in config.slos)))["slos"]
    assert [(s["name"], s.get("labels"), s["period"]) for s in imported] == \
           [(s.name, dict(s.labels) or None, p) for s, p in zip(config.slos, ("1h", "28d", "7d"))]


def test_names_that_would_clash_are_refused(tmp_path):
    config = _stress_config()
    clash = parse_config(yaml.safe_dump({**yaml.safe_load(EXAMPLE.read_text()), "slos": [
        {"name": n, "sli": {"kind": "availability", "source": "probe", "operation": "pull"}, "objective": 99}
        for n in ("pull.eu", "pull_eu")]}), check_secrets=False)
    assert name_clashes(config.slos) == []
    assert name_clashes(clash.slos) == ["slos: 'pull.eu' and 'pull_eu' both become OpenSLO name 'pull-eu'; "
                                        "rename one"]


def test_helpers():
    assert [dns_label(n) for n in ("a_b", "a.b", "-x-", "x" * 70)][:3] == ["a-b", "a-b", "x"]
    assert DNS_LABEL.match(dns_label("x" * 70)) and dns_label("x" * 70) != dns_label("x" * 71)
    assert [shorthand(s) for s in (30, 90, 300, 3600, 5400, 86400 * 28)] == ["1m", "2m", "5m", "1h", "90m", "28d"]


@pytest.mark.parametrize("edit, problem", [
    (lambda d: d["spec"]["alertPolicies"][0]["spec"].update(notificationTargets=[]), "notificationTargets"),
    (lambda d: d["metadata"].update(displayName="x" * 64), "displayName longer than 63"),
    (lambda d: d["metadata"].update(name="pull_availability"), "not a DNS-1123 label"),
    (lambda d: d["spec"]["alertPolicies"][0]["spec"]["conditions"][0]["spec"]["condition"].update(
        alertAfter="1h30m"), "no duration shorthand"),
    (lambda d: d["spec"]["timeWindow"][0].update(duration="30s"), "no duration shorthand"),
    (lambda d: d["spec"]["alertPolicies"][0]["spec"]["conditions"].append({}), "exactly one condition"),
    (lambda d: d["spec"]["objectives"][0].update(op="lte"), "op/value forbidden"),
])
def test_the_checker_catches_each_broken_rule(documents, edit, problem):
    _, doc = documents[0]
    broken = yaml.safe_load(yaml.safe_dump(doc))
    edit(broken)
    assert any(problem in p for p in slo_problems(broken)), slo_problems(broken)
