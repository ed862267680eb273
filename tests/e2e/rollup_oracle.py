"""Independent recomputation of forecasting's rollup_totals straight from the source data.

Deliberately shares no code with forecasting's domain: it reads every deal from the opportunities
database and the reporting lines and commit-stage overrides from forecasting's database, and sums
the rollups from scratch with the rules spelled out here:

* a deal counts for the fiscal quarter ("2026-Q4", fiscal year = calendar year) and the calendar
  month ("2026-11") of its expected close date, in base-currency minor units;
* in the "own" measures of its owner and the "team" measures of its owner and of every manager
  above them, both kept in one rollup row per user and period (own_<measure>, team_<measure>);
* a won deal counts as won only; an open one in the pipeline, the weighted pipeline (base amount x
  probability percent, exact) and, by its commit stage, as included or upside (the rep's override,
  else 70-100 include, 40-69 upside, 0-39 exclude); lost and deleted deals count nowhere.

Rows whose measures are all zero are left out on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import create_engine, text

MEASURES = (
    "won_count",
    "won_minor",
    "open_count",
    "pipeline_minor",
    "weighted_percent_minor",
    "included_count",
    "included_likely_minor",
    "included_best_minor",
    "included_worst_minor",
    "upside_count",
    "upside_likely_minor",
    "upside_best_minor",
    "upside_worst_minor",
)
# The measure columns of a rollup row: the own measures, then the team measures.
COLUMNS = tuple(f"{scope}_{name}" for scope in ("own", "team") for name in MEASURES)
# (user id, period id) -> the row's measures in COLUMNS order.
Rollups = dict[tuple[str, str], tuple[int, ...]]

# The default forecast ranges (three buckets), top down: (lowest probability, stage).
DEFAULT_RANGES = ((70, "include"), (40, "upside"), (0, "exclude"))


@dataclass(frozen=True)
class DealState:
    """What the oracle needs of one deal (amounts in base-currency minor units)."""

    owner: str
    # open, won, lost or deleted.
    status: str
    close_date: date
    probability: int
    likely: int
    best: int
    worst: int
    # A rep's hand-set commit stage (include, upside, exclude), if any.
    override: str | None = None


def periods_of(close_date: date) -> tuple[str, str]:
    """The calendar quarter and month of a close date."""
    quarter = (close_date.month - 1) // 3 + 1
    return f"{close_date.year:04d}-Q{quarter}", f"{close_date.year:04d}-{close_date.month:02d}"


def stage_of(probability: int) -> str:
    return next(stage for low, stage in DEFAULT_RANGES if probability >= low)


def measures_of(deal: DealState) -> tuple[int, ...] | None:
    if deal.status == "won":
        return (1, deal.likely, *([0] * 11))
    if deal.status != "open":
        return None
    stage = deal.override or stage_of(deal.probability)
    included, upside = stage == "include", stage == "upside"
    return (
        0,
        0,
        1,
        deal.likely,
        deal.likely * deal.probability,
        1 if included else 0,
        deal.likely if included else 0,
        deal.best if included else 0,
        deal.worst if included else 0,
        1 if upside else 0,
        deal.likely if upside else 0,
        deal.best if upside else 0,
        deal.worst if upside else 0,
    )


def chain_of(user_id: str, managers: Mapping[str, str | None]) -> list[str]:
    """The user followed by every manager above them (a user the organisation lacks: just them)."""
    chain = [user_id]
    current = managers.get(user_id)
    while current is not None:
        if current in chain:
            raise AssertionError(f"the reporting lines have a cycle: {[*chain, current]}")
        chain.append(current)
        current = managers.get(current)
    return chain


def expected_totals(deals: Iterable[DealState], managers: Mapping[str, str | None]) -> Rollups:
    """The rollup rows these deals make under this organisation (user id -> manager id or None)."""
    own, team = 0, len(MEASURES)  # where each half starts in a row
    sums: dict[tuple[str, str], list[int]] = {}
    for deal in deals:
        measures = measures_of(deal)
        if measures is None:
            continue
        cells = [(deal.owner, own)] + [(user_id, team) for user_id in chain_of(deal.owner, managers)]
        for period_id in periods_of(deal.close_date):
            for user_id, offset in cells:
                row = sums.setdefault((user_id, period_id), [0] * len(COLUMNS))
                for index, value in enumerate(measures):
                    row[offset + index] += value
    return {key: tuple(row) for key, row in sums.items() if any(row)}


def read_deals(opportunities_database_url: str, overrides: Mapping[str, str]) -> list[DealState]:
    """Every deal the opportunities service holds (deleted deals are gone from its table)."""
    engine = create_engine(opportunities_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT id, owner_user_id, status, expected_close_date, probability, base_currency, "
                    "amount_base_minor, best_case_base_minor, worst_case_base_minor FROM opportunities"
                )
            ).all()
    finally:
        engine.dispose()
    unvalued = [row.id for row in rows if row.base_currency is None]
    if unvalued:
        # Forecasting rejects events without a base amount; the oracle cannot tell what counts then.
        raise AssertionError(f"deals without a base-currency valuation: {unvalued[:5]}")
    return [
        DealState(
            owner=row.owner_user_id,
            status=row.status,
            close_date=row.expected_close_date,
            probability=row.probability,
            likely=row.amount_base_minor,
            best=row.amount_base_minor if row.best_case_base_minor is None else row.best_case_base_minor,
            worst=row.amount_base_minor if row.worst_case_base_minor is None else row.worst_case_base_minor,
            override=overrides.get(row.id),
        )
        for row in rows
    ]


def read_organisation(forecasting_database_url: str) -> tuple[dict[str, str | None], dict[str, str]]:
    """Forecasting's reporting lines (user -> manager) and commit-stage overrides (deal -> stage)."""
    engine = create_engine(forecasting_database_url)
    try:
        with engine.connect() as connection:
            stored_settings = connection.execute(text("SELECT count(*) FROM forecast_settings")).scalar()
            if stored_settings:
                raise AssertionError("the oracle knows only the default forecast settings")
            managers = dict(connection.execute(text("SELECT user_id, manager_user_id FROM users")).all())
            overrides = dict(
                connection.execute(
                    text("SELECT opportunity_id, commit_stage FROM commit_stage_overrides")
                ).all()
            )
    finally:
        engine.dispose()
    return managers, overrides


def expected_rollups(opportunities_database_url: str, forecasting_database_url: str) -> Rollups:
    """The rollup_totals rows forecasting should hold for what opportunities has committed."""
    managers, overrides = read_organisation(forecasting_database_url)
    return expected_totals(read_deals(opportunities_database_url, overrides), managers)


def actual_rollups(forecasting_database_url: str) -> Rollups:
    """Forecasting's rollup_totals, all-zero rows left out."""
    engine = create_engine(forecasting_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(f"SELECT user_id, period_id, {', '.join(COLUMNS)} FROM rollup_totals")
            ).all()
    finally:
        engine.dispose()
    return {(u, p): tuple(measures) for u, p, *measures in rows if any(measures)}


def differences(expected: Rollups, actual: Rollups, limit: int = 10) -> list[str]:
    """Readable differences, measure by measure, for an assertion message."""
    lines = []
    for key in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(key), actual.get(key)
        if want == got:
            continue
        want, got = want or (0,) * len(COLUMNS), got or (0,) * len(COLUMNS)
        changed = {name: (w, g) for name, w, g in zip(COLUMNS, want, got, strict=True) if w != g}
        lines.append(f"{key}: expected/actual {changed}")
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


def version_gaps(
    opportunities_database_url: str, forecasting_database_url: str
) -> dict[str, tuple[int, int]]:
    """Deals whose newest version forecasting has not applied: id -> (committed, applied)."""
    engines = create_engine(opportunities_database_url), create_engine(forecasting_database_url)
    try:
        with engines[0].connect() as connection:
            committed = dict(connection.execute(text("SELECT id, version FROM opportunities")).all())
        with engines[1].connect() as connection:
            applied = dict(
                connection.execute(text("SELECT opportunity_id, version FROM tracked_opportunities")).all()
            )
    finally:
        for engine in engines:
            engine.dispose()
    return {i: (v, applied.get(i, 0)) for i, v in committed.items() if applied.get(i, 0) != v}
