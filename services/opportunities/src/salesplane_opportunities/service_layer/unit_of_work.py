"""What the use cases need from storage, as protocols: SQL in production, in-memory in unit tests."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from salesplane_opportunities.domain.opportunity import Opportunity
from salesplane_opportunities.domain.sales_stages import SalesStageCatalog


class OpportunityRepository(Protocol):
    def add(self, opportunity: Opportunity) -> None: ...

    def get(self, opportunity_id: str) -> Opportunity | None: ...

    def save(self, opportunity: Opportunity, *, read_version: int) -> None:
        """Persist changes; raise Conflict if someone else saved since `read_version`."""


class OpportunitiesUnitOfWork(Protocol):
    opportunities: OpportunityRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def sales_stages(self) -> SalesStageCatalog: ...

    def publish_events(self, opportunity: Opportunity, *, actor: str) -> None:
        """Write the aggregate's pending events to the outbox of this transaction."""

    def commit(self) -> None: ...
