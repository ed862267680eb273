"""What free text may contain: bounded length and no control characters. PostgreSQL refuses NUL in
text, and the others break CSV exports, logs and terminals and are never typed on purpose."""

from __future__ import annotations

import unicodedata

from salesplane_platform.errors import Validator

_LINE_BREAKS = frozenset("\n\r\t")


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    return any(
        unicodedata.category(character) == "Cc" and not (multiline and character in _LINE_BREAKS)
        for character in value
    )


def is_single_line(value: str) -> bool:
    return not has_control_characters(value)


def is_text(value: str) -> bool:
    """Like is_single_line, but line breaks and tabs are fine (next steps, notes, reasons)."""
    return not has_control_characters(value, multiline=True)


def check_text(
    check: Validator,
    field: str,
    value: str,
    max_length: int,
    *,
    required: bool = False,
    multiline: bool = False,
) -> bool:
    """Report at most one violation for the field; return whether it is valid."""
    if required and not value:
        return check.require(False, field, "must not be empty")
    if len(value) > max_length:
        return check.require(False, field, f"must be at most {max_length} characters")
    return check.require(
        not has_control_characters(value, multiline=multiline),
        field,
        "must not contain control characters" + ("" if multiline else " or line breaks"),
    )
