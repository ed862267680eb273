"""The chart a definition asks for, read off the rows of its result (so the chart always shows
exactly the numbers of the table beside it)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from salesplane_platform.money import Money
from salesplane_reporting.domain.definition import Layout, ReportSpec
from salesplane_reporting.domain.report import (
    CellValue,
    ChartData,
    ChartKind,
    ChartSeries,
    Column,
    ColumnType,
    ResultRow,
    RowKind,
    ValueFormat,
)

MAX_CATEGORIES = 50


def _number(value: CellValue) -> int | Decimal | None:
    if isinstance(value, Money):
        return value.amount_minor
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, Decimal)):
        return value
    return None


def _format(column: Column) -> ValueFormat:
    return {
        ColumnType.MONEY: ValueFormat.MONEY,
        ColumnType.PERCENT: ValueFormat.PERCENT,
        ColumnType.DECIMAL: ValueFormat.DECIMAL,
    }.get(column.type, ValueFormat.INTEGER)


def chart_of(
    spec: ReportSpec, columns: Sequence[Column], rows: Sequence[ResultRow], currency: str
) -> ChartData | None:
    chart = spec.chart
    if chart is None or not spec.dimensions:
        return None
    names = [c.name for c in columns]
    groups = [r for r in rows if r.kind is RowKind.GROUP][: MAX_CATEGORIES * 20]
    first = names.index(spec.dimensions[0].field)
    measure = next(m for m in spec.measures if m.name == chart.measure)
    title = chart.title or measure.title
    money_currency = currency
    if chart.stages:
        return _stages_chart(spec, columns, rows, title)
    if spec.layout is Layout.MATRIX:
        series_columns = [
            i
            for i, c in enumerate(columns)
            if c.name.startswith(f"{measure.name}__") and not c.name.endswith("__total")
        ]
        categories = [str(r.cells[first]) for r in groups][:MAX_CATEGORIES]
        series = []
        for index in series_columns:
            label = columns[index].title.split(" - ")[0]
            series.append(ChartSeries(label, tuple(_number(r.cells[index]) for r in groups[:MAX_CATEGORIES])))
            money_currency = _currency_in(groups, index) or money_currency
        value_column = (
            columns[series_columns[0]]
            if series_columns
            else Column(measure.name, measure.title, measure.type)
        )
    else:
        value_index = names.index(measure.name)
        value_column = columns[value_index]
        money_currency = _currency_in(groups, value_index) or money_currency
        if chart.compare_with:
            # Measures side by side: one series each, over the finest dimension's groups.
            first = names.index(spec.dimensions[-1].field)
        if (
            len(spec.dimensions) >= 2
            and chart.kind in (ChartKind.BAR, ChartKind.STACKED_BAR, ChartKind.LINE)
            and not chart.compare_with
        ):
            second = names.index(spec.dimensions[1].field)
            categories = _unique(str(r.cells[first]) for r in groups)[:MAX_CATEGORIES]
            series_names = _unique(str(r.cells[second]) for r in groups)[:12]
            table = {
                (str(r.cells[first]), str(r.cells[second])): _number(r.cells[value_index]) for r in groups
            }
            series = [ChartSeries(s, tuple(table.get((c, s)) for c in categories)) for s in series_names]
        else:
            totals = _totals(groups, first, value_index)
            categories = list(totals)[:MAX_CATEGORIES]
            series = [ChartSeries(measure.title, tuple(totals[c] for c in categories))]
            for other in chart.compare_with:
                other_totals = _totals(groups, first, names.index(other))
                other_title = next(m.title for m in spec.measures if m.name == other)
                series.append(ChartSeries(other_title, tuple(other_totals.get(c) for c in categories)))
    return ChartData(
        kind=chart.kind,
        title=title,
        categories=tuple(categories),
        series=tuple(series),
        x_title=columns[first].title,
        y_title=measure.title,
        value_format=_format(value_column),
        currency=money_currency if value_column.type is ColumnType.MONEY else "",
    )


def _stages_chart(
    spec: ReportSpec, columns: Sequence[Column], rows: Sequence[ResultRow], title: str
) -> ChartData:
    """One bar per stage measure: its grand total, or the sum of the groups without one."""
    assert spec.chart is not None
    names = [c.name for c in columns]
    total = next((r for r in rows if r.kind is RowKind.GRAND_TOTAL), None)
    summed = [total] if total is not None else [r for r in rows if r.kind is RowKind.GROUP]
    stages = [next(m for m in spec.measures if m.name == s) for s in spec.chart.stages]
    values: list[int | Decimal | None] = []
    for stage in stages:
        present = [v for r in summed if (v := _number(r.cells[names.index(stage.name)])) is not None]
        values.append(sum(present) if present else None)
    return ChartData(
        kind=spec.chart.kind,
        title=title,
        categories=tuple(s.title for s in stages),
        series=(ChartSeries(title, tuple(values)),),
        y_title=title,
        value_format=_format(columns[names.index(stages[0].name)]),
    )


def _totals(groups: Sequence[ResultRow], first: int, index: int) -> dict[str, int | Decimal]:
    totals: dict[str, int | Decimal] = {}
    for row in groups:
        key, value = str(row.cells[first]), _number(row.cells[index])
        if value is not None:
            totals[key] = totals.get(key, 0) + value
    return totals


def _currency_in(rows: Sequence[ResultRow], index: int) -> str:
    for row in rows:
        value = row.cells[index]
        if isinstance(value, Money):
            return value.currency
    return ""


def _unique(values: object) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:  # type: ignore[attr-defined]
        seen.setdefault(value, None)
    return list(seen)
