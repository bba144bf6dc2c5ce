"""SLI spec -> which counters hold the valid, bad (or good) events, as label selectors.

One source of truth for both consumers: the rule generator renders the selectors as PromQL, and the
in-process ``SLOState`` matches the same selectors against samples from its own CollectorRegistry.
Histogram bucket bounds are rendered exactly as prometheus_client exposes them (``2.0``, ``0.005``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prometheus_client.utils import floatToGoString

from regslo.slo.model import SLISpec

# logs: a request is bad when the registry failed (5xx) or throttled (429); other 4xx are the client's
LOG_BAD_CODES = "5..|429"
LOG_VALID_CODES = "429|[^4].*"


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # "=" or "=~" (fully anchored, like PromQL)
    value: str

    def promql(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.label}{self.op}"{escaped}"'

    def matches(self, labels: dict[str, str]) -> bool:
        got = labels.get(self.label, "")
        if self.op == "=":
            return got == self.value
        return re.fullmatch(self.value, got) is not None


@dataclass(frozen=True)
class Selector:
    metric: str  # the exposed sample name (``..._total``, ``..._bucket``, ``..._count``)
    matchers: tuple[Matcher, ...] = ()

    def promql(self) -> str:
        if not self.matchers:
            return self.metric
        return f"{self.metric}{{{','.join(m.promql() for m in self.matchers)}}}"

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        return name == self.metric and all(m.matches(labels) for m in self.matchers)


@dataclass(frozen=True)
class EventQuery:
    """Valid events, and either bad events or good events (then bad = valid - good)."""

    valid: Selector
    bad: Selector | None = None
    good: Selector | None = None

    def selectors(self) -> tuple[Selector, ...]:
        return tuple(s for s in (self.valid, self.bad, self.good) if s is not None)


def le(bound: float) -> str:
    """The ``le`` label value prometheus_client writes for a bucket bound."""
    return floatToGoString(bound)


def _eq(**labels: str | None) -> tuple[Matcher, ...]:
    return tuple(Matcher(k, "=", v) for k, v in labels.items() if v)


def _registry_matchers(spec: SLISpec) -> tuple[Matcher, ...]:
    """Series without a region label (logs, inspector): one registry, or every registry of the SLO's region."""
    if spec.registry:
        return _eq(registry=spec.registry)
    if spec.regions_registries:
        return (Matcher("registry", "=~", "|".join(re.escape(r) for r in spec.regions_registries)),)
    return ()


def event_query(spec: SLISpec) -> EventQuery:
    if spec.source == "replication":
        base = _eq(source=spec.replication_source, destination=spec.destination)
        return EventQuery(valid=Selector("regslo_replication_checks_total", base),
                          good=Selector("regslo_replication_lag_seconds_bucket",
                                        base + (Matcher("le", "=", le(spec.threshold)),)))
    if spec.source == "probe":
        base = _eq(registry=spec.registry, region=spec.region, probe=spec.operation)
        runs = Selector("regslo_probe_runs_total", base)
        if spec.kind == "availability":
            return EventQuery(valid=runs, bad=Selector("regslo_probe_failures_total", base))
        return EventQuery(valid=runs, good=Selector("regslo_probe_duration_seconds_bucket",
                                                    base + (Matcher("le", "=", le(spec.threshold)),)))
    if spec.source == "inspect":  # coverage: inspected pushed images, good = with an artifact of the kind
        base = _registry_matchers(spec)
        return EventQuery(valid=Selector("regslo_pushed_images_inspected_total", base),
                          good=Selector("regslo_pushed_images_with_artifact_total",
                                        base + (Matcher("kind", "=", spec.artifact or "signature"),)))
    base = _registry_matchers(spec) + _eq(operation=spec.operation)
    if spec.kind == "availability":
        return EventQuery(valid=Selector("regslo_registry_requests_total", base + (Matcher("code", "=~", LOG_VALID_CODES),)),
                          bad=Selector("regslo_registry_requests_total", base + (Matcher("code", "=~", LOG_BAD_CODES),)))
    return EventQuery(valid=Selector("regslo_registry_request_duration_seconds_count", base),
                      good=Selector("regslo_registry_request_duration_seconds_bucket",
                                    base + (Matcher("le", "=", le(spec.threshold)),)))


def bad_count(query: EventQuery, valid: float | None, bad: float | None, good: float | None) -> float | None:
    """Bad events from window increases, exactly as the generated PromQL computes them."""
    if query.bad is not None:
        return bad if bad is not None else 0.0
    if valid is None:
        return None
    return max(valid - (good if good is not None else 0.0), 0.0)


def error_ratio(query: EventQuery, valid: float | None, bad: float | None, good: float | None) -> float | None:
    """bad / valid, or None ("no data") when there were no valid events: never NaN."""
    if valid is None or not valid > 0:
        return None
    return bad_count(query, valid, bad, good) / valid
