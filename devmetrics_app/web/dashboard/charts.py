"""Small server-rendered SVG charts, each paired with a table of the same numbers.

Why our own module: the charts are few (bars, stacked bars, lines, horizontal bars), must work
without JavaScript, must pass a CSP that forbids inline styles (so colours come from CSS
classes in app.css, never `style=`), and must be accessible: every chart carries a <title> and
<desc>, labelled axes with units, and a `Table` a template renders beside it for screen readers
and for anyone who wants the exact figures. A benchmark band, where one exists, is drawn behind
the data and named in the legend and the table caption.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 56
MAX_X_LABELS = 12
SERIES_CLASSES = tuple(f"s{i}" for i in range(6))
TICKS = 4  # intervals on a value axis
INTEGER_STEPS = (1, 2, 5)  # times a power of ten: the step between ticks of a count axis
# Count units read in the singular beside exactly one ("1 review request", not "1 review requests").
SINGULAR = {"hours": "hour", "pull requests": "pull request", "merged pull requests": "merged pull request",
            "review requests": "review request",
            "points": "point", "days": "day", "issues": "issue", "deployments": "deployment",
            "incidents": "incident", "commits": "commit", "runs": "run", "workflow runs": "workflow run",
            "items": "item", "repositories": "repository", "sprints": "sprint", "files": "file"}
_ids = itertools.count(1)


@dataclass(frozen=True)
class Band:
    """A benchmark range drawn behind the data, e.g. DORA's elite lead time (0-24 h)."""

    low: float
    high: float
    label: str


@dataclass(frozen=True)
class Table:
    caption: str
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Chart:
    title: str
    svg: Markup
    table: Table
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, label)


def fmt(value: float | None, unit: str = "") -> str:
    """A figure as people read it: at most one decimal (two significant digits below 0.1, so a
    rare but real event never reads as 0), and a dash for 'no data'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"  # an en dash: no data
    if 0 < abs(value) < 0.001:
        text = "<0.001" if value > 0 else ">-0.001"
    elif abs(value) < 0.05:
        text = f"{value:.2g}"
    else:
        text = f"{value:.0f}" if abs(value - round(value)) < 0.05 or abs(value) >= 100 else f"{value:.1f}"
    unit = SINGULAR.get(unit, unit) if text == "1" else unit
    return f"{text} {unit}".strip() if unit and unit != "%" else f"{text}{unit}"


def noun(count: float | None, unit: str) -> str:
    """The unit alone, in the number `fmt` would print it with (for a count shown apart)."""
    return SINGULAR.get(unit, unit) if fmt(count) == "1" else unit


def _markup(parts: list[str]) -> Markup:
    """Every value interpolated into `parts` went through `escape`; the tags are our own."""
    return Markup("".join(parts))  # noqa: S704 - built from escaped values only


def _nice_max(value: float) -> float:
    """A round upper bound for the y axis (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _scale(highest: float, *, integer: bool = False) -> tuple[float, list[float]]:
    """(axis maximum, tick values). A count axis ticks at whole numbers only (0, 2, 4, 6 for a
    largest count of 5, never 1.2 or 3.8); other axes at quarters of a round maximum."""
    if not integer:
        top = _nice_max(highest)
        return top, [top * k / TICKS for k in range(TICKS + 1)]
    highest = max(math.ceil(highest), 1)
    power = 1
    while True:
        for step in (s * power for s in INTEGER_STEPS):
            if step * TICKS >= highest:
                intervals = math.ceil(highest / step)
                return float(step * intervals), [float(step * k) for k in range(intervals + 1)]
        power *= 10


class _Frame:
    """Plot area geometry shared by the vertical charts."""

    def __init__(self, n: int, top_value: float, *, integer: bool = False) -> None:
        self.n = max(n, 1)
        self.top, self.ticks = _scale(top_value, integer=integer)
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = HEIGHT - TOP - BOTTOM

    def y(self, value: float) -> float:
        return TOP + self.plot_h * (1 - min(max(value, 0.0), self.top) / self.top)

    def slot(self, i: int) -> tuple[float, float]:
        """(left x, width) of the i-th category slot."""
        w = self.plot_w / self.n
        return LEFT + i * w, w


def _open(chart_id: str, title: str, desc: str) -> list[str]:
    return [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
            f'<title id="{chart_id}-t">{escape(title)}</title>',
            f'<desc id="{chart_id}-d">{escape(desc)}</desc>']


def _axes(frame: _Frame, labels: Sequence[str], x_label: str, y_label: str, unit: str) -> list[str]:
    parts = []
    for value in frame.ticks:
        y = frame.y(value)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{escape(fmt(value))}</text>')
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    for i, label in enumerate(labels):
        if i % every:
            continue
        x, w = frame.slot(i)
        parts.append(f'<text class="tick" x="{x + w / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="middle">{escape(label)}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + frame.plot_h}" '
                 f'y2="{TOP + frame.plot_h}"/>')
    parts.append(f'<text class="axis-label" x="{LEFT + frame.plot_w / 2:.1f}" y="{HEIGHT - 14}" '
                 f'text-anchor="middle">{escape(x_label)}</text>')
    y_text = f"{y_label} ({unit})" if unit else y_label
    parts.append(f'<text class="axis-label" transform="translate(14 {TOP + frame.plot_h / 2:.1f}) '
                 f'rotate(-90)" text-anchor="middle">{escape(y_text)}</text>')
    return parts


def _band(frame: _Frame, band: Band | None) -> list[str]:
    if band is None:
        return []
    y_high, y_low = frame.y(band.high), frame.y(band.low)
    return [f'<rect class="band" x="{LEFT}" y="{y_high:.1f}" width="{frame.plot_w}" '
            f'height="{max(y_low - y_high, 0):.1f}"><title>{escape(band.label)}</title></rect>']


def _caption(title: str, unit: str, band: Band | None) -> str:
    caption = f"{title} ({unit})" if unit else title
    if band is not None:
        caption += f"; benchmark band: {band.label}"
    return caption


def stacked_bars(title: str, labels: Sequence[str], stacks: dict[str, Sequence[float | None]], *,
                 unit: str, x_label: str, y_label: str, band: Band | None = None,
                 integer: bool = False) -> Chart:
    """One bar per label, split into named parts (e.g. cycle-time stages per week); `integer`
    for counts (whole-number ticks)."""
    chart_id = f"c{next(_ids)}"
    totals = [sum(v or 0 for v in column) for column in zip(*stacks.values(), strict=True)] or [0]
    frame = _Frame(len(labels), max([*totals, band.high if band else 0]), integer=integer)
    parts = _open(chart_id, title, f"{len(labels)} bars of {', '.join(stacks)} in {unit}.")
    parts += _band(frame, band) + _axes(frame, labels, x_label, y_label, unit)
    for i, label in enumerate(labels):
        x, w = frame.slot(i)
        base = 0.0
        for (name, values), css in zip(stacks.items(), itertools.cycle(SERIES_CLASSES), strict=False):
            value = values[i] or 0.0
            if value <= 0:
                continue
            y_top, y_bottom = frame.y(base + value), frame.y(base)
            parts.append(f'<rect class="{css}" x="{x + w * 0.15:.1f}" y="{y_top:.1f}" '
                         f'width="{w * 0.7:.1f}" height="{max(y_bottom - y_top, 0.5):.1f}">'
                         f'<title>{escape(label)}: {escape(name)} {escape(fmt(value, unit))}</title></rect>')
            base += value
    parts.append("</svg>")
    rows = [[label, *(fmt(values[i], unit) for values in stacks.values()), fmt(totals[i], unit)]
            for i, label in enumerate(labels)]
    legend = [(css, name) for name, css in zip(stacks, itertools.cycle(SERIES_CLASSES), strict=False)]
    if band:
        legend.append(("band", band.label))
    return Chart(title, _markup(parts),
                 Table(_caption(title, unit, band), [x_label, *stacks, "Total"], rows), legend)


def bars(title: str, labels: Sequence[str], values: Sequence[float | None], *, unit: str,
         x_label: str, y_label: str, band: Band | None = None, integer: bool = False) -> Chart:
    """Vertical bars (throughput per week, velocity per sprint)."""
    chart = stacked_bars(title, labels, {y_label: values}, unit=unit, x_label=x_label,
                         y_label=y_label, band=band, integer=integer)
    rows = [[label, fmt(value, unit)] for label, value in zip(labels, values, strict=True)]
    return Chart(title, chart.svg, Table(_caption(title, unit, band), [x_label, y_label], rows),
                 chart.legend if band else [])


def lines(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]], *,
          unit: str, x_label: str, y_label: str, band: Band | None = None,
          top: float | None = None) -> Chart:
    """One polyline per series; gaps where a value is None (no data is not zero)."""
    chart_id = f"c{next(_ids)}"
    highest = max([v for values in series.values() for v in values if v is not None] or [0])
    frame = _Frame(len(labels), top if top is not None else max(highest, band.high if band else 0))
    parts = _open(chart_id, title, f"{', '.join(series)} over {len(labels)} points, in {unit}.")
    parts += _band(frame, band) + _axes(frame, labels, x_label, y_label, unit)
    for (name, values), css in zip(series.items(), itertools.cycle(SERIES_CLASSES), strict=False):
        segment: list[str] = []
        points: list[str] = []
        for i, value in enumerate(values):
            if value is None:
                if len(segment) > 1:
                    parts.append(f'<polyline class="line {css}" points="{" ".join(segment)}"/>')
                segment = []
                continue
            x, w = frame.slot(i)
            point = f"{x + w / 2:.1f},{frame.y(value):.1f}"
            segment.append(point)
            points.append(f'<circle class="dot {css}" cx="{x + w / 2:.1f}" cy="{frame.y(value):.1f}" r="3">'
                          f'<title>{escape(labels[i])}: {escape(name)} {escape(fmt(value, unit))}</title>'
                          f'</circle>')
        if len(segment) > 1:
            parts.append(f'<polyline class="line {css}" points="{" ".join(segment)}"/>')
        parts += points
    parts.append("</svg>")
    rows = [[label, *(fmt(values[i], unit) for values in series.values())] for i, label in enumerate(labels)]
    legend = [(css, name) for name, css in zip(series, itertools.cycle(SERIES_CLASSES), strict=False)]
    if band:
        legend.append(("band", band.label))
    return Chart(title, _markup(parts),
                 Table(_caption(title, unit, band), [x_label, *series], rows), legend)


def horizontal_bars(title: str, items: Sequence[tuple[str, float]], *, unit: str,
                    label_header: str, integer: bool = False) -> Chart:
    """One row per person or thing (review load per reviewer), longest scale first."""
    chart_id = f"c{next(_ids)}"
    row_h, label_w = 24, 150
    height = TOP + BOTTOM // 2 + 16 + row_h * max(len(items), 1)
    top, ticks = _scale(max([v for _, v in items] or [0]), integer=integer)
    plot_w = WIDTH - label_w - RIGHT - 40
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{chart_id}-t">{escape(title)}</title>',
             f'<desc id="{chart_id}-d">{len(items)} rows, in {escape(unit)}; axis 0 to '
             f'{escape(fmt(top))}.</desc>']
    for i, (label, value) in enumerate(items):
        y = TOP + i * row_h
        width = plot_w * value / top
        parts.append(f'<text class="tick" x="{label_w - 8}" y="{y + 16}" text-anchor="end">'
                     f'{escape(label)}</text>')
        parts.append(f'<rect class="s0" x="{label_w}" y="{y + 4}" width="{max(width, 0.5):.1f}" '
                     f'height="{row_h - 8}">'
                     f'<title>{escape(label)}: {escape(fmt(value, unit))}</title></rect>')
        parts.append(f'<text class="value" x="{label_w + width + 6:.1f}" y="{y + 16}">'
                     f'{escape(fmt(value, unit))}</text>')
    if not items:
        parts.append(f'<text class="tick" x="{label_w}" y="{TOP + 16}">No data</text>')
    # The value scale: grid lines behind the bars (right after the title and description),
    # ticks under them.
    bottom = TOP + row_h * max(len(items), 1)
    scale = []
    for value in ticks:
        x = label_w + plot_w * value / top
        scale.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{bottom}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">'
                     f'{escape(fmt(value))}</text>')
    parts[3:3] = scale
    parts.append(f'<text class="axis-label" x="{label_w + plot_w / 2:.1f}" y="{height - 8}" '
                 f'text-anchor="middle">{escape(unit)}</text>')
    parts.append("</svg>")
    rows = [[label, fmt(value, unit)] for label, value in items]
    return Chart(title, _markup(parts), Table(f"{title} ({unit})", [label_header, unit], rows))
