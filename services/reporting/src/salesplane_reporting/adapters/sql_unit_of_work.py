"""SQL unit of work of the reporting service: reads the read models in one transaction."""

from __future__ import annotations

from salesplane_platform.unit_of_work import SqlUnitOfWork
from salesplane_reporting.adapters.read_model_store import SqlReadModels


class SqlReportingUnitOfWork(SqlUnitOfWork):
    read_models: SqlReadModels

    def __enter__(self) -> SqlReportingUnitOfWork:
        super().__enter__()
        self.read_models = SqlReadModels(self.session)
        return self
