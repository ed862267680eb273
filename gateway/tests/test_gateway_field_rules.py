"""The gateway's field rules (field_rules, field_rule_table) say what the services' own checks say.

The gateway checks these rules before the call and the OpenAPI document states them, so a rule
looser than the service's would document a request the service refuses, and a stricter one would
refuse a request the service takes. Each shared format is held here to the function that checks
it in the platform or the service, over generated values on both sides of the boundary."""

from __future__ import annotations

import string
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesplane_forecasting.domain.inspection.thresholds import RANGES
from salesplane_forecasting.domain.periods import FiscalCalendar, is_period_id
from salesplane_gateway import field_rule_table, field_rules
from salesplane_platform.errors import Validator
from salesplane_platform.identifiers import is_user_id, is_uuid
from salesplane_platform.money import CURRENCY_EXPONENTS
from salesplane_platform.page_tokens import MAX_PAGE_SIZE
from salesplane_platform.text_rules import check_text

RULES = field_rule_table.RULES
# Values near each boundary: hypothesis's text alone rarely hits a format's edges.
ID_LIKE = st.text(alphabet=string.ascii_letters + string.digits + "._@-Q ", max_size=70)


def meets(rule: Mapping[str, Any], value: object) -> bool:
    return field_rules.check(rule, value) is None


@settings(max_examples=400)
@given(st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), st.text(max_size=40)))
def test_a_uuid_meets_the_rule_exactly_when_the_platform_takes_it(value: str) -> None:
    assert meets(field_rules.UUID, value) == is_uuid(value)
    assert meets(field_rules.UUID_OR_EMPTY, value) == (value == "" or is_uuid(value))


def test_uuid_forms_the_platform_refuses_are_refused() -> None:
    canonical = str(uuid.uuid4())
    for value in (canonical.upper(), canonical.replace("-", ""), "{" + canonical + "}", canonical + "\n"):
        assert not meets(field_rules.UUID, value), value


@settings(max_examples=400)
@given(st.one_of(ID_LIKE, st.from_regex(field_rules.USER_ID_VALUE["pattern"], fullmatch=True)))
def test_a_user_id_meets_the_rule_exactly_when_the_platform_takes_it(value: str) -> None:
    assert meets(field_rules.USER_ID_VALUE, value) == is_user_id(value)
    assert meets(field_rules.USER_ID_OR_EMPTY, value) == (value == "" or is_user_id(value))


@settings(max_examples=600)
@given(
    st.one_of(
        st.from_regex(r"\A[0-9]{4}-(Q[0-9]|[0-9]{2})\Z"),
        st.from_regex(field_rules.PERIOD_ID["pattern"], fullmatch=True),
        ID_LIKE,
    )
)
def test_a_period_id_meets_the_rule_exactly_when_forecasting_takes_it(value: str) -> None:
    assert meets(field_rules.PERIOD_ID, value) == in_every_calendar(value)
    assert meets(field_rules.PERIOD_ID_OR_EMPTY, value) == (value == "" or in_every_calendar(value))


def in_every_calendar(value: str) -> bool:
    """forecasting's shape of a period id, in the years every fiscal calendar has: 9999 has its
    periods only when the fiscal year starts in January (FiscalCalendar.last_fiscal_year), which
    no schema can know, so the document stops at 9998."""
    return is_period_id(value) and int(value[:4]) <= FiscalCalendar(start_month=2).last_fiscal_year


@pytest.mark.parametrize(
    "value", ["0000-Q1", "0001-Q1", "9998-Q4", "9998-12", "9999-01", "2026-Q0", "2026-13", "2026-00"]
)
def test_period_years_at_the_edges_agree(value: str) -> None:
    assert meets(field_rules.PERIOD_ID, value) == in_every_calendar(value)


def test_the_currency_codes_are_the_platforms() -> None:
    assert set(field_rules.CURRENCY["enum"]) == set(CURRENCY_EXPONENTS)


@settings(max_examples=400)
@given(
    st.text(max_size=12).filter(lambda value: value == value.strip()),
    st.integers(min_value=1, max_value=8),
    st.booleans(),
    st.booleans(),
)
def test_free_text_meets_the_rule_exactly_when_text_rules_take_it(
    value: str, max_length: int, required: bool, multiline: bool
) -> None:
    # Text the services have stripped: white space around it is theirs to remove, not a rule.
    accepted = check_text(Validator(), "f", value, max_length, required=required, multiline=multiline)
    rule = field_rules.text(max_length, required=required, multiline=multiline)
    assert meets(rule, value) == accepted, (value, rule)


def test_the_inspection_threshold_ranges_are_forecastings() -> None:
    stated = {
        name.rsplit(".", 1)[1]: (rule.value.get("minimum"), rule.value.get("maximum"))
        for name, rule in RULES.items()
        if name.startswith(field_rule_table.FORECASTING + "InspectionThresholds.")
    }
    assert stated == RANGES


def test_every_page_size_rule_stops_at_the_platforms_limit() -> None:
    sizes = [rule for name, rule in RULES.items() if name.endswith(".page_size")]
    assert sizes
    assert all(rule.value["maximum"] == MAX_PAGE_SIZE and rule.value["minimum"] == 0 for rule in sizes)


def test_every_rule_names_a_field_of_the_contract() -> None:
    from google.protobuf import descriptor_pool

    import salesplane_gateway.route_table  # noqa: F401  (imports every service's messages)

    pool = descriptor_pool.Default()
    missing = []
    for name in RULES:
        message, _, field = name.rpartition(".")
        try:
            descriptor = pool.FindMessageTypeByName(message)
        except KeyError:
            missing.append(name)
            continue
        if field not in descriptor.fields_by_name:
            missing.append(name)
    assert not missing, missing
