"""Server-side charts: the geometry of a stacked bar chart, rendered as inline SVG by a
template (no script, no CDN, no ``style=``: the CSP allows none). Pure functions over
plain values, so they are unit-tested without a browser.

A chart is a list of buckets (x), each with one value per series (stacked from the
bottom, first series lowest). ``top_series`` keeps the N largest series and folds the
rest into one "Other" series, so the legend stays readable whatever the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

OTHER = "Other"
PALETTE_SIZE = 8  # series-0 … series-7 in usage.css; "Other" is always series-other

# The drawing's coordinate system (the viewBox); the SVG scales to its container.
WIDTH = 960
HEIGHT = 320
LEFT = 72  # room for the y axis labels
RIGHT = 8
TOP = 12
BOTTOM = 44  # room for the x axis labels
MAX_X_LABELS = 12


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked series: a label, a CSS class for its colour, a value per bucket."""

    key: Hashable
    label: str
    css_class: str
    values: tuple[Decimal, ...]

    @property
    def total(self) -> Decimal:
        return sum(self.values, Decimal(0))


@dataclass(frozen=True, slots=True)
class Bar:
    """One rectangle: a series' value in a bucket."""

    x: float
    y: float
    width: float
    height: float
    css_class: str
    title: str  # the bucket, series and value: a tooltip and a screen reader's text


@dataclass(frozen=True, slots=True)
class Tick:
    position: float  # y for the value axis, x for the bucket axis
    label: str


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: tuple[Bar, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    legend: tuple[Series, ...]
    maximum: Decimal

    @property
    def empty(self) -> bool:
        return not self.bars


def top_series(
    totals: Sequence[tuple[Hashable, str]],
    values: Mapping[Hashable, Sequence[Decimal]],
    buckets: int,
    limit: int = 6,
) -> list[Series]:
    """The first ``limit`` series of ``totals`` (already ordered, largest first: a
    report's rows) with their values, and one "Other" series summing the rest (when
    there is a rest). ``values`` maps a series key to its value per bucket."""
    zero = (Decimal(0),) * buckets
    kept = totals[:limit]
    series = [
        Series(key, label, f"series-{index % PALETTE_SIZE}", tuple(values.get(key, zero)))
        for index, (key, label) in enumerate(kept)
    ]
    rest = [values[key] for key, _ in totals[limit:] if key in values]
    if rest:
        summed = tuple(sum(column, Decimal(0)) for column in zip(*rest, strict=True))
        series.append(Series(OTHER, OTHER, "series-other", summed))
    return series


def stacked_bars(
    bucket_labels: Sequence[str],
    series: Sequence[Series],
    format_value: Callable[[Decimal], str] | None = None,
) -> BarChart:
    """The geometry of ``series`` stacked per bucket. ``format_value`` (a callable
    of a Decimal) writes values on the axis and in each bar's title."""
    fmt = format_value or plain
    count = len(bucket_labels)
    stacks = [sum((s.values[i] for s in series), Decimal(0)) for i in range(count)]
    maximum = max(stacks, default=Decimal(0))
    scale_top = nice_ceiling(maximum)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / count if count else plot_width
    gap = min(slot * 0.2, 4.0)
    bars: list[Bar] = []
    for index, label in enumerate(bucket_labels):
        base = 0.0
        for item in series:
            value = item.values[index]
            if value <= 0 or scale_top <= 0:
                continue
            height = float(value / scale_top) * plot_height
            y = TOP + plot_height - base - height
            title = f"{label} · {item.label}: {fmt(value)}"
            bars.append(
                Bar(
                    _round(LEFT + index * slot + gap / 2),
                    _round(y),
                    _round(max(slot - gap, 0.5)),
                    _round(height),
                    item.css_class,
                    title,
                )
            )
            base += height
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=TOP + plot_height,
        bars=tuple(bars),
        y_ticks=_y_ticks(scale_top, plot_height, fmt),
        x_ticks=_x_ticks(bucket_labels, slot),
        legend=tuple(series),
        maximum=maximum,
    )


def plain(value: Decimal) -> str:
    """A number without exponent or trailing zeros: 10, 0.5."""
    return format(value.normalize(), "f")


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (0 for 0):
    the top of the value axis."""
    if value <= 0:
        return Decimal(0)
    exponent = math.floor(math.log10(float(value)))
    for step in (1, 2, Decimal("2.5"), 5, 10):
        candidate = Decimal(step) * Decimal(10) ** exponent
        if candidate >= value:
            return candidate.normalize()
    return (Decimal(10) ** (exponent + 1)).normalize()  # pragma: no cover (float rounding)


def _y_ticks(
    top: Decimal, plot_height: int, format_value: Callable[[Decimal], str]
) -> tuple[Tick, ...]:
    if top <= 0:
        return (Tick(float(TOP + plot_height), format_value(Decimal(0))),)
    # A top of 1, 2.5, 5 or 10 (times a power of ten) divides into 5 round steps, 2 into 4.
    leading = top.scaleb(-top.adjusted())
    steps = 4 if leading == 2 else 5
    ticks = []
    for step in range(steps + 1):
        value = top * step / steps
        height = plot_height * step / steps
        ticks.append(Tick(_round(TOP + plot_height - height), format_value(value)))
    return tuple(ticks)


def _x_ticks(labels: Sequence[str], slot: float) -> tuple[Tick, ...]:
    if not labels:
        return ()
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    return tuple(
        Tick(_round(LEFT + index * slot + slot / 2), label)
        for index, label in enumerate(labels)
        if index % every == 0
    )


def _round(value: float) -> float:
    return round(value, 2)
