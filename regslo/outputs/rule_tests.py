"""SLO -> promtool unit tests (``OUT/alerts/<slo>_test.yml``) that prove the generated alerts.

Each SLO gets five scenarios on synthetic counters (the exact metric names and labels regslo exports,
plus "noise" series its selectors must ignore):

1. outage: 100 % errors after a clean history page within the detection bound plus one evaluation
   interval, and every page tier resets within its short window after recovery;
2. an error ratio just under the lowest page threshold never pages;
3. a sustained low burn opens a ticket and no page;
4. a traffic gap gives no alert and no NaN/Inf in any record; a gap longer than ``no_data_after``
   raises the no-data alert, and the period SLI is still a number afterwards;
5. start-up: healthy traffic from the first evaluation raises no no-data alert (the counters have one
   sample at first, so the window's increase is not there yet), and a source that stays silent from the
   start (its series present at 0, or missing altogether) raises it only once ``no_data_after`` has passed.

Expected alerts, values and annotations come from ``Simulation``, which recomputes the rules in Python
with the same float operations. Every series starts at 0 and has a sample at each window boundary, so
Prometheus' ``increase()`` is exactly last - first (no extrapolation). The generator also checks each
scenario's claim against the simulation and refuses to write a test that would assert nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from regslo.outputs import rules as R
from regslo.outputs.yamltext import dump
from regslo.sli.buckets import PROBE_DURATION_BUCKETS, REPLICATION_LAG_BUCKETS, REQUEST_DURATION_BUCKETS
from regslo.slo.model import PROBE_OPERATIONS, SLO, Tier, period_text
from regslo.slo.sli import le
from regslo.units import format_duration

FIVE_MIN = 300


class ScenarioError(ValueError):
    """A scenario could not prove what it claims for this SLO (a bug or an impossible SLO)."""


@dataclass
class Simulation:
    """Cumulative valid and bad events at every ``dt`` from time 0, and the rules evaluated on them."""

    slo: SLO
    dt: int
    valid: list[int]
    bad: list[int]

    def _inc(self, series: list[int], t: int, window: float) -> int | None:
        i = t // self.dt
        j = max(0, i - int(window) // self.dt)
        return None if i - j < 1 or i >= len(series) else series[i] - series[j]

    def error_ratio(self, window: float, t: int) -> float | None:
        valid = self._inc(self.valid, t, window)
        if valid is None or valid <= 0:
            return None
        return self._inc(self.bad, t, window) / valid

    def burn(self, window: float, t: int) -> float | None:
        ratio = self.error_ratio(window, t)
        return None if ratio is None else ratio / self.slo.error_budget

    def budget_remaining(self, t: int) -> float | None:
        """The period record: sums of the 5m increases at every 5m step in [t - period, t]."""
        bad = valid = 0
        seen = False
        for s in range(0, t + 1, FIVE_MIN):
            if s < t - self.slo.period:
                continue
            v = self._inc(self.valid, s, FIVE_MIN)
            if v is not None:
                seen = True
                valid += v
                bad += self._inc(self.bad, s, FIVE_MIN)
        if not seen or valid <= 0:
            return None
        return 1 - (bad / valid) / self.slo.error_budget

    def firing(self, tier: Tier, t: int) -> float | None:
        """The alert's value (the long-window burn rate) when the tier fires at ``t``, else None."""
        long_b, short_b = self.burn(tier.long_window, t), self.burn(tier.short_window, t)
        if long_b is not None and short_b is not None and long_b > tier.burn_rate and short_b > tier.burn_rate:
            return long_b
        return None

    def no_data(self, t: int) -> bool:
        """No valid events over ``no_data_after``, and the rules (evaluated from time 0) have watched that long."""
        if t < self.slo.no_data_after:
            return False
        inc = self._inc(self.valid, t, self.slo.no_data_after)
        return inc is None or inc <= 0


def _compress(values: list[int]) -> str:
    """promtool's expanding notation: runs of a constant step become ``start+stepxcount``."""
    parts, i = [], 0
    while i < len(values):
        j = i
        step = values[i + 1] - values[i] if i + 1 < len(values) else 0
        while j + 1 < len(values) and values[j + 1] - values[j] == step:
            j += 1
        parts.append(f"{values[i]}+{step}x{j - i}" if j > i else str(values[i]))
        i = j + 1
    return " ".join(parts)


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _next_bound(bounds: tuple[float, ...], threshold: float) -> float:
    later = [b for b in bounds if b > threshold]
    return later[0] if later else bounds[-2]


def input_series(slo: SLO, sim: Simulation) -> list[dict[str, str]]:
    """The metrics regslo exports carrying ``sim``'s events, and noise its selectors must ignore."""
    spec, valid, bad = slo.sli, sim.valid, sim.bad
    good = [v - b for v, b in zip(valid, bad)]
    ramp = [i * 1000 for i in range(len(valid))]
    out: list[tuple[str, list[int]]] = []
    if spec.source == "probe":
        base = {"registry": spec.registry or "test", "region": spec.region or "test", "probe": spec.operation}
        other = {**base, "probe": next(p for p in PROBE_OPERATIONS if p != spec.operation)}
        out.append(("regslo_probe_runs_total" + _labels(**base), valid))
        out.append(("regslo_probe_runs_total" + _labels(**other), ramp))
        out.append(("regslo_probe_failures_total" + _labels(**other, reason="timeout"), ramp))
        if spec.kind == "availability":
            out.append(("regslo_probe_failures_total" + _labels(**base, reason="server_error"), bad))
        else:
            b = "regslo_probe_duration_seconds_bucket"
            out.append((b + _labels(**base, le=le(spec.threshold)), good))
            out.append((b + _labels(**base, le=le(_next_bound(PROBE_DURATION_BUCKETS, spec.threshold))), valid))
    elif spec.source == "logs":
        registry = spec.registry or (spec.regions_registries[0] if spec.regions_registries else "test")
        base = {"registry": registry, "operation": spec.operation or "pull"}
        if spec.kind == "availability":
            m = "regslo_registry_requests_total"
            throttled = [b // 2 for b in bad]  # 429s are bad too; 404s are the client's
            out += [(m + _labels(**base, code="200"), good),
                    (m + _labels(**base, code="503"), [b - t for b, t in zip(bad, throttled)]),
                    (m + _labels(**base, code="429"), throttled), (m + _labels(**base, code="404"), ramp)]
        else:
            m = "regslo_registry_request_duration_seconds"
            out += [(m + "_count" + _labels(**base), valid),
                    (m + "_bucket" + _labels(**base, le=le(spec.threshold)), good),
                    (m + "_bucket" + _labels(**base, le=le(_next_bound(REQUEST_DURATION_BUCKETS, spec.threshold))), valid)]
    elif spec.source == "inspect":
        registry = spec.registry or (spec.regions_registries[0] if spec.regions_registries else "test")
        m = "regslo_pushed_images_with_artifact_total"
        other = next(k for k in ("signature", "sbom") if k != spec.artifact)
        out += [("regslo_pushed_images_inspected_total" + _labels(registry=registry), valid),
                (m + _labels(registry=registry, kind=spec.artifact), good),
                (m + _labels(registry=registry, kind=other), valid)]
    else:
        base = {"source": spec.replication_source or "src", "destination": spec.destination or "dst"}
        m = "regslo_replication_lag_seconds_bucket"
        out += [("regslo_replication_checks_total" + _labels(**base), valid),
                (m + _labels(**base, le=le(spec.threshold)), good),
                (m + _labels(**base, le=le(_next_bound(REPLICATION_LAG_BUCKETS, spec.threshold))), valid)]
    return [{"series": name, "values": _compress(values)} for name, values in out]


class Builder:
    """Scenarios for one SLO; ``dt`` divides every window so each has a sample on its boundary."""

    def __init__(self, slo: SLO, config: Any):
        self.slo = slo
        self.runbooks, self.dashboards = R.settings_of(config)
        windows = [int(w) for w in slo.windows()] + [60, FIVE_MIN, int(slo.no_data_after)]
        self.dt = math.gcd(*windows)
        self.pages = [t for t in slo.tiers if t.severity == "page"]
        self.tickets = [t for t in slo.tiers if t.severity == "ticket"]
        lowest = min((t.burn_rate * slo.error_budget for t in slo.tiers), default=slo.error_budget)
        self.n = max(1000, 10 ** math.ceil(math.log10(1000 / lowest)))  # valid events per step

    def ceil(self, seconds: float) -> int:
        return int(math.ceil(seconds / self.dt) * self.dt)

    def simulate(self, end: int, bad_ratio: Any) -> Simulation:
        """Events per step: ``self.n`` valid, ``bad_ratio(t)`` of them bad (t = end of the step)."""
        valid, bad = [0], [0]
        for i in range(1, end // self.dt + 1):
            valid.append(valid[-1] + self.n)
            bad.append(bad[-1] + int(round(bad_ratio(i * self.dt) * self.n)))
        return Simulation(self.slo, self.dt, valid, bad)

    # -- expected alerts ----------------------------------------------------------------------------
    def alerts(self, sim: Simulation, severity: str, t: int) -> list[dict[str, Any]]:
        out = []
        for tier in self.slo.tiers:
            value = sim.firing(tier, t) if tier.severity == severity else None
            if value is None:
                continue
            rule = R.tier_alert(self.slo, tier, self.dashboards)
            budget = sim.budget_remaining(t)
            left = (f"{budget * 100:.4g}% of the {period_text(self.slo.period)} error budget is left."
                    if budget is not None else "The error budget is not known yet.")
            ann = dict(rule["annotations"])
            ann["description"] = (ann["description"].replace('{{ $value | printf "%.1f" }}', f"{value:.1f}")
                                  .replace(R.budget_left_template(self.slo), left))
            out.append({"exp_labels": rule["labels"], "exp_annotations": ann})
        return out

    def alert_test(self, sim: Simulation, severity: str, t: int) -> dict[str, Any]:
        return {"eval_time": format_duration(t) if t else "0s", "alertname": R.ALERT_NAMES[severity],
                "exp_alerts": self.alerts(sim, severity, t)}

    def no_data_test(self, sim: Simulation, t: int) -> dict[str, Any]:
        rule = R.no_data_alert(self.slo, self.runbooks, self.dashboards)
        exp = [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}] if sim.no_data(t) else []
        return {"eval_time": format_duration(t), "alertname": R.NO_DATA_ALERT, "exp_alerts": exp}

    def nan_tests(self, t: int) -> list[dict[str, Any]]:
        tests = []
        for name in R.RECORDS:
            m = f'{name}{{slo="{self.slo.name}"}}'
            tests.append({"expr": f"count(({m} != {m}) or (abs({m}) == +Inf)) or vector(0)",
                          "eval_time": format_duration(t), "exp_samples": [{"labels": "{}", "value": 0}]})
        return tests

    def group(self, name: str, sim: Simulation, alerts: list, exprs: list | None = None) -> dict[str, Any]:
        out = {"name": name, "interval": format_duration(self.dt), "input_series": input_series(self.slo, sim),
               "alert_rule_test": alerts}
        if exprs:
            out["promql_expr_test"] = exprs
        return out

    @staticmethod
    def require(condition: bool, claim: str) -> None:
        if not condition:
            raise ScenarioError(claim)

    # -- scenarios -----------------------------------------------------------------------------------
    def outage(self) -> dict[str, Any]:
        severity = "page" if self.pages else "ticket"
        tiers = self.pages or self.tickets
        budget = self.slo.error_budget
        fastest = min(tiers, key=lambda t: t.detection_time(budget))
        start = int(fastest.long_window)  # a full clean window before the outage: the bound is exact
        bound = fastest.detection_time(budget)
        recovery = start + self.ceil(max(t.detection_time(budget) for t in tiers)) + self.dt
        end = recovery + int(max(t.short_window for t in tiers)) + self.dt
        sim = self.simulate(end, lambda t: 1.0 if start < t <= recovery else 0.0)
        detect = start + (int(bound // self.dt) + 1) * self.dt
        self.require(not self.alerts(sim, severity, start), "no alert before the outage")
        self.require(sim.firing(fastest, detect) is not None,
                     f"{severity} within {format_duration(bound)} + one evaluation interval of a 100% outage")
        tests = [self.alert_test(sim, severity, start), self.alert_test(sim, severity, detect)]
        for tier in tiers:
            t = recovery + int(tier.short_window)
            self.require(sim.firing(tier, t) is None, "resets within the short window after recovery")
            tests.append(self.alert_test(sim, severity, t))
        return self.group(f"100% outage: {severity} within {format_duration(bound)} + one evaluation interval, "
                          "reset within the short window after recovery", sim, tests, self.nan_tests(detect))

    def under_page(self) -> dict[str, Any] | None:
        if not self.pages:
            return None
        lowest = min(t.burn_rate for t in self.pages)
        per_step = math.floor(0.9 * lowest * self.slo.error_budget * self.n)
        ratio = per_step / self.n
        self.require(per_step >= 1 and ratio < lowest * self.slo.error_budget, "a ratio just under the threshold")
        # a constant ratio from time 0 gives every window the same ratio (counters start at 0)
        end = 30 * self.dt
        sim = self.simulate(end, lambda t: ratio)
        times = [self.dt, 10 * self.dt, end]
        for t in times:
            self.require(not self.alerts(sim, "page", t), "never pages just under the threshold")
        return self.group(f"error ratio {ratio:.6g} (0.9x the lowest page burn rate {lowest:g}) never pages",
                          sim, [self.alert_test(sim, "page", t) for t in times])

    def low_burn(self) -> dict[str, Any] | None:
        lowest_page = min((t.burn_rate for t in self.pages), default=math.inf)
        below = [t for t in self.tickets if t.burn_rate < lowest_page]
        if not below:
            return None
        top = max(t.burn_rate for t in below)
        target = (top + lowest_page) / 2 if self.pages else min(top * 1.5, (top + self.slo.max_burn_rate) / 2)
        ratio = round(target * self.slo.error_budget * self.n) / self.n
        self.require(top < ratio / self.slo.error_budget < lowest_page, "a burn between ticket and page")
        t = 30 * self.dt
        sim = self.simulate(t, lambda _: ratio)
        self.require(self.alerts(sim, "ticket", t) and not self.alerts(sim, "page", t), "a ticket and no page")
        return self.group(f"sustained burn {ratio / self.slo.error_budget:.4g}x opens a ticket and no page", sim,
                          [self.alert_test(sim, "ticket", t), self.alert_test(sim, "page", t)], self.nan_tests(t))

    def gap(self) -> dict[str, Any]:
        clean, window = 1800, int(self.slo.no_data_after)
        inside, after = clean + window - self.dt, clean + window + self.dt
        sim = self.simulate(after, lambda t: 0.0)
        sim.valid = [v if i * self.dt <= clean else sim.valid[clean // self.dt] for i, v in enumerate(sim.valid)]
        self.require(not sim.no_data(inside) and sim.no_data(after), "no-data fires only after no_data_after")
        alerts = [self.alert_test(sim, s, t) for t in (inside, after) for s in ("page", "ticket")]
        alerts += [self.no_data_test(sim, inside), self.no_data_test(sim, after)]
        exprs = self.nan_tests(inside) + self.nan_tests(after)
        for w in self.slo.windows():
            if w <= inside - clean:
                for name in (R.ERROR_RATIO, R.BURN_RATE):
                    exprs.append({"expr": f'{name}{{slo="{self.slo.name}",window="{format_duration(w)}"}}',
                                  "eval_time": format_duration(inside), "exp_samples": []})
        labels = ",".join(f'{k}="{v}"' for k, v in self.slo.rule_labels().items())
        budget = sim.budget_remaining(after)  # None only when the whole period lies inside the gap
        self.require(budget == 1.0 or (budget is None and self.slo.period <= after - clean),
                     "the period SLI survives the gap")
        samples = [] if budget is None else [{"labels": f"{R.BUDGET_REMAINING}{{{labels}}}", "value": budget}]
        exprs.append({"expr": f'{R.BUDGET_REMAINING}{{slo="{self.slo.name}"}}', "eval_time": format_duration(after),
                      "exp_samples": samples})
        return self.group(f"traffic gap: no alert and no NaN; no-data alert after {format_duration(window)}",
                          sim, alerts, exprs)


    def start_up(self) -> list[dict[str, Any]]:
        window = int(self.slo.no_data_after)
        before, after = window - self.dt, window + self.dt
        healthy = self.simulate(after, lambda t: 0.0)
        self.require(not any(healthy.no_data(t) for t in range(0, after + 1, self.dt)), "healthy start is quiet")
        silent = self.simulate(after, lambda t: 0.0)
        silent.valid = [0] * len(silent.valid)
        self.require(not silent.no_data(before) and silent.no_data(window) and silent.no_data(after),
                     "a silent start raises no-data once no_data_after has passed")
        out = [self.group("start-up with traffic from the first evaluation: no no-data alert", healthy,
                          [self.no_data_test(healthy, t) for t in (0, self.dt, before, after)])]
        silent_tests = [self.no_data_test(silent, t) for t in (0, self.dt, before, window, after)]
        out.append(self.group(f"start-up with a silent source (series at 0): no-data only after "
                              f"{format_duration(window)}", silent, silent_tests))
        # nothing scraped at all (regslo not running yet): the same answer, from the rules' own history
        missing = self.group(f"start-up with no series at all: no-data only after {format_duration(window)}",
                             silent, silent_tests)
        missing["input_series"] = []
        out.append(missing)
        return out


def test_file(slo: SLO, config: Any, rules_path: str) -> str:
    """The promtool test file for ``slo`` whose rules are in ``rules_path`` (relative to the test file)."""
    b = Builder(slo, config)
    groups = [g for g in (b.outage(), b.under_page(), b.low_burn(), b.gap(), *b.start_up()) if g is not None]
    doc = {"rule_files": [rules_path], "evaluation_interval": format_duration(b.dt), "tests": groups}
    return dump(doc, header=f"{R.HEADER}\npromtool test rules for SLO {slo.name}; scenarios in regslo/outputs/rule_tests.py")
