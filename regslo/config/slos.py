"""The ``slos:`` section: validated into ``regslo.slo.model.SLO`` objects. See docs/slo.md.

```yaml
slos:
  - name: pull-availability
    sli: {kind: availability, source: probe, operation: pull, registry: us}
    objective: 99.9
    period: 30d
    labels: {team: platform}
    tiers:            # optional; default: the workbook tiers derived for the period
      - {severity: page, long_window: 1h, short_window: 5m, budget_share: 2}
    no_data_after: 15m
```
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from regslo.config.base import Errors, Section, join
from regslo.sli.buckets import PROBE_DURATION_BUCKETS, REPLICATION_LAG_BUCKETS, REQUEST_DURATION_BUCKETS
from regslo.slo.burn import burn_for_share, default_tiers, round_burn, scale_factor
from regslo.slo.model import (KINDS, LOG_OPERATIONS, PROBE_OPERATIONS, SEVERITIES, SLISpec, SLO, Tier,
                              number)
from regslo.slo.settings import AlertingSettings
from regslo.units import format_duration

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = {"slo", "severity", "long_window", "short_window", "burn_rate", "window", "alertname",
                   "registry", "region", "source", "destination", "le", "job", "instance"}
_SLO_KEYS = {"name", "description", "sli", "objective", "period", "labels", "runbook_url", "tiers",
             "no_data_after"}
_SLI_KEYS = {"kind", "source", "operation", "registry", "region", "destination", "threshold", "artifact"}
_TIER_KEYS = {"severity", "long_window", "short_window", "burn_rate", "budget_share"}
BUCKETS = {"probe": ("regslo_probe_duration_seconds", PROBE_DURATION_BUCKETS),
           "logs": ("regslo_registry_request_duration_seconds", REQUEST_DURATION_BUCKETS),
           "replication": ("regslo_replication_lag_seconds", REPLICATION_LAG_BUCKETS)}
MIN_PERIOD = 3600.0


def parse(raw: Any, path: str, errors: Errors, config: Any) -> list:
    """Validate the ``slos`` section; return the list of SLO models."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.add(path, f"must be a list, got {type(raw).__name__}")
        return []
    settings = getattr(config, "alerting", None) or AlertingSettings()
    interval = getattr(getattr(config, "probes", None), "interval", 30.0) or 30.0
    min_window = max(settings.min_window, 2 * interval)
    out: list[SLO] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        slo = _parse_one(Section(item, join(path, i), errors, known=_SLO_KEYS), errors, config, min_window,
                         settings)
        if slo is None:
            continue
        if slo.name in seen:
            errors.add(join(join(path, i), "name"), f"duplicate SLO name {slo.name!r} (also {path}[{seen[slo.name]}])")
            continue
        seen[slo.name] = i
        out.append(slo)
    return out


def _parse_one(sec: Section, errors: Errors, config: Any, min_window: float,
               settings: AlertingSettings) -> SLO | None:
    before = len(errors.problems)
    name = sec.str("name", required=True)
    if name is not None and not _NAME.match(name):
        errors.add(sec.key("name"), f"must be lowercase letters, digits, '.', '_' or '-' (at most 63), got {name!r}")
    sli = _parse_sli(Section(sec.mapping("sli"), sec.key("sli"), errors, known=_SLI_KEYS), errors, config)
    if not sec.has("sli"):
        errors.add(sec.key("sli"), "is required")
    objective = sec.float("objective", required=True)
    if objective is not None:
        if not 0 < objective < 100:
            errors.add(sec.key("objective"), f"must be a percentage between 0 and 100 (exclusive), got {objective:g}")
            objective = None
        elif objective >= 99.99:
            errors.warn(sec.key("objective"), f"{objective:g}% leaves {format_duration(round(2592000 * (100 - objective) / 100))} "
                                              "of errors per 30 days: alerts will be noisy and slow probes cannot prove it")
    period = sec.duration("period", 30 * 86400.0)
    if period is not None and (period < MIN_PERIOD or period % 300):
        errors.add(sec.key("period"), f"must be at least 1h and a whole number of 5m, got {format_duration(period)}")
        period = None
    labels = _parse_labels(sec, errors)
    runbook = sec.str("runbook_url")
    for key in ("description", "runbook_url"):
        if "{{" in str(sec.raw.get(key) or "") or "}}" in str(sec.raw.get(key) or ""):
            errors.add(sec.key(key), "must not contain {{ or }}: it goes into Prometheus alert templates")
    # pushes are sparse (nights, weekends): a coverage SLI waits 3 days (a weekend) before calling silence "no data"
    default_no_data = {"logs": 3600.0, "inspect": 3 * 86400.0}.get(getattr(sli, "source", None), 900.0)
    no_data = sec.duration("no_data_after", default_no_data)
    if no_data is not None and no_data < 600:
        errors.add(sec.key("no_data_after"), "must be at least 10m")
    if len(errors.problems) > before or None in (name, sli, objective, period):
        return None
    slo = SLO(name=name, sli=sli, objective=objective, period=period, tiers=(),
              description=sec.str("description", "") or "", labels=labels,
              runbook_url=runbook or f"{settings.runbook_base_url}/{runbook_name(sli)}.md",
              no_data_after=no_data or default_no_data)
    if sec.has("tiers"):
        tiers = _parse_tiers(sec, errors, slo, min_window)
        notes: list[str] = []
    else:
        tiers, notes = default_tiers(period, slo.error_budget, min_window)
        for note in notes:
            errors.warn(sec.path, note)
    if not tiers and len(errors.problems) == before:
        errors.add(sec.key("tiers"), "no alert tier can fire for this objective and period; give tiers explicitly")
    return replace(slo, tiers=tuple(tiers), notes=tuple(notes),
                   scaled=1.0 if sec.has("tiers") else scale_factor(period))


def runbook_name(sli: SLISpec) -> str:
    """The generated runbook for this SLI: docs/runbooks/<name>.md."""
    return "freshness" if sli.kind == "freshness" else f"{sli.source}-{sli.kind}"  # inspect-coverage, ...


def _parse_sli(sec: Section, errors: Errors, config: Any) -> SLISpec | None:
    before = len(errors.problems)
    kind = sec.choice("kind", KINDS, required=True)
    names = [r.name for r in getattr(config, "registries", [])]
    regions = sorted({r.region for r in getattr(config, "registries", [])})
    if kind == "freshness":
        return _parse_freshness(sec, errors, config, names, before)
    if kind == "coverage":
        return _parse_coverage(sec, errors, config, names, regions, before)
    if sec.has("artifact"):
        errors.add(sec.key("artifact"), "only coverage SLIs name an artifact kind")
    source = sec.choice("source", ("probe", "logs"), required=True)
    operation = sec.str("operation")
    registry = _known(sec, "registry", names, errors)
    region = _known(sec, "region", regions, errors)
    if sec.has("destination"):
        errors.add(sec.key("destination"), "only freshness SLIs select a replication destination")
    if source == "probe":
        enabled = getattr(getattr(config, "probes", None), "enabled", PROBE_OPERATIONS)
        if operation is None:
            errors.add(sec.key("operation"), f"is required for probe SLIs (one of {', '.join(PROBE_OPERATIONS)})")
        elif operation not in PROBE_OPERATIONS:
            errors.add(sec.key("operation"), f"unknown probe {operation!r} (known: {', '.join(PROBE_OPERATIONS)})")
        elif operation not in enabled:
            errors.add(sec.key("operation"), f"probe {operation!r} is not in probes.enabled, so it has no data")
    elif source == "logs":
        if operation is not None and operation not in LOG_OPERATIONS:
            errors.add(sec.key("operation"), f"unknown log operation {operation!r} (known: {', '.join(LOG_OPERATIONS)})")
        if getattr(config, "logs", None) is None:
            errors.warn(sec.path, "logs SLI but no logs: section; its rules will have no data until one is added")
    threshold = _threshold(sec, errors, kind, source)
    if len(errors.problems) > before or kind is None or source is None:
        return None
    in_region: tuple[str, ...] = ()
    if source == "logs" and region:  # log metrics carry no region label: select its registries instead
        in_region = tuple(sorted(r.name for r in config.registries if r.region == region))
    return SLISpec(kind=kind, source=source, operation=operation, registry=registry, region=region,
                   regions_registries=in_region, threshold=threshold)


def _parse_freshness(sec: Section, errors: Errors, config: Any, names: list[str], before: int) -> SLISpec | None:
    pairs = [(p.source, p.destination) for p in getattr(config, "replication", [])]
    for key in ("operation", "registry", "region"):
        if sec.has(key):
            errors.add(sec.key(key), "freshness SLIs select replication pairs with source and destination only")
    src = _known(sec, "source", names, errors, hint="for freshness, source names the replication source registry")
    dst = _known(sec, "destination", names, errors)
    if not pairs:
        errors.add(sec.path, "freshness needs at least one replication pair (replication: section)")
    elif src or dst:
        if not any((src in (None, s)) and (dst in (None, d)) for s, d in pairs):
            errors.add(sec.path, f"no replication pair {src or '*'} -> {dst or '*'} is configured "
                                 f"(pairs: {', '.join(f'{s} -> {d}' for s, d in pairs)})")
    threshold = _threshold(sec, errors, "freshness", "replication")
    if len(errors.problems) > before:
        return None
    return SLISpec(kind="freshness", source="replication", replication_source=src, destination=dst,
                   threshold=threshold)


def _parse_coverage(sec: Section, errors: Errors, config: Any, names: list[str], regions: list[str],
                    before: int) -> SLISpec | None:
    """Share of pushed images (image inspector) that carry an artifact of one kind: good = with it,
    valid = inspected."""
    from regslo.sources.inspect.kinds import KINDS as ARTIFACT_KINDS

    sec.choice("source", ("inspect",), "inspect")
    artifact = sec.choice("artifact", ARTIFACT_KINDS, required=True)
    for key in ("operation", "destination", "threshold"):
        if sec.has(key):
            errors.add(sec.key(key), "coverage SLIs select pushed images with registry or region and artifact only")
    registry = _known(sec, "registry", names, errors)
    region = _known(sec, "region", regions, errors)
    inspect = getattr(config, "inspect", None)
    if inspect is None:
        errors.add(sec.path, "coverage SLIs count what the image inspector reads: add an inspect: section")
    elif registry and registry not in inspect.registries:
        errors.add(sec.key("registry"), f"the inspector does not read registry {registry!r} "
                                        f"(inspect.registries: {', '.join(inspect.registries) or 'none'})")
    if len(errors.problems) > before:
        return None
    in_region = tuple(sorted(r.name for r in config.registries if r.region == region)) if region else ()
    return SLISpec(kind="coverage", source="inspect", registry=registry, region=region,
                   regions_registries=in_region, artifact=artifact)


def _known(sec: Section, key: str, known: list[str], errors: Errors, hint: str = "") -> str | None:
    value = sec.str(key)
    if value is not None and value not in known:
        extra = f"; {hint}" if hint else ""
        errors.add(sec.key(key), f"unknown {key if key != 'source' else 'registry'} {value!r} "
                                 f"(known: {', '.join(known) or 'none'}){extra}")
        return None
    return value


def _threshold(sec: Section, errors: Errors, kind: str | None, source: str | None) -> float | None:
    threshold = sec.duration("threshold")
    if kind == "availability":
        if threshold is not None:
            errors.add(sec.key("threshold"), "only latency and freshness SLIs take a threshold")
        return None
    if kind is None or source is None:
        return threshold
    if threshold is None:
        if not sec.has("threshold"):
            errors.add(sec.key("threshold"), f"is required for {kind} SLIs")
        return None
    metric, bounds = BUCKETS[source]
    if threshold not in bounds:
        errors.add(sec.key("threshold"), f"{format_duration(threshold)} is not a bucket bound of {metric}; "
                                         f"bounds: {', '.join(format_duration(b) for b in bounds)}")
        return None
    return threshold


def _parse_labels(sec: Section, errors: Errors) -> tuple[tuple[str, str], ...]:
    out = []
    for key, value in sorted(sec.mapping("labels").items(), key=lambda kv: str(kv[0])):
        path = join(sec.key("labels"), str(key))
        if not isinstance(key, str) or not _LABEL.match(key) or key.startswith("__"):
            errors.add(path, "must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)")
        elif key in RESERVED_LABELS:
            errors.add(path, f"is set by regslo itself (reserved: {', '.join(sorted(RESERVED_LABELS))})")
        elif not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value) == "":
            errors.add(path, "must be a non-empty string")
        else:
            out.append((key, str(value)))
    return tuple(out)


def _parse_tiers(sec: Section, errors: Errors, slo: SLO, min_window: float) -> list[Tier]:
    tiers: list[Tier] = []
    for i, item in enumerate(sec.list("tiers")):
        tsec = Section(item, join(sec.key("tiers"), i), errors, known=_TIER_KEYS)
        severity = tsec.choice("severity", SEVERITIES, required=True)
        long_w = tsec.duration("long_window", required=True)
        short_w = tsec.duration("short_window", max(round(long_w / 12), min_window) if long_w else None)
        if tsec.has("burn_rate") == tsec.has("budget_share"):
            errors.add(tsec.path, "give exactly one of burn_rate or budget_share (percent of the budget)")
            continue
        if None in (severity, long_w, short_w):
            continue
        if tsec.has("burn_rate"):
            burn = tsec.float("burn_rate")
        else:
            share = tsec.float("budget_share")
            burn = burn_for_share(share / 100, slo.period, long_w) if share and 0 < share <= 100 else None
            if burn is None:
                errors.add(tsec.key("budget_share"), "must be a percentage in (0, 100]")
        if burn is None:
            continue
        if burn <= 0:
            errors.add(tsec.key("burn_rate"), "must be positive")
        elif burn >= slo.max_burn_rate:
            errors.add(tsec.path, f"burn rate {number(burn)} can never be reached at objective {slo.objective:g}% "
                                  f"(the maximum, a 100% error ratio, is {number(round_burn(slo.max_burn_rate))})")
        if long_w > slo.period:
            errors.add(tsec.key("long_window"), f"{format_duration(long_w)} is longer than the period "
                                                f"{format_duration(slo.period)}")
        if short_w >= long_w:
            errors.add(tsec.key("short_window"), "must be shorter than long_window")
        for key, window in (("long_window", long_w), ("short_window", short_w)):
            if window < min_window or window % 1:
                errors.add(tsec.key(key), f"must be whole seconds and at least {format_duration(min_window)} "
                                          "(alerting.min_window, and two probe intervals)")
        tiers.append(Tier(severity, long_w, short_w, burn))
    return tiers
