"""Tiny inline SVG charts for the status page: a line chart over a time window and a success strip.

The page has no JavaScript and loads nothing from elsewhere, so charts are plain SVG markup placed in the
HTML. Colours come from CSS classes (``series-<name>``, ``ok``, ``bad``) that the page's inline stylesheet
defines; these functions only compute geometry. Every piece of text they emit is escaped here, because the
template inserts the result as markup.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from markupsafe import Markup, escape

PAD_LEFT = 44  # room for the y-axis labels
PAD_RIGHT = 4
PAD_TOP = 6
PAD_BOTTOM = 14  # room for the time labels


@dataclass
class Series:
    """One line: ``points`` are (unix time, value or None); None is a gap (a failed run has no lag)."""

    name: str
    points: Sequence[tuple[float, float | None]]
    css: str = ""
    marks: Sequence[float] = field(default_factory=tuple)  # times to flag (failures), drawn as red ticks


def _fmt_seconds(v: float) -> str:
    if v >= 10:
        return f"{v:.0f} s"
    if v >= 1:
        return f"{v:.1f} s"
    return f"{v * 1000:.0f} ms"


def nice_max(v: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= v (so axis labels read well)."""
    if v <= 0:
        return 1.0
    scale = 10.0 ** _floor_log10(v)
    for step in (1, 2, 5, 10):
        if v <= step * scale * (1 + 1e-9):
            return step * scale
    return 10 * scale


def _floor_log10(v: float) -> int:
    exp = 0
    while v >= 10:
        v /= 10
        exp += 1
    while v < 1:
        v *= 10
        exp -= 1
    return exp


def _clock(t: float, span: float) -> str:
    return time.strftime("%H:%M:%S" if span < 600 else "%H:%M", time.gmtime(t))


def line_chart(series: Sequence[Series], start: float, end: float, *, width: int = 360, height: int = 90,
               label: str = "", fmt: Callable[[float], str] = _fmt_seconds) -> Markup:
    """Lines of ``series`` between ``start`` and ``end`` (unix seconds), y from 0 to a rounded maximum."""
    values = [v for s in series for t, v in s.points if v is not None and start <= t <= end]
    top = nice_max(max(values, default=0.0))
    plot_w = width - PAD_LEFT - PAD_RIGHT
    plot_h = height - PAD_TOP - PAD_BOTTOM
    span = max(end - start, 1e-9)

    def x(t: float) -> float:
        return PAD_LEFT + (t - start) / span * plot_w

    def y(v: float) -> float:
        return PAD_TOP + plot_h - min(v, top) / top * plot_h

    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">',
             f"<title>{escape(label)}</title>"]
    bottom = PAD_TOP + plot_h
    for frac in (0.0, 0.5, 1.0):
        gy = PAD_TOP + plot_h - frac * plot_h
        parts.append(f'<line class="grid" x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}"/>')
        parts.append(f'<text class="axis" x="{PAD_LEFT - 4}" y="{gy + 3:.1f}" text-anchor="end">'
                     f"{escape(fmt(top * frac))}</text>")
    parts.append(f'<text class="axis" x="{PAD_LEFT}" y="{height - 2}">{escape(_clock(start, span))}</text>')
    parts.append(f'<text class="axis" x="{width - PAD_RIGHT}" y="{height - 2}" text-anchor="end">'
                 f"{escape(_clock(end, span))} UTC</text>")
    for s in series:
        css = escape(s.css or f"series-{s.name}")
        for run in _runs(s.points, start, end):
            if len(run) == 1:
                t, v = run[0]
                parts.append(f'<circle class="line {css}" cx="{x(t):.1f}" cy="{y(v):.1f}" r="1.5"/>')
            else:
                pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
                parts.append(f'<polyline class="line {css}" points="{pts}"/>')
        for t in s.marks:
            if start <= t <= end:
                parts.append(f'<line class="mark bad" x1="{x(t):.1f}" x2="{x(t):.1f}" '
                             f'y1="{bottom - 6:.1f}" y2="{bottom:.1f}"/>')
    if not values:
        parts.append(f'<text class="empty" x="{PAD_LEFT + plot_w / 2:.1f}" y="{PAD_TOP + plot_h / 2 + 3:.1f}" '
                     'text-anchor="middle">no data yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _runs(points: Sequence[tuple[float, float | None]], start: float, end: float) -> list[list[tuple[float, float]]]:
    """Split points into runs without gaps, keeping only those inside the window."""
    runs: list[list[tuple[float, float]]] = [[]]
    for t, v in sorted(points, key=lambda p: p[0]):
        if not start <= t <= end:
            continue
        if v is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((t, v))
    return [r for r in runs if r]


def status_strip(points: Sequence[tuple[float, bool]], start: float, end: float, *, width: int = 360,
                 height: int = 12, label: str = "") -> Markup:
    """One thin bar per result at its time: green when it succeeded, red when it failed.

    Failures are drawn last so a failure is never hidden under neighbouring successes.
    """
    plot_w = width - PAD_LEFT - PAD_RIGHT
    span = max(end - start, 1e-9)
    inside = [(t, ok) for t, ok in points if start <= t <= end]
    bar = max(1.0, min(4.0, plot_w / max(len(inside), 1)))
    parts = [f'<svg class="strip" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">',
             f"<title>{escape(label)}</title>",
             f'<rect class="track" x="{PAD_LEFT}" y="0" width="{plot_w}" height="{height}"/>']
    for t, ok in sorted(inside, key=lambda p: not p[1]):
        bx = PAD_LEFT + (t - start) / span * plot_w - bar / 2
        bx = min(max(bx, PAD_LEFT), PAD_LEFT + plot_w - bar)
        parts.append(f'<rect class="{"ok" if ok else "bad"}" x="{bx:.1f}" y="0" width="{bar:.1f}" '
                     f'height="{height}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
