"""The server-drawn SVG charts: a point per value on a time axis, every label escaped."""

from __future__ import annotations

import re
from datetime import date

from webhook_listener.console.charts import Series, line_chart


def test_points_sit_on_a_time_axis_so_a_gap_of_days_stays_wide() -> None:
    days = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 11)]
    svg = str(line_chart("t", days, [Series("stripe", [1.0, 2.0, 3.0])], str))
    xs = [float(x) for x in re.findall(r'<circle [^>]*cx="([\d.]+)"', svg)]
    assert len(xs) == 3
    # One day, then nine days: the second gap is nine times the first.
    assert abs((xs[2] - xs[1]) / (xs[1] - xs[0]) - 9) < 0.01


def test_every_name_and_label_in_a_chart_is_escaped() -> None:
    svg = str(
        line_chart(
            '<b>"title"</b>',
            [date(2026, 1, 1), date(2026, 1, 2)],
            [Series("<script>x</script>", [1.0, None])],
            lambda v: f"<{v}>",
        )
    )
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;x&lt;/script&gt;" in svg
    assert svg.count("<circle") == 1  # None draws no point


def test_a_chart_without_values_says_so() -> None:
    assert "No data to draw" in str(line_chart("t", [], [], str))
