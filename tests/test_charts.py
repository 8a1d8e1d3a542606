"""The dashboard's SVG charts: readable numbers, escaped labels, a table of the same numbers,
and the benchmark band named where it is drawn."""

from __future__ import annotations

import re

import pytest

from devmetrics_app.web.dashboard import charts
from devmetrics_app.web.dashboard.charts import fmt


@pytest.mark.parametrize(("value", "unit", "text"), [
    (None, "h", "\u2013"),
    (float("nan"), "", "\u2013"),
    (0, "", "0"),
    (3.04, "h", "3 h"),
    (3.26, "h", "3.3 h"),
    (150.4, "", "150"),
    (42.0, "%", "42%"),
    (0.019, "deploy days/week", "0.019 deploy days/week"),  # one release a year is not zero
    (0.0000012, "", "<0.001"),
    (1.0, "pull requests", "1 pull request"),  # a count of one reads in the singular
    (1.0, "hours", "1 hour"),
    (1, "files", "1 file"),
    (1.01, "ms", "1 ms"),  # units not known as plurals are left alone
])
def test_fmt(value, unit, text):
    assert fmt(value, unit) == text


def _ticks(svg: str) -> list[str]:
    found = re.findall(r'class="tick" x="[\d.]+" y="[\d.]+" text-anchor="(?:middle|end)">([^<]+)</text>', svg)
    return [text for text in found if re.fullmatch(r"[\d.]+", text)]


def test_horizontal_bars_have_a_scale_and_escape_labels():
    chart = charts.horizontal_bars("Open review requests", [("<script>x</script>", 3.0), ("carol", 1.0)],
                                   unit="review requests", label_header="Reviewer")
    svg = str(chart.svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    # Ticks at quarters of a round axis maximum (5 for a largest value of 3), behind the bars.
    for tick in ("0", "1.2", "2.5", "3.8", "5"):
        assert f'text-anchor="middle">{tick}</text>' in svg
    assert svg.index('class="grid"') < svg.index("<rect")
    assert chart.table.rows == [["<script>x</script>", "3 review requests"], ["carol", "1 review request"]]


@pytest.mark.parametrize(("highest", "ticks"), [
    (3.0, ["0", "1", "2", "3"]), (5.0, ["0", "2", "4", "6"]), (0.0, ["0", "1"]),
    (37.0, ["0", "10", "20", "30", "40"]),
])
def test_count_axes_tick_at_whole_numbers(highest, ticks):
    load = charts.horizontal_bars("Load", [("bob", highest)], unit="review requests", label_header="Reviewer",
                                  integer=True)
    assert _ticks(str(load.svg)) == ticks
    merged = charts.bars("Merged", ["w1", "w2"], [highest, 0.0], unit="pull requests", x_label="Week",
                         y_label="Merged", integer=True)
    assert _ticks(str(merged.svg)) == ticks


def test_band_is_drawn_and_named_in_the_table():
    chart = charts.lines("Lead time", ["a", "b"], {"Median": [30.0, None]}, unit="hours", x_label="Week",
                         y_label="Lead", band=charts.Band(0, 24, "DORA elite: under a day"))
    assert 'class="band"' in str(chart.svg)
    assert chart.table.caption.endswith("benchmark band: DORA elite: under a day")
    assert ("band", "DORA elite: under a day") in chart.legend
