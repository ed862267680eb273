"""The attribution and campaign-performance sources on PostgreSQL, where their rows reach the
temporary table by COPY and timestamps come back with their time zone: the same numbers as the
SQLite unit tests give for the marketing world of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.identity import Identity
from salesplane_platform.money import Money
from salesplane_reporting.adapters.report_engine import RunContext, SqlReportEngine
from salesplane_reporting.domain.definition import parse_definition
from salesplane_reporting.domain.report import RowKind

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MARKETING = Identity("mk", frozenset({"marketing"}))
M1 = Identity("m1", frozenset({"manager"}))


@pytest.fixture
def sessions(
    postgres_database_url: str, marketing_world_loader: Callable[[Engine], None]
) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(postgres_database_url)
    marketing_world_loader(engine)
    yield make_session_factory(engine)
    engine.dispose()


def run(sessions: sessionmaker[Session], document: dict[str, Any], caller: Identity) -> list[tuple[Any, ...]]:
    with sessions() as session:
        output = SqlReportEngine(session).run(parse_definition(document), RunContext(caller, NOW))
    return [r.cells for r in output.rows if r.kind in (RowKind.GROUP, RowKind.DETAIL)]


@pytest.mark.parametrize(
    ("model", "credit_a", "credit_b"),
    [
        ("first_touch", 10_000, None),
        ("linear", 6_667, 3_333),
        ("u_shaped", 8_000, 2_000),
        ("w_shaped", 6_000, 4_000),
        ("time_decay", 6_770, 3_230),
    ],
)
def test_every_model_credits_the_worked_example_on_postgresql(
    sessions: sessionmaker[Session], model: str, credit_a: int, credit_b: int | None
) -> None:
    document = {
        "source": "attribution",
        "layout": "rows_and_columns",
        "detail_columns": ["campaign", "credit"],
        "filters": {"field": "opportunity_id", "op": "eq", "values": ["d1"]},
        "sort": [{"by": "campaign"}],
        "parameters": {"model": model},
    }
    expected = [("Campaign A", "A", Money("EUR", credit_a))]
    if credit_b is not None:
        expected.append(("Campaign B", "B", Money("EUR", credit_b)))
    assert [tuple(r) for r in run(sessions, document, MARKETING)] == expected


def test_a_managers_attribution_stays_in_their_team_on_postgresql(sessions: sessionmaker[Session]) -> None:
    document = {
        "source": "attribution",
        "dimensions": [{"field": "campaign"}],
        "measures": [{"name": "deals", "aggregate": "sum", "field": "deal_share"}],
    }
    assert [(r[1], r[2]) for r in run(sessions, document, M1)] == [
        ("A", Decimal("1.666667")),
        ("B", Decimal("0.333333")),
        ("unattributed", Decimal("1.000000")),
    ]


def test_campaign_performance_on_postgresql_counts_each_cost_once_at_its_days_rate(
    sessions: sessionmaker[Session],
) -> None:
    document = {
        "source": "campaign_performance",
        "layout": "rows_and_columns",
        "detail_columns": ["campaign", "cost", "won_revenue", "cac", "roi", "budget"],
        "sort": [{"by": "campaign"}],
        "parameters": {"from": "2026-11-01", "to": "2026-11-20"},
    }
    eur = lambda minor: Money("EUR", minor)  # noqa: E731
    assert [tuple(r[1:]) for r in run(sessions, document, MARKETING)] == [
        ("A", eur(30_000), eur(26_667), eur(18_000), Decimal("-0.1111"), eur(100_000)),
        ("B", eur(13_001), eur(43_333), eur(9_751), Decimal("2.3331"), eur(40_000)),
        ("unattributed", eur(0), eur(0), None, None, eur(0)),
    ]
