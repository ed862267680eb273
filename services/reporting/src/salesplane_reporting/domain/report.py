"""What a report's answer is: typed columns and rows of cells, with the row's role in the layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from salesplane_platform.money import Money

# A cell: None is an empty cell (no value, or a formula that divided by zero).
CellValue = str | int | bool | Money | date | datetime | Decimal | None


class ColumnType(Enum):
    STRING = "string"
    INTEGER = "integer"
    MONEY = "money"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOLEAN = "boolean"
    # An exact decimal (a formula's result), rounded half-even to the column's scale.
    DECIMAL = "decimal"
    # A ratio held as a decimal fraction (0.2500 is 25 %), rounded half-even to the column's scale.
    PERCENT = "percent"


@dataclass(frozen=True)
class Column:
    name: str
    title: str
    type: ColumnType
    # Digits after the point of DECIMAL and PERCENT cells (for PERCENT, of the fraction).
    scale: int = 0


class RowKind(Enum):
    # A record (rows and columns, or the details under a group).
    DETAIL = "detail"
    # One group of a summation, or one row of a matrix.
    GROUP = "group"
    # The total of the groups sharing the values of the first `level` dimensions.
    SUBTOTAL = "subtotal"
    GRAND_TOTAL = "grand_total"


@dataclass(frozen=True)
class ResultRow:
    kind: RowKind
    cells: tuple[CellValue, ...]
    # For SUBTOTAL: how many leading dimensions it shares; for DETAIL under a group: the group depth.
    level: int = 0


@dataclass(frozen=True)
class ReportDefinitionSummary:
    """What a list of reports shows of each."""

    id: str
    title: str
    description: str
    builtin: bool = True
    owner_user_id: str = ""
    sharing: str = "everyone"


@dataclass(frozen=True)
class ReportResult:
    report_id: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[ResultRow, ...]
    generated_at: datetime
    # More rows matched than the row limit allowed; `rows` holds the first `row_limit`.
    truncated: bool = False
    row_limit: int = 0
    # How money was converted and rounded, and other facts a reader must know to trust the numbers.
    notes: tuple[str, ...] = ()
    chart: ChartData | None = None
    # The values each run-time filter had in this run, by filter id, as text.
    parameters: tuple[tuple[str, str], ...] = ()


class ChartKind(Enum):
    BAR = "bar"
    STACKED_BAR = "stacked_bar"
    LINE = "line"
    PIE = "pie"
    FUNNEL = "funnel"
    WATERFALL = "waterfall"


class ValueFormat(Enum):
    INTEGER = "integer"
    # Values are minor units of ChartData.currency.
    MONEY = "money"
    # Values are decimal fractions (0.25 is 25 %).
    PERCENT = "percent"
    DECIMAL = "decimal"


@dataclass(frozen=True)
class ChartSeries:
    name: str
    # One value per category; None: no bar or point there.
    values: tuple[int | Decimal | None, ...]


@dataclass(frozen=True)
class ChartData:
    """What a chart shows, independent of how it is drawn.

    BAR and LINE draw every series side by side or as lines; STACKED_BAR stacks the series; PIE and
    FUNNEL use the first series only. WATERFALL uses the first series as signed steps: the first and
    last categories are totals (drawn from zero), the ones between are changes drawn from the running
    total (positive up, negative down)."""

    kind: ChartKind
    title: str
    categories: tuple[str, ...]
    series: tuple[ChartSeries, ...]
    x_title: str = ""
    y_title: str = ""
    value_format: ValueFormat = ValueFormat.INTEGER
    currency: str = ""
    notes: tuple[str, ...] = field(default=())
