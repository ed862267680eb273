"""Reading CSV chunks: the header, each row's values and problems, and line numbers that match the
original file."""

from __future__ import annotations

import pytest

from salesplane_leads.domain.csv_rows import (
    MAX_ROWS_PER_CHUNK,
    ImportRow,
    RejectedRow,
    header_key,
    parse_chunk,
)
from salesplane_leads.domain.lead_fields import Address
from salesplane_platform.errors import InvalidArgument


def parse(text: str, first_line_number: int = 2) -> list[ImportRow | RejectedRow]:
    return parse_chunk(text, first_line_number=first_line_number)


def csv_violation(text: str) -> str:
    with pytest.raises(InvalidArgument) as error:
        parse(text)
    [violation] = error.value.violations
    assert violation.field == "csv_text"
    return violation.description


def test_a_row_becomes_cleaned_lead_fields_and_references() -> None:
    [row] = parse(
        "First Name,LAST_NAME,email,country-code,street,lead_source,campaign,assigned_user_id\n"
        "  Ada , Lovelace ,ADA@Example.com,gb,1 Main St, Web , Spring ,bob\n"
    )

    assert isinstance(row, ImportRow)
    assert (row.line_number, row.fields.first_name, row.fields.last_name, row.fields.email) == (
        2,
        "Ada",
        "Lovelace",
        "ada@example.com",
    )
    assert row.fields.address == Address(street="1 Main St", country_code="GB")
    assert (row.lead_source, row.campaign, row.assigned_user_id) == ("Web", "Spring", "bob")


def test_header_names_are_case_space_and_hyphen_insensitive() -> None:
    assert header_key(" Postal-Code ") == header_key("postal code") == "postal_code"


def test_an_invalid_row_is_reported_with_every_reason_by_column() -> None:
    [row] = parse("last_name,email,country_code,phone,assigned_user_id\n,nope,XX,12,a b\n")

    assert isinstance(row, RejectedRow)
    assert [reason.split(":")[0] for reason in row.reasons] == [
        "last_name",
        "email",
        "phone",
        "country_code",
        "assigned_user_id",
    ]


def test_a_row_with_too_few_or_too_many_values_is_invalid() -> None:
    rows = parse("first_name,last_name\nAda\nAda,Lovelace,extra\n")

    assert [(r.line_number, r.reasons) for r in rows if isinstance(r, RejectedRow)] == [
        (2, ("has 1 values but the header has 2 columns",)),
        (3, ("has 3 values but the header has 2 columns",)),
    ]


def test_line_numbers_follow_the_original_file_across_blank_lines_and_multi_line_values() -> None:
    text = 'last_name,description\nA,one\n\nB,"two\nlines"\nC,three\n,,\n'

    rows = parse(text, first_line_number=101)

    assert [(r.line_number, r.fields.last_name) for r in rows if isinstance(r, ImportRow)] == [
        (101, "A"),
        (103, "B"),
        (105, "C"),
    ]
    assert rows[1].fields.description == "two\nlines"  # type: ignore[union-attr]


def test_windows_line_endings_and_a_byte_order_mark_are_fine() -> None:
    rows = parse("\ufefflast_name,first_name\r\nLovelace,Ada\r\nTuring,Alan\r\n")

    assert [(r.line_number, r.fields.last_name) for r in rows if isinstance(r, ImportRow)] == [
        (2, "Lovelace"),
        (3, "Turing"),
    ]


def test_a_chunk_without_data_rows_imports_nothing() -> None:
    assert parse("last_name\n") == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "header"),
        ("last_name,email address\n", "unknown columns ['email address']"),
        ("last_name,Last Name\n", "appear more than once"),
        ("first_name,email\n", "must have the columns ['last_name']"),
    ],
)
def test_an_unusable_header_fails_the_whole_chunk(text: str, fragment: str) -> None:
    assert fragment in csv_violation(text)


def test_a_chunk_has_a_bounded_number_of_rows() -> None:
    text = "last_name\n" + "L\n" * (MAX_ROWS_PER_CHUNK + 1)
    assert "at most 1000 data rows" in csv_violation(text)


def test_a_reference_to_a_source_or_campaign_is_bounded() -> None:
    [row] = parse(f"last_name,lead_source,campaign\nL,{'s' * 101},{'c' * 101}\n")

    assert isinstance(row, RejectedRow)
    assert [reason.split(":")[0] for reason in row.reasons] == ["lead_source", "campaign"]
