"""OpenSLO v1: export regslo SLOs, and import the ratio and threshold SLIs regslo can express.

Export (``regslo generate --openslo``): one ``kind: SLO`` document per SLO with an inline ``ratioMetric``
indicator over regslo's counters (``counter: true``: the queries are cumulative sums), a rolling time
window, ``Occurrences`` budgeting, and one inline alert policy per tier that notifies the tier's Alertmanager
receiver (an inline ``AlertNotificationTarget``). OpenSLO v1 gives a burn-rate condition a single
``lookbackWindow``: the long window goes there; ``alertAfter`` is ``0m`` because the Prometheus alert has no
``for:`` (OpenSLO's alertAfter is how long the condition must hold before alerting); the short window is
named in the policy's description. Names become RFC 1123 labels (``regslo/name`` keeps the original when
they differ, and the import restores it).

Import (``regslo generate --import-openslo FILE``): SLO documents whose indicator (inline or an ``SLI``
document in the same file) reads regslo metrics: a ``ratioMetric`` over the counters above, or a
``thresholdMetric`` over a regslo duration histogram with objective ``op: lt|lte`` and a bucket bound
as ``value`` (imported as a latency or freshness SLI: the share of events within that bound).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

from regslo.outputs.yamltext import dump
from regslo.slo.model import SLO, number, period_text
from regslo.slo.sli import event_query
from regslo.units import format_duration, parse_duration

API = "openslo/v1"
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"')
RATIO_KINDS = {  # (total metric, good/bad metric) -> (kind, source)
    ("regslo_probe_runs_total", "regslo_probe_failures_total"): ("availability", "probe"),
    ("regslo_probe_runs_total", "regslo_probe_duration_seconds_bucket"): ("latency", "probe"),
    ("regslo_registry_requests_total", "regslo_registry_requests_total"): ("availability", "logs"),
    ("regslo_registry_request_duration_seconds_count", "regslo_registry_request_duration_seconds_bucket"): ("latency", "logs"),
    ("regslo_replication_checks_total", "regslo_replication_lag_seconds_bucket"): ("freshness", "replication"),
}
THRESHOLD_KINDS = {"regslo_probe_duration_seconds": ("latency", "probe"),
                   "regslo_registry_request_duration_seconds": ("latency", "logs"),
                   "regslo_replication_lag_seconds": ("freshness", "replication")}


class OpenSLOImportError(ValueError):
    """The OpenSLO file cannot be imported; ``problems`` name the document and key."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _source(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


# OpenSLO v1 (as the reference go-sdk validates it): every metadata.name is an RFC 1123 DNS label (at most 63
# lowercase letters, digits and '-', starting and ending alphanumeric), displayName at most 63 characters,
# descriptions at most 1050, label keys like DNS labels that may also hold '.' and '_', durations a whole
# number and one unit of m h d w M Q Y, every alert policy exactly one condition and at least one
# notification target. tests/unit/slo/test_openslo_rules.py checks the output against each rule.
NAME_ANNOTATION = "regslo/name"  # the regslo SLO name when metadata.name had to differ from it
LABELS_ANNOTATION = "regslo/labels"  # every label, as JSON, when some key is not a valid OpenSLO label key
_LABEL_KEY = re.compile(r"^[a-z0-9]([-._a-z0-9]{0,61}[a-z0-9])?$")
DESCRIPTION_MAX, DISPLAY_NAME_MAX = 1050, 63


def dns_label(text: str) -> str:
    """``text`` as an RFC 1123 label: '.', '_' and other characters become '-', at most 63 characters (a
    longer one keeps its start and gets a short digest of the whole, so distinct inputs stay distinct)."""
    label = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-") or "x"
    if len(label) > 63:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        label = f"{label[:54].rstrip('-')}-{digest}"
    return label


def name_clashes(slos: list[SLO]) -> list[str]:
    """Problems when two SLO names become the same OpenSLO name (``a.b`` and ``a_b`` both map to ``a-b``)."""
    seen: dict[str, str] = {}
    out = []
    for slo in slos:
        label = dns_label(slo.name)
        if label in seen:
            out.append(f"slos: {seen[label]!r} and {slo.name!r} both become OpenSLO name {label!r}; rename one")
        seen.setdefault(label, slo.name)
    return out


def shorthand(seconds: float) -> str:
    """A duration in OpenSLO's shorthand: one whole number and one unit (d, h or m). Below a minute, or not a
    whole number of minutes, it is rounded up to whole minutes (OpenSLO has no seconds)."""
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{max(1, math.ceil(seconds / 60))}m"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def export(slo: SLO, receivers: dict[str, str] | None = None) -> str:
    """One OpenSLO v1 SLO document. ``receivers`` maps a tier severity to its Alertmanager receiver (the
    generated alertmanager.yml's by default); each alert policy notifies that receiver."""
    from regslo.outputs.alertmanager import PAGER, TICKET

    receivers = receivers or {"page": PAGER, "ticket": TICKET}
    query = event_query(slo.sli)
    ratio: dict[str, Any] = {"counter": True}
    if query.bad is not None:
        ratio["bad"] = _source(f"sum({query.bad.promql()})")
    else:
        ratio["good"] = _source(f"sum({query.good.promql()})")
    ratio["total"] = _source(f"sum({query.valid.promql()})")
    name = dns_label(slo.name)
    policies = []
    for t in slo.tiers:
        long_w, short_w = format_duration(t.long_window), format_duration(t.short_window)
        receiver = receivers.get(t.severity, receivers.get("ticket", TICKET))
        condition = {"kind": "burnrate", "op": "gt", "threshold": t.burn_rate,
                     "lookbackWindow": shorthand(t.long_window),
                     # OpenSLO: "the duration the condition needs to be valid for before alerting". The
                     # generated Prometheus alert has no `for:`: it fires at the first evaluation where both
                     # windows burn, so 0m. The short window has no field of its own; the description says it.
                     "alertAfter": "0m"}
        policies.append({
            "kind": "AlertPolicy",
            "metadata": {"name": dns_label(f"{slo.name}-{t.severity}-{long_w}")},
            "spec": {"description": _clip(
                         f"{t.severity} when the burn rate exceeds {number(t.burn_rate)}x over both {long_w} "
                         f"and {short_w} (regslo's Prometheus rule checks both windows; OpenSLO keeps one "
                         f"lookbackWindow, the long one)", DESCRIPTION_MAX),
                     "alertWhenBreaching": True,
                     "conditions": [{"kind": "AlertCondition",
                                     "metadata": {"name": dns_label(f"{slo.name}-burn-{long_w}-{short_w}")},
                                     "spec": {"severity": t.severity, "condition": condition}}],
                     "notificationTargets": [{
                         "kind": "AlertNotificationTarget",
                         "metadata": {"name": dns_label(receiver)},
                         "spec": {"target": "alertmanager",
                                  "description": f"Alertmanager receiver {receiver} (alerts/alertmanager.yml "
                                                 f"routes severity={t.severity} there)"}}]},
        })
    metadata: dict[str, Any] = {"name": name}
    description = slo.description or slo.name
    metadata["displayName"] = description if len(description) <= DISPLAY_NAME_MAX else slo.name
    labels = dict(slo.labels)
    good_labels = {k: v for k, v in labels.items() if _LABEL_KEY.match(k)}
    if good_labels:
        metadata["labels"] = good_labels
    annotations = {}
    if name != slo.name:
        annotations[NAME_ANNOTATION] = slo.name
    if good_labels != labels:
        annotations[LABELS_ANNOTATION] = json.dumps(labels, sort_keys=True)
    if annotations:
        metadata["annotations"] = annotations
    doc = {
        "apiVersion": API, "kind": "SLO",
        "metadata": metadata,
        "spec": {
            "description": _clip(slo.description, DESCRIPTION_MAX), "service": "container-registry",
            "indicator": {"metadata": {"name": dns_label(f"{slo.name}-sli")}, "spec": {"ratioMetric": ratio}},
            "timeWindow": [{"duration": shorthand(slo.period), "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"displayName": f"{number(slo.objective)}%", "target": slo.objective_ratio}],
            "alertPolicies": policies,
        },
    }
    return dump(doc, header=f"Generated by `regslo generate --openslo` from SLO {slo.name}")


# -- import ---------------------------------------------------------------------------------------------
def _parse_selector(query: Any, where: str, problems: list[str]) -> tuple[str, dict[str, str]] | None:
    if not isinstance(query, str):
        problems.append(f"{where}: must be a PromQL query string")
        return None
    names = [m for m in _SELECTOR.finditer(query) if m.group(1).startswith("regslo_")]
    if len(names) != 1:
        problems.append(f"{where}: must read exactly one regslo metric, got {query!r}")
        return None
    labels = {k: v for k, op, v in _MATCHER.findall(names[0].group(2) or "") if op in ("=", "=~")}
    return names[0].group(1), labels


def _query_at(spec: Any, key: str) -> Any:
    return (((spec or {}).get(key) or {}).get("metricSource") or {}).get("spec", {}).get("query")


def _sli_from_ratio(ratio: dict, where: str, problems: list[str]) -> dict | None:
    total = _parse_selector(_query_at(ratio, "total"), f"{where}.total", problems)
    which = "bad" if ratio.get("bad") else "good"
    part = _parse_selector(_query_at(ratio, which), f"{where}.{which}", problems)
    if not total or not part:
        return None
    found = RATIO_KINDS.get((total[0], part[0]))
    if found is None:
        problems.append(f"{where}: {total[0]} / {part[0]} is not an SLI regslo can express")
        return None
    kind, source = found
    return _sli(kind, source, {**total[1], **part[1]})


def _sli(kind: str, source: str, labels: dict[str, str], threshold: float | None = None) -> dict:
    sli: dict[str, Any] = {"kind": kind}
    if source == "replication":
        for key in ("source", "destination"):
            if labels.get(key):
                sli[key] = labels[key]
    else:
        sli["source"] = source
        op = labels.get("probe" if source == "probe" else "operation")
        if op:
            sli["operation"] = op
        for key in ("registry", "region"):
            if labels.get(key) and not any(c in labels[key] for c in "|.*"):
                sli[key] = labels[key]
    le = labels.get("le")
    if threshold is None and le:
        threshold = float(le)
    if kind != "availability" and threshold is not None:
        sli["threshold"] = format_duration(threshold)
    return sli


_SHORTHAND_UNITS = {"M": 30 * 86400, "Q": 90 * 86400, "Y": 365 * 86400}  # OpenSLO's month, quarter, year


def _period_seconds(text: Any) -> float:
    """An OpenSLO duration shorthand (``28d``, ``4w``, ``1M``, ``1Q``, ``1Y``) or a regslo duration."""
    match = re.fullmatch(r"\s*(\d+)\s*([MQY])\s*", text) if isinstance(text, str) else None
    if match:
        return int(match.group(1)) * _SHORTHAND_UNITS[match.group(2)]
    return parse_duration(text)


def _import_slo(doc: dict, slis: dict[str, dict], index: int, problems: list[str]) -> dict | None:
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    name = annotations.get(NAME_ANNOTATION) or metadata.get("name")
    where = f"documents[{index}] (SLO {name})"
    spec = doc.get("spec") or {}
    indicator = spec.get("indicator") or slis.get(spec.get("indicatorRef") or "")
    if not indicator:
        problems.append(f"{where}.spec.indicator: missing (and no SLI named by indicatorRef)")
        return None
    ispec = indicator.get("spec") or {}
    objectives = spec.get("objectives") or [{}]
    objective = objectives[0]
    target = objective.get("target")
    if target is None and objective.get("targetPercent") is not None:
        target = objective["targetPercent"] / 100
    if not isinstance(target, (int, float)) or not 0 < target < 1:
        problems.append(f"{where}.spec.objectives[0].target: must be a ratio between 0 and 1")
        return None
    if "ratioMetric" in ispec:
        sli = _sli_from_ratio(ispec["ratioMetric"] or {}, f"{where}.spec.indicator.spec.ratioMetric", problems)
    elif "thresholdMetric" in ispec:
        sel = _parse_selector(_query_at({"m": ispec["thresholdMetric"]}, "m"),
                              f"{where}.spec.indicator.spec.thresholdMetric", problems)
        base = re.sub(r"_(bucket|count|sum)$", "", sel[0]) if sel else None
        if sel and (base not in THRESHOLD_KINDS or objective.get("op") not in ("lt", "lte")
                    or not isinstance(objective.get("value"), (int, float))):
            problems.append(f"{where}: a thresholdMetric imports only as 'op: lt|lte' with a value on "
                            f"{', '.join(THRESHOLD_KINDS)}")
            return None
        sli = _sli(*THRESHOLD_KINDS[base], sel[1], float(objective["value"])) if sel else None
    else:
        problems.append(f"{where}.spec.indicator.spec: only ratioMetric and thresholdMetric can be imported")
        return None
    if sli is None:
        return None
    windows = spec.get("timeWindow") or [{}]
    try:
        period = period_text(_period_seconds(windows[0].get("duration", "30d")))
    except ValueError as exc:
        problems.append(f"{where}.spec.timeWindow[0].duration: {exc}")
        return None
    out = {"name": name, "description": spec.get("description") or (doc.get("metadata") or {}).get("displayName") or "",
           "sli": sli, "objective": float(f"{target * 100:.10g}"), "period": period}
    given = metadata.get("labels") if isinstance(metadata.get("labels"), dict) else {}
    labels = {k: v for k, v in given.items() if isinstance(k, str) and isinstance(v, str)}
    try:
        extra = json.loads(annotations.get(LABELS_ANNOTATION) or "{}")
    except (TypeError, ValueError):
        extra = None
    if not isinstance(extra, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        problems.append(f"{where}.metadata.annotations.{LABELS_ANNOTATION}: not a JSON object of string labels")
        return None
    labels.update(extra)
    if labels:
        out["labels"] = labels
    return out


def import_text(text: str, source: str = "<openslo>") -> str:
    """The ``slos:`` YAML equivalent to the OpenSLO documents in ``text``; raises ``OpenSLOImportError``."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise OpenSLOImportError([f"{source}: invalid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    problems: list[str] = []
    if not all(isinstance(d, dict) for d in docs):
        raise OpenSLOImportError([f"{source}: every document must be a mapping"])
    slis = {(d.get("metadata") or {}).get("name"): d for d in docs if d.get("kind") == "SLI"}
    out = []
    for i, doc in enumerate(docs):
        if doc.get("kind") != "SLO":
            continue
        if doc.get("apiVersion") != API:
            problems.append(f"documents[{i}].apiVersion: must be {API}, got {doc.get('apiVersion')!r}")
            continue
        slo = _import_slo(doc, slis, i, problems)
        if slo:
            out.append(slo)
    if not out and not problems:
        problems.append(f"{source}: no OpenSLO v1 SLO documents found")
    if problems:
        raise OpenSLOImportError(problems)
    return dump({"slos": out}, header=f"Imported from {source} by `regslo generate --import-openslo`; "
                                      "paste into your regslo config and run check-config")


def import_file(path: Path) -> str:
    try:
        text = path.read_text()
    except OSError as exc:
        raise OpenSLOImportError([f"{path}: cannot read: {exc.strerror}"]) from None
    return import_text(text, str(path))



