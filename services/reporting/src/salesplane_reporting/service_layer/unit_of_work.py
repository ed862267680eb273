"""What the use cases need from storage, as protocols: SQL in production, in-memory in unit tests."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from salesplane_reporting.domain.read_models import ReadModelQueries


class ReportingUnitOfWork(Protocol):
    # Read-only: the use cases only read it, and an implementation may hold a subtype (SqlReadModels).
    @property
    def read_models(self) -> ReadModelQueries: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
