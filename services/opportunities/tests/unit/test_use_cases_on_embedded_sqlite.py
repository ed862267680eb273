"""The use cases through the SQL unit of work on the embedded SQLite database (the laptop default):
idempotent creates, delete, reach through the reporting-line replica, stage and rate
administration with revaluation, stage history and paginated listing."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import delete, func, insert, select

from salesplane.opportunities.v1 import events_pb2
from salesplane_opportunities.adapters import tables
from salesplane_opportunities.adapters.configuration_store import SalesStageCatalogCache
from salesplane_opportunities.adapters.sql_unit_of_work import SqlOpportunitiesUnitOfWork
from salesplane_opportunities.domain.listing import OpportunityFilter, OrderField, build_query
from salesplane_opportunities.domain.opportunity import Opportunity, OpportunityStatus
from salesplane_opportunities.domain.opportunity_inputs import OpportunityChanges, OpportunityDraft
from salesplane_opportunities.domain.sales_stages import DEFAULT_SALES_STAGES, CloseOutcome, SalesStage
from salesplane_opportunities.entrypoints.main import DEFINITION
from salesplane_opportunities.service_layer import configuration, deals, queries
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.identity import Identity, service_principal
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.org_replica import Reach, ReportingLines
from salesplane_platform.unit_of_work import OutboxContext

ADMIN = Identity("root", frozenset({"admin"}))
ALICE = Identity("alice", frozenset({"rep"}))
BOB = Identity("bob", frozenset({"rep"}))
MANAGER = Identity("mia", frozenset({"manager"}))


class Service:
    """The opportunities use cases over a fresh SQLite database."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        upgrade_to_head(self.engine, DEFINITION.migrations, lock_name="opportunities")
        self.outbox = OutboxContext(
            tables.platform, "opportunities", "opportunities-topic", threading.Event()
        )
        self.sessions = make_session_factory(self.engine)
        self.stage_cache = SalesStageCatalogCache()
        self.reach = Reach(ReportingLines(tables.reporting_lines))
        # The users deals are owned by, as the organisation knows them.
        for user in ("alice", "bob", "mia", "lee"):
            self.report(user, None)

    def uow(self) -> SqlOpportunitiesUnitOfWork:
        return SqlOpportunitiesUnitOfWork(
            self.sessions, self.outbox, base_currency="USD", stage_cache=self.stage_cache, reach=self.reach
        )

    def events(self, aggregate_type: str = "opportunity") -> list:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(tables.platform.outbox.c.payload)
                .where(tables.platform.outbox.c.aggregate_type == aggregate_type)
                .order_by(tables.platform.outbox.c.id)
            ).all()
        return [decode_envelope(row.payload) for row in rows]

    def changes(self) -> list[events_pb2.OpportunityChanged]:
        return [unpack_payload(e, events_pb2.OpportunityChanged) for e in self.events()]

    def report(self, user_id: str, manager_user_id: str | None, *, active: bool = True) -> None:
        """The organisation replica's row of a user (as UserChanged events write it)."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(tables.reporting_lines).where(tables.reporting_lines.c.user_id == user_id)
            )
            connection.execute(
                insert(tables.reporting_lines).values(
                    user_id=user_id, manager_user_id=manager_user_id, active=active, version=1
                )
            )

    def create(self, caller: Identity = ADMIN, request_id: str = "", **overrides: object):
        values: dict[str, object] = dict(
            name="Acme",
            owner_user_id="alice",
            amount_minor=100_000,
            currency="USD",
            expected_close_date=date(2026, 6, 30),
            sales_stage="Prospecting",
        )
        values.update(overrides)
        return deals.create_opportunity(
            draft=OpportunityDraft(**values),  # type: ignore[arg-type]
            request_id=request_id,
            caller=caller,
            uow=self.uow(),
        )

    def set_rate(self, currency: str, rate: str, effective_from: date, caller: Identity = ADMIN):
        return configuration.set_exchange_rate(
            currency=currency, rate=rate, effective_from=effective_from, caller=caller, uow=self.uow()
        )

    def get(self, opportunity_id: str, caller: Identity = ADMIN):
        return queries.get_opportunity(opportunity_id=opportunity_id, caller=caller, uow=self.uow())

    def update(self, opportunity_id: str, caller: Identity = ADMIN, expected_version: int = 0, **changes):
        return deals.update_opportunity(
            opportunity_id=opportunity_id,
            changes=OpportunityChanges(**changes),
            expected_version=expected_version,
            caller=caller,
            uow=self.uow(),
        )

    def list(self, caller: Identity = ADMIN, page_size: int = 50, page_token: str = "", **filters):
        query = build_query(OpportunityFilter(**filters), page_size, page_token)
        return queries.list_opportunities(query=query, caller=caller, uow=self.uow())


@pytest.fixture
def service(tmp_path) -> Service:
    service = Service(f"sqlite:///{tmp_path / 'opportunities.db'}")
    yield service
    service.engine.dispose()


# --- create and delete --------------------------------------------------------------------------


def test_a_retried_create_returns_the_first_deal_as_it_is_now_and_publishes_nothing(service):
    first = service.create(request_id="lead-conversion:42", name="First")
    service.update(first.id, name="Renamed")
    retry = service.create(request_id="lead-conversion:42", name="Second", amount_minor=-1)
    assert (retry.id, retry.name, retry.version) == (first.id, "Renamed", 2)
    assert len(service.events()) == 2
    with service.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(tables.opportunities)).scalar_one() == 1


def test_request_ids_are_per_caller(service):
    mine = service.create(ALICE, request_id="same")
    theirs = service.create(BOB, request_id="same", owner_user_id="bob")
    assert mine.id != theirs.id


def test_a_request_id_is_bounded(service):
    with pytest.raises(InvalidArgument) as raised:
        service.create(request_id="x" * 129)
    assert raised.value.violations[0].field == "request_id"


def test_a_deleted_deal_is_gone_after_a_final_deleted_event(service):
    created = service.create()
    with pytest.raises(Conflict):
        deals.delete_opportunity(
            opportunity_id=created.id, expected_version=7, caller=ADMIN, uow=service.uow()
        )
    deals.delete_opportunity(opportunity_id=created.id, expected_version=1, caller=ADMIN, uow=service.uow())
    with pytest.raises(NotFound):
        service.get(created.id)
    final = service.changes()[-1]
    assert (final.kind, final.opportunity.version, final.opportunity.name) == (
        events_pb2.CHANGE_KIND_DELETED,
        2,
        "Acme",
    )
    with service.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(tables.stage_history)).scalar_one() == 0


# --- reach ----------------------------------------------------------------------------------------


def test_a_rep_reaches_only_their_own_deals(service):
    created = service.create(ALICE)
    with pytest.raises(PermissionDenied):
        service.get(created.id, BOB)
    with pytest.raises(PermissionDenied):
        service.create(ALICE, owner_user_id="bob")
    with pytest.raises(PermissionDenied):
        service.update(created.id, ALICE, owner_user_id="bob")
    assert service.get(created.id, ALICE).id == created.id


def test_a_manager_reaches_their_subtree_and_nothing_else(service):
    service.report("mia", None)
    service.report("lee", "mia")
    service.report("alice", "lee")
    service.report("bob", None)
    for owner in ("mia", "lee", "alice", "bob"):
        service.create(owner_user_id=owner, name=f"deal of {owner}")
    seen = {o.owner_user_id for o in service.list(MANAGER).opportunities}
    assert seen == {"mia", "lee", "alice"}
    bobs = service.list(ADMIN, owner_user_ids=("bob",)).opportunities[0]
    with pytest.raises(PermissionDenied):
        service.get(bobs.id, MANAGER)
    assert service.list(MANAGER, owner_user_ids=("bob", "alice")).opportunities[0].owner_user_id == "alice"


def test_reassigning_needs_reach_of_both_owners(service):
    service.report("alice", "mia")
    service.report("lee", "mia")
    deal = service.create(owner_user_id="alice")
    with pytest.raises(PermissionDenied):
        deals.reassign_opportunity(
            opportunity_id=deal.id,
            new_owner_user_id="bob",
            expected_version=0,
            caller=MANAGER,
            uow=service.uow(),
        )
    moved = deals.reassign_opportunity(
        opportunity_id=deal.id, new_owner_user_id="lee", expected_version=1, caller=MANAGER, uow=service.uow()
    )
    assert (moved.owner_user_id, moved.version) == ("lee", 2)
    assert service.changes()[-1].kind == events_pb2.CHANGE_KIND_REASSIGNED


# --- ownership follows the organisation --------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "active", "says"), [("ghost", None, "not a user"), ("gone", False, "deactivated")]
)
def test_only_an_active_user_of_the_organisation_owns_a_deal(service, owner, active, says):
    if active is not None:
        service.report(owner, None, active=active)
    with pytest.raises(FailedPrecondition, match=says) as refused:
        service.create(owner_user_id=owner)
    assert refused.value.reason == "OWNER_NOT_ACTIVE" and owner in str(refused.value)
    # Nothing stored, nothing published.
    assert service.list().opportunities == [] and service.changes() == []


def test_a_deal_cannot_be_handed_to_an_unknown_or_deactivated_user(service):
    deal = service.create(owner_user_id="alice")
    service.report("gone", None, active=False)
    for owner in ("ghost", "gone"):
        with pytest.raises(FailedPrecondition, match="new_owner_user_id"):
            deals.reassign_opportunity(
                opportunity_id=deal.id,
                new_owner_user_id=owner,
                expected_version=0,
                caller=ADMIN,
                uow=service.uow(),
            )
        with pytest.raises(FailedPrecondition, match=r"opportunity\.owner_user_id"):
            service.update(deal.id, owner_user_id=owner)
    assert service.get(deal.id).owner_user_id == "alice" and len(service.changes()) == 1


def test_a_deal_of_an_owner_deactivated_since_can_still_be_worked_and_handed_on(service):
    deal = service.create(owner_user_id="bob")
    service.report("bob", None, active=False)
    assert service.update(deal.id, name="Acme 2").name == "Acme 2"
    moved = deals.reassign_opportunity(
        opportunity_id=deal.id, new_owner_user_id="alice", expected_version=0, caller=ADMIN, uow=service.uow()
    )
    assert moved.owner_user_id == "alice"


# --- sales stages -------------------------------------------------------------------------------


def replace(service: Service, stages, expected_revision: int = 0, caller: Identity = ADMIN):
    return configuration.replace_sales_stages(
        stages=stages, expected_revision=expected_revision, caller=caller, uow=service.uow()
    )


def with_default(name: str, probability: int) -> list[SalesStage]:
    return [
        SalesStage(s.name, probability if s.name == name else s.default_probability, s.is_won, s.is_lost)
        for s in DEFAULT_SALES_STAGES
    ]


def test_only_admins_replace_stages_and_a_stale_revision_is_aborted(service):
    assert configuration.list_sales_stages(uow=service.uow()).revision == 1
    with pytest.raises(PermissionDenied):
        replace(service, with_default("Prospecting", 15), caller=MANAGER)
    assert replace(service, with_default("Prospecting", 15), expected_revision=1).revision == 2
    with pytest.raises(Conflict):
        replace(service, with_default("Prospecting", 12), expected_revision=1)
    [event] = service.events("sales_stages")
    assert (event.aggregate_id, event.aggregate_version) == ("catalog", 2)


def test_a_new_default_revalues_open_stage_following_deals_with_a_revalued_event(service):
    following = service.create(sales_stage="Qualification")
    manual = service.create(sales_stage="Qualification", probability=55)
    closed = service.create(sales_stage="Qualification")
    deals.close_opportunity(
        opportunity_id=closed.id,
        outcome=CloseOutcome.WON,
        reason="",
        sales_stage="",
        expected_version=0,
        caller=ADMIN,
        uow=service.uow(),
    )
    replace(service, with_default("Qualification", 35))
    assert (service.get(following.id).probability, service.get(following.id).version) == (35, 2)
    assert service.get(manual.id).version == 1
    assert service.get(closed.id).version == 2
    revalued = [c for c in service.changes() if c.kind == events_pb2.CHANGE_KIND_REVALUED]
    assert [(c.opportunity.id, list(c.changed_fields)) for c in revalued] == [(following.id, ["probability"])]
    # The next write reads the new revision, not the catalog cached before the replacement.
    later = service.create(sales_stage="Qualification")
    assert later.probability == 35


def test_a_stage_in_use_cannot_be_removed_or_reflagged(service):
    service.create(sales_stage="Needs Analysis")
    service.create(sales_stage="Needs Analysis")
    without = [s for s in DEFAULT_SALES_STAGES if s.name != "Needs Analysis"]
    with pytest.raises(FailedPrecondition) as raised:
        replace(service, without)
    assert "'Needs Analysis' (2 opportunities)" in raised.value.message
    reflagged = [
        SalesStage(
            s.name, s.default_probability, is_won=s.name == "Needs Analysis" or s.is_won, is_lost=s.is_lost
        )
        for s in DEFAULT_SALES_STAGES
    ]
    with pytest.raises(FailedPrecondition):
        replace(service, reflagged)
    unused = [s for s in DEFAULT_SALES_STAGES if s.name != "Value Proposition"]
    assert "Value Proposition" not in replace(service, unused).names()


def test_an_identical_replacement_changes_nothing(service):
    assert replace(service, DEFAULT_SALES_STAGES).revision == 1
    assert service.events("sales_stages") == []


# --- exchange rates -------------------------------------------------------------------------------


def test_a_deal_in_a_currency_without_a_rate_is_refused_until_one_is_set(service):
    with pytest.raises(FailedPrecondition):
        service.create(currency="EUR")
    service.set_rate("EUR", "1.0850", date(2026, 1, 1))
    created = service.create(currency="EUR", amount_minor=100_000)
    assert created.valuation.amount_base_minor == 108_500


def test_a_new_rate_revalues_exactly_the_deals_whose_close_date_it_now_governs(service):
    service.set_rate("EUR", "1.05", date(2026, 1, 1))
    service.set_rate("EUR", "1.20", date(2026, 10, 1))
    march = service.create(currency="EUR", expected_close_date=date(2026, 3, 31))
    june = service.create(currency="EUR", expected_close_date=date(2026, 6, 30))
    november = service.create(currency="EUR", expected_close_date=date(2026, 11, 30))
    dollars = service.create(currency="USD", expected_close_date=date(2026, 6, 30))
    rate = service.set_rate("EUR", "1.10", date(2026, 5, 1))
    assert (rate.version, rate.base_currency) == (1, "USD")
    assert service.get(june.id).valuation.amount_base_minor == 110_000
    assert service.get(june.id).valuation.rate.effective_from == date(2026, 5, 1)
    for untouched in (march, november, dollars):
        assert service.get(untouched.id).version == 1
    revalued = [c for c in service.changes() if c.kind == events_pb2.CHANGE_KIND_REVALUED]
    assert [c.opportunity.id for c in revalued] == [june.id]
    assert revalued[0].opportunity.exchange_rate == "1.10"


def test_setting_a_rate_again_for_the_same_date_replaces_it_under_a_new_version(service):
    service.set_rate("JPY", "0.0067", date(2026, 1, 1))
    deal = service.create(currency="JPY", amount_minor=1_000_000)
    assert service.set_rate("JPY", "0.0067", date(2026, 1, 1)).version == 1
    assert service.set_rate("JPY", "0.0070", date(2026, 1, 1)).version == 2
    assert service.get(deal.id).valuation.amount_base_minor == 700_000
    listed = configuration.list_exchange_rates(currency="JPY", uow=service.uow())
    assert [(r.rate, r.version) for r in listed.rates] == [("0.0070", 2)]
    assert [e.aggregate_id for e in service.events("exchange_rate")] == ["JPY/2026-01-01", "JPY/2026-01-01"]


def test_rates_are_for_admins_and_never_for_the_base_currency(service):
    with pytest.raises(PermissionDenied):
        service.set_rate("EUR", "1.1", date(2026, 1, 1), caller=MANAGER)
    with pytest.raises(InvalidArgument) as raised:
        service.set_rate("USD", "1e3", None)
    assert [v.field for v in raised.value.violations] == ["currency_code", "rate", "effective_from"]


# --- stage history --------------------------------------------------------------------------------


def test_the_stage_history_follows_updates_closes_and_reopens(service):
    deal = service.create(ALICE, sales_stage="Prospecting")
    service.update(deal.id, ALICE, sales_stage="Qualification")
    deals.close_opportunity(
        opportunity_id=deal.id,
        outcome=CloseOutcome.LOST,
        reason="No budget",
        sales_stage="",
        expected_version=0,
        caller=ALICE,
        uow=service.uow(),
    )
    deals.reopen_opportunity(
        opportunity_id=deal.id, sales_stage="Prospecting", expected_version=3, caller=ADMIN, uow=service.uow()
    )
    history = queries.get_stage_history(opportunity_id=deal.id, caller=ALICE, uow=service.uow())
    assert [(v.sales_stage, v.actor) for v in history.visits] == [
        ("Prospecting", "alice"),
        ("Qualification", "alice"),
        ("Closed Lost", "alice"),
        ("Prospecting", "root"),
    ]
    assert all(v.left_at is not None for v in history.visits[:-1]) and history.visits[-1].left_at is None
    assert [v.left_at for v in history.visits[:-1]] == [v.entered_at for v in history.visits[1:]]
    assert service.get(deal.id).status is OpportunityStatus.OPEN


# --- listing --------------------------------------------------------------------------------------


def collect(service: Service, page_size: int, **filters) -> list:
    seen, token = [], ""
    while True:
        page = service.list(page_size=page_size, page_token=token, **filters)
        seen.extend(page.opportunities)
        token = page.next_page_token
        if not token:
            return seen


@pytest.mark.parametrize("order", list(OrderField))
@pytest.mark.parametrize("descending", [False, True])
def test_paging_through_every_order_returns_each_deal_once_in_order(service, order, descending):
    for i in range(23):
        service.create(
            name=f"Deal {i % 5}",  # ties, broken by id
            amount_minor=(i % 7) * 1_000,
            expected_close_date=date(2026, 1 + i % 4, 1),
            probability=(i * 13) % 101,
        )
    everything = service.list(page_size=500, order_by=order, descending=descending).opportunities
    paged = collect(service, 4, order_by=order, descending=descending)
    assert [o.id for o in paged] == [o.id for o in everything]
    assert len({o.id for o in paged}) == 23


def test_filters_narrow_the_list(service):
    service.set_rate("EUR", "2", date(2026, 1, 1))
    lead = "8f14e45f-ceea-4e67-a7b4-1b2c3d4e5f60"
    a = service.create(
        name="Big 100% deal", account_name="Initech", amount_minor=500_000, currency="EUR", lead_id=lead
    )
    b = service.create(name="Small deal", next_step="Call the CFO", expected_close_date=date(2026, 9, 1))
    c = service.create(name="Other_deal", sales_stage="Qualification")
    deals.close_opportunity(
        opportunity_id=c.id,
        outcome=CloseOutcome.WON,
        reason="",
        sales_stage="",
        expected_version=0,
        caller=ADMIN,
        uow=service.uow(),
    )

    def ids(**filters) -> set[str]:
        return {o.id for o in service.list(**filters).opportunities}

    assert ids(text="INITECH") == {a.id}
    assert ids(text="cfo") == {b.id}
    assert ids(text="100%") == {a.id}  # % and _ are literal
    assert ids(text="r_d") == {c.id}
    assert ids(statuses=(OpportunityStatus.WON,)) == {c.id}
    assert ids(sales_stages=("Prospecting",)) == {a.id, b.id}
    assert ids(amount_base_min=1_000_000) == {a.id}
    assert ids(amount_base_max=100_000) == {b.id, c.id}
    assert ids(close_date_from=date(2026, 7, 1)) == {b.id}
    assert ids(close_date_to=date(2026, 6, 30)) == {a.id, c.id}
    assert ids(lead_id=lead) == {a.id}


def test_a_page_token_cannot_be_reused_with_other_filters(service):
    for _ in range(3):
        service.create()
    token = service.list(page_size=1).next_page_token
    with pytest.raises(InvalidArgument):
        service.list(page_size=1, page_token=token, text="x")
    assert len(service.list(page_size=2, page_token=token).opportunities) == 2


def test_deals_stored_before_valuation_are_listed_and_valued_on_their_next_change(service):
    service.set_rate("EUR", "1.5", date(2026, 1, 1))
    deal = service.create(currency="EUR")
    with service.engine.begin() as connection:
        connection.execute(
            tables.opportunities.update().values(base_currency=None, amount_base_minor=0, exchange_rate=None)
        )
        connection.execute(delete(tables.stage_history))
    assert service.get(deal.id).valuation is None
    assert [o.id for o in service.list(order_by=OrderField.AMOUNT_BASE).opportunities] == [deal.id]
    assert service.update(deal.id, name="Touched").valuation.amount_base_minor == 150_000


# --- events collected on commit ------------------------------------------------------------------


def _draft() -> OpportunityDraft:
    return OpportunityDraft(
        name="Acme",
        owner_user_id="alice",
        amount_minor=100_000,
        currency="USD",
        expected_close_date=date(2026, 6, 30),
        sales_stage="Prospecting",
    )


def _count(service: Service, table) -> int:
    with service.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_commit_writes_the_events_of_a_deal_the_repository_was_given(service):
    with service.uow().acting_for("alice") as uow:
        opportunity = Opportunity.open(_draft(), uow.sales_stages.current(), uow.converter)
        uow.opportunities.add(opportunity)
        uow.commit()
    [event] = service.events()
    assert (event.aggregate_id, event.aggregate_version, event.actor) == (opportunity.id, 1, "alice")
    assert opportunity.events == []
    assert _count(service, tables.stage_history) == 1


def test_commit_writes_the_events_of_a_deal_the_repository_handed_out(service):
    created = service.create(ALICE)
    with service.uow().acting_for("bob") as uow:
        loaded = uow.opportunities.get(created.id, for_update=True)
        assert loaded is not None
        loaded.reassign("bob")
        uow.opportunities.save(loaded, read_version=1)
        uow.commit()
    assert [(e.aggregate_version, e.actor) for e in service.events()] == [(1, "alice"), (2, "bob")]


def test_changes_without_an_actor_are_not_committed(service):
    with service.uow() as uow:
        opportunity = Opportunity.open(_draft(), uow.sales_stages.current(), uow.converter)
        uow.opportunities.add(opportunity)
        with pytest.raises(RuntimeError, match="acting_for"):
            uow.commit()
    assert (_count(service, tables.opportunities), service.events()) == (0, [])


LEADS_SERVICE = service_principal("leads")
FORECASTING_SERVICE = service_principal("forecasting")


def reassign_open(service: Service, caller: Identity = FORECASTING_SERVICE, to_user_id: str = "mia") -> int:
    return deals.reassign_open_opportunities(
        from_user_id="alice", to_user_id=to_user_id, caller=caller, acting_for="root", uow=service.uow()
    )


def test_a_leaving_users_open_deals_move_each_with_its_event_and_a_repeat_moves_nothing(service, monkeypatch):
    monkeypatch.setattr(deals, "REASSIGN_BATCH", 2)
    open_ones = [service.create(name=f"Open {n}") for n in range(3)]
    won = service.create(name="Won")
    deals.close_opportunity(
        opportunity_id=won.id,
        outcome=CloseOutcome.WON,
        reason="",
        sales_stage="",
        expected_version=0,
        caller=ADMIN,
        uow=service.uow(),
    )
    bobs = service.create(owner_user_id="bob")
    before = len(service.events())

    assert reassign_open(service) == 3
    assert reassign_open(service) == 0

    assert {service.get(o.id).owner_user_id for o in open_ones} == {"mia"}
    assert (service.get(won.id).owner_user_id, service.get(bobs.id).owner_user_id) == ("alice", "bob")
    moved = service.events()[before:]
    assert sorted(e.aggregate_id for e in moved) == sorted(o.id for o in open_ones)
    assert {e.actor for e in moved} == {"service:forecasting on behalf of root"}
    assert {unpack_payload(e, events_pb2.OpportunityChanged).kind for e in moved} == {
        events_pb2.CHANGE_KIND_REASSIGNED
    }


def test_open_deals_move_only_to_an_active_user_and_only_for_admins_and_services(service):
    service.create()
    service.report("gone", None, active=False)

    with pytest.raises(FailedPrecondition, match="deactivated") as refused:
        reassign_open(service, to_user_id="gone")
    with pytest.raises(PermissionDenied):
        reassign_open(service, caller=MANAGER)
    assert refused.value.reason == "OWNER_NOT_ACTIVE"
    assert reassign_open(service, caller=ADMIN) == 1


def test_a_service_creates_a_deal_only_for_a_lead_conversion_and_records_whom_it_acted_for(service):
    lead_id = "6b0c5f5e-8a3b-4f3e-9b55-7e2a4c1d9f10"
    with pytest.raises(PermissionDenied, match="only for a lead conversion"):
        service.create(caller=LEADS_SERVICE, request_id="r-1")
    with pytest.raises(PermissionDenied, match="only for a lead conversion"):
        service.create(caller=LEADS_SERVICE, lead_id=lead_id)

    made = deals.create_opportunity(
        draft=OpportunityDraft(
            name="Converted",
            owner_user_id="bob",
            amount_minor=100_000,
            currency="USD",
            expected_close_date=date(2026, 6, 30),
            sales_stage="Prospecting",
            lead_id=lead_id,
        ),
        request_id=f"lead-conversion:{lead_id}",
        caller=LEADS_SERVICE,
        acting_for="bob",
        uow=service.uow(),
    )
    again = deals.create_opportunity(
        draft=OpportunityDraft(
            name="Converted",
            owner_user_id="bob",
            amount_minor=100_000,
            currency="USD",
            expected_close_date=date(2026, 6, 30),
            sales_stage="Prospecting",
            lead_id=lead_id,
        ),
        request_id=f"lead-conversion:{lead_id}",
        caller=LEADS_SERVICE,
        uow=service.uow(),
    )

    assert (again.id, made.owner_user_id) == (made.id, "bob")
    [created] = [e for e in service.events() if e.aggregate_id == made.id]
    assert created.actor == "service:leads on behalf of bob"
    # Reading deals stays a user's business: a service reaches none.
    with pytest.raises(PermissionDenied):
        service.get(made.id, caller=LEADS_SERVICE)
