"""Deactivating a user who still has open work: refused while they own open deals or have open
leads (the leads service asked, UNAVAILABLE when it cannot be), or, on request, their leads and
then their deals handed to their manager before the deactivation, safely repeated after a failure."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters import tables
from salesplane_forecasting.adapters.sql_unit_of_work import SqlForecastingUnitOfWork
from salesplane_forecasting.domain.org import User, UserValues
from salesplane_forecasting.entrypoints.opportunity_consumer import OpportunityRollupHandler
from salesplane_forecasting.service_layer.org import get_user, upsert_user
from salesplane_platform.consumer_runner import ConsumedEvent
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.errors import Conflict, FailedPrecondition, Unavailable
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope
from salesplane_platform.identity import Identity
from salesplane_platform.unit_of_work import OutboxContext

NOW = datetime.now(UTC)
ADMIN = Identity("root", frozenset({"admin"}))
# vp > mia > bob; top has no manager.
ORG = [
    ("vp", None, True),
    ("mia", "vp", True),
    ("bob", "mia", True),
    ("top", None, True),
    ("old", "mia", False),
]


class Organisation:
    def __init__(self, tmp_path: Path) -> None:
        self.engine = make_engine(f"sqlite:///{tmp_path / 'forecasting.db'}")
        tables.metadata.create_all(self.engine)
        self.sessions = make_session_factory(self.engine)
        self.outbox = OutboxContext(
            tables.platform, "forecasting", "salesplane.forecasting.v1", threading.Event()
        )
        with self.sessions() as session, session.begin():
            for user_id, manager, active in ORG:
                session.execute(
                    tables.users.insert().values(
                        user_id=user_id,
                        display_name=user_id.title(),
                        email="",
                        roles="rep",
                        manager_user_id=manager,
                        active=active,
                        version=1,
                        updated_at=NOW,
                    )
                )

    def uow(self) -> SqlForecastingUnitOfWork:
        return SqlForecastingUnitOfWork(self.sessions, self.outbox)

    def user(self, user_id: str) -> User:
        return get_user(user_id=user_id, caller=ADMIN, uow=self.uow())

    def open_deal(self, deal: str, owner: str, version: int = 1) -> None:
        message = opportunities_pb2.Opportunity(
            id=deal,
            owner_user_id=owner,
            amount=Money(currency_code="USD", amount_minor=10_000_00),
            amount_base=Money(currency_code="USD", amount_minor=10_000_00),
            expected_close_date=Date(year=NOW.year, month=NOW.month, day=NOW.day),
            sales_stage="Proposal",
            probability=60,
            status=opportunities_pb2.OPPORTUNITY_STATUS_OPEN,
            version=version,
        )
        message.update_time.FromDatetime(NOW)
        envelope = build_envelope(
            payload=events_pb2.OpportunityChanged(kind=events_pb2.CHANGE_KIND_UPDATED, opportunity=message),
            aggregate_type="opportunity",
            aggregate_id=deal,
            aggregate_version=version,
            producer="t",
            actor="t",
        )
        event = ConsumedEvent(
            IncomingRecord("t", 0, version, deal.encode(), envelope.SerializeToString()), envelope
        )
        with self.sessions() as session, session.begin():
            assert OpportunityRollupHandler("USD").apply(session, [event]) == []


class StandInWork:
    """The leads and opportunities services as forecasting reaches them; records each call with
    whether the user was still active then, and can fail on demand."""

    def __init__(self, organisation: Organisation, open_leads: int = 0) -> None:
        self.organisation = organisation
        self.open_leads = open_leads
        self.calls: list[tuple[str, str, str, str, bool]] = []
        self.fail: dict[str, Exception] = {}

    def count_open_leads(self, user_id: str) -> int:
        self._record("count leads", user_id, "", "")
        return self.open_leads

    def reassign_open_leads(self, *, from_user_id: str, to_user_id: str, on_behalf_of: str) -> int:
        self._record("move leads", from_user_id, to_user_id, on_behalf_of)
        moved, self.open_leads = self.open_leads, 0
        return moved

    def reassign_open_opportunities(self, *, from_user_id: str, to_user_id: str, on_behalf_of: str) -> int:
        self._record("move deals", from_user_id, to_user_id, on_behalf_of)
        return 0

    def _record(self, step: str, user_id: str, to_user_id: str, on_behalf_of: str) -> None:
        still_active = self.organisation.user(user_id).active
        self.calls.append((step, user_id, to_user_id, on_behalf_of, still_active))
        if step in self.fail:
            raise self.fail.pop(step)


@pytest.fixture
def organisation(tmp_path: Path) -> Any:
    found = Organisation(tmp_path)
    yield found
    found.engine.dispose()


def deactivate(
    organisation: Organisation,
    work: Any,
    user_id: str = "bob",
    *,
    reassign: bool = False,
    expected_version: int | None = None,
) -> User:
    current = organisation.user(user_id)
    values = UserValues(
        user_id, current.display_name, "", current.roles, current.manager_user_id, active=False
    )
    return upsert_user(
        values=values,
        expected_version=expected_version,
        caller=ADMIN,
        uow=organisation.uow(),
        open_work=work,
        reassign_open_work_to_manager=reassign,
    )


def test_a_user_with_open_leads_is_not_deactivated(organisation: Organisation) -> None:
    work = StandInWork(organisation, open_leads=3)

    with pytest.raises(FailedPrecondition, match="'bob' still has 3 open leads") as refused:
        deactivate(organisation, work)

    assert refused.value.reason == "OWNS_OPEN_LEADS"
    assert refused.value.metadata == {"open_deals": "0", "open_leads": "3"}
    assert organisation.user("bob").active
    work.open_leads = 0
    assert deactivate(organisation, work).active is False


def test_the_refusal_names_both_open_deals_and_open_leads(organisation: Organisation) -> None:
    organisation.open_deal("d1", "bob")

    with pytest.raises(FailedPrecondition, match="still owns 1 open deal and has 1 open lead:") as refused:
        deactivate(organisation, StandInWork(organisation, open_leads=1))

    assert refused.value.reason == "OWNS_OPEN_DEALS"
    assert refused.value.metadata == {"open_deals": "1", "open_leads": "1"}


def test_without_an_answer_from_the_leads_service_nobody_is_deactivated(organisation: Organisation) -> None:
    work = StandInWork(organisation)
    work.fail["count leads"] = Unavailable("the leads service did not answer")

    with pytest.raises(Unavailable):
        deactivate(organisation, work)
    with pytest.raises(Unavailable):
        deactivate(organisation, None)

    assert organisation.user("bob").active


def test_on_request_the_leads_then_the_deals_go_to_the_manager_and_only_then_the_user_is_deactivated(
    organisation: Organisation,
) -> None:
    # Forecasting's own facts still show bob's deal: they follow the opportunities service's events,
    # which a hand-over raises only now; its answer, not the lagging count, is what counts.
    organisation.open_deal("d1", "bob")
    work = StandInWork(organisation, open_leads=2)

    deactivated = deactivate(organisation, work, reassign=True)

    assert work.calls == [
        ("move leads", "bob", "mia", "root", True),
        ("move deals", "bob", "mia", "root", True),
    ]
    assert deactivated.active is False and organisation.user("bob").active is False


def test_a_hand_over_that_fails_part_of_the_way_leaves_the_user_active_and_a_repeat_finishes_it(
    organisation: Organisation,
) -> None:
    work = StandInWork(organisation, open_leads=2)
    work.fail["move deals"] = Unavailable("the opportunities service did not answer")

    with pytest.raises(Unavailable):
        deactivate(organisation, work, reassign=True)
    assert organisation.user("bob").active

    assert deactivate(organisation, work, reassign=True).active is False
    assert [call[0] for call in work.calls] == ["move leads", "move deals", "move leads", "move deals"]
    # A repeat after success is harmless too: there is nothing left to move.
    assert deactivate(organisation, work, reassign=True).active is False


def test_a_user_without_an_active_manager_cannot_hand_their_work_on(organisation: Organisation) -> None:
    work = StandInWork(organisation)

    with pytest.raises(FailedPrecondition) as no_manager:
        deactivate(organisation, work, "top", reassign=True)
    with organisation.sessions() as session, session.begin():
        session.execute(tables.users.update().where(tables.users.c.user_id == "mia").values(active=False))
    with pytest.raises(FailedPrecondition) as inactive_manager:
        deactivate(organisation, work, "bob", reassign=True)

    assert no_manager.value.reason == "NO_MANAGER"
    assert inactive_manager.value.reason == "MANAGER_NOT_ACTIVE"
    assert work.calls == []
    assert organisation.user("top").active and organisation.user("bob").active


def test_a_stale_version_is_refused_before_anything_moves(organisation: Organisation) -> None:
    work = StandInWork(organisation, open_leads=1)

    with pytest.raises(Conflict):
        deactivate(organisation, work, reassign=True, expected_version=7)

    assert work.calls == []


def test_a_user_deactivated_before_can_still_hand_leftover_work_to_their_manager(
    organisation: Organisation,
) -> None:
    work = StandInWork(organisation, open_leads=1)

    assert deactivate(organisation, work, "old").active is False
    assert work.calls == []  # already inactive: nothing to check

    deactivate(organisation, work, "old", reassign=True)
    assert [call[:3] for call in work.calls] == [("move leads", "old", "mia"), ("move deals", "old", "mia")]
