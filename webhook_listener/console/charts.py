"""Charts drawn on the server as inline SVG: no chart library, nothing fetched by the browser.
Colours and strokes live in console.css (classes `series-0` ...), so the SVG carries no style."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 16, 40
SERIES_CLASSES = 6


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per x; None: no point that day
    colour: int | None = None  # which series-N class; by default its place in the chart


def _css(series: Series, n: int) -> str:
    return f"series-{(n if series.colour is None else series.colour) % SERIES_CLASSES}"


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high == low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 0.001:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def line_chart(
    title: str,
    days: Sequence[date],  # ascending
    series: Sequence[Series],
    label: Callable[[float], str],
) -> Markup:
    """A line per series over `days`; `label` formats a y value (an amount, a percentage)."""
    values = [v for s in series for v in s.values if v is not None]
    if not days or not values:
        return Markup('<p class="empty">No data to draw.</p>')
    ticks = _nice_ticks(min(0.0, min(values)), max(0.0, max(values)))
    low, high = ticks[0], ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    first, span = days[0], max(1, (days[-1] - days[0]).days)

    def x_at(day: date) -> float:
        # A time axis: a week without data is a week wide, not one step.
        return LEFT + plot_w * (day - first).days / span if len(days) > 1 else LEFT + plot_w / 2

    def x_of(i: int) -> float:
        return x_at(days[i])

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - (v - low) / (high - low))

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(label(tick))}</text>"
        )
    step = max(1, math.ceil(span / 7))
    shape = "%m-%d" if days[0].year == days[-1].year else "%Y-%m-%d"
    for k in range(0, span + 1, step) if len(days) > 1 else [0]:
        day = first + timedelta(days=k)
        parts.append(
            f'<text class="tick" x="{x_at(day):.1f}" y="{HEIGHT - BOTTOM + 16}" '
            f'text-anchor="middle">{escape(day.strftime(shape))}</text>'
        )
    for n, one in enumerate(series):
        css = _css(one, n)
        points = [(x_of(i), y_of(v), i, v) for i, v in enumerate(one.values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(f'<polyline class="line {css}" points="{path}"/>')
        for x, y, i, v in points:
            tip = f"{days[i].isoformat()} {one.name}: {label(v)}"
            parts.append(
                f'<circle class="dot {css}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{escape(tip)}</title></circle>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<li><span class="swatch {_css(s, n)}"></span>{escape(s.name)}</li>'
        for n, s in enumerate(series)
    )
    return Markup("".join(parts) + f'<ul class="legend">{legend}</ul>')
