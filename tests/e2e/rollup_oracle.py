"""Independent recomputation of forecasting's rollups straight from the opportunities database."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import create_engine, text

Rollups = dict[tuple[str, str, str], tuple[int, int, int]]


def expected_rollups(opportunities_database_url: str) -> Rollups:
    """Group every deal that is not lost by owner, calendar quarter of its close date and currency."""
    engine = create_engine(opportunities_database_url)
    totals: defaultdict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT owner_user_id, expected_close_date, currency, amount_minor, probability "
                    "FROM opportunities WHERE status <> 'lost'"
                )
            )
            for owner, close, currency, amount, probability in rows:
                key = (owner, f"{close.year}-Q{(close.month - 1) // 3 + 1}", currency)
                totals[key][0] += 1
                totals[key][1] += amount
                totals[key][2] += amount * probability
    finally:
        engine.dispose()
    return {key: (count, amount, weighted) for key, (count, amount, weighted) in totals.items()}


def actual_rollups(forecasting_database_url: str) -> Rollups:
    engine = create_engine(forecasting_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT user_id, period_id, currency, opportunity_count, amount_minor, "
                    "weighted_percent_minor FROM rollups "
                    "WHERE opportunity_count <> 0 OR amount_minor <> 0 OR weighted_percent_minor <> 0"
                )
            )
            return {(u, p, c): (n, a, w) for u, p, c, n, a, w in rows}
    finally:
        engine.dispose()


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
