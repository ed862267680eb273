"""Reading leads from CSV: the header, each row's values, and why a row cannot be a lead.

A chunk is CSV text whose first line is the header; the caller says which line of the original file
its first data line was, so every reported line number is the line in the file the user has open.
A record spanning several lines (a quoted value with line breaks) is reported at its first line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from salesplane_leads.domain.csv_touches import TouchEntry, parse_touches
from salesplane_leads.domain.lead_fields import Address, LeadFields, check_lead_fields
from salesplane_platform.errors import FieldViolation, InvalidArgument, Validator
from salesplane_platform.identifiers import check_user_id
from salesplane_platform.text_rules import check_text

IMPORT_COLUMNS = (
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "title",
    "website",
    "street",
    "city",
    "region",
    "postal_code",
    "country_code",
    "description",
    "lead_source",
    "campaign",
    "assigned_user_id",
    "touches",
)
REQUIRED_COLUMNS = ("last_name",)
MAX_ROWS_PER_CHUNK = 1000
MAX_REFERENCE_LENGTH = 100
# Violations of lead fields are reported under the CSV column they came from.
_COLUMN_OF_FIELD = {
    f"address.{name}": name for name in ("street", "city", "region", "postal_code", "country_code")
}


@dataclass(frozen=True)
class ImportRow:
    """A row that makes a valid lead, as far as the row alone can tell (the lead source and
    campaigns, of the lead and of its touches, are looked up later, by id or name)."""

    line_number: int
    fields: LeadFields
    lead_source: str
    campaign: str
    assigned_user_id: str
    touches: tuple[TouchEntry, ...] = ()


@dataclass(frozen=True)
class RejectedRow:
    line_number: int
    reasons: tuple[str, ...]


def header_key(name: str) -> str:
    """'First Name', 'first-name' and 'FIRST_NAME' all name the first_name column."""
    return "_".join(name.strip().casefold().replace("-", " ").split())


def parse_chunk(csv_text: str, *, first_line_number: int) -> list[ImportRow | RejectedRow]:
    """Every data row, in order, as an ImportRow or a RejectedRow with its reasons. A header that
    cannot be used fails the whole chunk (INVALID_ARGUMENT on csv_text)."""
    reader = csv.reader(io.StringIO(csv_text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise _invalid("must start with a header line naming the columns")
        columns = _columns(header)
        header_lines = reader.line_num
        results: list[ImportRow | RejectedRow] = []
        previous_line = reader.line_num
        for values in reader:
            line_number = first_line_number + previous_line - header_lines
            previous_line = reader.line_num
            if not any(value.strip() for value in values):
                continue  # a blank line (or only separators) is not a data row
            if len(results) == MAX_ROWS_PER_CHUNK:
                raise _invalid(f"must have at most {MAX_ROWS_PER_CHUNK} data rows; send the file in chunks")
            results.append(_row(line_number, columns, values))
    except csv.Error as error:
        raise _invalid(f"line {first_line_number + reader.line_num - 2} is not valid CSV: {error}") from error
    return results


def _invalid(description: str) -> InvalidArgument:
    return InvalidArgument(FieldViolation("csv_text", description))


def _columns(header: list[str]) -> list[str]:
    columns = [header_key(name) for name in header]
    unknown = [name for name, key in zip(header, columns, strict=True) if key not in IMPORT_COLUMNS]
    if unknown:
        raise _invalid(f"unknown columns {unknown}; the columns are {', '.join(IMPORT_COLUMNS)}")
    repeated = sorted({key for key in columns if columns.count(key) > 1})
    if repeated:
        raise _invalid(f"columns {repeated} appear more than once")
    if missing := [name for name in REQUIRED_COLUMNS if name not in columns]:
        raise _invalid(f"the header must have the columns {missing}")
    return columns


def _row(line_number: int, columns: list[str], values: list[str]) -> ImportRow | RejectedRow:
    if len(values) != len(columns):
        return RejectedRow(
            line_number, (f"has {len(values)} values but the header has {len(columns)} columns",)
        )
    value = dict(zip(columns, values, strict=True)).get
    fields = LeadFields(
        first_name=value("first_name", ""),
        last_name=value("last_name", ""),
        company=value("company", ""),
        email=value("email", ""),
        phone=value("phone", ""),
        title=value("title", ""),
        website=value("website", ""),
        address=Address(
            street=value("street", ""),
            city=value("city", ""),
            region=value("region", ""),
            postal_code=value("postal_code", ""),
            country_code=value("country_code", ""),
        ),
        description=value("description", ""),
    ).cleaned()
    lead_source = value("lead_source", "").strip()
    campaign = value("campaign", "").strip()
    assigned_user_id = value("assigned_user_id", "").strip()

    check = Validator()
    check_lead_fields(check, fields)
    check_text(check, "lead_source", lead_source, MAX_REFERENCE_LENGTH)
    check_text(check, "campaign", campaign, MAX_REFERENCE_LENGTH)
    if assigned_user_id:
        check_user_id(check, "assigned_user_id", assigned_user_id)
    touches, touch_reasons = parse_touches(value("touches", ""))
    if check.violations or touch_reasons:
        return RejectedRow(
            line_number,
            (
                *(f"{_COLUMN_OF_FIELD.get(v.field, v.field)}: {v.description}" for v in check.violations),
                *touch_reasons,
            ),
        )
    return ImportRow(line_number, fields, lead_source, campaign, assigned_user_id, touches)
