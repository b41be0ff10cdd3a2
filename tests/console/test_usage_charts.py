"""The usage page's server-side chart: geometry of stacked bars, top series + other."""

from __future__ import annotations

from decimal import Decimal

from tollway.console.charts import (
    HEIGHT,
    OTHER,
    nice_ceiling,
    stacked_bars,
    top_series,
)

D = Decimal


def test_nice_ceiling_rounds_up_to_a_readable_axis_top() -> None:
    assert [nice_ceiling(D(v)) for v in ("0", "0.7", "1", "1.2", "2.2", "3", "7", "0.0031")] == [
        D(0), D(1), D(1), D(2), D("2.5"), D(5), D(10), D("0.005"),
    ]  # fmt: skip


def test_top_series_folds_the_rest_into_other() -> None:
    totals = [("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")]
    values = {"a": [D(5), D(0)], "b": [D(1), D(2)], "c": [D(1), D(1)], "d": [D(0), D(3)]}
    series = top_series(totals, values, buckets=2, limit=2)
    assert [(s.label, s.values, s.css_class) for s in series] == [
        ("A", (D(5), D(0)), "series-0"),
        ("B", (D(1), D(2)), "series-1"),
        (OTHER, (D(1), D(4)), "series-other"),
    ]


def test_no_other_when_everything_fits_and_missing_series_are_zero() -> None:
    series = top_series([("a", "A"), ("z", "Z")], {"a": [D(1)]}, buckets=1)
    assert [(s.label, s.values) for s in series] == [("A", (D(1),)), ("Z", (D(0),))]


def test_bars_stack_from_the_bottom_and_scale_to_the_axis_top() -> None:
    series = top_series([("a", "A"), ("b", "B")], {"a": [D(1), D(2)], "b": [D(1), D(0)]}, 2)
    chart = stacked_bars(["day 1", "day 2"], series)
    assert chart.maximum == D(2)
    assert len(chart.bars) == 3  # zero values draw nothing
    first, second, third = chart.bars
    assert first.x == second.x  # the same bucket
    assert first.height == second.height == third.height / 2
    assert first.y + first.height == chart.plot_bottom
    assert second.y + second.height == first.y  # stacked on top
    assert third.y == chart.plot_top  # the tallest stack reaches the top (axis top 2)
    assert first.title == "day 1 · A: 1"
    assert [t.label for t in chart.y_ticks] == ["0", "0.5", "1", "1.5", "2"]
    assert [t.label for t in chart.x_ticks] == ["day 1", "day 2"]
    assert chart.plot_bottom < HEIGHT


def test_an_empty_chart_has_no_bars_and_few_x_labels() -> None:
    labels = [f"h{n}" for n in range(168)]
    chart = stacked_bars(labels, top_series([], {}, 168))
    assert chart.empty
    assert len(chart.x_ticks) <= 12
    assert [t.label for t in chart.y_ticks] == ["0"]


def test_axis_ticks_are_round_numbers() -> None:
    for top, labels in (
        ("2.2", ["0", "0.5", "1", "1.5", "2", "2.5"]),
        ("0.9", ["0", "0.2", "0.4", "0.6", "0.8", "1"]),
        ("40", ["0", "10", "20", "30", "40", "50"]),
    ):
        series = top_series([("a", "A")], {"a": [D(top)]}, 1)
        assert [t.label for t in stacked_bars(["x"], series).y_ticks] == labels, top
