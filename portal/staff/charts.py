"""Geometry of the staff pages' SVG charts, computed here so templates only place numbers.

Charts are server-rendered SVG (no JavaScript). Colours come from CSS classes in
``static/css/portal.css`` (the strict CSP forbids inline styles); every chart is drawn
next to a table holding the same numbers.
"""

import math
from dataclasses import dataclass
from datetime import date

BAR_WIDTH = 440  # viewBox units; the SVG scales to its container (half the page)
BAR_ROW = 26
BAR_LABEL = 160  # room for the labels left of the bars
BAR_VALUE = 64  # room for the values right of the bars
LINE_WIDTH, LINE_HEIGHT = 800, 290
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 56, 770, 44, 256


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    value_text: str
    css: str
    y: int
    width: float
    text_y: int
    value_x: float


@dataclass(frozen=True)
class BarChart:
    title: str
    description: str
    width: int
    height: int
    bar_x: int
    bar_height: int
    bars: list[Bar]


def bar_chart(*, title: str, rows: list[tuple[str, int, str]]) -> BarChart:
    """Horizontal bars for ``rows`` of (label, value, CSS class), longest = full width."""
    largest = max((value for _, value, _ in rows), default=0) or 1
    room = BAR_WIDTH - BAR_LABEL - BAR_VALUE
    bars = []
    for index, (label, value, css) in enumerate(rows):
        width = round(room * value / largest, 1)
        y = index * BAR_ROW + 4
        bars.append(Bar(label, value, f"{value:,}", css, y, width, y + 15, BAR_LABEL + width + 6))
    total = sum(value for _, value, _ in rows)
    parts = "; ".join(f"{label}: {value:,}" for label, value, _ in rows)
    return BarChart(
        title=title,
        description=f"{total:,} in all. {parts}." if rows else "No data.",
        width=BAR_WIDTH,
        height=max(len(rows), 1) * BAR_ROW + 8,
        bar_x=BAR_LABEL,
        bar_height=BAR_ROW - 8,
        bars=bars,
    )


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    points: str  # "x,y x,y ..." for <polyline>
    end_x: float  # the last point, marked (a line of one day is only that mark)
    end_y: float
    total: int
    total_text: str
    legend_x: int


@dataclass(frozen=True)
class LineChart:
    title: str
    description: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    lines: list[Line]
    x_ticks: list[Tick]
    y_ticks: list[Tick]


def line_chart(
    *, title: str, days: list[date], series: list[tuple[str, str, list[int]]]
) -> LineChart:
    """One line per (key, label, counts per day) over ``days``, with a shared y scale."""
    top_value = nice_ceiling(max((max(counts, default=0) for _, _, counts in series), default=0))
    span = max(len(days) - 1, 1)

    def x(index: int) -> float:
        return round(PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * index / span, 1)

    def y(value: float) -> float:
        return round(PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * value / top_value, 1)

    lines = [
        Line(
            key=key,
            label=label,
            points=" ".join(f"{x(i)},{y(count)}" for i, count in enumerate(counts)),
            end_x=x(max(len(counts) - 1, 0)),
            end_y=y(counts[-1] if counts else 0),
            total=sum(counts),
            total_text=f"{sum(counts):,}",
            legend_x=PLOT_LEFT + 230 * position,
        )
        for position, (key, label, counts) in enumerate(series)
    ]
    x_ticks = [
        Tick(x(i), f"{day:%d %b}") for i, day in enumerate(days) if (len(days) - 1 - i) % 7 == 0
    ]
    y_ticks = [Tick(y(top_value * k / 4), f"{top_value * k // 4:,}") for k in range(5)]
    first, last = (f"{days[0]:%d %b %Y}", f"{days[-1]:%d %b %Y}") if days else ("", "")
    totals = "; ".join(f"{line.label}: {line.total:,}" for line in lines)
    return LineChart(
        title=title,
        description=f"Per day from {first} to {last}. Totals: {totals}.",
        width=LINE_WIDTH,
        height=LINE_HEIGHT,
        left=PLOT_LEFT,
        right=PLOT_RIGHT,
        top=PLOT_TOP,
        bottom=PLOT_BOTTOM,
        lines=lines,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
    )


def nice_ceiling(value: float) -> int:
    """The smallest of 4, 8, 20, 40, 80, 200 … (four even steps of 1, 2 or 5 × 10ⁿ) ≥ value."""
    if value <= 4:
        return 4
    step = value / 4
    magnitude = 10 ** math.floor(math.log10(step))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= step:
            return int(4 * factor * magnitude)
    return int(40 * magnitude)  # not reached: factor 10 always fits
