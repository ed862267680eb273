"""A leaving user's open leads: counted (Assigned and In Process only) and handed on as a whole, each
lead with its own event, attributed to the service and the admin it acts for, and never twice."""

from __future__ import annotations

from typing import Any

import pytest

from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.domain.duplicates import DuplicatePolicy
from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.lead_fields import LeadFields
from salesplane_leads.domain.lead_status import LeadStatus
from salesplane_leads.service_layer import leads, open_leads
from salesplane_platform.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from salesplane_platform.identity import Identity, service_principal

FORECASTING = service_principal("forecasting")


def a_lead(store: Any, admin: Identity, assignee: str, status: LeadStatus | None = None, n: int = 0) -> Lead:
    created = leads.create_lead(
        fields=LeadFields(first_name="Ada", last_name=f"Lovelace {assignee} {status} {n}"),
        assigned_user_id=assignee,
        policy=DuplicatePolicy.INSIST,
        request_id="",
        caller=admin,
        uow=store.uow(),
    ).lead
    assert created is not None
    if status is None:
        return created
    return leads.change_lead_status(
        lead_id=created.id,
        status=status,
        reason="for the test" if status in (LeadStatus.DEAD, LeadStatus.RECYCLED) else "",
        expected_version=None,
        caller=admin,
        uow=store.uow(),
    )


def count(store: Any, user_id: str, caller: Identity = FORECASTING) -> int:
    return open_leads.count_open_leads(user_id=user_id, caller=caller, uow=store.uow())


def reassign(
    store: Any, from_user_id: str = "bob", to_user_id: str = "mia", caller: Identity = FORECASTING
) -> int:
    return open_leads.reassign_open_leads(
        from_user_id=from_user_id, to_user_id=to_user_id, caller=caller, acting_for="ann", uow=store.uow()
    )


def test_only_assigned_and_in_process_leads_are_open_work(store: Any, admin: Identity) -> None:
    a_lead(store, admin, "bob")
    a_lead(store, admin, "bob", LeadStatus.IN_PROCESS)
    a_lead(store, admin, "bob", LeadStatus.DEAD)
    recycled = a_lead(store, admin, "bob", LeadStatus.RECYCLED)
    a_lead(store, admin, "")
    a_lead(store, admin, "carol")

    assert (count(store, "bob"), count(store, "carol"), count(store, "nobody")) == (2, 1, 0)
    assert recycled.assigned_user_id == "bob"
    assert count(store, "bob", admin) == 2


def test_reassigning_moves_each_open_lead_with_its_own_event_and_a_repeat_moves_nothing(
    store: Any, admin: Identity
) -> None:
    assigned = a_lead(store, admin, "bob")
    working = a_lead(store, admin, "bob", LeadStatus.IN_PROCESS)
    dead = a_lead(store, admin, "bob", LeadStatus.DEAD)
    before = len(store.events("lead"))

    assert reassign(store) == 2
    assert reassign(store) == 0

    moved = {
        lead.id: lead
        for lead in (
            leads.get_lead(lead_id=i, caller=admin, uow=store.uow())
            for i in (assigned.id, working.id, dead.id)
        )
    }
    assert (moved[assigned.id].assigned_user_id, moved[assigned.id].status) == ("mia", LeadStatus.ASSIGNED)
    assert (moved[working.id].assigned_user_id, moved[working.id].status) == ("mia", LeadStatus.IN_PROCESS)
    assert (moved[dead.id].assigned_user_id, moved[dead.id].status) == ("bob", LeadStatus.DEAD)
    events = store.events("lead")[before:]
    assert sorted(e.aggregate_id for e in events) == sorted([assigned.id, working.id])
    assert {e.actor for e in events} == {"service:forecasting on behalf of ann"}
    assert {e.payload.kind for e in events} == {events_pb2.LEAD_CHANGE_KIND_ASSIGNED}
    assert {e.payload.lead.assigned_user_id for e in events} == {"mia"}
    assert {e.payload.lead.status for e in events} >= {leads_pb2.LEAD_STATUS_IN_PROCESS}


def test_many_leads_move_a_batch_per_transaction(
    store: Any, admin: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(open_leads, "REASSIGN_BATCH", 2)
    for n in range(5):
        a_lead(store, admin, "bob", n=n)

    assert reassign(store) == 5
    assert (count(store, "bob"), count(store, "mia")) == (0, 5)


@pytest.mark.parametrize(
    "who", [Identity("mia", frozenset({"manager"})), Identity("mo", frozenset({"marketing"}))]
)
def test_users_other_than_admins_neither_count_nor_move_anyones_leads(store: Any, who: Identity) -> None:
    with pytest.raises(PermissionDenied):
        count(store, "bob", who)
    with pytest.raises(PermissionDenied):
        reassign(store, caller=who)


def test_leads_go_only_to_an_active_user_of_the_organisation(store: Any, admin: Identity) -> None:
    a_lead(store, admin, "bob")
    store.reports_to("gone", None, active=False)

    with pytest.raises(FailedPrecondition, match="deactivated") as refused:
        reassign(store, to_user_id="gone")
    with pytest.raises(InvalidArgument):
        reassign(store, to_user_id="bob")

    assert refused.value.reason == "OWNER_NOT_ACTIVE"
    assert count(store, "bob") == 1


def test_a_lead_being_converted_keeps_every_lead_where_it_is(store: Any, admin: Identity) -> None:
    a_lead(store, admin, "bob")
    converting = a_lead(store, admin, "bob")
    with store.uow() as uow:
        uow.conversions.start_attempt(
            converting.id,
            request_id=f"lead-conversion:{converting.id}",
            requested_by="bob",
            at=converting.created_at,
        )
        uow.commit()

    with pytest.raises(FailedPrecondition, match=converting.id) as refused:
        reassign(store)

    assert refused.value.reason == "CONVERSION_PENDING"
    assert (count(store, "bob"), count(store, "mia")) == (2, 0)
