"""What the SVG charts share: value text, "nice" ticks, scales, text elements and the value axis.

Money text is made with integer arithmetic and every other number with Decimal, so a value always
reads the same; floats are used for pixel positions only."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal

from salesplane_platform.money import CURRENCY_EXPONENTS
from salesplane_reporting.domain.report import ValueFormat

Number = int | Decimal
AttributeValue = str | int | float

TEXT_COLOUR = "#1a1a1a"
MUTED_COLOUR = "#595959"
GRID_COLOUR = "#e3e3e3"
AXIS_COLOUR = "#737373"
TICK_FONT_SIZE = 11
AXIS_TITLE_FONT_SIZE = 12

# A currency the platform does not list still needs text; two decimals is the common case.
_DEFAULT_EXPONENT = 2
# There are no font metrics on the server. 0.6 em per character over-estimates system-ui a little,
# so text judged to fit does fit.
_AVERAGE_GLYPH_EM = 0.6
# Characters XML 1.0 cannot carry even escaped: one of them in a user's title would make the whole
# document unreadable.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ABBREVIATIONS = ((Decimal(10**9), "B"), (Decimal(10**6), "M"), (Decimal(10**3), "k"))
_ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


# --- Value text -------------------------------------------------------------------------------


def format_value(value: Number, value_format: ValueFormat, currency: str, *, signed: bool = False) -> str:
    """A value as labels and tooltips show it: "1,234.56 EUR", "25.0 %", "1,234"."""
    if value_format is ValueFormat.MONEY:
        text = format_money(whole(value), currency)
    elif value_format is ValueFormat.PERCENT:
        text = format_percent(value)
    elif value_format is ValueFormat.INTEGER:
        text = f"{whole(value):,}"
    else:
        text = _plain(Decimal(value))
    return "+" + text if signed and value > 0 else text


def format_money(amount_minor: int, currency: str) -> str:
    """Minor units in major units with thousands separators and the code: "1,234.56 EUR"."""
    exponent = CURRENCY_EXPONENTS.get(currency, _DEFAULT_EXPONENT)
    sign = "-" if amount_minor < 0 else ""
    units, fraction = divmod(abs(amount_minor), 10**exponent)
    number = f"{sign}{units:,}" if exponent == 0 else f"{sign}{units:,}.{fraction:0{exponent}d}"
    return f"{number} {currency}" if currency else number


def format_percent(fraction: Number, decimals: int = 1) -> str:
    """A decimal fraction as a percentage, rounded half up: 0.25 is "25.0 %"."""
    percent = Decimal(fraction).scaleb(2)
    # Enough digits for the value's magnitude: the default 28 would refuse to round a huge one.
    context = Context(prec=max(28, percent.adjusted() + decimals + 2), rounding=ROUND_HALF_UP)
    return f"{_plain(percent.quantize(Decimal(1).scaleb(-decimals), context=context))} %"


def format_share(part: Number, whole_amount: Number) -> str:
    return format_percent(Decimal(part) / Decimal(whole_amount))


def whole(value: Number) -> int:
    """Counts and minor units are integers; a Decimal (a formula's result) is rounded half up."""
    if isinstance(value, int):
        return value
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _plain(value: Decimal) -> str:
    # abs() turns a rounded "-0.0" into "0.0": nobody wants to read a negative zero.
    return f"{abs(value) if value.is_zero() else value:,f}"


# --- Ticks and scales -------------------------------------------------------------------------


@dataclass(frozen=True)
class Ticks:
    values: tuple[Decimal, ...]
    step: Decimal

    @property
    def low(self) -> Decimal:
        return self.values[0]

    @property
    def high(self) -> Decimal:
        return self.values[-1]


def nice_ticks(values: Sequence[Number], *, whole_steps: bool, target: int = 5) -> Ticks:
    """About `target` intervals a round step apart (1, 2 or 5 x 10^n), covering zero and every value.

    whole_steps: the values are counts or minor units, so a step below one would mean nothing."""
    low = min([Decimal(0), *map(Decimal, values)])
    high = max([Decimal(0), *map(Decimal, values)])
    if low == high:
        high = low + 1
    step = _nice_step((high - low) / target)
    if whole_steps:
        step = max(step, Decimal(1))
    first = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step
    last = (high / step).to_integral_value(rounding=ROUND_CEILING) * step
    count = int((last - first) / step)
    return Ticks(tuple(first + index * step for index in range(count + 1)), step)


def _nice_step(raw: Decimal) -> Decimal:
    magnitude = Decimal(1).scaleb(raw.adjusted())
    fraction = raw / magnitude
    # Heckbert's thresholds pick the round step nearest the raw one, so about `target` ticks result.
    for limit, multiple in ((Decimal("1.5"), 1), (Decimal(3), 2), (Decimal(7), 5)):
        if fraction < limit:
            return magnitude * multiple
    return magnitude * 10


def tick_labels(ticks: Ticks, value_format: ValueFormat, currency: str) -> tuple[str, ...]:
    """Short tick text: percentages to the step's precision, other values abbreviated ("1.5k",
    "3M") with one unit for the whole axis so ticks compare at a glance; money in major units."""
    if value_format is ValueFormat.PERCENT:
        decimals = _decimals(ticks.step * 100)
        return tuple(format_percent(value, decimals) for value in ticks.values)
    exponent = CURRENCY_EXPONENTS.get(currency, _DEFAULT_EXPONENT) if value_format is ValueFormat.MONEY else 0
    values = [value.scaleb(-exponent) for value in ticks.values]
    largest = max(abs(value) for value in values)
    divisor, suffix = next(((d, s) for d, s in _ABBREVIATIONS if largest >= d), (Decimal(1), ""))
    return tuple(_plain((value / divisor).normalize()) + suffix if value else "0" for value in values)


def compact_value(value: Number, value_format: ValueFormat, currency: str, *, signed: bool = False) -> str:
    """A value label short enough for a narrow bar: "+33.1k" for 33,100.00 EUR, "2.5M" for
    2,500,000 (one decimal, no currency: the axis and the tooltip carry the exact figure)."""
    if value_format in (ValueFormat.PERCENT, ValueFormat.DECIMAL):
        return format_value(value, value_format, currency, signed=signed)
    exponent = CURRENCY_EXPONENTS.get(currency, _DEFAULT_EXPONENT) if value_format is ValueFormat.MONEY else 0
    major = Decimal(value).scaleb(-exponent)
    divisor, suffix = next(((d, s) for d, s in _ABBREVIATIONS if abs(major) >= d), (Decimal(1), ""))
    text = _plain((major / divisor).quantize(Decimal("0.1")).normalize()) + suffix
    return f"+{text}" if signed and major > 0 else text


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass(frozen=True)
class LinearScale:
    """Maps [low, high] linearly onto the pixels [start, end]; for y, start is the lower edge."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: Number) -> float:
        return self.start + (float(value) - self.low) / (self.high - self.low) * (self.end - self.start)


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


# --- Text and elements ------------------------------------------------------------------------


def clean_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def text_width(text: str, font_size: float) -> float:
    return len(text) * font_size * _AVERAGE_GLYPH_EM


def truncate(text: str, max_width: float, font_size: float) -> str:
    """The text, or as much of it as fits in max_width followed by an ellipsis."""
    if text_width(text, font_size) <= max_width:
        return text
    keep = max(1, int(max_width / (font_size * _AVERAGE_GLYPH_EM)) - 1)
    return text[:keep].rstrip() + _ELLIPSIS


def coordinate(value: float) -> str:
    """Two decimals at most: enough for any screen, and the same text for the same number."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def attributes(values: Mapping[str, AttributeValue]) -> dict[str, str]:
    return {
        name: clean_text(value)
        if isinstance(value, str)
        else coordinate(value)
        if isinstance(value, float)
        else str(value)
        for name, value in values.items()
    }


def add(parent: ET.Element, tag: str, attrs: Mapping[str, AttributeValue], text: str = "") -> ET.Element:
    """A child element; ElementTree escapes its text and attributes when the document is written."""
    element = ET.SubElement(parent, tag, attributes(attrs))
    if text:
        element.text = clean_text(text)
    return element


def add_text(
    parent: ET.Element,
    x: float,
    y: float,
    text: str,
    *,
    size: float,
    css_class: str,
    anchor: str = "middle",
    fill: str = TEXT_COLOUR,
    max_width: float | None = None,
    extra: Mapping[str, AttributeValue] | None = None,
) -> ET.Element:
    """A text element, cut to max_width with an ellipsis; the full text is then its <title>."""
    shown = text if max_width is None else truncate(text, max_width, size)
    attrs: dict[str, AttributeValue] = {"class": css_class, "x": x, "y": y, "font-size": size}
    attrs.update({"text-anchor": anchor, "fill": fill, **(extra or {})})
    element = add(parent, "text", attrs, shown)
    if shown != text:
        add(element, "title", {}, text)
    return element


# --- Axes -------------------------------------------------------------------------------------


def draw_value_axis(
    parent: ET.Element, ticks: Ticks, labels: Sequence[str], y: LinearScale, plot: Box
) -> None:
    """Gridlines across the plot at each tick, with the tick's text left of the plot."""
    group = add(parent, "g", {"class": "y-axis"})
    for value, label in zip(ticks.values, labels, strict=True):
        level = y(value)
        line = {"x1": plot.left, "x2": plot.right, "y1": level, "y2": level}
        add(group, "line", {"class": "gridline", **line, "stroke": GRID_COLOUR, "stroke-width": 1})
        add_text(group, plot.left - 6, level + 4, label, size=TICK_FONT_SIZE, css_class="tick", anchor="end")


def draw_zero_line(parent: ET.Element, y: LinearScale, plot: Box) -> None:
    # Drawn after the marks so bars starting on it do not hide it.
    level = y(0)
    line = {"x1": plot.left, "x2": plot.right, "y1": level, "y2": level}
    add(parent, "line", {"class": "zero-line", **line, "stroke": AXIS_COLOUR, "stroke-width": 1})


def draw_category_labels(
    parent: ET.Element, categories: Sequence[str], centres: Sequence[float], band: float, baseline: float
) -> None:
    group = add(parent, "g", {"class": "x-axis"})
    for category, centre in zip(categories, centres, strict=True):
        add_text(
            group, centre, baseline, category, size=TICK_FONT_SIZE, css_class="category", max_width=band - 4
        )


def draw_axis_titles(parent: ET.Element, x_title: str, y_title: str, plot: Box, height: float) -> None:
    if x_title:
        centre = (plot.left + plot.right) / 2
        add_text(
            parent,
            centre,
            height - 12,
            x_title,
            size=AXIS_TITLE_FONT_SIZE,
            css_class="x-title",
            max_width=plot.width,
        )
    if y_title:
        x, middle = 20.0, (plot.top + plot.bottom) / 2
        rotation = {"transform": f"rotate(-90 {coordinate(x)} {coordinate(middle)})"}
        add_text(
            parent,
            x,
            middle,
            y_title,
            size=AXIS_TITLE_FONT_SIZE,
            css_class="y-title",
            max_width=plot.height,
            extra=rotation,
        )
