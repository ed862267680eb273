"""Duplicate matching: by e-mail, phone, or person at company; the best candidate first; where new
data may be merged."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from salesplane_leads.domain.duplicates import (
    DuplicateReason,
    MatchingKeys,
    duplicate_candidates,
    merge_target,
    reasons_between,
)
from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.lead_fields import LeadFields
from salesplane_leads.domain.lead_status import LeadStatus

T0 = datetime(2031, 1, 1, tzinfo=UTC)


def lead(age_days: int = 0, **values: str) -> Lead:
    fields = LeadFields(**{"last_name": "Lovelace", **values})
    created = Lead.create(
        fields, assigned_user_id="", created_by="a", rules=(), now=T0 - timedelta(days=age_days)
    )
    created.events.clear()
    return created


def keys(**values: str) -> MatchingKeys:
    return MatchingKeys.of(LeadFields(**{"last_name": "Lovelace", **values}))


def test_the_same_email_in_another_case_is_a_duplicate() -> None:
    assert reasons_between(keys(email="ADA@example.com"), lead(email="ada@example.com")) == (
        DuplicateReason.SAME_EMAIL,
    )


def test_the_same_phone_in_another_format_is_a_duplicate() -> None:
    assert reasons_between(keys(phone="0044 20 7946 0018"), lead(phone="+44 (0)20 7946-0018")) == (
        DuplicateReason.SAME_PHONE,
    )


def test_the_same_person_at_the_same_company_spelt_differently_is_a_duplicate() -> None:
    found = reasons_between(
        keys(first_name="ZOË", last_name="o'brien", company="Acme, Inc."),
        lead(first_name="Zoe", last_name="OBrien", company="ACME GmbH"),
    )
    assert found == (DuplicateReason.SAME_PERSON_AT_COMPANY,)


def test_the_same_name_at_another_company_or_without_a_company_is_not_a_duplicate() -> None:
    assert (
        reasons_between(keys(first_name="Ada", company="Acme"), lead(first_name="Ada", company="Initech"))
        == ()
    )
    assert reasons_between(keys(first_name="Ada"), lead(first_name="Ada")) == ()


def test_empty_values_never_match() -> None:
    assert reasons_between(keys(), lead()) == ()


def test_every_reason_that_applies_is_reported() -> None:
    found = reasons_between(
        keys(email="ada@example.com", phone="123456", first_name="Ada", company="Acme"),
        lead(email="ada@example.com", phone="123-456", first_name="Ada", company="Acme"),
    )
    assert found == (
        DuplicateReason.SAME_EMAIL,
        DuplicateReason.SAME_PHONE,
        DuplicateReason.SAME_PERSON_AT_COMPANY,
    )


def test_candidates_come_best_first_more_reasons_then_in_play_then_oldest() -> None:
    by_email_old = lead(age_days=10, email="ada@example.com")
    by_email_new = lead(age_days=1, email="ada@example.com")
    by_both = lead(age_days=0, email="ada@example.com", phone="123456")
    dead = lead(age_days=20, email="ada@example.com")
    dead.change_status(LeadStatus.DEAD, reason="spam")

    found = duplicate_candidates(
        keys(email="ada@example.com", phone="123456"), [dead, by_email_new, by_both, by_email_old]
    )

    assert [c.lead.id for c in found] == [by_both.id, by_email_old.id, by_email_new.id, dead.id]


def test_a_lead_merged_into_another_is_not_a_candidate() -> None:
    merged = replace(lead(email="ada@example.com"), merged_into_lead_id="x")

    assert duplicate_candidates(keys(email="ada@example.com"), [merged]) == []


def test_new_data_is_merged_into_the_best_candidate_the_caller_may_change() -> None:
    first = lead(age_days=2, email="ada@example.com")
    second = lead(age_days=1, email="ada@example.com")
    candidates = duplicate_candidates(keys(email="ada@example.com"), [first, second])

    target = merge_target(candidates, can_change=lambda candidate: candidate.id != first.id)

    assert target is not None and target.lead.id == second.id


def test_converted_leads_and_leads_being_converted_are_never_merge_targets() -> None:
    converted = replace(lead(email="ada@example.com"), status=LeadStatus.CONVERTED)
    converting = replace(lead(email="ada@example.com"), conversion_pending=True)
    candidates = duplicate_candidates(keys(email="ada@example.com"), [converted, converting])

    assert len(candidates) == 2
    assert merge_target(candidates, can_change=lambda _: True) is None
