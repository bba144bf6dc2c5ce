"""``regslo backtest --chart FILE.svg``: per SLO, the burn rate of every alert window with the tier
thresholds, and one strip per tier showing when it fired. Drawn with the status page's chart code
(regslo/outputs/svg.py) and stacked into one standalone SVG with its own stylesheet.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

import numpy as np
from markupsafe import escape

from regslo.outputs import svg
from regslo.slo.backtest import MS, Alert, SLOBacktest
from regslo.units import format_duration

WIDTH = 900
CHART_H = 180
STRIP_H = 12
MAX_POINTS = 600  # per line: buckets keep their maximum, so no spike disappears
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#7f7f7f")
STYLE = """
text { font: 10px sans-serif; fill: #333; }
.title { font-weight: bold; font-size: 12px; }
.grid { stroke: #ddd; stroke-width: 1; }
.line { fill: none; stroke-width: 1.2; }
circle.line { stroke-width: 0; }
polyline.threshold { stroke-dasharray: 4 3; stroke-width: 1; stroke: #888; }
.track { fill: #eee; }
.ok { fill: #cfe8cf; }
.bad { fill: #d62728; }
.mark { stroke: #d62728; }
""" + "".join(f"polyline.series-w{i}, line.series-w{i} {{ stroke: {c}; }} circle.series-w{i}, tspan.series-w{i} "
          f"{{ fill: {c}; }}\n" for i, c in enumerate(COLOURS))


def _downsample(times: np.ndarray, values: np.ndarray) -> list[tuple[float, float | None]]:
    """At most MAX_POINTS points: the maximum of each bucket (gaps stay gaps)."""
    n = len(times)
    if n <= MAX_POINTS:
        return [(float(t) / MS, None if np.isnan(v) else float(v)) for t, v in zip(times, values)]
    edges = np.linspace(0, n, MAX_POINTS + 1).astype(int)
    out: list[tuple[float, float | None]] = []
    for a, b in zip(edges, edges[1:]):
        chunk = values[a:b]
        good = chunk[~np.isnan(chunk)]
        out.append((float(times[a]) / MS, float(good.max()) if len(good) else None))
    return out


def chart(results: Sequence[tuple[SLOBacktest, list[Alert]]], start: float, end: float) -> str:
    blocks: list[tuple[int, str]] = []
    for bt, alerts in results:
        slo = bt.slo
        series = []
        for i, window in enumerate(slo.windows()):
            css = f"series-w{i % len(COLOURS)}"
            series.append(svg.Series(format_duration(window), _downsample(bt.times, bt.burn(window)), css=css))
        for tier in slo.tiers:
            series.append(svg.Series(f"{tier.severity} {tier.burn_rate}",
                                     [(start, tier.burn_rate), (end, tier.burn_rate)], css="threshold"))
        legend = "".join(f'<tspan class="series-w{i % len(COLOURS)}"> {escape(format_duration(w))}</tspan>'
                         for i, window in enumerate(slo.windows()) for w in [window])
        span = f"{_day(start)} .. {_day(end)} UTC"
        blocks.append((18, f'<text class="title" x="4" y="13">{escape(slo.name)}: burn rate per window{legend} '
                           f'(dashed: tier thresholds), {escape(span)}</text>'))
        blocks.append((CHART_H, str(svg.line_chart(series, start, end, width=WIDTH, height=CHART_H,
                                                   label=f"{slo.name} burn rate", fmt=lambda v: f"{v:.3g}x"))))
        for tier in slo.tiers:
            mine = [a for a in alerts if (a.severity, a.long_window, a.short_window)
                    == (tier.severity, tier.long_window, tier.short_window)]
            label = f"{tier.severity} {format_duration(tier.long_window)}/{format_duration(tier.short_window)}"
            points = _strip_points(bt.times, mine)
            blocks.append((STRIP_H + 14, f'<text x="4" y="10">{escape(label)}: {len(mine)} alert(s)</text>'
                                         f'<g transform="translate(0,12)">'
                                         f'{svg.status_strip(points, start, end, width=WIDTH, height=STRIP_H, label=label)}'
                                         "</g>"))
        blocks.append((10, ""))
    height = sum(h for h, _ in blocks) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}">', f"<style>{STYLE}</style>",
             f'<rect width="{WIDTH}" height="{height}" fill="white"/>']
    y = 2
    for h, body in blocks:
        parts.append(f'<g transform="translate(0,{y})">{body}</g>')
        y += h
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _day(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M")


def _strip_points(times: np.ndarray, alerts: list[Alert]) -> list[tuple[float, bool]]:
    """Up to MAX_POINTS evenly spaced (time, not firing) points, plus every alert's own interval."""
    n = len(times)
    idx = np.linspace(0, n - 1, min(n, MAX_POINTS)).astype(int) if n else np.array([], dtype=int)
    points = []
    for i in idx:
        t = float(times[i]) / MS
        points.append((t, not any(a.start <= t < a.end for a in alerts)))
    for a in alerts:
        points.append((a.start, False))
    return points
