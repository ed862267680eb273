"""The pipeline-by-stage report and the report registry, over an in-memory read model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

import pytest

from salesplane_platform.money import Money
from salesplane_reporting.domain.read_models import OPPORTUNITY_DIMENSIONS, OpportunityTotal, OpportunityView
from salesplane_reporting.domain.report import ColumnType, ReportDefinition
from salesplane_reporting.domain.reports import pipeline_by_stage
from salesplane_reporting.domain.reports.registry import ReportRegistry, builtin_reports
from salesplane_reporting.domain.sales_stages import DEFAULT_STAGE_ORDER, stage_sort_key


class InMemoryReadModels:
    def __init__(self, opportunities: Sequence[OpportunityView] = ()) -> None:
        self.opportunities = list(opportunities)

    def opportunity_totals(self, *, group_by: Sequence[str]) -> list[OpportunityTotal]:
        assert set(group_by) <= OPPORTUNITY_DIMENSIONS
        counts: dict[tuple[tuple[str, ...], str], int] = defaultdict(int)
        amounts: dict[tuple[tuple[str, ...], str], int] = defaultdict(int)
        for view in self.opportunities:
            group = (tuple(getattr(view, name) for name in group_by), view.currency)
            counts[group] += 1
            amounts[group] += view.amount_minor
        # Deliberately unordered, like SQL without ORDER BY.
        return [
            OpportunityTotal(key, counts[(key, currency)], Money(currency, amounts[(key, currency)]))
            for key, currency in reversed(list(counts))
        ]


def opportunity(number: int, stage: str, amount_minor: int, currency: str = "USD") -> OpportunityView:
    return OpportunityView(
        id=f"opportunity-{number}",
        owner_user_id="alice",
        sales_stage=stage,
        amount_minor=amount_minor,
        currency=currency,
        probability=50,
        expected_close_date=date(2031, 6, 30),
        version=1,
    )


def run(*opportunities: OpportunityView) -> list[tuple[object, ...]]:
    return pipeline_by_stage.REPORT.rows(InMemoryReadModels(opportunities))


def test_the_report_has_stage_currency_count_and_amount_columns() -> None:
    columns = [(c.name, c.type) for c in pipeline_by_stage.REPORT.columns]

    assert columns == [
        ("sales_stage", ColumnType.STRING),
        ("currency", ColumnType.STRING),
        ("opportunity_count", ColumnType.INTEGER),
        ("amount", ColumnType.MONEY),
    ]
    assert pipeline_by_stage.REPORT.definition.id == "pipeline_by_stage"


def test_an_empty_pipeline_has_no_rows() -> None:
    assert run() == []


def test_opportunities_are_counted_and_summed_per_stage_and_currency() -> None:
    rows = run(
        opportunity(1, "Qualification", 100_00),
        opportunity(2, "Qualification", 250_50),
        opportunity(3, "Qualification", 5_000, "JPY"),
        opportunity(4, "Prospecting", 1_00, "EUR"),
    )

    assert rows == [
        ("Prospecting", "EUR", 1, Money("EUR", 1_00)),
        ("Qualification", "JPY", 1, Money("JPY", 5_000)),
        ("Qualification", "USD", 2, Money("USD", 350_50)),
    ]


def test_stages_follow_the_pipeline_order_not_the_alphabet() -> None:
    rows = run(*(opportunity(i, stage, 1) for i, stage in enumerate(reversed(DEFAULT_STAGE_ORDER))))

    assert [row[0] for row in rows] == list(DEFAULT_STAGE_ORDER)


def test_unknown_stages_come_after_the_known_ones_alphabetically() -> None:
    rows = run(
        opportunity(1, "Zombie", 1),
        opportunity(2, "Closed Lost", 1),
        opportunity(3, "Awaiting Legal", 1),
        opportunity(4, "Prospecting", 1),
    )

    assert [row[0] for row in rows] == ["Prospecting", "Closed Lost", "Awaiting Legal", "Zombie"]


def test_within_a_stage_currencies_are_in_alphabetical_order() -> None:
    rows = run(opportunity(1, "Closed Won", 1, "USD"), opportunity(2, "Closed Won", 1, "CHF"))

    assert [row[1] for row in rows] == ["CHF", "USD"]


def test_the_stage_sort_key_puts_known_stages_first() -> None:
    assert sorted(["b", "Closed Won", "a", "Prospecting"], key=stage_sort_key) == [
        "Prospecting",
        "Closed Won",
        "a",
        "b",
    ]


def test_the_builtin_registry_offers_the_pipeline_report() -> None:
    registry = builtin_reports()

    assert [d.id for d in registry.definitions()] == ["pipeline_by_stage"]
    assert registry.get("pipeline_by_stage") is pipeline_by_stage.REPORT
    assert registry.get("no_such_report") is None


def test_a_registry_refuses_two_reports_with_the_same_id() -> None:
    class Duplicate:
        definition = ReportDefinition("pipeline_by_stage", "Again", "")
        columns = ()

        def rows(self, queries: object) -> list[tuple[object, ...]]:
            return []

    with pytest.raises(ValueError, match="pipeline_by_stage"):
        ReportRegistry([pipeline_by_stage.REPORT, Duplicate()])
