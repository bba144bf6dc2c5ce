"""How long a page (and its resolution) may take in a stack, derived from its timers and the SLO's tiers.

At a 100 % error ratio a tier fires once both of its windows hold enough errors: error budget x burn rate x
window seconds of them (the SRE Workbook's detection time). Around that come the pipeline's delays, each
at most one of its intervals: the next probe run and its timeout, the scrape that carries the failure, the
rule evaluation that sees it, and Alertmanager's group_wait before the first notification.
"""

from __future__ import annotations

from dataclasses import dataclass

from regslo.config import Config
from regslo.slo.burn import detection_bound


@dataclass(frozen=True)
class Bound:
    total: float
    parts: tuple[tuple[str, float], ...]

    def explain(self) -> str:
        return " + ".join(f"{name} {seconds:g}s" for name, seconds in self.parts) + f" = {self.total:g}s"


def _slo(config: Config, name: str):
    for slo in config.slos:
        if slo.name == name:
            return slo
    raise KeyError(f"no SLO named {name!r}")


def page_bound(config: Config, timing, slo_name: str) -> Bound:
    """Seconds from a registry breaking (every probe fails) to the page at the webhook receiver."""
    slo = _slo(config, slo_name)
    detection = detection_bound(slo, "page")  # docs/slo.md "Page-arrival bound": min of B x burn x long window
    if detection is None:
        raise ValueError(f"SLO {slo_name!r} has no page tier")
    parts = (("probe interval", config.probes.interval), ("probe timeout", config.probes.timeout),
             ("detection", round(detection, 2)), ("scrape", timing.scrape_interval),
             ("evaluation", timing.evaluation_interval), ("group_wait", timing.group_wait))
    return Bound(round(sum(p[1] for p in parts), 2), parts)


def resolve_bound(config: Config, timing, slo_name: str) -> Bound:
    """Seconds from the registry answering again to the last page of the SLO resolving: every page tier's
    short window must hold no error any more."""
    slo = _slo(config, slo_name)
    short = max(tier.short_window for tier in slo.tiers if tier.severity == "page")
    parts = (("short window", short), ("probe interval", config.probes.interval), ("scrape", timing.scrape_interval),
             ("evaluation", timing.evaluation_interval), ("group_interval", timing.group_interval))
    return Bound(round(sum(p[1] for p in parts), 2), parts)
