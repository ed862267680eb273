"""What request fields must hold beyond their protobuf type: presence, patterns, ranges, the enum values
a field takes. The services check these (and more); stating them once, here, lets the OpenAPI document
show them and the gateway check them before the call, so that every broken rule of a request is
reported in one answer, next to the type errors, and the document cannot promise what is refused.

A rule is keyed by the protobuf field's full name (field_rule_table.RULES) and holds JSON Schema
keywords of the field's JSON value, as the document writes them; `check` reads the same keywords.
Rules the document cannot state (one field against another, against stored data) stay with the
services, which answer them with 400 or 422 as before."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from salesplane_platform.identifiers import USER_ID
from salesplane_platform.money import CURRENCY_EXPONENTS


@dataclass(frozen=True)
class FieldRule:
    """`value`: JSON Schema keywords every value (every item, of a repeated field) must meet;
    `items`: minItems / maxItems of a repeated field. A required field must be present and not
    null; for a string, an integer or an enum that means not empty, zero or unset either, since
    protobuf cannot tell those from absent."""

    value: Mapping[str, Any] = field(default_factory=dict)
    required: bool = False
    items: Mapping[str, Any] = field(default_factory=dict)


_UUID_TEXT = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Ids are UUIDs in their canonical lower-case form, as they are stored and compared.
UUID: Mapping[str, Any] = {"format": "uuid", "pattern": f"^{_UUID_TEXT}$"}
UUID_OR_EMPTY: Mapping[str, Any] = {"pattern": f"^(?:{_UUID_TEXT})?$", "description": "Empty: none."}
USER_ID_VALUE: Mapping[str, Any] = {"pattern": USER_ID.pattern, "maxLength": 64}
USER_ID_OR_EMPTY: Mapping[str, Any] = {"pattern": f"^(?:{USER_ID.pattern[1:-1]})?$", "maxLength": 64}
# A fiscal quarter (2026-Q4) or a calendar month (2026-11), as forecasting's periods module reads them,
# of the years 1..9998 that exist whatever month the fiscal year starts in.
_YEAR = "(?:[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8]|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
PERIOD_ID: Mapping[str, Any] = {"pattern": f"^{_YEAR}-(?:Q[1-4]|0[1-9]|1[0-2])$", "examples": ["2026-Q4"]}
PERIOD_ID_OR_EMPTY: Mapping[str, Any] = {"pattern": f"^(?:{PERIOD_ID['pattern'][1:-1]})?$"}
# The version (or revision) a change is based on; 0: none named.
VERSION: Mapping[str, Any] = {"minimum": 0}
CURRENCY: Mapping[str, Any] = {"enum": sorted(CURRENCY_EXPONENTS), "description": "ISO 4217."}
PERCENT: Mapping[str, Any] = {"minimum": 0, "maximum": 100}


def text(max_length: int, *, required: bool = False, multiline: bool = False) -> Mapping[str, Any]:
    """Free text as text_rules checks it: bounded, without control characters (line breaks and tabs
    allowed in multi-line text); when required, with something besides white space."""
    control = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" if multiline else r"\x00-\x1f\x7f-\x9f"
    if not required:
        return {"maxLength": max_length, "pattern": f"^[^{control}]*$"}
    return {"maxLength": max_length, "pattern": f"^[^{control}]*[^\\s{control}][^{control}]*$"}


def check(rule: Mapping[str, Any], value: Any) -> str | None:
    """Why a JSON value breaks the rule's keywords, or None when it meets them."""
    if "enum" in rule and value not in rule["enum"]:
        listed = rule["enum"] if len(rule["enum"]) <= 12 else "the list in the API document"
        return f"must be one of {listed}"
    if isinstance(value, str):
        if "minLength" in rule and len(value) < rule["minLength"]:
            return "must not be empty" if rule["minLength"] == 1 else f"must be {rule['minLength']}+ long"
        if "maxLength" in rule and len(value) > rule["maxLength"]:
            return f"must be at most {rule['maxLength']} characters"
        if "pattern" in rule and not _compiled(rule["pattern"]).search(value):
            return _pattern_description(rule)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in rule and value < rule["minimum"]:
            return f"must be at least {rule['minimum']}"
        if "maximum" in rule and value > rule["maximum"]:
            return f"must be at most {rule['maximum']}"
    return None


def check_items(rule: Mapping[str, Any], count: int) -> str | None:
    if "minItems" in rule and count < rule["minItems"]:
        return f"must hold at least {rule['minItems']} item(s)"
    if "maxItems" in rule and count > rule["maxItems"]:
        return f"must hold at most {rule['maxItems']} item(s)"
    return None


_DESCRIBED = {
    UUID["pattern"]: "must be a UUID (lower-case, canonical form)",
    UUID_OR_EMPTY["pattern"]: "must be empty or a UUID (lower-case, canonical form)",
    USER_ID_VALUE["pattern"]: "must be a user id (letters, digits, . _ @ -; 1-64)",
    USER_ID_OR_EMPTY["pattern"]: "must be empty or a user id (letters, digits, . _ @ -; 1-64)",
    PERIOD_ID["pattern"]: "must be a fiscal quarter like 2026-Q4 or a calendar month like 2026-11",
    PERIOD_ID_OR_EMPTY[
        "pattern"
    ]: "must be empty or a fiscal quarter like 2026-Q4 or a calendar month like 2026-11",
}


def _pattern_description(rule: Mapping[str, Any]) -> str:
    pattern = rule["pattern"]
    if pattern in _DESCRIBED:
        return _DESCRIBED[pattern]
    if pattern.endswith("]*$") and "\\s" in pattern:
        return "must not be empty or contain control characters"
    if pattern.endswith("]*$"):
        return "must not contain control characters"
    return f"must match {pattern}"


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    if pattern not in _PATTERNS:
        # `$` is the end of the text in a JSON Schema pattern; in Python it also matches before a
        # final line break.
        python = pattern.removesuffix("$") + r"\Z" if pattern.endswith("$") else pattern
        _PATTERNS[pattern] = re.compile(python)
    return _PATTERNS[pattern]
