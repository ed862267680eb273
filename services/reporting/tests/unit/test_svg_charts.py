"""The server-side SVG charts, read back with ElementTree: geometry, text and escaping."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesplane_reporting.adapters.svg_axes import format_value, nice_ticks, tick_labels
from salesplane_reporting.adapters.svg_charts import render_svg
from salesplane_reporting.domain.report import ChartData, ChartKind, ChartSeries, ValueFormat

SVG = "http://www.w3.org/2000/svg"
NS = {"svg": SVG}
SCRIPT = "<script>alert('x')</script>"


def chart(
    kind: ChartKind = ChartKind.BAR,
    categories: tuple[str, ...] = ("Q1", "Q2", "Q3"),
    *series: tuple[str, tuple[int | Decimal | None, ...]],
    **options,
) -> ChartData:
    return ChartData(
        kind=kind,
        title=options.pop("title", "Pipeline"),
        categories=categories,
        series=tuple(ChartSeries(name, values) for name, values in series),
        **options,
    )


def parse(data: ChartData, **size: int) -> ET.Element:
    return ET.fromstring(render_svg(data, **size))


def marks(root: ET.Element, css_class: str) -> list[ET.Element]:
    return [element for element in root.iter() if css_class in element.get("class", "").split()]


def tooltip(element: ET.Element) -> str:
    title = element.find("svg:title", NS)
    assert title is not None and title.text is not None
    return title.text


def texts(root: ET.Element, css_class: str) -> list[str]:
    return [element.text or "" for element in marks(root, css_class)]


def top(rect: ET.Element) -> float:
    return float(rect.get("y", "nan"))


def height(rect: ET.Element) -> float:
    return float(rect.get("height", "nan"))


def bottom(rect: ET.Element) -> float:
    return top(rect) + height(rect)


def zero_level(root: ET.Element) -> float:
    (line,) = marks(root, "zero-line")
    return float(line.get("y1", "nan"))


def sweep(slice_path: ET.Element) -> float:
    """The angle a pie slice's path spans, from its centre, start and end points."""
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", slice_path.get("d", ""))]
    cx, cy, x0, y0, _rx, _ry, _rotation, _large, _sweep, x1, y1 = numbers
    return (math.atan2(y1 - cy, x1 - cx) - math.atan2(y0 - cy, x0 - cx)) % (2 * math.pi)


EVERY_KIND = list(ChartKind)


@pytest.mark.parametrize("kind", EVERY_KIND, ids=lambda kind: kind.value)
def test_every_kind_of_chart_is_a_standalone_accessible_svg_document(kind):
    root = parse(chart(kind, ("Q1", "Q2", "Q3"), ("Amount", (10, 20, 30)), ("Other", (5, 6, 7))))

    assert root.tag == f"{{{SVG}}}svg"
    assert root.get("viewBox") == "0 0 720 400"
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Pipeline"
    assert root.get("font-family") == "system-ui,sans-serif"
    assert root.find("svg:title", NS) is not None
    assert root.find("svg:title", NS).text == "Pipeline"
    assert texts(root, "chart-title") == ["Pipeline"]


def test_the_canvas_size_sets_width_height_and_view_box():
    root = parse(chart(ChartKind.BAR, ("Q1",), ("Amount", (1,))), width=300, height=200)

    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("300", "200", "0 0 300 200")


def test_a_canvas_too_small_for_the_layout_is_refused():
    with pytest.raises(ValueError, match="at least"):
        render_svg(chart(ChartKind.BAR, ("Q1",), ("Amount", (1,))), width=50, height=50)


def test_bars_of_10_20_30_are_three_rects_with_heights_in_proportion():
    root = parse(chart(ChartKind.BAR, ("Q1", "Q2", "Q3"), ("Deals", (10, 20, 30))))

    bars = marks(root, "bar")
    assert len(bars) == 3
    unit = height(bars[0]) / 10
    assert height(bars[1]) == pytest.approx(20 * unit, abs=1)
    assert height(bars[2]) == pytest.approx(30 * unit, abs=1)
    assert all(bottom(bar) == pytest.approx(zero_level(root), abs=0.01) for bar in bars)


def test_bar_tooltips_name_category_series_and_formatted_value():
    root = parse(chart(ChartKind.BAR, ("North", "South"), ("Deals", (1234, 20))))

    assert [tooltip(bar) for bar in marks(root, "bar")] == ["North — Deals: 1,234", "South — Deals: 20"]
    assert texts(root, "value-label") == ["1,234", "20"]


def test_money_is_labelled_in_major_units_with_thousands_separators_and_currency():
    data = chart(
        ChartKind.BAR, ("Won",), ("Amount", (123456,)), value_format=ValueFormat.MONEY, currency="EUR"
    )
    root = parse(data)

    assert tooltip(marks(root, "bar")[0]) == "Won — Amount: 1,234.56 EUR"
    assert texts(root, "value-label") == ["1,234.56 EUR"]


@pytest.mark.parametrize(
    ("amount_minor", "currency", "text"),
    [
        (123456, "EUR", "1,234.56 EUR"),
        (-5, "USD", "-0.05 USD"),
        (1234567, "JPY", "1,234,567 JPY"),
        (1234567, "BHD", "1,234.567 BHD"),
        (1234567, "ZZZ", "12,345.67 ZZZ"),
        (10**20 + 1, "EUR", "1,000,000,000,000,000,000.01 EUR"),
    ],
)
def test_money_text_uses_the_currency_exponent_and_exact_integer_arithmetic(amount_minor, currency, text):
    assert format_value(amount_minor, ValueFormat.MONEY, currency) == text


@pytest.mark.parametrize(
    ("fraction", "text"),
    [
        (Decimal("0.25"), "25.0 %"),
        (Decimal("0.125"), "12.5 %"),
        (1, "100.0 %"),
        (Decimal("-0.0004"), "0.0 %"),
    ],
)
def test_percent_values_are_fractions_shown_with_one_decimal(fraction, text):
    assert format_value(fraction, ValueFormat.PERCENT, "") == text


def test_integers_get_thousands_separators_and_signed_changes_a_plus():
    assert format_value(1234567, ValueFormat.INTEGER, "") == "1,234,567"
    assert format_value(500, ValueFormat.INTEGER, "", signed=True) == "+500"
    assert format_value(-500, ValueFormat.INTEGER, "", signed=True) == "-500"


def test_y_ticks_of_values_up_to_30_step_by_5_from_zero():
    root = parse(chart(ChartKind.BAR, ("Q1", "Q2", "Q3"), ("Deals", (10, 20, 30))))

    assert texts(root, "tick") == ["0", "5", "10", "15", "20", "25", "30"]
    assert len(marks(root, "gridline")) == 7


@given(st.lists(st.integers(min_value=-(10**12), max_value=10**12), min_size=1, max_size=20))
def test_ticks_are_a_round_step_apart_and_cover_zero_and_every_value(values):
    ticks = nice_ticks(values, whole_steps=True)

    mantissa = ticks.step.normalize().as_tuple().digits
    assert mantissa in ((1,), (2,), (5,))
    assert ticks.low <= min(0, *values) and ticks.high >= max(0, *values)
    assert all(b - a == ticks.step for a, b in zip(ticks.values, ticks.values[1:], strict=False))
    assert 2 <= len(ticks.values) <= 11


def test_money_ticks_are_abbreviated_in_major_units():
    ticks = nice_ticks([0, 3_000_000], whole_steps=True)

    assert tick_labels(ticks, ValueFormat.MONEY, "EUR") == ("0", "5k", "10k", "15k", "20k", "25k", "30k")
    assert tick_labels(nice_ticks([0, 250_000_000], whole_steps=True), ValueFormat.MONEY, "USD")[-1] == "2.5M"


def test_percent_ticks_are_percentages():
    ticks = nice_ticks([Decimal("0.4")], whole_steps=False)

    assert tick_labels(ticks, ValueFormat.PERCENT, "") == ("0 %", "10 %", "20 %", "30 %", "40 %")


def test_stacked_segments_sit_each_on_top_of_the_one_below():
    root = parse(chart(ChartKind.STACKED_BAR, ("Q1",), ("A", (10,)), ("B", (5,)), ("C", (2,))))

    first, second, third = marks(root, "segment")
    assert bottom(first) == pytest.approx(zero_level(root), abs=0.01)
    assert top(second) == pytest.approx(bottom(first) - height(first) - height(second), abs=0.01)
    assert bottom(second) == pytest.approx(top(first), abs=0.01)
    assert bottom(third) == pytest.approx(top(second), abs=0.01)
    assert height(second) == pytest.approx(height(first) / 2, abs=1)
    assert texts(root, "value-label") == ["17"]


def test_a_missing_stacked_value_counts_as_zero_so_the_next_segment_sits_on_the_previous():
    root = parse(chart(ChartKind.STACKED_BAR, ("Q1",), ("A", (10,)), ("B", (None,)), ("C", (4,))))

    first, third = marks(root, "segment")
    assert tooltip(third) == "Q1 — C: 4"
    assert bottom(third) == pytest.approx(top(first), abs=0.01)
    assert texts(root, "value-label") == ["14"]


WATERFALL = chart(
    ChartKind.WATERFALL,
    ("Start", "New", "Lost", "Upsell", "End"),
    ("Pipeline", (1000, 500, -800, 100, 800)),
)


def test_each_waterfall_step_starts_where_the_running_total_ended():
    steps = marks(parse(WATERFALL), "step")

    running_level = top(steps[0])
    for step in steps[1:-1]:
        going_up = "up" in step.get("class", "").split()
        start, end = (bottom(step), top(step)) if going_up else (top(step), bottom(step))
        assert start == pytest.approx(running_level, abs=0.01)
        running_level = end
    assert top(steps[-1]) == pytest.approx(running_level, abs=0.01)


def test_the_final_waterfall_total_is_as_tall_as_the_start_plus_every_step():
    root = parse(WATERFALL)
    start, *changes, end = marks(root, "step")

    unit = height(start) / 1000
    assert height(end) == pytest.approx((1000 + 500 - 800 + 100) * unit, abs=1)
    assert [height(change) for change in changes] == pytest.approx(
        [500 * unit, 800 * unit, 100 * unit], abs=1
    )
    assert bottom(start) == bottom(end) == pytest.approx(zero_level(root), abs=0.01)


def test_waterfall_colours_rises_falls_and_totals_apart_and_signs_the_changes():
    root = parse(WATERFALL)
    steps = marks(root, "step")

    kinds = [step.get("class") for step in steps]
    assert kinds == ["step total", "step up", "step down", "step up", "step total"]
    fills = {kind: step.get("fill") for kind, step in zip(kinds, steps, strict=True)}
    assert len(set(fills.values())) == 3
    assert texts(root, "value-label") == ["1,000", "+500", "-800", "+100", "800"]
    assert tooltip(steps[2]) == "Lost — Pipeline: -800"
    assert len(marks(root, "connector")) == 4
    assert [item.find("svg:text", NS).text for item in marks(root, "legend-item")] == [
        "Increase",
        "Decrease",
        "Total",
    ]


def test_negative_bars_hang_below_the_zero_line_and_the_axis_reaches_the_minimum():
    root = parse(chart(ChartKind.BAR, ("Won", "Lost"), ("Net", (30, -50))))

    positive, negative = marks(root, "bar")
    zero = zero_level(root)
    assert bottom(positive) == pytest.approx(zero, abs=0.01)
    assert top(negative) == pytest.approx(zero, abs=0.01)
    assert height(negative) == pytest.approx(height(positive) * 50 / 30, abs=1)
    assert min(int(tick) for tick in texts(root, "tick")) <= -50
    label = marks(root, "value-label")[1]
    assert label.text == "-50" and float(label.get("y", "nan")) > bottom(negative)


def test_a_waterfall_below_zero_is_drawn_under_the_zero_line():
    root = parse(chart(ChartKind.WATERFALL, ("Start", "Loss", "End"), ("Cash", (-100, -50, -150))))

    start, loss, end = marks(root, "step")
    zero = zero_level(root)
    assert top(start) == pytest.approx(zero, abs=0.01) and top(end) == pytest.approx(zero, abs=0.01)
    assert top(loss) == pytest.approx(bottom(start), abs=0.01)
    assert bottom(loss) == pytest.approx(bottom(end), abs=0.01)


def test_pie_slices_span_angles_in_proportion_to_their_values():
    root = parse(chart(ChartKind.PIE, ("North", "South", "East", "West"), ("Deals", (1, 2, 3, 6))))

    slices = marks(root, "slice")
    assert [sweep(s) / (2 * math.pi) for s in slices] == pytest.approx(
        [1 / 12, 2 / 12, 3 / 12, 6 / 12], abs=1e-3
    )
    assert tooltip(slices[0]) == "North — Deals: 1 (8.3 %)"


def test_the_pie_legend_lists_each_slice_with_its_value_and_percentage():
    root = parse(chart(ChartKind.PIE, ("North", "South", "East", "West"), ("Deals", (1, 2, 3, 6))))

    assert texts(root, "legend-label") == [
        "North: 1 (8.3 %)",
        "South: 2 (16.7 %)",
        "East: 3 (25.0 %)",
        "West: 6 (50.0 %)",
    ]


def test_a_pie_of_one_non_zero_value_is_a_whole_circle():
    root = parse(chart(ChartKind.PIE, ("North", "South"), ("Deals", (0, 7))))

    (whole,) = marks(root, "slice")
    assert whole.tag == f"{{{SVG}}}circle"
    assert tooltip(whole) == "South — Deals: 7 (100.0 %)"


@pytest.mark.parametrize("values", [(0, 0, 0), (None, None, None), (0, None, -3)])
def test_a_pie_with_nothing_to_share_says_no_data(values):
    root = parse(chart(ChartKind.PIE, ("A", "B", "C"), ("Deals", values)))

    assert texts(root, "no-data") == ["No data"]
    assert marks(root, "slice") == []


@pytest.mark.parametrize("kind", EVERY_KIND, ids=lambda kind: kind.value)
def test_a_chart_without_categories_says_no_data_under_its_title(kind):
    root = parse(chart(kind, (), ("Amount", ())))

    assert texts(root, "chart-title") == ["Pipeline"]
    assert texts(root, "no-data") == ["No data"]


@pytest.mark.parametrize("kind", EVERY_KIND, ids=lambda kind: kind.value)
def test_a_chart_without_series_says_no_data(kind):
    assert texts(parse(chart(kind, ("Q1", "Q2"))), "no-data") == ["No data"]


@pytest.mark.parametrize("kind", EVERY_KIND, ids=lambda kind: kind.value)
def test_user_text_containing_a_script_tag_is_escaped_not_executed(kind):
    data = chart(
        kind,
        (SCRIPT, "Q2"),
        (SCRIPT, (10, 5)),
        (SCRIPT + " 2", (3, 4)),
        title=SCRIPT,
        x_title=SCRIPT,
        y_title=SCRIPT,
        notes=(SCRIPT,),
    )
    document = render_svg(data)
    root = ET.fromstring(document)

    assert "<script" not in document
    assert not [element for element in root.iter() if element.tag.endswith("script")]
    assert root.find("svg:title", NS).text == SCRIPT
    assert root.get("aria-label") == SCRIPT


def test_characters_xml_cannot_carry_are_dropped_from_user_text():
    root = parse(chart(ChartKind.BAR, ("Q\x001",), ("Deals\x1b", (1,)), title="Pipe\x0bline"))

    assert root.find("svg:title", NS).text == "Pipeline"
    assert tooltip(marks(root, "bar")[0]) == "Q1 — Deals: 1"


@pytest.mark.parametrize("kind", EVERY_KIND, ids=lambda kind: kind.value)
def test_the_same_chart_always_renders_the_same_document(kind):
    def build() -> ChartData:
        return chart(
            kind,
            ("Q1", "Q2", "Q3"),
            ("A", (Decimal("10.5"), -3, None)),
            ("B", (1, 2, 3)),
            value_format=ValueFormat.MONEY,
            currency="EUR",
        )

    assert render_svg(build()) == render_svg(build())


def test_long_category_labels_are_cut_with_an_ellipsis_keeping_the_full_text_as_a_tooltip():
    long_name = "Enterprise accounts in the northern region " * 3
    root = parse(chart(ChartKind.BAR, (long_name, "Q2", "Q3", "Q4"), ("Deals", (1, 2, 3, 4))))

    first, *others = marks(root, "category")
    assert first.text.endswith("…") and len(first.text) < len(long_name)
    assert long_name.startswith(first.text[:-1])
    assert tooltip(first) == long_name
    assert [label.text for label in others] == ["Q2", "Q3", "Q4"]
    assert all(label.find("svg:title", NS) is None for label in others)


def test_a_legend_appears_only_when_there_is_more_than_one_series():
    single = parse(chart(ChartKind.BAR, ("Q1",), ("Deals", (1,))))
    double = parse(chart(ChartKind.LINE, ("Q1",), ("This year", (1,)), ("Last year", (2,))))

    assert marks(single, "legend") == []
    assert texts(double, "legend-label") == ["This year", "Last year"]
    swatches = [swatch.get("fill") for swatch in marks(double, "swatch")]
    assert swatches == [point.get("fill") for point in marks(double, "point")]


def test_axis_titles_are_drawn_with_the_y_title_rotated():
    root = parse(chart(ChartKind.BAR, ("Q1",), ("Deals", (1,)), x_title="Quarter", y_title="Deals won"))

    (x_title,) = marks(root, "x-title")
    (y_title,) = marks(root, "y-title")
    assert x_title.text == "Quarter"
    assert y_title.text == "Deals won"
    assert y_title.get("transform", "").startswith("rotate(-90")


def test_a_missing_value_breaks_the_line_into_two_polylines():
    root = parse(chart(ChartKind.LINE, ("Jan", "Feb", "Mar", "Apr", "May"), ("Won", (1, 2, None, 4, 5))))

    lines = marks(root, "line")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]
    assert [tooltip(point) for point in marks(root, "point")] == [
        "Jan — Won: 1",
        "Feb — Won: 2",
        "Apr — Won: 4",
        "May — Won: 5",
    ]


def test_line_points_show_percentages():
    root = parse(
        chart(ChartKind.LINE, ("Jan",), ("Win rate", (Decimal("0.25"),)), value_format=ValueFormat.PERCENT)
    )

    assert tooltip(marks(root, "point")[0]) == "Jan — Win rate: 25.0 %"
    assert texts(root, "value-label") == ["25.0 %"]


def test_funnel_steps_are_centred_and_narrow_in_proportion_showing_the_share_of_the_first():
    root = parse(chart(ChartKind.FUNNEL, ("Leads", "Qualified", "Won"), ("Count", (1000, 400, 100))))

    steps = marks(root, "funnel-step")
    widths = [float(step.get("width", "nan")) for step in steps]
    centres = [float(step.get("x", "nan")) + width / 2 for step, width in zip(steps, widths, strict=True)]
    assert widths[1] == pytest.approx(widths[0] * 0.4, abs=1)
    assert widths[2] == pytest.approx(widths[0] * 0.1, abs=1)
    assert max(centres) - min(centres) < 0.02
    assert texts(root, "value-label") == ["1,000 (100.0 %)", "400 (40.0 %)", "100 (10.0 %)"]
    assert texts(root, "category") == ["Leads", "Qualified", "Won"]


def test_every_waterfall_step_keeps_a_label_when_full_amounts_are_too_wide() -> None:
    import xml.etree.ElementTree as ElementTree

    from salesplane_reporting.adapters.svg_charts import render_svg
    from salesplane_reporting.domain.report import ChartData, ChartKind, ChartSeries, ValueFormat

    steps = (3_300_000, 500_000, 120_000, -400_000, -2_000_000, 1_520_000)
    chart = ChartData(
        kind=ChartKind.WATERFALL,
        title="Movement",
        categories=("start", "new", "increased", "pushed_out", "won", "end"),
        series=(ChartSeries("Change", steps),),
        value_format=ValueFormat.MONEY,
        currency="EUR",
    )
    root = ElementTree.fromstring(render_svg(chart, width=480))
    labels = [
        t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "value-label"
    ]
    assert labels == ["33k", "+5k", "+1.2k", "-4k", "-20k", "15.2k"]
