"""Runs a report definition over the read models: SQL (SQLAlchemy Core) for everything that scans
rows, Python only for what is exact arithmetic on the few aggregated rows (averages, formulas,
rounding, running totals) and for laying the groups out.

The engine, never the definition, limits what is read to the caller's scope; every value reaches
the database as a bound parameter and every column comes from the source's catalogue."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Column as SqlColumn
from sqlalchemy import (
    ColumnElement,
    FromClause,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.sqltypes import NullType

from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import ROLE_MANAGER, ROLE_MARKETING, Identity
from salesplane_platform.money import Money
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.computed_source import fill, is_computed
from salesplane_reporting.adapters.report_sources import BUILDERS, ROLLUP_DEALS, pipeline_rollup
from salesplane_reporting.adapters.source_context import CURRENCY, SourceContext
from salesplane_reporting.adapters.sql_dates import period_start
from salesplane_reporting.adapters.sql_median import ensure_median, median
from salesplane_reporting.domain.catalogue import MARKETING_ONLY_SOURCES, Field, Label, Source, fields_of
from salesplane_reporting.domain.charts_from_results import chart_of
from salesplane_reporting.domain.definition import (
    Aggregate,
    Condition,
    Dimension,
    FilterGroup,
    Grain,
    Layout,
    ListBucket,
    Measure,
    NumberBucket,
    Operator,
    ReportSpec,
    all_conditions,
)
from salesplane_reporting.domain.fiscal_calendar import FiscalCalendar
from salesplane_reporting.domain.relative_dates import RelativeDate, period_of, point_instant, start_instant
from salesplane_reporting.domain.report import CellValue, Column, ColumnType, ResultRow, RowKind
from salesplane_reporting.domain.sales_stages import DEFAULT_STAGE_ORDER

MAX_MATRIX_COLUMNS = 60
LEAD_SOURCES = frozenset({Source.LEADS, Source.CAMPAIGNS})


@dataclass(frozen=True)
class RunContext:
    caller: Identity
    now: datetime
    # Whose team the "team" dimension is relative to; None: the caller's.
    viewpoint: str | None = None


@dataclass
class EngineOutput:
    columns: tuple[Column, ...]
    rows: list[ResultRow]
    truncated: bool
    notes: list[str] = field(default_factory=list)
    chart: Any = None


@dataclass(frozen=True)
class _Settings:
    calendar: FiscalCalendar
    currency: str


class SqlReportEngine:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- scope -------------------------------------------------------------------------------------
    def visible_users(self, caller: Identity, source: Source) -> Select[Any] | None:
        """SELECT of the user ids whose records the caller may read in `source`; None: all."""
        if caller.is_admin:
            return None
        if source in MARKETING_ONLY_SOURCES:
            if ROLE_MARKETING in caller.roles:
                return None
            raise PermissionDenied(f"{caller.subject} may not read campaigns: marketing and admins do")
        if source is Source.ATTRIBUTION and ROLE_MARKETING in caller.roles:
            return None
        if source in (Source.LEADS, Source.LEAD_FUNNEL) and ROLE_MARKETING in caller.roles:
            return None
        if ROLE_MANAGER in caller.roles:
            closure = tables.org_closure.c
            return select(closure.descendant_user_id).where(
                closure.ancestor_user_id == caller.subject, closure.valid_to.is_(None)
            )
        return select(literal(caller.subject))

    def may_see_user(self, caller: Identity, user_id: str) -> bool:
        if caller.is_admin or caller.subject == user_id:
            return True
        if ROLE_MANAGER not in caller.roles:
            return False
        closure = tables.org_closure.c
        found = self._session.execute(
            select(literal(1)).where(
                closure.ancestor_user_id == caller.subject,
                closure.descendant_user_id == user_id,
                closure.valid_to.is_(None),
            )
        ).first()
        return found is not None

    def _viewpoint(self, context: RunContext) -> str:
        if context.viewpoint:
            if not self.may_see_user(context.caller, context.viewpoint):
                raise PermissionDenied(f"{context.caller.subject} may not view {context.viewpoint}'s team")
            return context.viewpoint
        caller = context.caller.subject
        if context.caller.is_admin:
            users = tables.org_users.c
            known = self._session.execute(select(users.user_id).where(users.user_id == caller)).first()
            if known is None:
                roots = self._session.execute(
                    select(users.user_id).where(users.manager_user_id.is_(None)).limit(2)
                ).all()
                if len(roots) == 1:
                    return str(roots[0][0])
        return caller

    def settings(self) -> _Settings:
        row = self._session.execute(
            select(tables.fiscal_settings.c.fiscal_year_start_month, tables.fiscal_settings.c.currency_code)
        ).first()
        start_month, currency = (int(row[0]), str(row[1])) if row is not None else (1, "")
        return _Settings(FiscalCalendar(start_month), currency or self._stamped_base_currency())

    def _stamped_base_currency(self) -> str:
        """Until forecasting's settings are first published, the base currency the opportunities
        service converts into, as its exchange rates and deals carry it ("" before either exists)."""
        for column in (tables.exchange_rate_view.c.base_currency, tables.opportunity_current.c.base_currency):
            found = self._session.execute(select(column).where(column != "").limit(1)).scalar()
            if found:
                return str(found)
        return ""

    # -- running -----------------------------------------------------------------------------------
    def run(self, spec: ReportSpec, context: RunContext) -> EngineOutput:
        self._tune_transaction()
        if any(m.aggregate is Aggregate.MEDIAN for m in spec.measures):
            ensure_median(self._session)
        run = _Run(self, spec, context)
        return run.execute()

    def _tune_transaction(self) -> None:
        """PostgreSQL settings for this read, reset when its transaction ends. JIT compiles a
        report's expressions afresh on every run (over half of a pipeline movement's time, for
        nothing), and the per-deal fold sorts more than the default work_mem holds."""
        if self._session.get_bind().dialect.name == "postgresql":
            self._session.execute(text("SET LOCAL jit = off"))
            self._session.execute(text("SET LOCAL work_mem = '32MB'"))

    def stream_details(
        self, spec: ReportSpec, context: RunContext
    ) -> tuple[tuple[Column, ...], Iterator[ResultRow]]:
        """A rows-and-columns report without its row limit, read in batches (for CSV exports)."""
        run = _Run(self, spec, context)
        return tuple(run.detail_columns()), run.stream()


ROLLUP_FIELDS = frozenset(
    {
        "sales_stage",
        "status",
        "expected_close_date",
        "team",
        "owner",
        "amount_base",
        "weighted_amount",
        "best_case",
        "worst_case",
    }
)
# Sources evaluated once per run into a temporary table (see _Run._materialize).
MATERIALIZED_SOURCES = frozenset({Source.PIPELINE_MOVEMENT, Source.ATTRIBUTION, Source.CAMPAIGN_PERFORMANCE})
ROLLUP_SUMS = frozenset({"amount_base", "weighted_amount", "best_case", "worst_case"})
ROLLUP_GRAINS = (Grain.MONTH, Grain.FISCAL_QUARTER, Grain.FISCAL_YEAR)


def _used_fields(spec: ReportSpec) -> frozenset[str]:
    names = {d.field for d in spec.dimensions} | set(spec.detail_columns)
    names |= {m.field for m in spec.measures if m.field}
    names |= {c.field for c in all_conditions(spec)}
    return frozenset(names)


def _round(value: Fraction, scale: int) -> Decimal:
    """Half-even to `scale` digits, in integers (no decimal context precision to run out of)."""
    scaled = value * 10**scale
    quotient, remainder = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * remainder
    if twice > scaled.denominator or (twice == scaled.denominator and quotient % 2 == 1):
        quotient += 1
    return Decimal(quotient).scaleb(-scale)


def _round_int(value: Fraction) -> int:
    return int(_round(value, 0))


class _Run:
    def __init__(self, engine: SqlReportEngine, spec: ReportSpec, context: RunContext) -> None:
        self.engine = engine
        self.session = engine._session
        self.spec = spec
        self.context = context
        self.settings = engine.settings()
        self.today = context.now.astimezone(UTC).date()
        self.fields = fields_of(spec.source)
        source_context = SourceContext(
            session=self.session,
            visible_users=engine.visible_users(context.caller, spec.source),
            viewpoint=engine._viewpoint(context),
            today=self.today,
            now=context.now,
            calendar=self.settings.calendar,
            base_currency=self.settings.currency,
            used=_used_fields(spec),
            org_instant=(
                min(point_instant(spec.org_as_of, self.today, self.settings.calendar), context.now)
                if spec.org_as_of is not None
                else None
            ),
        )
        self.pre_aggregated = False
        rollup = self._rollup_view(context)
        if rollup is not None:
            self.src: FromClause = pipeline_rollup(
                source_context,
                per=rollup,
                caller_is_manager=ROLE_MANAGER in context.caller.roles,
                caller=context.caller.subject,
            )
            self.pre_aggregated = True
        else:
            self.src = BUILDERS[spec.source](spec, source_context)
        self.where = self._filter(spec.filters) if spec.filters else true()
        self._labels: dict[Label, dict[str, str]] = {}
        self._stage_orders: dict[str, int] | None = None

    # -- the pipeline rollup ------------------------------------------------------------------------
    def _rollup_view(self, context: RunContext) -> str | None:
        """How to read this run from the pipeline rollup ("team", "owner", or "" for the scope's
        total), or None when it needs the deals themselves. The rollup holds counts and base-currency
        sums per user, stage, status and close month, so it serves any definition that groups and
        filters by no more than those (close dates by whole months) and counts or sums them."""
        spec = self.spec
        if spec.source is not Source.OPPORTUNITIES or spec.as_of is not None or spec.org_as_of is not None:
            return None
        if spec.layout not in (Layout.SUMMATION, Layout.MATRIX):
            return None
        if not (context.caller.is_admin or ROLE_MANAGER in context.caller.roles or context.viewpoint is None):
            return None
        used = _used_fields(spec)
        if not used <= ROLLUP_FIELDS or {"team", "owner"} <= used:
            return None
        if context.caller.is_admin and "team" not in used and "owner" not in used:
            view = "owner-total"
        else:
            view = "team" if "team" in used else "owner" if "owner" in used else ""
        for dimension in spec.dimensions:
            if dimension.field == "expected_close_date" and dimension.grain not in ROLLUP_GRAINS:
                return None
        for measure in spec.measures:
            if measure.formula is not None:
                continue
            if measure.aggregate is Aggregate.COUNT and measure.field is None:
                continue
            if measure.aggregate is Aggregate.SUM and measure.field in ROLLUP_SUMS:
                continue
            return None
        if not all(self._month_aligned(c) for c in all_conditions(spec)):
            return None
        return "owner" if view == "owner-total" else view

    def _month_aligned(self, condition: Condition) -> bool:
        if condition.field != "expected_close_date" or condition.operator in (
            Operator.IS_EMPTY,
            Operator.IS_NOT_EMPTY,
        ):
            return True
        for value in condition.values:
            low, high = self._range(value)
            if isinstance(low, datetime) or low.day != 1 or high.day != 1:
                return False
        return True

    # -- filters -----------------------------------------------------------------------------------
    def _column(self, name: str) -> ColumnElement[Any]:
        return self.src.c[name]

    def _filter(self, group: FilterGroup) -> ColumnElement[bool]:
        parts = [self._filter(i) if isinstance(i, FilterGroup) else self._condition(i) for i in group.items]
        if not parts:
            return true()
        return and_(*parts) if group.combine == "and" else or_(*parts)

    def _range(self, value: Any) -> tuple[Any, Any]:
        """A value as [low, high): days for a date field, instants for a timestamp."""
        if isinstance(value, RelativeDate):
            first, last = period_of(value, self.today, self.settings.calendar)
        elif isinstance(value, datetime):
            return value, value + timedelta(microseconds=1)
        else:
            first, last = value, value
        return first, last + timedelta(days=1)

    def _condition(self, condition: Condition) -> ColumnElement[bool]:
        found = self.fields[condition.field]
        column = self._column(condition.field)
        op, values = condition.operator, condition.values
        if op is Operator.IS_EMPTY:
            return (
                or_(column.is_(None), column == "") if found.type is ColumnType.STRING else column.is_(None)
            )
        if op is Operator.IS_NOT_EMPTY:
            return (
                and_(column.is_not(None), column != "")
                if found.type is ColumnType.STRING
                else column.is_not(None)
            )
        if found.temporal:
            return self._temporal(column, found, op, values)
        if op is Operator.EQ:
            return column == values[0]
        if op is Operator.NE:
            return or_(column != values[0], column.is_(None))
        if op is Operator.IN:
            return column.in_(values)
        if op is Operator.NOT_IN:
            return or_(column.not_in(values), column.is_(None))
        if op is Operator.CONTAINS:
            return func.lower(column).contains(str(values[0]).lower(), autoescape=True)
        if op is Operator.STARTS_WITH:
            return func.lower(column).startswith(str(values[0]).lower(), autoescape=True)
        if op is Operator.BETWEEN:
            return column.between(values[0], values[1])
        comparisons = {Operator.LT: column < values[0], Operator.LE: column <= values[0]}
        comparisons |= {Operator.GT: column > values[0], Operator.GE: column >= values[0]}
        return comparisons[op]

    def _temporal(
        self, column: ColumnElement[Any], found: Field, op: Operator, values: Sequence[Any]
    ) -> ColumnElement[bool]:
        def bound(value: Any) -> tuple[Any, Any]:
            low, high = self._range(value)
            if found.type is ColumnType.TIMESTAMP and isinstance(low, date) and not isinstance(low, datetime):
                return start_instant(low), start_instant(high)
            if found.type is ColumnType.DATE and isinstance(low, datetime):
                return low.date(), low.date() + timedelta(days=1)
            return low, high

        if op in (Operator.EQ, Operator.WITHIN):
            low, high = bound(values[0])
            return and_(column >= low, column < high)
        if op is Operator.NE:
            low, high = bound(values[0])
            return or_(column < low, column >= high, column.is_(None))
        if op is Operator.BETWEEN:
            return and_(column >= bound(values[0])[0], column < bound(values[1])[1])
        if op in (Operator.IN, Operator.NOT_IN):
            inside = or_(*(and_(column >= bound(v)[0], column < bound(v)[1]) for v in values))
            return inside if op is Operator.IN else or_(not_(inside), column.is_(None))
        low, high = bound(values[0])
        if op is Operator.LT:
            return and_(column < low)
        if op is Operator.LE:
            return and_(column < high)
        if op is Operator.GT:
            return and_(column >= high)
        return and_(column >= low)

    # -- dimensions and measures -------------------------------------------------------------------
    def _dimension(self, dimension: Dimension) -> ColumnElement[Any]:
        column = self._column(dimension.field)
        if dimension.grain is not None:
            return period_start(column, dimension.grain.value, self.settings.calendar.start_month)
        bucket = dimension.bucket
        if isinstance(bucket, NumberBucket):
            whens = [(column < edge, index) for index, edge in enumerate(bucket.edges)]
            return case((column.is_(None), None), *whens, else_=len(bucket.edges))
        if isinstance(bucket, ListBucket):
            return case(
                *((column.in_(values), label) for label, values in bucket.groups), else_=bucket.other_label
            )
        return column

    def _measure_parts(self, measure: Measure) -> list[ColumnElement[Any]]:
        if measure.formula is not None or measure.aggregate is None:
            return []
        condition = self._filter(measure.where) if measure.where is not None else None
        value: ColumnElement[Any] = self._column(measure.field) if measure.field else literal(1)
        if condition is not None:
            value = case((condition, value), else_=None)
        aggregate = measure.aggregate
        if self.pre_aggregated and aggregate is Aggregate.COUNT:
            # Each rollup row stands for its number of deals.
            deals = self._column(ROLLUP_DEALS)
            counted = deals if condition is None else case((condition, deals), else_=0)
            return [func.coalesce(func.sum(counted), 0)]
        if aggregate is Aggregate.COUNT:
            return [func.count(value) if measure.field or condition is not None else func.count()]
        if aggregate is Aggregate.COUNT_DISTINCT:
            return [func.count(value.distinct())]
        if aggregate is Aggregate.AVG:
            return [func.sum(value), func.count(value)]
        if aggregate is Aggregate.MEDIAN:
            return [median(value)]
        if aggregate is Aggregate.SUM and condition is not None:
            # A conditional sum over no matching rows is zero (the won amount of a team that won
            # nothing); a plain sum of only empty values (no quota) stays empty.
            return [func.coalesce(func.sum(value), 0)]
        if aggregate is Aggregate.SUM:
            return [func.sum(value)]
        return [func.min(value) if aggregate is Aggregate.MIN else func.max(value)]

    def _currency_columns(self) -> list[str]:
        names: list[str] = []
        for measure in self.spec.measures:
            counted = measure.aggregate in (Aggregate.COUNT, Aggregate.COUNT_DISTINCT)
            if measure.field and self.fields[measure.field].type is ColumnType.MONEY and not counted:
                name = measure.field + CURRENCY
                if name not in names:
                    names.append(name)
        return names

    def _grouped(
        self, dimensions: Sequence[Dimension]
    ) -> list[tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]]:
        """(dimension values, measure parts by name, currencies) per group of `dimensions`."""
        keys = [self._dimension(d).label(f"d{i}") for i, d in enumerate(dimensions)]
        currencies = [self._column(name).label(f"c{i}") for i, name in enumerate(self._currency_columns())]
        parts: list[ColumnElement[Any]] = []
        slices: dict[str, slice] = {}
        for measure in self.spec.measures:
            measure_parts = self._measure_parts(measure)
            slices[measure.name] = slice(len(parts), len(parts) + len(measure_parts))
            parts.extend(measure_parts)
        statement = (
            select(*keys, *currencies, *(p.label(f"m{i}") for i, p in enumerate(parts)))
            .select_from(self.src)
            .where(self.where)
        )
        if keys or currencies:
            statement = statement.group_by(*(k.element for k in keys), *(c.element for c in currencies))
        width_keys, width_currencies = len(keys), len(currencies)
        names = self._currency_columns()
        groups = []
        for row in self.session.execute(statement):
            values = tuple(row[:width_keys])
            currency = dict(zip(names, row[width_keys : width_keys + width_currencies], strict=True))
            measured = row[width_keys + width_currencies :]
            groups.append((values, {name: tuple(measured[s]) for name, s in slices.items()}, currency))
        # Groups differing only by currency stay apart: money in two currencies is never added.
        return groups

    # -- values ------------------------------------------------------------------------------------
    def _exact(self, measure: Measure, parts: tuple[Any, ...]) -> Fraction | None:
        value = self._exact_stored(measure, parts)
        found = self.fields[measure.field] if measure.field else None
        counted = measure.aggregate in (Aggregate.COUNT, Aggregate.COUNT_DISTINCT)
        if value is not None and found is not None and found.decimal_places and not counted:
            # Formulas see the decimal itself (deals, not millionths of a deal).
            return value / Fraction(10**found.decimal_places)
        return value

    def _exact_stored(self, measure: Measure, parts: tuple[Any, ...]) -> Fraction | None:
        if not parts:
            return None
        if measure.aggregate is Aggregate.AVG:
            total, count = parts
            if not count or total is None:
                return None
            return Fraction(int(total)) / int(count)
        value = parts[0]
        if value is None:
            return Fraction(0) if measure.aggregate is Aggregate.COUNT else None
        if measure.aggregate is Aggregate.MEDIAN:
            # A double from either dialect, exact for the whole numbers a median is taken of.
            return Fraction(value)
        if isinstance(value, (datetime, date)):
            return None
        return Fraction(int(value))

    def _cells(self, parts: dict[str, tuple[Any, ...]], currencies: dict[str, Any]) -> dict[str, CellValue]:
        exact: dict[str, Fraction | None] = {}
        cells: dict[str, CellValue] = {}
        for measure in self.spec.measures:
            if measure.formula is not None:
                value = measure.formula.evaluate(exact)
                exact[measure.name] = value
                cells[measure.name] = self._formula_cell(measure, value, currencies, exact)
                continue
            value = self._exact(measure, parts[measure.name])
            exact[measure.name] = value
            cells[measure.name] = self._measure_cell(measure, value, parts[measure.name], currencies)
        return cells

    def _measure_cell(
        self, measure: Measure, value: Fraction | None, parts: tuple[Any, ...], currencies: dict[str, Any]
    ) -> CellValue:
        if (
            measure.aggregate in (Aggregate.MIN, Aggregate.MAX)
            and parts
            and isinstance(parts[0], (date, datetime))
        ):
            raw = parts[0]
            return raw.replace(tzinfo=UTC) if isinstance(raw, datetime) and raw.tzinfo is None else raw
        if value is None:
            return None
        found = self.fields[measure.field] if measure.field else None
        if (
            found is not None
            and found.type is ColumnType.MONEY
            and measure.aggregate not in (Aggregate.COUNT, Aggregate.COUNT_DISTINCT)
        ):
            currency = currencies.get(found.name + CURRENCY) or self.settings.currency
            if not currency:
                # Nothing has named a currency yet (no settings, rates or deals published): a sum
                # of nothing in no currency is no figure, not a crash (found by the fuzz run).
                return None
            return Money(str(currency), _round_int(value))
        if (
            found is not None
            and found.seconds_as_days
            and measure.aggregate not in (Aggregate.COUNT, Aggregate.COUNT_DISTINCT)
        ):
            return _round(value / 86400, 2)
        if (
            found is not None
            and found.basis_points
            and measure.aggregate not in (Aggregate.COUNT, Aggregate.COUNT_DISTINCT)
        ):
            return _round(value / 10000, 4)
        if measure.type is ColumnType.DECIMAL:
            return _round(value, measure.scale)
        return int(value)

    def _formula_cell(
        self,
        measure: Measure,
        value: Fraction | None,
        currencies: dict[str, Any],
        exact: Mapping[str, Fraction | None],
    ) -> CellValue:
        if value is None:
            return None
        if measure.type is ColumnType.MONEY:
            assert measure.formula is not None
            currency = self.settings.currency
            for reference in sorted(measure.formula.references):
                earlier = next(m for m in self.spec.measures if m.name == reference)
                if earlier.field and self.fields[earlier.field].type is ColumnType.MONEY:
                    currency = currencies.get(earlier.field + CURRENCY) or currency
                    break
            return Money(str(currency), _round_int(value))
        return _round(value, measure.scale)

    # -- labels and order --------------------------------------------------------------------------
    def _label_map(self, label: Label, ids: set[str]) -> dict[str, str]:
        held = self._labels.setdefault(label, {})
        missing = sorted(i for i in ids if i and i not in held)
        table, key, name = {
            Label.USER: (tables.org_users, "user_id", "display_name"),
            Label.LEAD_SOURCE: (tables.lead_source_view, "id", "name"),
            Label.CAMPAIGN: (tables.campaign_view, "id", "name"),
        }[label]
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            for identifier, shown in self.session.execute(
                select(table.c[key], table.c[name]).where(table.c[key].in_(chunk))
            ):
                held[identifier] = shown
        return held

    def _stage_order(self) -> dict[str, int]:
        if self._stage_orders is None:
            rows = self.session.execute(
                select(tables.sales_stage_view.c.name, tables.sales_stage_view.c.position)
            ).all()
            self._stage_orders = (
                {n: p for n, p in rows} if rows else {n: i for i, n in enumerate(DEFAULT_STAGE_ORDER)}
            )
        return self._stage_orders

    def _dimension_text(self, dimension: Dimension, value: Any) -> CellValue:
        if value is None:
            return None
        if dimension.grain is not None:
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
            calendar = self.settings.calendar
            return {
                Grain.DAY: lambda: day.isoformat(),
                Grain.WEEK: lambda: "{}-W{:02d}".format(*day.isocalendar()[:2]),
                Grain.MONTH: lambda: f"{day.year}-{day.month:02d}",
                Grain.FISCAL_QUARTER: lambda: calendar.quarter_id(day),
                Grain.FISCAL_YEAR: lambda: calendar.year_label(day),
            }[dimension.grain]()
        if isinstance(dimension.bucket, NumberBucket):
            return self._bucket_label(dimension, int(value))
        found = self.fields[dimension.field]
        if found.label is not None:
            return self._labels.get(found.label, {}).get(str(value), str(value))
        if found.name in ("stage_order", "max_stage_order"):
            names = {position: name for name, position in self._stage_order().items()}
            return names.get(int(value), str(value))
        return value  # type: ignore[no-any-return]

    def _bucket_label(self, dimension: Dimension, index: int) -> str:
        assert isinstance(dimension.bucket, NumberBucket)
        edges = dimension.bucket.edges
        found = self.fields[dimension.field]
        show = (lambda v: _major(v, self.settings.currency)) if found.type is ColumnType.MONEY else str
        if index == 0:
            return f"< {show(edges[0])}"
        if index >= len(edges):
            return f">= {show(edges[-1])}"
        return f"{show(edges[index - 1])} - {show(edges[index])}"

    def _sort_key(self, dimension: Dimension, value: Any) -> tuple[Any, ...]:
        if value is None:
            return (2, 0, "")
        found = self.fields[dimension.field]
        if isinstance(dimension.bucket, ListBucket):
            labels = [label for label, _ in dimension.bucket.groups]
            return (0, labels.index(value) if value in labels else len(labels), str(value))
        if dimension.grain is not None or isinstance(dimension.bucket, NumberBucket):
            return (0, 0, str(value) if dimension.grain else int(value))
        if found.name in ("sales_stage", "stage_from", "stage_to"):
            return (0, self._stage_order().get(str(value), 999), str(value))
        if found.order:
            position = found.order.index(value) if value in found.order else len(found.order)
            return (0, position, str(value))
        if found.label is not None:
            return (0, 0, str(self._labels.get(found.label, {}).get(str(value), value)).lower())
        if isinstance(value, bool):
            return (0, int(value), "")
        if isinstance(value, (int, float)):
            return (0, 0, value)
        return (1, 0, str(value).lower()) if not isinstance(value, str) else (0, 0, value.lower())

    # -- layouts -----------------------------------------------------------------------------------
    def execute(self) -> EngineOutput:
        temporary = self._materialize() if self.spec.source in MATERIALIZED_SOURCES else None
        try:
            return self._execute()
        finally:
            if temporary is not None:
                temporary.drop(self.session.connection())

    def _materialize(self) -> Table:
        """Evaluate the source once into a temporary table: a costly source (the movement folds a
        history) would otherwise be evaluated again by each query of the layout (groups, details,
        totals). A computed source (attribution) is its own temporary table, filled here."""
        if is_computed(self.src):
            assert isinstance(self.src, Table)
            fill(self.src, self.session.connection())
            return self.src
        columns = [
            SqlColumn(c.name, String(255) if isinstance(c.type, NullType) else c.type) for c in self.src.c
        ]
        temporary = Table(
            f"report_source_{uuid.uuid4().hex[:16]}", MetaData(), *columns, prefixes=["TEMPORARY"]
        )
        connection = self.session.connection()
        temporary.create(connection)
        connection.execute(temporary.insert().from_select([c.name for c in self.src.c], select(self.src)))
        self.src = temporary
        # The filters were built on the source's columns: build them again on the table's.
        self.where = self._filter(self.spec.filters) if self.spec.filters else true()
        return temporary

    def _execute(self) -> EngineOutput:
        spec = self.spec
        notes = [
            f"Money is in integer minor units; deal amounts are converted to the base currency "
            f"({self.settings.currency or 'not configured yet'}) by the opportunities service at each deal's "
            "exchange rate. Weighted amounts are rounded half-even once per deal; averages and formulas "
            "are computed exactly and rounded half-even once, for display.",
        ]
        if spec.layout is Layout.ROWS_AND_COLUMNS:
            output = self._rows_and_columns()
        elif spec.layout is Layout.MATRIX:
            output = self._matrix()
        else:
            output = self._summation()
        output.notes = notes + output.notes
        if spec.chart is not None and spec.layout is not Layout.ROWS_AND_COLUMNS:
            output.chart = chart_of(spec, output.columns, output.rows, self.settings.currency)
        return output

    def _dimension_columns(self, dimensions: Sequence[Dimension]) -> list[Column]:
        columns: list[Column] = []
        for dimension in dimensions:
            found = self.fields[dimension.field]
            shown = ColumnType.STRING if dimension.grain or dimension.bucket or found.label else found.type
            if found.type is ColumnType.MONEY:
                shown = ColumnType.STRING
            columns.append(Column(dimension.field, found.title, shown))
            if found.label is not None and not dimension.bucket:
                columns.append(Column(f"{dimension.field}_id", f"{found.title} id", ColumnType.STRING))
        return columns

    def _dimension_cells(self, dimensions: Sequence[Dimension], values: Sequence[Any]) -> list[CellValue]:
        cells: list[CellValue] = []
        for dimension, value in zip(dimensions, values, strict=True):
            found = self.fields[dimension.field]
            cells.append(self._dimension_text(dimension, value))
            if found.label is not None and not dimension.bucket:
                cells.append(None if value is None else str(value))
        return cells

    def _measure_columns(self) -> list[Column]:
        return [Column(m.name, m.title, m.type, m.scale) for m in self.spec.measures]

    def _resolve_labels(self, dimensions: Sequence[Dimension], keys: Sequence[Sequence[Any]]) -> None:
        for index, dimension in enumerate(dimensions):
            found = self.fields[dimension.field]
            if found.label is not None and not dimension.bucket:
                self._label_map(found.label, {str(k[index]) for k in keys if k[index] is not None})

    def _ordered(self, groups: list[Any], dimensions: Sequence[Dimension]) -> list[Any]:
        measures = {m.name for m in self.spec.measures}

        def natural(group: Any) -> tuple[Any, ...]:
            return tuple(self._sort_key(d, v) for d, v in zip(dimensions, group[0], strict=True))

        ordered = sorted(groups, key=natural)
        for sort in reversed(self.spec.sort):
            if sort.by in measures and not self.spec.subtotals:
                ordered.sort(key=_by_measure(sort.by), reverse=sort.descending)
            elif sort.by in {d.field for d in dimensions}:
                index = [d.field for d in dimensions].index(sort.by)
                ordered.sort(key=self._by_dimension(dimensions[index], index), reverse=sort.descending)
                if self.spec.subtotals and index > 0:
                    # Subtotals need each outer group together: the sort applies within them.
                    outer = dimensions[:index]
                    ordered.sort(
                        key=lambda g: tuple(
                            self._sort_key(d, v) for d, v in zip(outer, g[0][:index], strict=True)
                        )
                    )
        return ordered

    def _by_dimensions(self, dimensions: Sequence[Dimension]) -> Callable[[Any], tuple[Any, ...]]:
        return lambda group: tuple(self._sort_key(d, v) for d, v in zip(dimensions, group[0], strict=False))

    def _by_dimension(self, dimension: Dimension, index: int) -> Callable[[Any], tuple[Any, ...]]:
        return lambda group: self._sort_key(dimension, group[0][index])

    def _summation(self) -> EngineOutput:
        spec = self.spec
        dimensions = list(spec.dimensions)
        raw = self._grouped(dimensions)
        self._resolve_labels(dimensions, [g[0] for g in raw])
        groups = [(k, p, c, self._cells(p, c)) for k, p, c in raw]
        groups = self._ordered(groups, dimensions)
        groups = self._with_every_stage(groups, dimensions)
        truncated = len(groups) > spec.limit
        groups = groups[: spec.limit]
        self._cumulate(groups)
        columns = self._dimension_columns(dimensions) + self._measure_columns()
        details: dict[tuple[Any, ...], list[list[CellValue]]] = {}
        detail_columns: list[Column] = []
        if spec.layout is Layout.SUMMATION_WITH_DETAILS:
            detail_columns = self.detail_columns()
            details, details_cut = self._details_by_group(dimensions)
            truncated = truncated or details_cut
            columns += detail_columns
        width_measures = len(spec.measures)
        rows: list[ResultRow] = []
        subtotals = self._subtotals(dimensions) if spec.subtotals and len(dimensions) > 1 else {}
        previous: tuple[Any, ...] | None = None
        for keys, _, _, cells in groups:
            if previous is not None and subtotals:
                rows.extend(
                    self._closing_subtotals(previous, keys, subtotals, dimensions, len(detail_columns))
                )
            dimension_cells = self._dimension_cells(dimensions, keys)
            measure_cells = [cells[m.name] for m in spec.measures]
            rows.append(
                ResultRow(
                    RowKind.GROUP, tuple(dimension_cells + measure_cells + [None] * len(detail_columns))
                )
            )
            for detail in details.get(tuple(keys), []):
                rows.append(
                    ResultRow(
                        RowKind.DETAIL,
                        tuple(dimension_cells + [None] * width_measures + detail),
                        level=len(dimensions),
                    )
                )
            previous = keys
        if previous is not None and subtotals:
            rows.extend(self._closing_subtotals(previous, None, subtotals, dimensions, len(detail_columns)))
        if spec.grand_total and dimensions:
            total = self._grouped([])
            for _, parts, currencies in total:
                cells = self._cells(parts, currencies)
                label_cells: list[CellValue] = ["Total"] + [None] * (
                    len(self._dimension_columns(dimensions)) - 1
                )
                rows.append(
                    ResultRow(
                        RowKind.GRAND_TOTAL,
                        tuple(
                            label_cells
                            + [cells[m.name] for m in spec.measures]
                            + [None] * len(detail_columns)
                        ),
                    )
                )
        notes = (
            ["The total counts every matching row, including groups beyond the row limit."]
            if truncated and spec.grand_total
            else []
        )
        return EngineOutput(tuple(columns), rows, truncated, notes)

    def _with_every_stage(self, groups: list[Any], dimensions: Sequence[Dimension]) -> list[Any]:
        """A funnel over stage positions shows every stage between the first and the furthest
        reached, those no deal stopped in included (their running total is the next stage's)."""
        cumulative = any(m.cumulative for m in self.spec.measures)
        if (
            not cumulative
            or len(dimensions) != 1
            or dimensions[0].field not in ("stage_order", "max_stage_order")
        ):
            return groups
        present = {int(g[0][0]) for g in groups if g[0][0] is not None}
        if not present:
            return groups
        positions = sorted(p for p in set(self._stage_order().values()) if min(present) <= p <= max(present))
        empty = {
            m.name: (0 if m.aggregate in (Aggregate.COUNT, Aggregate.COUNT_DISTINCT) else None)
            for m in self.spec.measures
        }
        filled = groups + [((p,), {}, {}, dict(empty)) for p in positions if p not in present]
        return sorted(filled, key=lambda g: self._sort_key(dimensions[0], g[0][0]))

    def _cumulate(self, groups: list[Any]) -> None:
        for measure in self.spec.measures:
            if not measure.cumulative:
                continue
            running: int | Money | None = None
            for group in reversed(groups):
                value = group[3].get(measure.name)
                if isinstance(value, Money):
                    running = Money(
                        value.currency,
                        value.amount_minor + (running.amount_minor if isinstance(running, Money) else 0),
                    )
                elif isinstance(value, int):
                    running = value + (running if isinstance(running, int) else 0)
                group[3][measure.name] = running

    def _subtotals(
        self, dimensions: Sequence[Dimension]
    ) -> dict[int, dict[tuple[Any, ...], dict[str, CellValue]]]:
        result: dict[int, dict[tuple[Any, ...], dict[str, CellValue]]] = {}
        for level in range(1, len(dimensions)):
            by_key: dict[tuple[Any, ...], dict[str, CellValue]] = {}
            for keys, parts, currencies in self._grouped(dimensions[:level]):
                by_key[tuple(keys)] = self._cells(parts, currencies)
            result[level] = by_key
        return result

    def _closing_subtotals(
        self,
        previous: Sequence[Any],
        current: Sequence[Any] | None,
        subtotals: dict[int, dict[tuple[Any, ...], dict[str, CellValue]]],
        dimensions: Sequence[Dimension],
        detail_width: int,
    ) -> list[ResultRow]:
        rows: list[ResultRow] = []
        for level in sorted(subtotals, reverse=True):
            if current is not None and tuple(previous[:level]) == tuple(current[:level]):
                continue
            cells = subtotals[level].get(tuple(previous[:level]), {})
            dimension_cells = self._dimension_cells(dimensions[:level], previous[:level])
            padding = len(self._dimension_columns(dimensions)) - len(dimension_cells)
            rows.append(
                ResultRow(
                    RowKind.SUBTOTAL,
                    tuple(
                        dimension_cells
                        + [None] * padding
                        + [cells.get(m.name) for m in self.spec.measures]
                        + [None] * detail_width
                    ),
                    level=level,
                )
            )
        return rows

    def detail_columns(self) -> list[Column]:
        columns: list[Column] = []
        for name in self.spec.detail_columns:
            found = self.fields[name]
            columns.append(
                Column(
                    name,
                    found.title,
                    found.reported_type,
                    found.reported_scale,
                )
            )
            if found.label is not None:
                columns.append(Column(f"{name}_id", f"{found.title} id", ColumnType.STRING))
        return columns

    def _detail_select(self, extra: Sequence[ColumnElement[Any]] = ()) -> Select[Any]:
        columns: list[ColumnElement[Any]] = list(extra)
        for name in self.spec.detail_columns:
            columns.append(self._column(name))
            if self.fields[name].type is ColumnType.MONEY:
                columns.append(self._column(name + CURRENCY))
        statement = select(*columns).select_from(self.src).where(self.where)
        order: list[ColumnElement[Any]] = []
        for sort in self.spec.sort:
            if sort.by in self.src.c:
                column = self._column(sort.by)
                order.append(column.desc() if sort.descending else column.asc())
        return statement.order_by(*order, *(self._column(n) for n in self.spec.detail_columns[:1]))

    def _detail_cells(self, row: Sequence[Any]) -> list[CellValue]:
        cells: list[CellValue] = []
        index = 0
        for name in self.spec.detail_columns:
            found = self.fields[name]
            value = row[index]
            index += 1
            if found.type is ColumnType.MONEY:
                currency = row[index]
                index += 1
                cells.append(
                    None if value is None else Money(str(currency or self.settings.currency), int(value))
                )
            elif found.seconds_as_days:
                cells.append(None if value is None else _round(Fraction(int(value), 86400), 2))
            elif found.decimal_places:
                places = found.decimal_places
                cells.append(None if value is None else _round(Fraction(int(value), 10**places), places))
            elif found.basis_points:
                cells.append(None if value is None else _round(Fraction(int(value), 10000), 4))
            elif found.type is ColumnType.TIMESTAMP and isinstance(value, datetime):
                cells.append(value if value.tzinfo else value.replace(tzinfo=UTC))
            elif found.type is ColumnType.DATE and isinstance(value, str):
                cells.append(date.fromisoformat(value))
            elif found.type is ColumnType.BOOLEAN and value is not None:
                cells.append(bool(value))
            else:
                cells.append(value)
            if found.label is not None:
                cells[-1:] = [
                    self._labels.get(found.label, {}).get(str(value), value) if value else value,
                    value,
                ]
        return cells

    def _label_details(self, rows: Sequence[Sequence[Any]], offset: int) -> None:
        index = offset
        for name in self.spec.detail_columns:
            found = self.fields[name]
            if found.label is not None:
                self._label_map(found.label, {str(r[index]) for r in rows if r[index]})
            index += 2 if found.type is ColumnType.MONEY else 1

    def _rows_and_columns(self) -> EngineOutput:
        statement = self._detail_select().limit(self.spec.limit + 1)
        rows = self.session.execute(statement).all()
        truncated = len(rows) > self.spec.limit
        rows = rows[: self.spec.limit]
        self._label_details(rows, 0)
        result = [ResultRow(RowKind.DETAIL, tuple(self._detail_cells(r))) for r in rows]
        return EngineOutput(tuple(self.detail_columns()), result, truncated)

    def stream(self) -> Iterator[ResultRow]:
        temporary = self._materialize() if is_computed(self.src) else None
        try:
            yield from self._stream()
        finally:
            if temporary is not None:
                temporary.drop(self.session.connection())

    def _stream(self) -> Iterator[ResultRow]:
        statement = self._detail_select().execution_options(yield_per=2000)
        result = self.session.execute(statement)
        for partition in result.partitions():
            self._label_details(partition, 0)
            for row in partition:
                yield ResultRow(RowKind.DETAIL, tuple(self._detail_cells(row)))

    def _details_by_group(
        self, dimensions: Sequence[Dimension]
    ) -> tuple[dict[tuple[Any, ...], list[list[CellValue]]], bool]:
        keys = [self._dimension(d) for d in dimensions]
        statement = self._detail_select(keys).limit(self.spec.limit + 1)
        rows = self.session.execute(statement).all()
        truncated = len(rows) > self.spec.limit
        rows = rows[: self.spec.limit]
        self._label_details(rows, len(keys))
        grouped: dict[tuple[Any, ...], list[list[CellValue]]] = defaultdict(list)
        for row in rows:
            grouped[tuple(row[: len(keys)])].append(self._detail_cells(row[len(keys) :]))
        return grouped, truncated

    def _matrix(self) -> EngineOutput:
        spec = self.spec
        split = len(spec.dimensions) - spec.column_dimensions
        down, across = list(spec.dimensions[:split]), list(spec.dimensions[split:])
        raw = self._grouped(spec.dimensions)
        self._resolve_labels(spec.dimensions, [g[0] for g in raw])
        column_keys = sorted(
            {tuple(k[split:]) for k, _, _ in raw},
            key=lambda k: tuple(self._sort_key(d, v) for d, v in zip(across, k, strict=True)),
        )
        truncated = False
        if len(column_keys) > MAX_MATRIX_COLUMNS:
            column_keys, truncated = column_keys[:MAX_MATRIX_COLUMNS], True
        cells_by: dict[tuple[Any, ...], dict[tuple[Any, ...], dict[str, CellValue]]] = defaultdict(dict)
        for keys, parts, currencies in raw:
            cells_by[tuple(keys[:split])][tuple(keys[split:])] = self._cells(parts, currencies)
        row_totals = (
            {tuple(k): self._cells(p, c) for k, p, c in self._grouped(down)} if spec.grand_total else {}
        )
        column_totals = (
            {tuple(k): self._cells(p, c) for k, p, c in self._grouped(across)} if spec.grand_total else {}
        )
        grand = [self._cells(p, c) for _, p, c in self._grouped([])] if spec.grand_total else []
        columns = self._dimension_columns(down)
        for key in column_keys:
            label = " / ".join(
                str(self._dimension_text(d, v) or "(none)") for d, v in zip(across, key, strict=True)
            )
            for measure in spec.measures:
                title = label if len(spec.measures) == 1 else f"{label} - {measure.title}"
                columns.append(Column(f"{measure.name}__{len(columns)}", title, measure.type, measure.scale))
        if spec.grand_total:
            columns += [
                Column(f"{m.name}__total", f"Total - {m.title}", m.type, m.scale) for m in spec.measures
            ]
        row_keys = sorted(
            cells_by, key=lambda k: tuple(self._sort_key(d, v) for d, v in zip(down, k, strict=True))
        )
        if len(row_keys) > spec.limit:
            row_keys, truncated = row_keys[: spec.limit], True
        rows: list[ResultRow] = []
        for key in row_keys:
            cells: list[CellValue] = self._dimension_cells(down, key)
            for column_key in column_keys:
                values = cells_by[key].get(column_key, {})
                cells += [values.get(m.name) for m in spec.measures]
            if spec.grand_total:
                cells += [row_totals.get(key, {}).get(m.name) for m in spec.measures]
            rows.append(ResultRow(RowKind.GROUP, tuple(cells)))
        if spec.grand_total:
            cells = ["Total"] + [None] * (len(self._dimension_columns(down)) - 1)
            for column_key in column_keys:
                cells += [column_totals.get(column_key, {}).get(m.name) for m in spec.measures]
            cells += [grand[0].get(m.name) if grand else None for m in spec.measures]
            rows.append(ResultRow(RowKind.GRAND_TOTAL, tuple(cells)))
        return EngineOutput(tuple(columns), rows, truncated)


def _by_measure(name: str) -> Callable[[Any], tuple[int, Any]]:
    return lambda group: _comparable(group[3].get(name))


def _comparable(value: CellValue) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, Money):
        return (1, value.amount_minor)
    if isinstance(value, (int, Decimal)):
        return (1, value)
    return (1, str(value))


def _major(amount_minor: int, currency: str) -> str:
    from salesplane_platform.money import CURRENCY_EXPONENTS

    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    whole, fraction = divmod(abs(amount_minor), 10**exponent)
    sign = "-" if amount_minor < 0 else ""
    text = f"{sign}{whole:,}" + (f".{fraction:0{exponent}d}" if exponent and fraction else "")
    return f"{text} {currency}".strip()
