"""Use cases of the leads service against an in-memory unit of work."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import pytest

from salesplane_leads.domain.lead import Lead, LeadChanged, LeadDraft, LeadStatus
from salesplane_leads.service_layer import handlers
from salesplane_platform.errors import InvalidArgument, NotFound, PermissionDenied
from salesplane_platform.identity import Identity

MISSING_ID = "0b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a"


class FakeLeadRepository:
    def __init__(self) -> None:
        self.rows: dict[str, Lead] = {}

    def add(self, lead: Lead) -> None:
        self.rows[lead.id] = lead.snapshot()

    def get(self, lead_id: str) -> Lead | None:
        stored = self.rows.get(lead_id)
        return None if stored is None else stored.snapshot()


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.leads = FakeLeadRepository()
        self.committed: list[tuple[LeadChanged, str]] = []
        self._pending: list[tuple[LeadChanged, str]] = []
        self._staged: dict[str, Lead] = {}
        self.commits = 0

    def __enter__(self) -> Self:
        self._pending = []
        self._staged = dict(self.leads.rows)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Roll back whatever was not committed.
        self.leads.rows = self._staged
        self._pending = []

    def publish_events(self, lead: Lead, *, actor: str) -> None:
        self._pending.extend((event, actor) for event in lead.events)
        lead.events.clear()

    def commit(self) -> None:
        self._staged = dict(self.leads.rows)
        self.committed.extend(self._pending)
        self._pending = []
        self.commits += 1


def caller(subject: str, *roles: str) -> Identity:
    return Identity(subject=subject, roles=frozenset(roles))


def create(uow: FakeUnitOfWork, who: Identity | None = None, **values: str) -> Lead:
    draft = LeadDraft(**{"last_name": "Lovelace", **values})
    return handlers.create_lead(draft=draft, caller=who or caller("alice", "rep"), uow=uow)


def test_creating_a_lead_stores_it_and_publishes_lead_changed_in_one_commit() -> None:
    uow = FakeUnitOfWork()

    lead = create(uow, first_name="Ada", assigned_user_id="bob")

    assert uow.commits == 1
    assert uow.leads.rows[lead.id] == lead
    assert [(event.lead, actor) for event, actor in uow.committed] == [(lead, "alice")]
    assert lead.events == []


def test_the_creator_is_remembered_as_the_caller() -> None:
    uow = FakeUnitOfWork()

    lead = create(uow, caller("carol", "marketing"))

    assert uow.leads.rows[lead.id].created_by == "carol"


@pytest.mark.parametrize("roles", [("rep",), ("manager",), ("marketing",), ("admin",), ("service",)])
def test_any_rep_manager_marketing_user_or_admin_may_create_leads(roles: tuple[str, ...]) -> None:
    uow = FakeUnitOfWork()

    create(uow, caller("someone", *roles))

    assert uow.commits == 1


def test_a_caller_without_a_role_may_not_create_leads() -> None:
    uow = FakeUnitOfWork()

    with pytest.raises(PermissionDenied):
        create(uow, caller("nobody"))

    assert uow.leads.rows == {}
    assert uow.committed == []


def test_an_invalid_lead_is_neither_stored_nor_published() -> None:
    uow = FakeUnitOfWork()

    with pytest.raises(InvalidArgument) as error:
        create(uow, last_name="", email="nope")

    assert [v.field for v in error.value.violations] == ["last_name", "email"]
    assert uow.leads.rows == {}
    assert uow.committed == []


def test_invalid_input_is_reported_before_a_missing_permission() -> None:
    with pytest.raises(InvalidArgument):
        create(FakeUnitOfWork(), caller("nobody"), last_name="")


def test_a_lead_can_be_read_back_by_its_creator() -> None:
    uow = FakeUnitOfWork()
    lead = create(uow, caller("alice", "rep"), company="Engines")

    read = handlers.get_lead(lead_id=lead.id, caller=caller("alice", "rep"), uow=uow)

    assert read == lead
    assert read.status is LeadStatus.NEW


def test_the_assigned_user_may_read_a_lead_someone_else_created() -> None:
    uow = FakeUnitOfWork()
    lead = create(uow, caller("carol", "marketing"), assigned_user_id="bob")

    assert handlers.get_lead(lead_id=lead.id, caller=caller("bob", "rep"), uow=uow) == lead


@pytest.mark.parametrize("role", ["manager", "marketing", "admin", "service"])
def test_managers_marketing_and_admins_may_read_any_lead(role: str) -> None:
    uow = FakeUnitOfWork()
    lead = create(uow, caller("alice", "rep"))

    assert handlers.get_lead(lead_id=lead.id, caller=caller("zoe", role), uow=uow) == lead


def test_another_rep_may_not_read_a_lead_neither_created_by_nor_assigned_to_them() -> None:
    uow = FakeUnitOfWork()
    lead = create(uow, caller("alice", "rep"), assigned_user_id="bob")

    with pytest.raises(PermissionDenied):
        handlers.get_lead(lead_id=lead.id, caller=caller("mallory", "rep"), uow=uow)


@pytest.mark.parametrize("lead_id", ["", "42", "not-a-uuid", MISSING_ID.upper() + "x"])
def test_a_malformed_lead_id_is_an_invalid_argument(lead_id: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        handlers.get_lead(lead_id=lead_id, caller=caller("alice", "admin"), uow=FakeUnitOfWork())

    assert [v.field for v in error.value.violations] == ["lead_id"]


def test_an_unknown_lead_is_not_found() -> None:
    with pytest.raises(NotFound) as error:
        handlers.get_lead(lead_id=MISSING_ID, caller=caller("alice", "admin"), uow=FakeUnitOfWork())

    assert (error.value.resource_type, error.value.resource_id) == ("lead", MISSING_ID)
