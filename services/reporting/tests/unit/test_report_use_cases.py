"""Use cases of the reporting service against an in-memory unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import pytest

from salesplane_platform.errors import InvalidArgument, NotFound, PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.money import Money
from salesplane_reporting.domain.read_models import OpportunityTotal
from salesplane_reporting.domain.reports.registry import builtin_reports
from salesplane_reporting.service_layer import reports

NOW = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


class FixedReadModels:
    def __init__(self, totals: Sequence[OpportunityTotal]) -> None:
        self.totals = list(totals)

    def opportunity_totals(self, *, group_by: Sequence[str]) -> list[OpportunityTotal]:
        assert list(group_by) == ["sales_stage"]
        return self.totals


class FakeUnitOfWork:
    def __init__(self, totals: Sequence[OpportunityTotal] = ()) -> None:
        self.read_models = FixedReadModels(totals)
        self.entered = 0

    def __enter__(self) -> Self:
        self.entered += 1
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


def caller(*roles: str) -> Identity:
    return Identity(subject="zoe", roles=frozenset(roles))


@pytest.mark.parametrize("role", ["manager", "marketing", "admin", "service"])
def test_managers_marketing_and_admins_may_list_and_run_reports(role: str) -> None:
    registry = builtin_reports()

    assert [d.id for d in reports.list_reports(caller=caller(role), registry=registry)] == [
        "pipeline_by_stage"
    ]
    result = reports.run_report(
        report_id="pipeline_by_stage", caller=caller(role), registry=registry, uow=FakeUnitOfWork()
    )
    assert result.definition.id == "pipeline_by_stage"


@pytest.mark.parametrize("roles", [("rep",), ()])
def test_reps_may_neither_list_nor_run_reports_yet(roles: tuple[str, ...]) -> None:
    registry = builtin_reports()

    with pytest.raises(PermissionDenied):
        reports.list_reports(caller=caller(*roles), registry=registry)
    with pytest.raises(PermissionDenied):
        reports.run_report(
            report_id="pipeline_by_stage", caller=caller(*roles), registry=registry, uow=FakeUnitOfWork()
        )


def test_running_a_report_returns_its_columns_and_rows_as_of_now() -> None:
    totals = [OpportunityTotal(("Closed Won",), 3, Money("EUR", 12_345_00))]

    result = reports.run_report(
        report_id="pipeline_by_stage",
        caller=caller("manager"),
        registry=builtin_reports(),
        uow=FakeUnitOfWork(totals),
        now=NOW,
    )

    assert [c.name for c in result.columns] == ["sales_stage", "currency", "opportunity_count", "amount"]
    assert result.rows == (("Closed Won", "EUR", 3, Money("EUR", 12_345_00)),)
    assert result.generated_at == NOW


def test_an_unknown_report_is_not_found() -> None:
    with pytest.raises(NotFound) as error:
        reports.run_report(
            report_id="win_rate", caller=caller("manager"), registry=builtin_reports(), uow=FakeUnitOfWork()
        )

    assert (error.value.resource_type, error.value.resource_id) == ("report", "win_rate")


def test_a_missing_report_id_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument) as error:
        reports.run_report(
            report_id="", caller=caller("rep"), registry=builtin_reports(), uow=FakeUnitOfWork()
        )

    assert [v.field for v in error.value.violations] == ["report_id"]


def test_a_rejected_request_never_reads_the_read_models() -> None:
    uow = FakeUnitOfWork()

    with pytest.raises(PermissionDenied):
        reports.run_report(
            report_id="pipeline_by_stage", caller=caller("rep"), registry=builtin_reports(), uow=uow
        )

    assert uow.entered == 0
