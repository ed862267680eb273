"""What a report is: a definition, typed columns, and rows of cells."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from salesplane_platform.money import Money

CellValue = str | int | Money


class ColumnType(Enum):
    STRING = "string"
    INTEGER = "integer"
    MONEY = "money"


@dataclass(frozen=True)
class Column:
    name: str
    title: str
    type: ColumnType


@dataclass(frozen=True)
class ReportDefinition:
    id: str
    title: str
    description: str


@dataclass(frozen=True)
class ReportResult:
    definition: ReportDefinition
    columns: tuple[Column, ...]
    rows: tuple[tuple[CellValue, ...], ...]
    generated_at: datetime
