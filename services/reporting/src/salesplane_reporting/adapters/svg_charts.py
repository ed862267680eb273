"""Server-side SVG charts of a report's ChartData: one standalone, accessible, deterministic document.

Only the standard library draws them (ElementTree escapes every user text), so a report can be
exported or mailed with its chart and nothing else to install. Every mark carries a class ("bar",
"segment", "step up", "slice", "point", "funnel-step") and a <title> tooltip."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from salesplane_reporting.adapters.svg_axes import (
    MUTED_COLOUR,
    AttributeValue,
    Box,
    LinearScale,
    Number,
    add,
    add_text,
    attributes,
    compact_value,
    coordinate,
    draw_axis_titles,
    draw_category_labels,
    draw_value_axis,
    draw_zero_line,
    format_share,
    format_value,
    nice_ticks,
    text_width,
    tick_labels,
)
from salesplane_reporting.domain.report import ChartData, ChartKind, ChartSeries, ValueFormat

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
FONT_FAMILY = "system-ui,sans-serif"
MIN_WIDTH = 240
MIN_HEIGHT = 160

# Okabe-Ito, told apart with the common colour-vision deficiencies; each fill with the ink that
# keeps a label drawn on it legible (white only on the two dark ones).
_PALETTE: tuple[tuple[str, str], ...] = (
    ("#0072B2", "#ffffff"),
    ("#E69F00", "#000000"),
    ("#009E73", "#000000"),
    ("#D55E00", "#000000"),
    ("#56B4E9", "#000000"),
    ("#CC79A7", "#000000"),
    ("#F0E442", "#000000"),
    ("#000000", "#ffffff"),
)
_WATERFALL_COLOURS = {"up": _PALETTE[2], "down": _PALETTE[3], "total": _PALETTE[0]}
_WATERFALL_LEGEND = (("Increase", "up"), ("Decrease", "down"), ("Total", "total"))

_EDGE = 16
_TITLE_SIZE = 16
_LEGEND_SIZE = 12
_LEGEND_ROW = 18
_LEGEND_ITEM_WIDTH = 160
_VALUE_SIZE = 10
# Room above the tallest bar (and below the lowest negative one) for its value label.
_LABEL_ROOM = 14
_CONTENT_TOP = 40
_FUNNEL_MIN_LABELLED_PITCH = 14
_WHOLE_FORMATS = (ValueFormat.INTEGER, ValueFormat.MONEY)
_EM_DASH = "\N{EM DASH}"

Values = tuple[Number | None, ...]


def render_svg(chart: ChartData, *, width: int = 720, height: int = 400) -> str:
    """The chart as a standalone SVG document; the same chart always gives the same string."""
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise ValueError(f"a chart needs at least {MIN_WIDTH}x{MIN_HEIGHT} pixels, not {width}x{height}")
    canvas = _Canvas(_document(chart, width, height), width, height)
    if _has_data(chart):
        _DRAWERS[chart.kind](canvas, chart)
    else:
        add_text(
            canvas.root, width / 2, height / 2, "No data", size=14, css_class="no-data", fill=MUTED_COLOUR
        )
    return ET.tostring(canvas.root, encoding="unicode")


@dataclass(frozen=True)
class _Canvas:
    root: ET.Element
    width: int
    height: int


def _document(chart: ChartData, width: int, height: int) -> ET.Element:
    label = chart.title or f"{chart.kind.value.replace('_', ' ').capitalize()} chart"
    root = ET.Element(
        "svg",
        attributes(
            {
                "xmlns": SVG_NAMESPACE,
                "width": width,
                "height": height,
                "viewBox": f"0 0 {width} {height}",
                "role": "img",
                "aria-label": label,
                "font-family": FONT_FAMILY,
            }
        ),
    )
    add(root, "title", {}, label)
    if chart.notes:
        add(root, "desc", {}, " ".join(chart.notes))
    add(root, "rect", {"class": "background", "width": width, "height": height, "fill": "#ffffff"})
    if chart.title:
        bold = {"font-weight": "bold"}
        fit = width - 2 * _EDGE
        add_text(
            root,
            width / 2,
            26,
            chart.title,
            size=_TITLE_SIZE,
            css_class="chart-title",
            max_width=fit,
            extra=bold,
        )
    return root


def _has_data(chart: ChartData) -> bool:
    if not chart.categories or not chart.series:
        return False
    count = len(chart.categories)
    if chart.kind in (ChartKind.PIE, ChartKind.FUNNEL):
        return any(value is not None and value > 0 for value in _values(chart.series[0], count))
    used = chart.series[:1] if chart.kind is ChartKind.WATERFALL else chart.series
    return any(value is not None for series in used for value in _values(series, count))


def _values(series: ChartSeries, count: int) -> Values:
    """One value per category: missing ones padded with None, extra ones dropped, NaN as None."""
    padded = series.values[:count] + (None,) * (count - len(series.values))
    return tuple(None if isinstance(value, Decimal) and not value.is_finite() else value for value in padded)


def _colour(index: int) -> tuple[str, str]:
    return _PALETTE[index % len(_PALETTE)]


def _tooltip(category: str, series_name: str, value_text: str) -> str:
    return (
        f"{category} {_EM_DASH} {series_name}: {value_text}" if series_name else f"{category}: {value_text}"
    )


def _series_name(series: ChartSeries, index: int) -> str:
    return series.name or f"Series {index + 1}"


# --- Legend -----------------------------------------------------------------------------------


def _draw_legend(canvas: _Canvas, entries: Sequence[tuple[str, str]], top: float) -> float:
    """Swatches and names in rows under the title, wrapping at the right edge; returns the bottom."""
    if not entries:
        return top
    group = add(canvas.root, "g", {"class": "legend"})
    x, y = float(_EDGE), top
    for name, fill in entries:
        item_width = 14 + min(text_width(name, _LEGEND_SIZE), _LEGEND_ITEM_WIDTH) + 16
        if x > _EDGE and x + item_width > canvas.width - _EDGE:
            x, y = float(_EDGE), y + _LEGEND_ROW
        _legend_item(group, x, y, name, fill, _LEGEND_ITEM_WIDTH)
        x += item_width
    return y + _LEGEND_ROW


def _legend_item(parent: ET.Element, x: float, y: float, text: str, fill: str, max_width: float) -> None:
    item = add(parent, "g", {"class": "legend-item"})
    add(item, "rect", {"class": "swatch", "x": x, "y": y, "width": 10, "height": 10, "fill": fill})
    add_text(
        item,
        x + 14,
        y + 9,
        text,
        size=_LEGEND_SIZE,
        css_class="legend-label",
        anchor="start",
        max_width=max_width,
    )


def _series_legend(chart: ChartData) -> list[tuple[str, str]]:
    if len(chart.series) < 2:
        return []
    return [(_series_name(series, index), _colour(index)[0]) for index, series in enumerate(chart.series)]


# --- Axes shared by bar, stacked bar, line and waterfall --------------------------------------


@dataclass(frozen=True)
class _Axes:
    plot: Box
    y: LinearScale
    band: float
    centres: tuple[float, ...]


def _draw_axes(
    canvas: _Canvas, chart: ChartData, extent: Sequence[Number], legend: Sequence[tuple[str, str]]
) -> _Axes:
    """Legend, gridlines, ticks, category labels and axis titles, for values spanning `extent`."""
    legend_bottom = _draw_legend(canvas, legend, _CONTENT_TOP)
    ticks = nice_ticks(extent, whole_steps=chart.value_format in _WHOLE_FORMATS)
    labels = tick_labels(ticks, chart.value_format, chart.currency)
    left = _EDGE + (18 if chart.y_title else 0) + max(text_width(label, 11) for label in labels) + 8
    # Absurdly long tick text may run off the left edge; the plot itself keeps most of the width.
    left = min(left, canvas.width * 0.4)
    top = legend_bottom + _LABEL_ROOM
    bottom = max(canvas.height - _EDGE - 14 - (18 if chart.x_title else 0), top + 20)
    plot = Box(left, top, canvas.width - _EDGE, bottom)
    room_below = _LABEL_ROOM if ticks.low < 0 else 0
    y = LinearScale(float(ticks.low), float(ticks.high), plot.bottom - room_below, plot.top)
    draw_value_axis(canvas.root, ticks, labels, y, plot)
    band = plot.width / len(chart.categories)
    centres = tuple(plot.left + band * (index + 0.5) for index in range(len(chart.categories)))
    draw_category_labels(canvas.root, chart.categories, centres, band, plot.bottom + 15)
    draw_axis_titles(canvas.root, chart.x_title, chart.y_title, plot, canvas.height)
    return _Axes(plot, y, band, centres)


def _draw_rect(
    parent: ET.Element,
    css_class: str,
    x: float,
    width: float,
    levels: tuple[float, float],
    fill: str,
    tooltip: str,
) -> tuple[float, float]:
    """A rectangle between two y levels (either order); returns its top and bottom."""
    # Rounded before the height is taken, so stacked edges meet exactly in the written numbers.
    top, bottom = sorted(round(level, 2) for level in levels)
    rect = add(
        parent,
        "rect",
        {"class": css_class, "x": x, "y": top, "width": width, "height": bottom - top, "fill": fill},
    )
    add(rect, "title", {}, tooltip)
    return top, bottom


def _value_label(
    parent: ET.Element, centre: float, edges: tuple[float, float], upward: bool, text: str
) -> None:
    """The value above the mark (below it when the mark points down)."""
    top, bottom = edges
    y = top - 4 if upward else bottom + _VALUE_SIZE + 1
    add_text(parent, centre, y, text, size=_VALUE_SIZE, css_class="value-label")


def _fits(text: str, room: float) -> bool:
    return text_width(text, _VALUE_SIZE) <= room


# --- Bar --------------------------------------------------------------------------------------


def _draw_bar_chart(canvas: _Canvas, chart: ChartData) -> None:
    count = len(chart.categories)
    table = [_values(series, count) for series in chart.series]
    extent = [value for values in table for value in values if value is not None]
    axes = _draw_axes(canvas, chart, extent, _series_legend(chart))
    slot = axes.band * 0.8 / len(table)
    group = add(canvas.root, "g", {"class": "bars"})
    for index, (series, values) in enumerate(zip(chart.series, table, strict=True)):
        for position, value in enumerate(values):
            if value is not None:
                x = axes.centres[position] - axes.band * 0.4 + index * slot
                text = format_value(value, chart.value_format, chart.currency)
                tooltip = _tooltip(chart.categories[position], series.name, text)
                levels = (axes.y(value), axes.y(0))
                edges = _draw_rect(
                    group, "bar", x + slot * 0.05, slot * 0.9, levels, _colour(index)[0], tooltip
                )
                if _fits(text, slot):
                    _value_label(group, x + slot / 2, edges, value >= 0, text)
    draw_zero_line(canvas.root, axes.y, axes.plot)


# --- Stacked bar ------------------------------------------------------------------------------


def _stack(table: Sequence[Values], position: int) -> list[tuple[Number, Number] | None]:
    """Each series' segment in one category: positive values stack up from zero, negative ones
    down from zero, so neither hides the other; a missing value counts as zero."""
    above: Number = 0
    below: Number = 0
    segments: list[tuple[Number, Number] | None] = []
    for values in table:
        value = values[position]
        if value is None:
            segments.append(None)
        elif value >= 0:
            segments.append((above, above + value))
            above += value
        else:
            segments.append((below, below + value))
            below += value
    return segments


def _draw_stacked_bar_chart(canvas: _Canvas, chart: ChartData) -> None:
    count = len(chart.categories)
    table = [_values(series, count) for series in chart.series]
    stacks = [_stack(table, position) for position in range(count)]
    extent = [end for stack in stacks for segment in stack if segment for end in segment]
    axes = _draw_axes(canvas, chart, extent, _series_legend(chart))
    width = axes.band * 0.6
    group = add(canvas.root, "g", {"class": "bars"})
    for position, stack in enumerate(stacks):
        x = axes.centres[position] - width / 2
        for index, segment in enumerate(stack):
            if segment is not None:
                _draw_segment(group, chart, axes, (position, index), x, width, segment)
        _draw_stack_total(group, chart, axes, position, stack)
    draw_zero_line(canvas.root, axes.y, axes.plot)


def _draw_segment(
    parent: ET.Element,
    chart: ChartData,
    axes: _Axes,
    where: tuple[int, int],
    x: float,
    width: float,
    segment: tuple[Number, Number],
) -> None:
    position, index = where
    start, end = segment
    text = format_value(end - start, chart.value_format, chart.currency)
    tooltip = _tooltip(chart.categories[position], chart.series[index].name, text)
    fill, ink = _colour(index)
    top, bottom = _draw_rect(parent, "segment", x, width, (axes.y(start), axes.y(end)), fill, tooltip)
    # With one series the segment is the whole bar, and the total above already says its value.
    if len(chart.series) > 1 and bottom - top >= _VALUE_SIZE + 4 and _fits(text, width - 4):
        middle = (top + bottom) / 2 + _VALUE_SIZE * 0.35
        add_text(parent, x + width / 2, middle, text, size=_VALUE_SIZE, css_class="segment-label", fill=ink)


def _draw_stack_total(
    parent: ET.Element,
    chart: ChartData,
    axes: _Axes,
    position: int,
    stack: Sequence[tuple[Number, Number] | None],
) -> None:
    """The category's net total, above the upward stack (below the downward one when negative)."""
    changes = [segment[1] - segment[0] for segment in stack if segment is not None]
    if not changes:
        return
    total = sum(changes, start=Decimal(0))
    text = format_value(total, chart.value_format, chart.currency)
    if _fits(text, axes.band):
        upward = total >= 0
        reach = sum((change for change in changes if (change >= 0) == upward), start=Decimal(0))
        edge = axes.y(reach)
        _value_label(parent, axes.centres[position], (edge, edge), upward, text)


# --- Line -------------------------------------------------------------------------------------


def _runs(values: Values) -> list[list[tuple[int, Number]]]:
    """Stretches of consecutive present values: a missing value breaks the line."""
    runs: list[list[tuple[int, Number]]] = [[]]
    for position, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((position, value))
    return [run for run in runs if run]


def _draw_line_chart(canvas: _Canvas, chart: ChartData) -> None:
    count = len(chart.categories)
    table = [_values(series, count) for series in chart.series]
    extent = [value for values in table for value in values if value is not None]
    axes = _draw_axes(canvas, chart, extent, _series_legend(chart))
    for index, values in enumerate(table):
        fill = _colour(index)[0]
        group = add(canvas.root, "g", {"class": "series"})
        for run in _runs(values):
            if len(run) > 1:
                points = " ".join(f"{coordinate(axes.centres[p])},{coordinate(axes.y(v))}" for p, v in run)
                style: dict[str, AttributeValue] = {
                    "fill": "none",
                    "stroke": fill,
                    "stroke-width": 2,
                    "stroke-linejoin": "round",
                }
                add(group, "polyline", {"class": "line", "points": points, **style})
        for position, value in enumerate(values):
            if value is not None:
                _draw_point(group, chart, axes, (position, index), value, fill)
    draw_zero_line(canvas.root, axes.y, axes.plot)


def _draw_point(
    parent: ET.Element, chart: ChartData, axes: _Axes, where: tuple[int, int], value: Number, fill: str
) -> None:
    position, index = where
    x, y = axes.centres[position], axes.y(value)
    text = format_value(value, chart.value_format, chart.currency)
    marker = add(parent, "circle", {"class": "point", "cx": x, "cy": y, "r": 3.5, "fill": fill})
    add(marker, "title", {}, _tooltip(chart.categories[position], chart.series[index].name, text))
    # Labels of several lines would collide; their values are in the tooltips.
    if len(chart.series) == 1 and _fits(text, axes.band):
        _value_label(parent, x, (y - 3, y + 3), value >= 0, text)


# --- Waterfall --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    start: Decimal
    end: Decimal
    # "total" (from zero), "up" or "down" (from the running total).
    kind: str

    @property
    def change(self) -> Decimal:
        return self.end - self.start


def _waterfall_steps(values: Values) -> list[_Step]:
    """The first and last categories are totals from zero, the ones between signed changes from the
    running total. A missing change is no change; a missing last total is the running total."""
    steps: list[_Step] = []
    running = Decimal(0)
    for position, value in enumerate(values):
        if position in (0, len(values) - 1):
            running = running if value is None else Decimal(value)
            steps.append(_Step(Decimal(0), running, "total"))
        else:
            change = Decimal(value or 0)
            steps.append(_Step(running, running + change, "up" if change >= 0 else "down"))
            running += change
    return steps


def _draw_waterfall_chart(canvas: _Canvas, chart: ChartData) -> None:
    series = chart.series[0]
    steps = _waterfall_steps(_values(series, len(chart.categories)))
    extent = [level for step in steps for level in (step.start, step.end)]
    legend = [(name, _WATERFALL_COLOURS[kind][0]) for name, kind in _WATERFALL_LEGEND]
    axes = _draw_axes(canvas, chart, extent, legend)
    width = axes.band * 0.6
    group = add(canvas.root, "g", {"class": "steps"})
    for position, step in enumerate(steps):
        x = axes.centres[position] - width / 2
        signed = step.kind != "total"
        text = format_value(step.change, chart.value_format, chart.currency, signed=signed)
        tooltip = _tooltip(chart.categories[position], series.name, text)
        levels = (axes.y(step.start), axes.y(step.end))
        edges = _draw_rect(
            group, f"step {step.kind}", x, width, levels, _WATERFALL_COLOURS[step.kind][0], tooltip
        )
        if not _fits(text, axes.band):
            text = compact_value(step.change, chart.value_format, chart.currency, signed=signed)
        if _fits(text, axes.band):
            # A change's label sits above it whichever way it goes; a total below zero hangs under it.
            _value_label(group, axes.centres[position], edges, signed or step.end >= 0, text)
    _draw_connectors(canvas.root, axes, steps, width)
    draw_zero_line(canvas.root, axes.y, axes.plot)


def _draw_connectors(parent: ET.Element, axes: _Axes, steps: Sequence[_Step], width: float) -> None:
    """A dashed line at the running total from each step to the next, so the eye follows it."""
    group = add(parent, "g", {"class": "connectors"})
    for position, step in enumerate(steps[:-1]):
        level = axes.y(step.end)
        line = {
            "x1": axes.centres[position] + width / 2,
            "x2": axes.centres[position + 1] - width / 2,
            "y1": level,
            "y2": level,
        }
        add(group, "line", {"class": "connector", **line, "stroke": MUTED_COLOUR, "stroke-dasharray": "3 2"})


# --- Pie --------------------------------------------------------------------------------------


def _draw_pie_chart(canvas: _Canvas, chart: ChartData) -> None:
    """Slices of series[0] by share, clockwise from twelve o'clock; values and shares in the legend.
    A pie cannot show a negative or zero share, so those categories get no slice."""
    series = chart.series[0]
    values = _values(series, len(chart.categories))
    slices = [
        (position, Decimal(value)) for position, value in enumerate(values) if value is not None and value > 0
    ]
    total = sum((value for _, value in slices), start=Decimal(0))
    texts = [
        f"{format_value(value, chart.value_format, chart.currency)} ({format_share(value, total)})"
        for _, value in slices
    ]
    entries = [
        (f"{chart.categories[position]}: {text}", _colour(position)[0])
        for (position, _), text in zip(slices, texts, strict=True)
    ]
    area = Box(_EDGE, _CONTENT_TOP, canvas.width - _EDGE, canvas.height - _EDGE)
    radius = min(area.height, area.width / 2) / 2
    # Pie and legend centred together, so a short legend leaves no empty half.
    legend_width = min(
        max(text_width(text, _LEGEND_SIZE) for text, _ in entries) + 14, area.width - 2 * radius - 24
    )
    left = area.left + (area.width - 2 * radius - 24 - legend_width) / 2
    centre = (left + radius, area.top + area.height / 2)
    group = add(canvas.root, "g", {"class": "slices"})
    cumulative = Decimal(0)
    for (position, value), text in zip(slices, texts, strict=True):
        angles = (_angle(cumulative / total), _angle((cumulative + value) / total))
        tooltip = _tooltip(chart.categories[position], series.name, text)
        _draw_slice(group, centre, radius, angles, _colour(position)[0], tooltip)
        cumulative += value
    legend_left = left + 2 * radius + 24
    legend_top = max(area.top, centre[1] - len(entries) * _LEGEND_ROW / 2)
    _draw_vertical_legend(
        canvas.root, entries, Box(legend_left, legend_top, legend_left + legend_width, area.bottom)
    )


def _angle(fraction: Decimal) -> float:
    # Cumulative fractions (not summed float angles) so the last slice closes the circle exactly.
    return 2 * math.pi * float(fraction) - math.pi / 2


def _draw_slice(
    parent: ET.Element,
    centre: tuple[float, float],
    radius: float,
    angles: tuple[float, float],
    fill: str,
    tooltip: str,
) -> None:
    cx, cy = centre
    start, end = angles
    style: dict[str, AttributeValue] = {"fill": fill, "stroke": "#ffffff", "stroke-width": 1}
    if end - start >= 2 * math.pi - 1e-9:
        # An arc whose ends coincide draws nothing: a single slice is the whole circle.
        shape = add(parent, "circle", {"class": "slice", "cx": cx, "cy": cy, "r": radius, **style})
    else:
        x0, y0 = cx + radius * math.cos(start), cy + radius * math.sin(start)
        x1, y1 = cx + radius * math.cos(end), cy + radius * math.sin(end)
        large = 1 if end - start > math.pi else 0
        r, c = coordinate(radius), coordinate
        path = f"M {c(cx)} {c(cy)} L {c(x0)} {c(y0)} A {r} {r} 0 {large} 1 {c(x1)} {c(y1)} Z"
        shape = add(parent, "path", {"class": "slice", "d": path, **style})
    add(shape, "title", {}, tooltip)


def _draw_vertical_legend(parent: ET.Element, entries: Sequence[tuple[str, str]], box: Box) -> None:
    """One entry a row; when they do not all fit, the last row says how many are left out."""
    group = add(parent, "g", {"class": "legend"})
    rows = max(1, int(box.height // _LEGEND_ROW))
    shown = entries if len(entries) <= rows else entries[: rows - 1]
    for row, (text, fill) in enumerate(shown):
        _legend_item(group, box.left, box.top + row * _LEGEND_ROW, text, fill, box.width - 14)
    if len(shown) < len(entries):
        y = box.top + len(shown) * _LEGEND_ROW + 9
        more = f"+ {len(entries) - len(shown)} more"
        add_text(group, box.left + 14, y, more, size=_LEGEND_SIZE, css_class="legend-more", anchor="start")


# --- Funnel -----------------------------------------------------------------------------------


def _draw_funnel_chart(canvas: _Canvas, chart: ChartData) -> None:
    """Centred bars as wide as their share of the widest step, each with its value and its share of
    the first step (the conversion so far)."""
    series = chart.series[0]
    values = _values(series, len(chart.categories))
    widest = Decimal(max(value for value in values if value is not None and value > 0))
    first = values[0]
    label_width = min(canvas.width * 0.3, 180)
    area = Box(_EDGE + label_width + 8, _CONTENT_TOP, canvas.width - _EDGE, canvas.height - _EDGE)
    # Thinner than the space allows for few steps: a two-step funnel of two slabs reads badly.
    pitch = min(area.height / len(values), 64)
    offset = area.top + (area.height - pitch * len(values)) / 2
    # Text on steps thinner than a line of it would overlap; the tooltips still carry it.
    labelled = pitch >= _FUNNEL_MIN_LABELLED_PITCH
    group = add(canvas.root, "g", {"class": "funnel"})
    for position, (category, value) in enumerate(zip(chart.categories, values, strict=True)):
        top = offset + position * pitch + pitch * 0.1
        baseline = top + pitch * 0.4 + _VALUE_SIZE * 0.35
        if labelled:
            add_text(
                group,
                area.left - 8,
                baseline,
                category,
                size=11,
                css_class="category",
                anchor="end",
                max_width=label_width,
            )
        if value is None:
            continue
        text = format_value(value, chart.value_format, chart.currency)
        if first is not None and first > 0:
            text = f"{text} ({format_share(value, first)})"
        width = area.width * float(Decimal(max(value, 0)) / widest)
        x = (area.left + area.right - width) / 2
        fill, ink = _colour(0)
        _draw_rect(
            group,
            "funnel-step",
            x,
            width,
            (top, top + pitch * 0.8),
            fill,
            _tooltip(category, series.name, text),
        )
        if labelled:
            _funnel_label(group, (x, width), baseline, text, ink)


def _funnel_label(parent: ET.Element, bar: tuple[float, float], baseline: float, text: str, ink: str) -> None:
    """Inside the bar when it is wide enough, else just right of it."""
    x, width = bar
    if _fits(text, width - 8):
        add_text(parent, x + width / 2, baseline, text, size=_VALUE_SIZE, css_class="value-label", fill=ink)
    else:
        add_text(
            parent, x + width + 6, baseline, text, size=_VALUE_SIZE, css_class="value-label", anchor="start"
        )


_DRAWERS: dict[ChartKind, Callable[[_Canvas, ChartData], None]] = {
    ChartKind.BAR: _draw_bar_chart,
    ChartKind.STACKED_BAR: _draw_stacked_bar_chart,
    ChartKind.LINE: _draw_line_chart,
    ChartKind.PIE: _draw_pie_chart,
    ChartKind.FUNNEL: _draw_funnel_chart,
    ChartKind.WATERFALL: _draw_waterfall_chart,
}
