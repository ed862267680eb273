"""Import row fingerprints: the same row content always has the same fingerprint, anything else a
different one."""

from __future__ import annotations

from salesplane_leads.domain.csv_rows import ImportRow, parse_chunk
from salesplane_leads.domain.import_fingerprint import row_fingerprint


def fingerprints(text: str, first_line_number: int = 2) -> list[str]:
    rows = parse_chunk(text, first_line_number=first_line_number)
    return [row_fingerprint(row) for row in rows if isinstance(row, ImportRow)]


def test_a_fingerprint_is_a_sha256_hex_digest() -> None:
    [fingerprint] = fingerprints("last_name\nLovelace\n")
    assert len(fingerprint) == 64 and int(fingerprint, 16) >= 0


def test_the_same_row_saved_differently_has_the_same_fingerprint() -> None:
    original = fingerprints("first_name,last_name,email,lead_source\nAda,Lovelace,ada@example.com,Web\n")
    resaved = fingerprints(
        'email,last_name,first_name,lead_source\r\n"ADA@example.com ","Lovelace",  Ada ,web\r\n',
        first_line_number=40,
    )
    assert original == resaved


def test_a_missing_column_and_an_empty_value_are_the_same() -> None:
    assert fingerprints("last_name\nLovelace\n") == fingerprints("last_name,company\nLovelace,\n")


def test_any_different_value_gives_another_fingerprint() -> None:
    base = "first_name,last_name,company,assigned_user_id,campaign\n"
    rows = [
        "Ada,Lovelace,Engines,bob,Spring",
        "Ada,Lovelace,Engines,bob,Summer",
        "Ada,Lovelace,Engines,carol,Spring",
        "Ada,Lovelace,Engine,bob,Spring",
        "Augusta,Lovelace,Engines,bob,Spring",
    ]
    found = fingerprints(base + "\n".join(rows) + "\n")
    assert len(set(found)) == len(rows)


def test_values_are_not_confused_across_columns() -> None:
    assert fingerprints("first_name,last_name\nAda,Lovelace\n") != fingerprints(
        "first_name,last_name\nLovelace,Ada\n"
    )
