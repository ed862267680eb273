"""What the use cases need from storage, as protocols: SQL in production, in-memory in unit tests."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from salesplane_leads.domain.lead import Lead


class LeadRepository(Protocol):
    def add(self, lead: Lead) -> None: ...

    def get(self, lead_id: str) -> Lead | None: ...


class LeadsUnitOfWork(Protocol):
    leads: LeadRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def publish_events(self, lead: Lead, *, actor: str) -> None:
        """Write the aggregate's pending events to the outbox of this transaction."""

    def commit(self) -> None: ...
