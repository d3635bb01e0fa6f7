"""Geometry of the overview's two charts, drawn by the templates as inline SVG.

Computing the rectangles here keeps the templates to drawing and keeps the page free of any
charting library (no script, no build step); the numbers are tested like any other code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from qip.dashboard.stats import Latency, Minute

STATUS_ORDER = ("completed", "rejected", "failed")


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    kind: str  # css class: completed, rejected, failed, p50, p95
    title: str


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    rects: list[Rect]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    plot: tuple[float, float, float, float]  # left, top, right, bottom of the plotting area
    notes: list[Tick] = field(default_factory=list)  # value labels beside the bars


def nice_ceiling(value: float) -> float:
    """1, 2, 5, 10, 20, 50 ...: the smallest such number >= value (an axis maximum)."""
    if value <= 0:
        return 1
    power: float = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def throughput_chart(minutes: list[Minute], width: int = 560, height: int = 180) -> Chart:
    """Stacked bars, one per minute: completed, rejected and failed images."""
    left, top, right, bottom = 34.0, 10.0, width - 8.0, height - 24.0
    peak = nice_ceiling(max((m.total for m in minutes), default=0))
    slot = (right - left) / max(len(minutes), 1)
    rects: list[Rect] = []
    x_ticks: list[Tick] = []
    for index, minute in enumerate(minutes):
        x = left + index * slot
        y = bottom
        for kind in STATUS_ORDER:
            count = getattr(minute, kind)
            if not count:
                continue
            h = (bottom - top) * count / peak
            y -= h
            rects.append(Rect(round(x + 1, 1), round(y, 1), round(max(slot - 2, 1), 1), round(h, 1), kind,
                              f"{minute.start:%H:%M} UTC: {count} {kind}"))
        if index % 5 == 0 or index == len(minutes) - 1:
            x_ticks.append(Tick(round(x + slot / 2, 1), height - 6, f"{minute.start:%H:%M}"))
    y_ticks = [Tick(left - 6, round(bottom - (bottom - top) * f, 1), _count(peak * f)) for f in (0, 0.5, 1)]
    return Chart(width, height, rects, x_ticks, y_ticks, (left, top, right, bottom))


def latency_chart(rows: list[Latency], width: int = 560, row_height: int = 30) -> Chart:
    """One row per stage: a bar to p50 and a lighter one to p95, on a shared millisecond scale."""
    left, right, top = 118.0, width - 112.0, 8.0
    height = int(top * 2 + row_height * len(rows) + 18)
    peak = nice_ceiling(max((r.p95 or 0 for r in rows), default=0))
    scale = (right - left) / peak
    rects: list[Rect] = []
    y_ticks: list[Tick] = []
    notes: list[Tick] = []
    for index, row in enumerate(rows):
        y = top + index * row_height
        y_ticks.append(Tick(left - 10, y + row_height / 2 + 4, row.name.replace("_", " ").capitalize()))
        notes.append(Tick(right + 10, y + row_height / 2 + 4, f"{format_ms(row.p50)} / {format_ms(row.p95)}"))
        if row.p95 is not None:
            rects.append(Rect(left, y + 6, round(row.p95 * scale, 1), row_height - 12, "p95",
                              f"{row.name}: p95 {format_ms(row.p95)} over {row.count} images"))
        if row.p50 is not None:
            rects.append(Rect(left, y + 6, round(row.p50 * scale, 1), row_height - 12, "p50",
                              f"{row.name}: p50 {format_ms(row.p50)} over {row.count} images"))
    bottom = top + row_height * len(rows)
    x_ticks = [Tick(round(left + (right - left) * f, 1), bottom + 14, format_ms(peak * f))
               for f in (0, 0.25, 0.5, 0.75, 1)]
    return Chart(width, height, rects, x_ticks, y_ticks, (left, top, right, bottom), notes)


def format_ms(value: float | None) -> str:
    """`840 ms`, `1.3 s`, `2 min 5 s`; an em dash for no value."""
    if value is None:
        return "\u2014"
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    return f"{int(value // 60_000)} min {int(value % 60_000 // 1000)} s"


def _count(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
