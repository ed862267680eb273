"""The Lead aggregate: validation of every field, the workflow, qualification, conversion, merging,
and the events each change raises."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from salesplane_leads.domain.lead import ChangeKind, Lead
from salesplane_leads.domain.lead_fields import Address, LeadFields
from salesplane_leads.domain.lead_status import LeadStatus
from salesplane_leads.domain.qualification import Authority, Need, Qualification
from salesplane_leads.domain.scoring import ScoringCriterion, ScoringRule
from salesplane_platform.errors import FailedPrecondition, InvalidArgument
from salesplane_platform.identifiers import is_uuid
from salesplane_platform.money import Money

NOW = datetime(2031, 5, 17, 9, 30, tzinfo=UTC)
LATER = datetime(2031, 5, 18, 10, 0, tzinfo=UTC)
SOURCE_ID = "0b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a"
RULES = (
    ScoringRule("has-email", "Has e-mail", ScoringCriterion.HAS_EMAIL, 10),
    ScoringRule(
        "decision-maker",
        "Decision maker",
        ScoringCriterion.AUTHORITY_AT_LEAST,
        50,
        authority=Authority.DECISION_MAKER,
    ),
)


def create(assigned_user_id: str = "", prefix: str = "", **values: object) -> Lead:
    fields = LeadFields(**{"last_name": "Lovelace", **values})  # type: ignore[arg-type]
    return Lead.create(
        fields,
        assigned_user_id=assigned_user_id,
        created_by="alice",
        rules=RULES,
        field_prefix=prefix,
        now=NOW,
    )


def violated_fields(**values: object) -> list[str]:
    with pytest.raises(InvalidArgument) as error:
        create(**values)  # type: ignore[arg-type]
    return [v.field for v in error.value.violations]


def assigned(status: LeadStatus = LeadStatus.ASSIGNED) -> Lead:
    lead = create("bob")
    lead.events.clear()
    if status is LeadStatus.IN_PROCESS:
        lead.change_status(LeadStatus.IN_PROCESS, now=NOW)
    elif status is LeadStatus.RECYCLED:
        lead.change_status(LeadStatus.RECYCLED, reason="no budget this year", now=NOW)
    elif status is LeadStatus.DEAD:
        lead.change_status(LeadStatus.DEAD, reason="went bust", now=NOW)
    lead.events.clear()
    return lead


# Creation and validation


def test_a_lead_with_only_a_last_name_is_new_and_unassigned() -> None:
    lead = create()

    assert lead.status is LeadStatus.NEW
    assert lead.assigned_user_id == ""
    assert lead.fields == LeadFields(last_name="Lovelace")


def test_a_lead_given_an_assignee_is_assigned() -> None:
    lead = create("bob.smith@emea")

    assert (lead.status, lead.assigned_user_id) == (LeadStatus.ASSIGNED, "bob.smith@emea")


def test_a_new_lead_gets_a_uuid_version_one_its_creator_and_creation_time() -> None:
    lead = create()

    assert is_uuid(lead.id)
    assert (lead.version, lead.created_by, lead.created_at, lead.updated_at) == (1, "alice", NOW, NOW)


def test_creating_a_lead_raises_one_created_event_with_its_full_state() -> None:
    lead = create("bob", first_name="Ada", company="Analytical Engines Ltd")

    assert [(e.kind, e.previous_status) for e in lead.events] == [(ChangeKind.CREATED, None)]
    assert lead.events[0].lead == lead
    assert lead.events[0].lead.events == []


def test_an_imported_lead_raises_an_imported_event() -> None:
    lead = Lead.create(
        LeadFields(last_name="L"), assigned_user_id="", created_by="a", rules=(), kind=ChangeKind.IMPORTED
    )

    assert lead.events[0].kind is ChangeKind.IMPORTED


def test_fields_are_trimmed_the_email_lower_cased_and_the_country_upper_cased() -> None:
    lead = create(
        first_name="  Ada ",
        email=" Ada@Example.COM ",
        phone=" +44 20 7946 0018 ",
        address=Address(city=" London ", country_code=" gb "),
    )

    assert (lead.fields.first_name, lead.fields.email, lead.fields.phone) == (
        "Ada",
        "ada@example.com",
        "+44 20 7946 0018",
    )
    assert (lead.fields.address.city, lead.fields.address.country_code) == ("London", "GB")
    assert lead.normalised_phone == "+442079460018"


def test_a_new_lead_is_scored_with_the_rules_and_every_rule_is_in_the_breakdown() -> None:
    lead = create(email="ada@example.com")

    assert lead.score.value == 10
    assert [(c.rule_id, c.matched) for c in lead.score.breakdown] == [
        ("has-email", True),
        ("decision-maker", False),
    ]


@pytest.mark.parametrize("last_name", ["", "   "])
def test_a_last_name_is_required(last_name: str) -> None:
    assert violated_fields(last_name=last_name) == ["last_name"]


@pytest.mark.parametrize(
    ("field", "limit"),
    [("first_name", 100), ("last_name", 100), ("company", 255), ("title", 128), ("description", 4000)],
)
def test_text_fields_accept_their_maximum_length_and_no_more(field: str, limit: int) -> None:
    assert getattr(create(**{field: "x" * limit}).fields, field) == "x" * limit
    assert violated_fields(**{field: "x" * (limit + 1)}) == [field]


@pytest.mark.parametrize(
    ("field", "limit"), [("street", 255), ("city", 100), ("region", 100), ("postal_code", 20)]
)
def test_address_fields_are_bounded(field: str, limit: int) -> None:
    assert violated_fields(address=Address(**{field: "x" * (limit + 1)})) == [f"address.{field}"]


def test_single_line_fields_refuse_control_characters_but_the_description_takes_line_breaks() -> None:
    assert violated_fields(company="Acme\nLtd") == ["company"]
    assert violated_fields(first_name="A\x00da") == ["first_name"]
    assert create(description="line one\nline two\ttabbed").fields.description == "line one\nline two\ttabbed"
    assert violated_fields(description="bell \x07") == ["description"]


@pytest.mark.parametrize("country", ["XX", "UK", "DEU"])
def test_a_country_must_be_an_iso_3166_alpha_2_code(country: str) -> None:
    assert violated_fields(address=Address(country_code=country)) == ["address.country_code"]


@pytest.mark.parametrize("user_id", ["-bob", "bob smith", "b" * 65, "bob/smith"])
def test_an_assignee_must_be_a_user_id(user_id: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        create(user_id)
    assert [v.field for v in error.value.violations] == ["assigned_user_id"]


@pytest.mark.parametrize("field", ["lead_source_id", "campaign_id"])
def test_source_and_campaign_must_be_uuids(field: str) -> None:
    assert violated_fields(**{field: "web"}) == [field]


def test_every_violation_is_reported_at_once_with_the_callers_prefix() -> None:
    with pytest.raises(InvalidArgument) as error:
        create(
            prefix="lead.",
            first_name="x" * 101,
            last_name="",
            company="x" * 256,
            email="not an address",
            phone="12",
            website="not a site",
            address=Address(country_code="ZZ"),
            lead_source_id="web",
        )

    assert [v.field for v in error.value.violations] == [
        "lead.first_name",
        "lead.last_name",
        "lead.company",
        "lead.email",
        "lead.phone",
        "lead.website",
        "lead.address.country_code",
        "lead.lead_source_id",
    ]


# Editing


def test_editing_changes_only_the_given_paths_rescoring_and_raising_updated() -> None:
    lead = create(first_name="Ada", address=Address(city="London", country_code="GB"))
    lead.events.clear()

    assert lead.edit({"email": "ADA@example.com", "address.city": "Paris"}, rules=RULES, now=LATER)

    assert lead.fields.email == "ada@example.com"
    assert lead.fields.address == Address(city="Paris", country_code="GB")
    assert lead.fields.first_name == "Ada"
    assert (lead.version, lead.updated_at, lead.score.value) == (2, LATER, 10)
    assert [e.kind for e in lead.events] == [ChangeKind.UPDATED]


def test_an_edit_that_changes_nothing_raises_no_event() -> None:
    lead = create(first_name="Ada")
    lead.events.clear()

    assert not lead.edit({"first_name": " Ada "}, rules=RULES)
    assert (lead.version, lead.events) == (1, [])


def test_an_invalid_edit_changes_nothing() -> None:
    lead = create()

    with pytest.raises(InvalidArgument):
        lead.edit({"email": "nope", "last_name": ""}, rules=RULES, field_prefix="lead.")
    assert lead.fields == LeadFields(last_name="Lovelace")


# Assignment and workflow


def test_assigning_a_new_lead_makes_it_assigned() -> None:
    lead = create()
    lead.events.clear()

    assert lead.assign("bob", now=LATER)

    assert (lead.status, lead.assigned_user_id, lead.version) == (LeadStatus.ASSIGNED, "bob", 2)
    assert [(e.kind, e.previous_status) for e in lead.events] == [(ChangeKind.ASSIGNED, LeadStatus.NEW)]


def test_unassigning_puts_the_lead_back_to_new() -> None:
    lead = assigned()

    lead.assign("")

    assert (lead.status, lead.assigned_user_id) == (LeadStatus.NEW, "")


def test_reassigning_a_lead_in_process_keeps_it_in_process() -> None:
    lead = assigned(LeadStatus.IN_PROCESS)

    lead.assign("carol")

    assert (lead.status, lead.assigned_user_id) == (LeadStatus.IN_PROCESS, "carol")
    assert lead.events[0].previous_status is None


def test_assigning_to_the_current_assignee_changes_nothing() -> None:
    lead = assigned()

    assert not lead.assign("bob")
    assert lead.events == []


def test_a_recycled_lead_can_be_assigned_again_even_to_the_same_user() -> None:
    lead = assigned(LeadStatus.RECYCLED)

    assert lead.assign("bob")
    assert (lead.status, lead.status_reason) == (LeadStatus.ASSIGNED, "")


def test_a_lead_in_process_cannot_be_unassigned() -> None:
    lead = assigned(LeadStatus.IN_PROCESS)

    with pytest.raises(FailedPrecondition, match="from In Process to New"):
        lead.assign("")


def test_a_dead_lead_cannot_be_assigned_before_it_is_recycled() -> None:
    lead = assigned(LeadStatus.DEAD)

    with pytest.raises(FailedPrecondition, match="from Dead to Assigned; from Dead it can go to Recycled"):
        lead.assign("carol")


@pytest.mark.parametrize("target", [LeadStatus.DEAD, LeadStatus.RECYCLED])
def test_dead_and_recycled_need_a_reason(target: LeadStatus) -> None:
    lead = assigned()

    with pytest.raises(InvalidArgument) as error:
        lead.change_status(target, reason="  ")
    assert [v.field for v in error.value.violations] == ["reason"]
    lead.change_status(target, reason=" no budget ")
    assert (lead.status, lead.status_reason) == (target, "no budget")


def test_a_status_change_raises_status_changed_with_the_previous_status() -> None:
    lead = assigned()

    lead.change_status(LeadStatus.IN_PROCESS, now=LATER)

    assert [(e.kind, e.previous_status) for e in lead.events] == [
        (ChangeKind.STATUS_CHANGED, LeadStatus.ASSIGNED)
    ]
    assert lead.events[0].lead.status is LeadStatus.IN_PROCESS


def test_leaving_dead_or_recycled_clears_the_reason() -> None:
    lead = assigned(LeadStatus.DEAD)

    lead.change_status(LeadStatus.RECYCLED, reason="budget freed up")
    lead.change_status(LeadStatus.NEW)

    assert (lead.status, lead.status_reason, lead.assigned_user_id) == (LeadStatus.NEW, "", "")


def test_a_lead_cannot_be_set_to_converted_by_a_status_change() -> None:
    with pytest.raises(InvalidArgument, match="ConvertLead"):
        assigned().change_status(LeadStatus.CONVERTED)


def test_going_back_to_assigned_needs_someone_assigned() -> None:
    lead = create()
    lead.change_status(LeadStatus.DEAD, reason="spam")
    lead.change_status(LeadStatus.RECYCLED, reason="maybe not")

    with pytest.raises(FailedPrecondition, match="use AssignLead"):
        lead.change_status(LeadStatus.ASSIGNED)


# Qualification


def test_qualifying_records_bant_and_rescores_from_the_qualification() -> None:
    lead = assigned()
    qualification = Qualification(
        budget=Money("EUR", 5_000_00), authority=Authority.DECISION_MAKER, need=Need.HIGH
    )

    assert lead.qualify(qualification, rules=RULES, now=LATER)

    assert (lead.qualification, lead.qualified, lead.qualified_at) == (qualification, True, LATER)
    assert lead.score.value == 50
    assert [e.kind for e in lead.events] == [ChangeKind.QUALIFIED]


def test_qualifying_again_with_the_same_values_changes_nothing() -> None:
    lead = assigned()
    lead.qualify(Qualification(need=Need.LOW), rules=RULES)
    lead.events.clear()

    assert not lead.qualify(Qualification(need=Need.LOW), rules=RULES)


def test_a_dead_lead_is_not_qualified() -> None:
    with pytest.raises(FailedPrecondition, match="recycle it"):
        assigned(LeadStatus.DEAD).qualify(Qualification(), rules=RULES)


# Conversion


@pytest.mark.parametrize("status", [LeadStatus.ASSIGNED, LeadStatus.IN_PROCESS])
def test_an_assigned_or_in_process_lead_can_be_converted(status: LeadStatus) -> None:
    lead = assigned(status)

    lead.mark_converted("5d0f7f53-7d3e-4ad5-9a0e-5f8d2f1c6b10", now=LATER)

    assert (lead.status, lead.converted_opportunity_id, lead.converted_at) == (
        LeadStatus.CONVERTED,
        "5d0f7f53-7d3e-4ad5-9a0e-5f8d2f1c6b10",
        LATER,
    )
    assert [(e.kind, e.previous_status) for e in lead.events] == [(ChangeKind.CONVERTED, status)]


@pytest.mark.parametrize("status", [LeadStatus.NEW, LeadStatus.RECYCLED, LeadStatus.DEAD])
def test_a_lead_nobody_works_on_is_not_converted(status: LeadStatus) -> None:
    lead = create() if status is LeadStatus.NEW else assigned(status)

    with pytest.raises(FailedPrecondition, match=f"from {status.label} to Converted"):
        lead.ensure_convertible()


def test_a_converted_lead_can_no_longer_change() -> None:
    lead = assigned()
    lead.mark_converted("5d0f7f53-7d3e-4ad5-9a0e-5f8d2f1c6b10")

    for change in (
        lambda: lead.edit({"company": "X"}, rules=RULES),
        lambda: lead.assign("carol"),
        lambda: lead.change_status(LeadStatus.DEAD, reason="x"),
        lambda: lead.qualify(Qualification(), rules=RULES),
    ):
        with pytest.raises(FailedPrecondition) as refused:
            change()
        assert refused.value.reason == "LEAD_CONVERTED"


def test_a_lead_being_converted_cannot_change_meanwhile() -> None:
    lead = assigned()
    lead.conversion_pending = True

    with pytest.raises(FailedPrecondition) as refused:
        lead.edit({"company": "X"}, rules=RULES)
    assert refused.value.reason == "CONVERSION_PENDING"


# Merging


def test_filling_empty_fields_keeps_what_the_lead_has() -> None:
    lead = create(first_name="Ada", email="ada@example.com")
    lead.events.clear()

    changed = lead.fill_empty_fields(
        LeadFields(
            first_name="Augusta", last_name="King", email="ak@example.com", phone="+44 1", company="Engines"
        ),
        rules=RULES,
    )

    assert changed
    assert (lead.fields.first_name, lead.fields.last_name, lead.fields.email) == (
        "Ada",
        "Lovelace",
        "ada@example.com",
    )
    assert (lead.fields.phone, lead.fields.company) == ("+44 1", "Engines")
    assert [e.kind for e in lead.events] == [ChangeKind.MERGED]


def test_an_address_is_filled_as_a_whole_and_a_campaign_only_with_its_source() -> None:
    fields = LeadFields(last_name="L", address=Address(city="Paris"), lead_source_id=SOURCE_ID)
    other_campaign = "1b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a"

    filled = fields.filled_from(
        LeadFields(
            address=Address(street="1 Rue", city="Lyon"),
            lead_source_id="2b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a",
            campaign_id=other_campaign,
        )
    )
    assert filled.address == Address(city="Paris")
    assert filled.campaign_id == ""
    assert (
        fields.filled_from(LeadFields(lead_source_id=SOURCE_ID, campaign_id=other_campaign)).campaign_id
        == other_campaign
    )


def test_absorbing_duplicates_fills_fields_and_a_missing_qualification_in_order() -> None:
    primary = create()
    first = replace(
        create(email="first@example.com"), qualification=Qualification(need=Need.HIGH), qualified_at=NOW
    )
    second = create(email="second@example.com", phone="123456")
    primary.events.clear()

    primary.absorb([first, second], rules=RULES)

    assert (primary.fields.email, primary.fields.phone) == ("first@example.com", "123456")
    assert primary.qualification == Qualification(need=Need.HIGH)
    assert [e.kind for e in primary.events] == [ChangeKind.MERGED]


def test_a_folded_duplicate_is_dead_and_points_to_its_primary() -> None:
    duplicate = assigned()

    duplicate.fold_into("5d0f7f53-7d3e-4ad5-9a0e-5f8d2f1c6b10")

    assert (duplicate.status, duplicate.merged_into_lead_id) == (
        LeadStatus.DEAD,
        "5d0f7f53-7d3e-4ad5-9a0e-5f8d2f1c6b10",
    )
    assert duplicate.status_reason == "merged into lead 5d0f7f53-7d3e-4ad5-9a0e-5f8d2f1c6b10"
    assert [(e.kind, e.previous_status) for e in duplicate.events] == [
        (ChangeKind.MERGED, LeadStatus.ASSIGNED)
    ]
    with pytest.raises(FailedPrecondition) as refused:
        duplicate.edit({"company": "X"}, rules=RULES)
    assert refused.value.reason == "LEAD_MERGED"


def test_qualification_timeline_dates_survive_unchanged() -> None:
    lead = assigned()
    lead.qualify(Qualification(timeline=date(2031, 7, 1)), rules=RULES)

    assert lead.qualification is not None and lead.qualification.timeline == date(2031, 7, 1)
