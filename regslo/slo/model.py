"""The SLO model: what ``slos:`` in the config becomes, parsed once and shared by every generator.

Durations are seconds (float), objectives are percentages as the user wrote them. ``error_budget`` is
computed in decimal so that ``99.9`` gives exactly ``0.001`` in generated PromQL, not
``0.0010000000000000009``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

KINDS = ("availability", "latency", "freshness", "coverage")
SOURCES = ("probe", "logs")
SEVERITIES = ("page", "ticket")
PROBE_OPERATIONS = ("ping", "push", "pull")
LOG_OPERATIONS = ("ping", "list", "pull", "push", "delete", "other")


def number(value: float) -> str:
    """Shortest text for a number in PromQL and labels: ``14.4``, ``6``, ``0.001``."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def period_text(seconds: float) -> str:
    """A period as people say it and PromQL accepts: ``30d`` rather than ``4w2d``."""
    from regslo.units import format_duration
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    return format_duration(seconds)


@dataclass(frozen=True)
class SLISpec:
    """Which events are good and which are valid. See docs/slo.md for every kind x source."""

    kind: str  # availability | latency | freshness
    source: str  # probe | logs | replication (freshness always reads the replication probe)
    operation: str | None = None  # probe name or log operation; None for freshness
    registry: str | None = None
    region: str | None = None
    regions_registries: tuple[str, ...] = ()  # logs + region: the registries in that region
    replication_source: str | None = None
    destination: str | None = None
    threshold: float | None = None  # seconds; latency and freshness
    artifact: str | None = None  # coverage: the artifact kind pushed images must carry (signature, sbom, ...)

    def selector_labels(self) -> dict[str, str]:
        """Labels that say what the SLO looks at; copied onto its rules so Alertmanager can group."""
        out = {}
        if self.registry:
            out["registry"] = self.registry
        elif self.destination:
            out["registry"] = self.destination
        if self.region:
            out["region"] = self.region
        if self.replication_source:
            out["source"] = self.replication_source
        if self.destination:
            out["destination"] = self.destination
        return out


@dataclass(frozen=True)
class Tier:
    """One multi-window burn-rate alert: fires when both windows burn faster than ``burn_rate``."""

    severity: str  # page | ticket
    long_window: float
    short_window: float
    burn_rate: float

    def budget_spent(self, period: float) -> float:
        """Share of the period's error budget spent when this tier starts firing."""
        return self.burn_rate * self.long_window / period

    def detection_time(self, error_budget: float, error_ratio: float = 1.0) -> float:
        """Seconds from the start of an outage with this error ratio until the long window fires."""
        return error_budget * self.burn_rate * self.long_window / error_ratio


@dataclass(frozen=True)
class SLO:
    name: str
    sli: SLISpec
    objective: float  # percent, 0 < objective < 100
    period: float  # seconds
    tiers: tuple[Tier, ...]
    description: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    runbook_url: str = ""
    no_data_after: float = 900.0
    scaled: float = 1.0  # factor applied to the workbook windows (1 unless period <= 1d)
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def error_budget(self) -> float:
        """1 - objective as a ratio, exact in decimal: 99.9 -> 0.001."""
        return float((Decimal(100) - Decimal(repr(self.objective))) / Decimal(100))

    @property
    def objective_ratio(self) -> float:
        return float(Decimal(repr(self.objective)) / Decimal(100))

    @property
    def max_burn_rate(self) -> float:
        return 1.0 / self.error_budget

    def windows(self) -> tuple[float, ...]:
        """Every distinct alert window, shortest first."""
        return tuple(sorted({w for t in self.tiers for w in (t.long_window, t.short_window)}))

    def rule_labels(self) -> dict[str, str]:
        """Labels every rule of this SLO carries: slo, selector labels, then the user's labels."""
        out = {"slo": self.name}
        out.update(self.sli.selector_labels())
        out.update(dict(self.labels))
        return out
