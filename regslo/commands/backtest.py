"""``regslo backtest``: every page and ticket the generated rules would have raised over past data.

    regslo backtest -c regslo.yml [--slo NAME ...] --prometheus URL --start T --end T [--step 30s]
    regslo backtest -c regslo.yml --logs FORMAT:REGISTRY:FILE ... [--start T --end T]

Options: ``--objective 99.5,99.9`` (what-if table), ``--format json``, ``--chart FILE.svg``.
Exit codes: 0 done, 1 a query failed or found no data, 2 usage or config problems. Errors are one line.
The arithmetic is in regslo/slo/backtest.py, the data sources in regslo/slo/backtest_sources.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from datetime import datetime, timezone
from typing import Any

from regslo.commands.common import add_config_argument, load_or_exit
from regslo.slo.backtest import MS, Counter, SLOBacktest, budget_of, eval_times, selectors
from regslo.slo.model import SLO, number, period_text
from regslo.slo.sli import event_query
from regslo.units import format_duration, parse_duration

WEEK = 7 * 86400.0
MAX_EVALUATIONS = 5_000_000  # per SLO and window one float each: memory stays bounded (30 s steps: 4.7 years)


class Usage(Exception):
    """A usage problem: exit 2 with this one line."""


class Failed(Exception):
    """A failed query or no data: exit 1 with this one line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--slo", action="append", default=[], metavar="NAME", help="only this SLO (repeatable)")
    parser.add_argument("--prometheus", metavar="URL", help="read the counters from this Prometheus")
    parser.add_argument("--logs", action="append", default=[], metavar="FORMAT:REGISTRY:FILE",
                        help="replay this registry log by its own timestamps (repeatable; logs SLOs only)")
    parser.add_argument("--start", metavar="T", help="Unix seconds, RFC 3339 or now-7d (required with --prometheus)")
    parser.add_argument("--end", metavar="T", help="Unix seconds, RFC 3339 or now (required with --prometheus)")
    parser.add_argument("--step", default="30s", metavar="DURATION", help="rule evaluation interval (default 30s)")
    parser.add_argument("--eval-offset", default="0s", metavar="DURATION",
                        help="phase of the evaluation grid within the step (Prometheus slots each rule group at a "
                             "fixed offset derived from its name and file; default 0s)")
    parser.add_argument("--objective", metavar="LIST", help="what-if objectives, e.g. 99.5,99.9,99.95")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--chart", metavar="FILE.svg", help="draw burn rates, thresholds and alerts into FILE")
    parser.add_argument("--timeout", default="60s", metavar="DURATION",
                        help="per Prometheus query, the whole answer (default 60s)")
    parser.add_argument("--ca-file", metavar="PEM", help="CA certificates to verify an https Prometheus with "
                        "(default: the system's); basic auth: user:pass@ in the URL, or user@ and "
                        "$REGSLO_PROMETHEUS_PASSWORD")


def main(args: argparse.Namespace) -> int:
    try:
        return run(args)
    except Usage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Failed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: not enough memory for this range and step: use a larger --step or a shorter range",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as exc:  # e.g. an unexpected answer from a proxy
        print(f"error: unexpected data: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)
        return 1


def _duration(flag: str, text: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise Usage(f"{flag}: {exc}") from None
    if value <= 0:
        raise Usage(f"{flag}: must be positive, got {text!r}")
    return value


def _objectives(text: str | None) -> list[float]:
    if not text:
        return []
    out = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise Usage(f"--objective: expected percentages like 99.5,99.9, got {part.strip()!r}") from None
        if not 0 < value < 100:
            raise Usage(f"--objective: {value:g} is not a percentage between 0 and 100 (exclusive)")
        out.append(value)
    return out


def _time(flag: str, text: str | None) -> float | None:
    from regslo.slo.backtest_sources import parse_time
    if text is None:
        return None
    try:
        return parse_time(text, time.time)
    except ValueError as exc:
        raise Usage(f"{flag}: {exc}") from None


def _pick(config, names: list[str]) -> list[SLO]:
    if not config.slos:
        raise Usage("the config has no slos: nothing to backtest")
    by_name = {s.name: s for s in config.slos}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise Usage(f"--slo: unknown SLO {unknown[0]!r} (known: {', '.join(by_name)})")
    return [by_name[n] for n in dict.fromkeys(names)] if names else list(config.slos)  # each once


def _min_window(config) -> float:
    alerting = getattr(config, "alerting", None)
    interval = getattr(getattr(config, "probes", None), "interval", 30.0) or 30.0
    return max(getattr(alerting, "min_window", 60.0), 2 * interval)


def run(args: argparse.Namespace) -> int:
    step = _duration("--step", args.step)
    if step < 1:  # the evaluation grid is in milliseconds; no rule group is evaluated more than once a second
        raise Usage(f"--step: must be at least 1s, got {args.step!r}")
    try:
        offset = parse_duration(args.eval_offset)
    except ValueError as exc:
        raise Usage(f"--eval-offset: {exc}") from None
    if offset >= step:
        raise Usage(f"--eval-offset: must be shorter than --step ({format_duration(step)})")
    timeout = _duration("--timeout", args.timeout)
    objectives = _objectives(args.objective)
    start, end = _time("--start", args.start), _time("--end", args.end)
    if bool(args.prometheus) == bool(args.logs):
        raise Usage("give either --prometheus URL or --logs FORMAT:REGISTRY:FILE (one of them)")
    verify = _prometheus_target(args)
    if args.prometheus and (start is None or end is None):
        raise Usage("--prometheus needs --start and --end")
    if start is not None and end is not None and start >= end:
        raise Usage(f"--start ({_iso(start)}) must be before --end ({_iso(end)})")
    if args.chart and not args.chart.endswith(".svg"):
        raise Usage(f"--chart: expected a file name ending in .svg, got {args.chart!r}")
    if args.chart and not os.access(os.path.dirname(os.path.abspath(args.chart)), os.W_OK):
        raise Usage(f"--chart: cannot write into the directory of {args.chart}")  # before minutes of work
    specs = [_log_spec(s) for s in args.logs]
    config = load_or_exit(args.config, check_secrets=False)
    slos = _pick(config, args.slo)
    if specs:
        skipped = [s.name for s in slos if s.sli.source != "logs"]
        if skipped and args.slo:
            raise Usage(f"--slo {skipped[0]}: its SLI is not from logs, so --logs cannot backtest it")
        if skipped:
            print(f"note: --logs backtests logs SLOs only; skipped {', '.join(skipped)}", file=sys.stderr)
        slos = [s for s in slos if s.sli.source == "logs"]
        if not slos:
            raise Usage("--logs: the config has no SLO with a logs SLI")
    for slo in slos:
        shortest = min(slo.windows())
        if step > shortest:
            raise Usage(f"--step {format_duration(step)} is longer than the {format_duration(shortest)} window "
                        f"of SLO {slo.name}: every window needs several evaluations")
    lookback = max(max(s.windows()) for s in slos) + step
    min_window = _min_window(config)
    if start is not None and end is not None and (end - start) / step > MAX_EVALUATIONS:
        raise Usage(f"{int((end - start) / step):,} evaluations is more than {MAX_EVALUATIONS:,}: use a larger "
                    "--step or a shorter range")

    if specs:
        data, start, end = _from_logs(specs, slos, start, end, step)
    else:
        data = _from_prometheus(args.prometheus, slos, start, end, lookback, timeout, verify)
    times = eval_times(start, end, step, offset)
    if len(times) == 0:
        raise Usage(f"no evaluation time between --start and --end at --step {format_duration(step)}")
    results = []
    missing = []
    for slo in slos:
        series = data.get(slo.name)
        if series is None:
            missing.append(slo.name)
            continue
        bt = SLOBacktest(slo, series, times, min_window=min_window)
        results.append(_summary(bt, start, end, objectives))
    if args.format == "json":
        print(json.dumps(_finite({"start": start, "end": end, "step": step,
                                  "slos": [r["json"] for r in results]}), indent=2, allow_nan=False))
    else:
        print(_text(results, start, end, step))
    if args.chart:
        from regslo.outputs.backtest_svg import chart
        try:
            with open(args.chart, "w") as f:
                f.write(chart([(r["bt"], r["alerts"]) for r in results], start, end))
        except OSError as exc:
            raise Usage(f"--chart: cannot write {args.chart}: {exc.strerror}") from None
    return 1 if missing else 0


def _finite(value: Any) -> Any:
    """NaN and infinities (a NaN counter sample in Prometheus spreads into sums) as null: strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _log_spec(text: str) -> tuple[str, str, str]:
    from regslo.slo.backtest_sources import LOG_FORMATS
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise Usage(f"--logs: expected FORMAT:REGISTRY:FILE, got {text!r}")
    if parts[0] not in LOG_FORMATS:
        raise Usage(f"--logs {text}: format {parts[0]!r} has no request lines to backtest "
                    f"(use {', '.join(LOG_FORMATS)})")
    return parts[0], parts[1], parts[2]


def _from_logs(specs, slos, start, end, step):
    from regslo.slo.backtest_sources import LogRequests
    logs = LogRequests()
    for fmt, registry, path in specs:
        try:
            logs.read(fmt, registry, path)
        except OSError as exc:
            raise Usage(f"--logs {fmt}:{registry}:{path}: cannot read: {exc.strerror}") from None
        except ValueError as exc:
            raise Usage(f"--logs {fmt}:{registry}:{path}: {exc}") from None
    span = logs.span()
    if span is None:
        raise Failed(f"the logs hold no timed request lines ({logs.lines['parsed']} parsed, "
                     f"{logs.lines['malformed']} malformed, {logs.lines['untimed']} without a time)")
    if (start is not None and span[1] <= start) or (end is not None and span[0] > end):
        raise Failed(f"the logs hold requests from {_iso(span[0])} to {_iso(span[1])} UTC, none between --start "
                     f"and --end")
    # default: from just before the first request (events at exactly --start belong to the range before it)
    start = math.floor(span[0]) - 1.0 if start is None else start
    end = span[1] + step if end is None else end
    if start >= end:
        raise Usage(f"--start ({_iso(start)}) must be before --end ({_iso(end)})")
    if (end - start) / step > MAX_EVALUATIONS:
        raise Usage(f"the logs span {int((end - start) / step):,} evaluations, more than {MAX_EVALUATIONS:,}: "
                    "use a larger --step or --start/--end")
    lookback = max(max(s.windows()) for s in slos) + step
    scrapes = eval_times(min(start, span[0]) - lookback, end, step)
    data: dict[str, dict[str, list[Counter]]] = {}
    for slo in slos:
        series = {role: logs.counters(sel, scrapes) for role, sel in selectors(event_query(slo.sli)).items()}
        if not series["valid"]:
            print(f"error: slo {slo.name}: no request in the logs matches {event_query(slo.sli).valid.promql()}",
                  file=sys.stderr)
            continue
        data[slo.name] = series
    return data, start, end


def _prometheus_target(args: argparse.Namespace):
    """Check --prometheus and --ca-file (exit 2 on a bad one); the ``verify`` argument for the client."""
    if args.ca_file and not args.prometheus:
        raise Usage("--ca-file goes with --prometheus https://...")
    if not args.prometheus:
        return True
    import httpx
    try:
        url = httpx.URL(args.prometheus)
    except (httpx.InvalidURL, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        shown = args.prometheus.rsplit("@", 1)[-1]  # never echo credentials
        raise Usage(f"--prometheus: expected a URL like http://prometheus:9090, got {shown!r}")
    if not args.ca_file:
        return True
    import ssl
    try:
        return ssl.create_default_context(cafile=args.ca_file)
    except ssl.SSLError as exc:
        raise Usage(f"--ca-file {args.ca_file}: not PEM CA certificates: {exc.reason or exc}") from None
    except OSError as exc:
        raise Usage(f"--ca-file {args.ca_file}: cannot read: {exc.strerror or exc}") from None


def _from_prometheus(url: str, slos: list[SLO], start: float, end: float, lookback: float, timeout: float,
                     verify=True):
    """Series per SLO and role, from ``start - lookback`` (the longest window before the first evaluation)."""
    from regslo.slo.backtest_sources import PrometheusSource, QueryError
    source = PrometheusSource(url, timeout=timeout, verify=verify)
    cache: dict[str, list[Counter]] = {}
    data: dict[str, dict[str, list[Counter]]] = {}
    try:
        source.check()
        empty = []
        for slo in slos:
            series = {}
            for role, sel in selectors(event_query(slo.sli)).items():
                key = sel.promql()
                if key not in cache:
                    cache[key] = source.fetch(sel, start - lookback, end, label=f"{slo.name} {role}")
                series[role] = cache[key]
            if not series["valid"]:
                empty.append(slo)
                continue
            data[slo.name] = series
        if empty and not data:
            span = int(end - start + lookback) + 1
            any_data = source._query(f'count(count_over_time({{__name__=~"regslo_.+"}}[{span}s]))', end)
            if not any_data:
                raise Failed(f"Prometheus at {source.url} has no regslo samples between {_iso(start)} and {_iso(end)}")
        for slo in empty:
            print(f"error: slo {slo.name}: {event_query(slo.sli).valid.promql()} matches no series between "
                  f"{_iso(start)} and {_iso(end)}", file=sys.stderr)
    except QueryError as exc:
        raise Failed(str(exc)) from None
    finally:
        source.close()
    return data


def _summary(bt: SLOBacktest, start: float, end: float, objectives: list[float]) -> dict[str, Any]:
    slo = bt.slo
    alerts = bt.alerts()
    periods = bt.periods(start, end)
    a_ms, b_ms = int(round(start * MS)), int(round(end * MS))
    valid, bad = bt.counts(a_ms, b_ms)
    ratio = bad / valid if valid > 0 else None
    weeks = (end - start) / WEEK
    pages = sum(a.severity == "page" for a in alerts)
    whatif = []
    for objective in objectives:
        alt = bt.alerts(objective)
        budget = budget_of(objective)
        whatif.append({"objective": objective,
                       "pages": sum(a.severity == "page" for a in alt),
                       "tickets": sum(a.severity == "ticket" for a in alt),
                       "budget_left": None if ratio is None else 1 - ratio / budget})
    out = {
        "name": slo.name, "objective": slo.objective, "period": period_text(slo.period),
        "alerts": [a.json() for a in alerts],
        "sli": None if ratio is None else 1 - ratio,
        "budget_consumed": None if ratio is None else ratio / slo.error_budget,
        "valid_events": valid, "bad_events": bad,
        "pages": pages, "tickets": sum(a.severity == "ticket" for a in alerts),
        "pages_per_week": pages / weeks if weeks > 0 else None,
        "periods": [p.json() for p in periods],
    }
    if objectives:
        out["what_if"] = whatif
    return {"json": out, "bt": bt, "alerts": alerts, "whatif": whatif}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _pct(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _text(results: list[dict], start: float, end: float, step: float) -> str:
    lines = [f"backtest {_iso(start)} .. {_iso(end)} UTC, rules evaluated every {format_duration(step)}"]
    for r in results:
        j, alerts = r["json"], r["alerts"]
        lines.append("")
        lines.append(f"{j['name']}: objective {number(j['objective'])}% over {j['period']}")
        lines.append(f"  SLI {_pct(j['sli'])}, error budget consumed {_pct(j['budget_consumed'], 1)} "
                     f"({number(j['bad_events'])} bad of {number(j['valid_events'])} valid events); "
                     f"{j['pages']} pages ({j['pages_per_week']:.2f}/week), {j['tickets']} tickets")
        if len(j["periods"]) > 1:
            rows = [["PERIOD START", "END", "SLI", "BUDGET CONSUMED"]]
            rows += [[_iso(p["start"]), _iso(p["end"]), _pct(p["sli"]), _pct(p["budget_consumed"], 1)]
                     for p in j["periods"]]
            lines += _table(rows)
        if alerts:
            rows = [["SEVERITY", "WINDOWS", "THRESHOLD", "START", "END", "DURATION", "PEAK BURN"]]
            for a in alerts:
                rows.append([a.severity, f"{format_duration(a.long_window)}/{format_duration(a.short_window)}",
                             number(a.threshold), _iso(a.start), _iso(a.end) + (" (firing)" if a.ongoing else ""),
                             format_duration(a.end - a.start), f"{a.peak_burn_rate:.3g}"])
            lines += _table(rows)
        else:
            lines.append("  no alerts")
        if r["whatif"]:
            rows = [["OBJECTIVE", "PAGES", "TICKETS", "BUDGET LEFT"]]
            rows += [[f"{number(w['objective'])}%", str(w["pages"]), str(w["tickets"]), _pct(w["budget_left"], 1)]
                     for w in r["whatif"]]
            lines.append("  what if:")
            lines += _table(rows)
    return "\n".join(lines)
