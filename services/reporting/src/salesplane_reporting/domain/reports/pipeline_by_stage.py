"""Pipeline by stage: how many opportunities, worth how much, sit in each sales stage."""

from __future__ import annotations

from salesplane_reporting.domain.read_models import ReadModelQueries
from salesplane_reporting.domain.report import CellValue, Column, ColumnType, ReportDefinition
from salesplane_reporting.domain.sales_stages import stage_sort_key


class PipelineByStage:
    definition: ReportDefinition = ReportDefinition(
        id="pipeline_by_stage",
        title="Pipeline by stage",
        description="Number and total amount of opportunities per sales stage and currency.",
    )
    columns: tuple[Column, ...] = (
        Column("sales_stage", "Sales stage", ColumnType.STRING),
        Column("currency", "Currency", ColumnType.STRING),
        Column("opportunity_count", "Opportunities", ColumnType.INTEGER),
        Column("amount", "Amount", ColumnType.MONEY),
    )

    def rows(self, queries: ReadModelQueries) -> list[tuple[CellValue, ...]]:
        """One row per stage and currency: stages in pipeline order (others after, alphabetically),
        then currencies alphabetically."""
        totals = queries.opportunity_totals(group_by=["sales_stage"])
        ordered = sorted(totals, key=lambda t: (stage_sort_key(t.key[0]), t.amount.currency))
        return [(t.key[0], t.amount.currency, t.count, t.amount) for t in ordered]


REPORT = PipelineByStage()
