"""Domain rules of the Lead aggregate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salesplane_leads.domain.contact import is_plausible_email, is_plausible_phone
from salesplane_leads.domain.lead import ChangeKind, Lead, LeadDraft, LeadStatus
from salesplane_platform.errors import InvalidArgument
from salesplane_platform.identifiers import is_uuid

NOW = datetime(2031, 5, 17, 9, 30, tzinfo=UTC)


def create(**values: str) -> Lead:
    draft = LeadDraft(**{"last_name": "Lovelace", **values})
    return Lead.create(draft, created_by="alice", now=NOW)


def violated_fields(**values: str) -> list[str]:
    with pytest.raises(InvalidArgument) as error:
        create(**values)
    return [v.field for v in error.value.violations]


def test_a_lead_with_only_a_last_name_is_new_and_unassigned() -> None:
    lead = create()

    assert lead.status is LeadStatus.NEW
    assert lead.assigned_user_id == ""
    assert (lead.first_name, lead.company, lead.email, lead.phone, lead.lead_source) == ("", "", "", "", "")


def test_a_lead_given_an_assignee_is_assigned() -> None:
    lead = create(assigned_user_id="bob.smith@emea")

    assert lead.status is LeadStatus.ASSIGNED
    assert lead.assigned_user_id == "bob.smith@emea"


def test_a_new_lead_gets_a_uuid_version_one_its_creator_and_creation_time() -> None:
    lead = create()

    assert is_uuid(lead.id)
    assert lead.version == 1
    assert lead.created_by == "alice"
    assert lead.created_at == lead.updated_at == NOW


def test_creating_a_lead_raises_one_lead_changed_event_with_its_full_state() -> None:
    lead = create(first_name="Ada", company="Analytical Engines Ltd", assigned_user_id="bob")

    assert len(lead.events) == 1
    event = lead.events[0]
    assert event.kind is ChangeKind.CREATED
    assert event.lead == lead
    assert event.lead.events == []


def test_text_fields_are_trimmed() -> None:
    lead = create(
        first_name="  Ada ",
        last_name=" Lovelace  ",
        company=" Engines ",
        phone=" +44 20 7946 0018 ",
        lead_source=" Web ",
    )

    assert (lead.first_name, lead.last_name, lead.company, lead.phone, lead.lead_source) == (
        "Ada",
        "Lovelace",
        "Engines",
        "+44 20 7946 0018",
        "Web",
    )


def test_an_email_address_is_normalised_to_lower_case() -> None:
    assert create(email="  Ada.Lovelace@Example.CO.uk ").email == "ada.lovelace@example.co.uk"


@pytest.mark.parametrize("last_name", ["", "   "])
def test_a_last_name_is_required(last_name: str) -> None:
    assert violated_fields(last_name=last_name) == ["last_name"]


@pytest.mark.parametrize(
    ("field", "limit"), [("first_name", 100), ("last_name", 100), ("company", 255), ("lead_source", 100)]
)
def test_text_fields_accept_their_maximum_length_and_no_more(field: str, limit: int) -> None:
    assert getattr(create(**{field: "x" * limit}), field) == "x" * limit
    assert violated_fields(**{field: "x" * (limit + 1)}) == [field]


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com",
        "ada.lovelace+crm@mail.example.org",
        "o'hara@example.ie",
        "a_b-c@sub-domain.example.travel",
    ],
)
def test_plausible_email_addresses_are_accepted(address: str) -> None:
    assert is_plausible_email(address)
    assert create(email=address).email == address


@pytest.mark.parametrize(
    "address",
    [
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada@exa mple.com",
        "ada lovelace@example.com",
        ".ada@example.com",
        "ada..lovelace@example.com",
        "ada@-example.com",
        "ada@example.c",
        "ada@example.123",
        "a" * 65 + "@example.com",
        "ada@" + "e" * 250 + ".com",
    ],
)
def test_implausible_email_addresses_are_rejected(address: str) -> None:
    assert not is_plausible_email(address)
    assert violated_fields(email=address) == ["email"]


@pytest.mark.parametrize("phone", ["123456", "+1 (555) 010-9999", "0044-20-7946-0018", "1" * 20])
def test_plausible_phone_numbers_are_accepted(phone: str) -> None:
    assert is_plausible_phone(phone)
    assert create(phone=phone).phone == phone


@pytest.mark.parametrize(
    "phone", ["12345", "1" * 21, "+1 555 CALL NOW", "555.010.9999", "ext. 1234567", "+-()  "]
)
def test_implausible_phone_numbers_are_rejected(phone: str) -> None:
    assert not is_plausible_phone(phone)
    assert violated_fields(phone=phone) == ["phone"]


@pytest.mark.parametrize("user_id", ["-bob", "bob smith", " bob", "b" * 65, "bob/smith"])
def test_an_assignee_must_be_a_user_id(user_id: str) -> None:
    assert violated_fields(assigned_user_id=user_id) == ["assigned_user_id"]


def test_every_violation_is_reported_at_once() -> None:
    fields = violated_fields(
        first_name="x" * 101,
        last_name="",
        company="x" * 256,
        email="not an address",
        phone="12",
        assigned_user_id="no spaces allowed",
        lead_source="x" * 101,
    )

    assert fields == [
        "first_name",
        "last_name",
        "company",
        "email",
        "phone",
        "assigned_user_id",
        "lead_source",
    ]
