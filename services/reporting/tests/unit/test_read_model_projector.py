"""The read-model projector behind the consumer runner, as production runs it: serialized envelopes
from the three topics in, and what lands in each read-model table of a SQLite database."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Table, create_engine, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from salesplane.common.v1.common_pb2 import Date
from salesplane.common.v1.common_pb2 import Money as MoneyMessage
from salesplane.events.v1.envelope_pb2 import EventEnvelope
from salesplane.forecasting.v1 import org_pb2, quotas_pb2, settings_pb2, worksheets_pb2
from salesplane.leads.v1 import events_pb2 as lead_events_pb2
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import events_pb2 as opportunity_events_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane_platform import topics
from salesplane_platform.consumer_runner import ConsumedEvent, ConsumerRunner, keeps_history
from salesplane_platform.db import as_utc, make_session_factory
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope
from salesplane_reporting.adapters import tables
from salesplane_reporting.entrypoints import admin
from salesplane_reporting.entrypoints.read_model_consumer import ReadModelProjector

T0 = datetime(2031, 3, 2, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
DEAL = "deal-1"
UPDATED = opportunity_events_pb2.CHANGE_KIND_UPDATED
DELETED = opportunity_events_pb2.CHANGE_KIND_DELETED
OPEN = opportunities_pb2.OPPORTUNITY_STATUS_OPEN
WON = opportunities_pb2.OPPORTUNITY_STATUS_WON
TOPIC_OF = {
    "opportunity": topics.OPPORTUNITIES,
    "sales_stages": topics.OPPORTUNITIES,
    "exchange_rate": topics.OPPORTUNITIES,
    "lead": topics.LEADS,
    "lead_source": topics.LEADS,
    "campaign": topics.LEADS,
    "lead_touch": topics.LEADS,
    "user": topics.FORECASTING,
    "quota": topics.FORECASTING,
    "forecast_settings": topics.FORECASTING,
    "forecast": topics.FORECASTING,
}
_offsets = itertools.count()


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


@pytest.fixture
def sessions() -> Iterator[sessionmaker[Session]]:
    # The migration of these read-model tables is not written yet: the schema comes straight from
    # tables.metadata here; the e2e tests will cover the real migration once it exists.
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    tables.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


class ListSubscriber:
    """Just enough of an EventSubscriber for ConsumerRunner.process."""

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        return []

    def commit(self, records: object) -> None: ...

    def rewind(self, records: object) -> None: ...

    def close(self) -> None: ...


@pytest.fixture
def runner(sessions: sessionmaker[Session]) -> ConsumerRunner:
    return ConsumerRunner(sessions, tables.platform, ListSubscriber(), ReadModelProjector())


# -- building the events ------------------------------------------------------------------------


def envelope(
    payload: Message, *, aggregate_type: str, aggregate_id: str, version: int, occurred_at: datetime
) -> EventEnvelope:
    return build_envelope(
        payload=payload,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        producer="test",
        actor="test",
        occurred_at=occurred_at,
    )


def record(event: EventEnvelope, *, topic: str | None = None) -> IncomingRecord:
    return IncomingRecord(
        topic or TOPIC_OF[event.aggregate_type],
        0,
        next(_offsets),
        event.aggregate_id.encode(),
        event.SerializeToString(),
    )


def deliver(runner: ConsumerRunner, *events: EventEnvelope | IncomingRecord) -> list[IncomingRecord]:
    """One poll's batch through the runner; the records, for a redelivery."""
    records = [e if isinstance(e, IncomingRecord) else record(e) for e in events]
    runner.process(records)
    return records


def opportunity(
    version: int,
    *,
    at: datetime,
    opportunity_id: str = DEAL,
    stage: str = "Prospecting",
    status: opportunities_pb2.OpportunityStatus.ValueType = OPEN,
    amount_minor: int = 1_000_00,
    probability: int = 20,
    close: date | None = date(2031, 6, 30),
    owner: str = "ann",
    kind: opportunity_events_pb2.ChangeKind.ValueType = UPDATED,
    occurred_at: datetime | None = None,
    close_time: datetime | None = None,
    base: bool = True,
) -> EventEnvelope:
    message = opportunities_pb2.Opportunity(
        id=opportunity_id,
        name="Deal",
        account_name="Acme",
        owner_user_id=owner,
        amount=MoneyMessage(currency_code="EUR", amount_minor=amount_minor),
        sales_stage=stage,
        probability=probability,
        status=status,
        version=version,
        create_time=stamp(T0),
        update_time=stamp(at),
    )
    if close is not None:
        message.expected_close_date.CopyFrom(Date(year=close.year, month=close.month, day=close.day))
    if close_time is not None:
        message.close_time.FromDatetime(close_time)
    if base:
        message.amount_base.CopyFrom(MoneyMessage(currency_code="USD", amount_minor=amount_minor * 2))
        message.best_case_base.CopyFrom(MoneyMessage(currency_code="USD", amount_minor=amount_minor * 3))
        message.worst_case_base.CopyFrom(MoneyMessage(currency_code="USD", amount_minor=amount_minor))
    return envelope(
        opportunity_events_pb2.OpportunityChanged(opportunity=message, kind=kind),
        aggregate_type="opportunity",
        aggregate_id=opportunity_id,
        version=version,
        occurred_at=occurred_at or at,
    )


def stage_catalogue(revision: int, *stages: tuple[str, int, bool, bool]) -> EventEnvelope:
    return envelope(
        opportunity_events_pb2.SalesStagesChanged(
            sales_stages=[
                opportunities_pb2.SalesStage(
                    name=name, order=order, default_probability=10 * order, is_won=won, is_lost=lost
                )
                for name, order, won, lost in stages
            ],
            revision=revision,
        ),
        aggregate_type="sales_stages",
        aggregate_id="catalog",
        version=revision,
        occurred_at=T0,
    )


def user(
    user_id: str, version: int, *, manager: str = "", at: datetime, user_id_in_payload: str | None = None
) -> EventEnvelope:
    payload = org_pb2.UserChanged(
        user=org_pb2.User(
            user_id=user_id if user_id_in_payload is None else user_id_in_payload,
            display_name=user_id.title(),
            roles=["rep", "manager"] if not manager else ["rep"],
            manager_user_id=manager,
            active=True,
            version=version,
            update_time=stamp(at),
        )
    )
    return envelope(payload, aggregate_type="user", aggregate_id=user_id, version=version, occurred_at=at)


def settings(version: int, *, start_month: int) -> EventEnvelope:
    payload = settings_pb2.ForecastSettingsChanged(
        settings=settings_pb2.ForecastSettings(
            fiscal_year_start_month=start_month,
            currency_code="USD",
            ranges=[
                settings_pb2.ForecastRange(name="pipeline", min_probability=0, max_probability=69),
                settings_pb2.ForecastRange(name="commit", min_probability=70, max_probability=100),
            ],
            version=version,
        )
    )
    return envelope(
        payload, aggregate_type="forecast_settings", aggregate_id="1", version=version, occurred_at=T0
    )


def quota(
    version: int,
    *,
    amount_minor: int,
    kind: quotas_pb2.QuotaKind.ValueType = quotas_pb2.QUOTA_KIND_ASSIGNED,
    user_id: str = "ann",
) -> EventEnvelope:
    payload = quotas_pb2.QuotaCommitted(
        quota=quotas_pb2.Quota(
            user_id=user_id,
            period_id="2031-Q2",
            kind=kind,
            amount=MoneyMessage(currency_code="USD", amount_minor=amount_minor),
            committed_by="vp",
            commit_time=stamp(T0 + version * DAY),
            version=version,
        )
    )
    return envelope(
        payload,
        aggregate_type="quota",
        aggregate_id=f"quota/{user_id}/2031-Q2/{kind}",
        version=version,
        occurred_at=T0 + version * DAY,
    )


def forecast(
    sequence: int, *, committed: bool = True, likely_minor: int = 500_00, version: int = 0
) -> EventEnvelope:
    snapshot = worksheets_pb2.ForecastSnapshot(
        snapshot_id=f"snap-{sequence}-{'c' if committed else 'd'}",
        user_id="ann",
        period_id="2031-Q2",
        kind=worksheets_pb2.SNAPSHOT_KIND_REP,
        committed=committed,
        likely=MoneyMessage(currency_code="USD", amount_minor=likely_minor),
        best=MoneyMessage(currency_code="USD", amount_minor=likely_minor + 100),
        worst=MoneyMessage(currency_code="USD", amount_minor=likely_minor - 100),
        closed_won=MoneyMessage(currency_code="USD", amount_minor=50),
        author="ann",
        create_time=stamp(T0 + sequence * DAY),
        sequence=sequence,
    )
    if sequence == 2:
        snapshot.quota.CopyFrom(MoneyMessage(currency_code="USD", amount_minor=9_000_00))
    return envelope(
        worksheets_pb2.ForecastCommitted(commit=snapshot),
        aggregate_type="forecast",
        aggregate_id="forecast/ann/2031-Q2/rep",
        version=version or sequence,
        occurred_at=T0 + sequence * DAY,
    )


def lead(
    version: int, *, status: leads_pb2.LeadStatus.ValueType, lead_id: str = "lead-1", score: int = 40
) -> EventEnvelope:
    payload = lead_events_pb2.LeadChanged(
        lead=leads_pb2.Lead(
            id=lead_id,
            company="Initech",
            status=status,
            assigned_user_id="ann",
            lead_source_id="src-1",
            campaign_id="cmp-1",
            score=score,
            version=version,
            create_time=stamp(T0),
        )
    )
    return envelope(payload, aggregate_type="lead", aggregate_id=lead_id, version=version, occurred_at=T0)


def lead_source(
    version: int, *, name: str, channel: leads_pb2.Channel.ValueType = leads_pb2.CHANNEL_WEB
) -> EventEnvelope:
    payload = lead_events_pb2.LeadSourceChanged(
        lead_source=leads_pb2.LeadSource(id="src-1", name=name, channel=channel, version=version)
    )
    return envelope(
        payload, aggregate_type="lead_source", aggregate_id="src-1", version=version, occurred_at=T0
    )


def campaign(version: int, *costs: tuple[str, date | None, int]) -> EventEnvelope:
    entries = []
    for cost_id, incurred_on, amount_minor in costs:
        entry = leads_pb2.CostEntry(
            id=cost_id, amount=MoneyMessage(currency_code="", amount_minor=amount_minor)
        )
        if incurred_on is not None:
            entry.incurred_on.CopyFrom(
                Date(year=incurred_on.year, month=incurred_on.month, day=incurred_on.day)
            )
        entries.append(entry)
    payload = lead_events_pb2.CampaignChanged(
        campaign=leads_pb2.Campaign(
            id="cmp-1",
            name=f"Spring v{version}",
            lead_source_id="src-1",
            channel=leads_pb2.CHANNEL_EVENT,
            budget=MoneyMessage(currency_code="EUR", amount_minor=10_000_00),
            actual_cost=MoneyMessage(currency_code="EUR", amount_minor=sum(c[2] for c in costs)),
            start_date=Date(year=2031, month=1, day=1),
            cost_entries=entries,
            version=version,
        )
    )
    return envelope(payload, aggregate_type="campaign", aggregate_id="cmp-1", version=version, occurred_at=T0)


def funnel_lead(
    version: int,
    *,
    at: datetime,
    status: leads_pb2.LeadStatus.ValueType,
    qualified: bool = False,
    lead_id: str = "lead-1",
    merged_into: str = "",
) -> EventEnvelope:
    """A version of a lead that happened at `at` (the milestones are read off these times)."""
    payload = lead_events_pb2.LeadChanged(
        lead=leads_pb2.Lead(
            id=lead_id,
            company="Initech",
            status=status,
            qualified=qualified,
            merged_into_lead_id=merged_into,
            assigned_user_id="ann",
            version=version,
            create_time=stamp(T0),
            update_time=stamp(at),
        )
    )
    return envelope(payload, aggregate_type="lead", aggregate_id=lead_id, version=version, occurred_at=at)


def touch(touch_id: str, *, at: datetime, lead_id: str = "lead-1", aggregate_id: str = "") -> EventEnvelope:
    payload = lead_events_pb2.LeadTouched(
        touch=leads_pb2.LeadTouch(
            id=touch_id,
            lead_id=lead_id,
            campaign_id="cmp-1",
            kind=leads_pb2.TOUCH_KIND_EMAIL_CLICK,
            touch_time=stamp(at),
            record_time=stamp(at + DAY),
            touch_key="key",
        )
    )
    return envelope(
        payload, aggregate_type="lead_touch", aggregate_id=aggregate_id or touch_id, version=1, occurred_at=at
    )


def exchange_rate(
    version: int, *, rate: str, currency: str = "USD", effective_from: date | None = date(2031, 1, 1)
) -> EventEnvelope:
    message = opportunities_pb2.ExchangeRate(currency_code=currency, rate=rate, base_currency_code="EUR")
    if effective_from is not None:
        message.effective_from.CopyFrom(
            Date(year=effective_from.year, month=effective_from.month, day=effective_from.day)
        )
    return envelope(
        opportunity_events_pb2.ExchangeRateChanged(rate=message),
        aggregate_type="exchange_rate",
        aggregate_id=f"{currency}/{effective_from}",
        version=version,
        occurred_at=T0,
    )


# -- reading the tables -------------------------------------------------------------------------


def _utc(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


def rows(sessions: sessionmaker[Session], table: Table, *columns: str) -> list[tuple[Any, ...]]:
    """The given columns of every row, ordered by them (SQLite's naive datetimes read as UTC)."""
    selected = [table.c[name] for name in columns]
    with sessions() as session:
        return [tuple(_utc(v) for v in row) for row in session.execute(select(*selected).order_by(*selected))]


def snapshot(sessions: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with sessions() as session:
        return {
            name: sorted(
                (tuple(_utc(v) for v in row) for row in session.execute(select(table))),
                key=repr,
            )
            for name, table in tables.metadata.tables.items()
        }


# -- the handler --------------------------------------------------------------------------------


def test_the_projector_reads_the_three_topics_and_asks_the_runner_for_every_version() -> None:
    assert set(ReadModelProjector.topics) == {topics.OPPORTUNITIES, topics.LEADS, topics.FORECASTING}
    assert keeps_history(ReadModelProjector())


# -- opportunities ------------------------------------------------------------------------------


def test_every_opportunity_version_is_kept_with_its_interval_and_the_newest_is_current(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(
        runner,
        opportunity(1, at=T0),
        opportunity(2, at=T0 + 2 * DAY, stage="Qualification", close=date(2031, 7, 31)),
        opportunity(3, at=T0 + 5 * DAY, stage="Qualification", close=date(2031, 7, 31), amount_minor=251),
    )

    assert rows(
        sessions,
        tables.opportunity_versions,
        "version",
        "valid_from",
        "valid_to",
        "deleted",
        "sales_stage",
        "stage_entry",
        "stage_entered_at",
        "stage_seconds",
        "push_count",
    ) == [
        (1, T0, T0 + 2 * DAY, False, "Prospecting", True, T0, 2 * 86_400, 0),
        (2, T0 + 2 * DAY, T0 + 5 * DAY, False, "Qualification", True, T0 + 2 * DAY, None, 1),
        (3, T0 + 5 * DAY, None, False, "Qualification", False, T0 + 2 * DAY, None, 1),
    ]
    assert rows(
        sessions,
        tables.opportunity_current,
        "opportunity_id",
        "version",
        "sales_stage",
        "stage_order",
        "status",
        "amount_minor",
        "currency",
        "amount_base_minor",
        "weighted_base_minor",
        "best_base_minor",
        "worst_base_minor",
        "base_currency",
        "expected_close_date",
        "stage_entered_at",
        "push_count",
        "max_stage_order",
        "cycle_seconds",
    ) == [
        # 502 * 20 % = 100.4: the weighted amount is of the base amount, rounded once.
        (
            DEAL,
            3,
            "Qualification",
            1,
            "open",
            251,
            "EUR",
            502,
            100,
            753,
            251,
            "USD",
            date(2031, 7, 31),
            T0 + 2 * DAY,
            1,
            1,
            None,
        )
    ]


def test_a_deal_without_base_amounts_is_valued_in_its_own_currency(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(runner, opportunity(1, at=T0, amount_minor=250, probability=50, base=False))

    assert rows(
        sessions,
        tables.opportunity_current,
        "amount_base_minor",
        "base_currency",
        "weighted_base_minor",
        "best_base_minor",
        "worst_base_minor",
    ) == [(250, "EUR", 125, 250, 250)]


def test_a_version_arriving_late_in_a_later_batch_rechains_its_neighbours_and_refreshes_the_current_row(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(
        runner,
        opportunity(1, at=T0),
        opportunity(3, at=T0 + 5 * DAY, stage="Qualification", close=date(2031, 8, 31)),
    )
    deliver(runner, opportunity(2, at=T0 + 2 * DAY, stage="Qualification", close=date(2031, 7, 31)))

    assert rows(
        sessions,
        tables.opportunity_versions,
        "version",
        "valid_from",
        "valid_to",
        "stage_entry",
        "stage_entered_at",
        "stage_seconds",
        "push_count",
    ) == [
        (1, T0, T0 + 2 * DAY, True, T0, 2 * 86_400, 0),
        (2, T0 + 2 * DAY, T0 + 5 * DAY, True, T0 + 2 * DAY, None, 1),
        (3, T0 + 5 * DAY, None, False, T0 + 2 * DAY, None, 2),
    ]
    assert rows(sessions, tables.opportunity_current, "version", "stage_entered_at", "push_count") == [
        (3, T0 + 2 * DAY, 2)
    ]


def test_a_deleted_deal_leaves_the_current_table_but_keeps_its_history(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(runner, opportunity(1, at=T0), opportunity(1, at=T0, opportunity_id="deal-2"))
    deliver(runner, opportunity(2, at=T0 + 2 * DAY, stage="Qualification"))
    # The final event carries the last state; the deletion holds from when it happened.
    deliver(
        runner, opportunity(3, at=T0 + 2 * DAY, stage="Qualification", kind=DELETED, occurred_at=T0 + 9 * DAY)
    )
    deliver(runner, opportunity(2, at=T0 + 2 * DAY, stage="Qualification"))

    assert rows(sessions, tables.opportunity_current, "opportunity_id") == [("deal-2",)]
    assert rows(
        sessions,
        tables.opportunity_versions,
        "opportunity_id",
        "version",
        "valid_from",
        "valid_to",
        "deleted",
        "change_kind",
    ) == [
        (DEAL, 1, T0, T0 + 2 * DAY, False, "updated"),
        (DEAL, 2, T0 + 2 * DAY, T0 + 9 * DAY, False, "updated"),
        (DEAL, 3, T0 + 9 * DAY, None, True, "deleted"),
        ("deal-2", 1, T0, None, False, "updated"),
    ]


def test_a_closed_deal_records_its_cycle_and_the_furthest_stage_it_reached(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(
        runner,
        opportunity(1, at=T0, stage="Negotiation/Review"),
        opportunity(2, at=T0 + DAY, stage="Qualification"),
        opportunity(3, at=T0 + 4 * DAY, stage="Closed Won", status=WON, close_time=T0 + 4 * DAY),
    )

    assert rows(sessions, tables.opportunity_versions, "version", "max_stage_order", "cycle_seconds") == [
        (1, 7, None),
        (2, 7, None),
        (3, 8, 4 * 86_400),
    ]
    assert rows(sessions, tables.opportunity_current, "status", "cycle_seconds", "max_stage_order") == [
        ("won", 4 * 86_400, 8)
    ]


def test_the_runner_hands_each_distinct_version_to_the_projector_once(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    first = opportunity(1, at=T0)
    again = opportunity(1, at=T0, amount_minor=1)

    assert runner.process([record(first), record(again), record(first)]) == 1
    assert rows(sessions, tables.opportunity_versions, "version", "amount_minor") == [(1, 1_000_00)]


# -- the stage catalogue ------------------------------------------------------------------------


def test_the_stage_catalogue_orders_the_stages_of_the_versions_applied_after_it(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(runner, opportunity(1, at=T0, opportunity_id="before", stage="Qualification"))
    deliver(
        runner,
        opportunity(1, at=T0, opportunity_id="after", stage="Qualification"),
        opportunity(1, at=T0, opportunity_id="unknown", stage="Haggling"),
        stage_catalogue(
            2, ("Discovery", 1, False, False), ("Qualification", 3, False, False), ("Signed", 7, True, False)
        ),
    )
    deliver(runner, stage_catalogue(1, ("Qualification", 5, False, False)))

    assert rows(
        sessions, tables.sales_stage_view, "position", "name", "probability", "won", "lost", "revision"
    ) == [
        (1, "Discovery", 10, False, False, 2),
        (3, "Qualification", 30, False, False, 2),
        (7, "Signed", 70, True, False, 2),
    ]
    # Without a catalogue the default pipeline order applies (Qualification second); an unknown
    # stage sorts last.
    assert rows(sessions, tables.opportunity_versions, "opportunity_id", "stage_order") == [
        ("after", 3),
        ("before", 1),
        ("unknown", 99),
    ]


# -- the organisation ---------------------------------------------------------------------------


def test_a_reorganisation_closes_the_pairs_that_ended_and_opens_the_new_ones(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    t1, t2 = T0 + DAY, T0 + 8 * DAY
    deliver(
        runner,
        user("vp", 1, at=t1),
        user("mgr1", 1, manager="vp", at=t1),
        user("mgr2", 1, manager="vp", at=t1),
        user("ann", 1, manager="mgr1", at=t1),
    )
    deliver(runner, user("ann", 2, manager="mgr2", at=t2))
    # A stale version arriving later changes neither the user nor the closure.
    deliver(runner, user("ann", 1, manager="mgr1", at=T0 + 20 * DAY))

    assert rows(
        sessions, tables.org_users, "user_id", "display_name", "manager_user_id", "roles", "version"
    ) == [
        ("ann", "Ann", "mgr2", "rep", 2),
        ("mgr1", "Mgr1", "vp", "rep", 1),
        ("mgr2", "Mgr2", "vp", "rep", 1),
        ("vp", "Vp", None, "manager,rep", 1),
    ]
    assert rows(
        sessions,
        tables.org_closure,
        "descendant_user_id",
        "ancestor_user_id",
        "distance",
        "valid_from",
        "valid_to",
    ) == [
        ("ann", "ann", 0, t1, None),
        ("ann", "mgr1", 1, t1, t2),
        ("ann", "mgr2", 1, t2, None),
        # Still above ann after the move (through mgr2): the pair never stopped holding.
        ("ann", "vp", 2, t1, None),
        ("mgr1", "mgr1", 0, t1, None),
        ("mgr1", "vp", 1, t1, None),
        ("mgr2", "mgr2", 0, t1, None),
        ("mgr2", "vp", 1, t1, None),
        ("vp", "vp", 0, t1, None),
    ]


# -- forecasting --------------------------------------------------------------------------------


def test_only_newer_forecast_settings_replace_the_stored_ones(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(runner, settings(2, start_month=4))
    deliver(runner, settings(1, start_month=7))

    assert rows(
        sessions,
        tables.fiscal_settings,
        "id",
        "fiscal_year_start_month",
        "currency_code",
        "ranges",
        "version",
    ) == [(1, 4, "USD", "pipeline:0:69;commit:70:100", 2)]

    deliver(runner, settings(3, start_month=10))

    assert rows(sessions, tables.fiscal_settings, "fiscal_year_start_month", "version") == [(10, 3)]


def test_a_quota_is_replaced_only_by_a_newer_version_of_it(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(
        runner,
        quota(1, amount_minor=100_000_00),
        quota(2, amount_minor=120_000_00),
        quota(1, amount_minor=30_000_00, kind=quotas_pb2.QUOTA_KIND_DIRECT),
    )
    deliver(runner, quota(1, amount_minor=100_000_00))

    assert rows(
        sessions, tables.quota_view, "user_id", "period_id", "kind", "amount_minor", "commit_time", "version"
    ) == [
        ("ann", "2031-Q2", "assigned", 120_000_00, T0 + 2 * DAY, 2),
        ("ann", "2031-Q2", "direct", 30_000_00, T0 + DAY, 1),
    ]


def test_committed_forecasts_are_kept_once_each_and_drafts_never(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(runner, forecast(1), forecast(2, likely_minor=600_00), forecast(3, committed=False))
    # The same commit published again (a new envelope) is harmless.
    deliver(runner, forecast(1, likely_minor=1), forecast(1, version=9))

    assert rows(
        sessions,
        tables.forecast_commits,
        "snapshot_id",
        "kind",
        "sequence",
        "likely_minor",
        "best_minor",
        "worst_minor",
        "closed_won_minor",
        "quota_minor",
        "currency",
        "commit_time",
    ) == [
        ("snap-1-c", "rep", 1, 500_00, 500_00 + 100, 500_00 - 100, 50, None, "USD", T0 + DAY),
        ("snap-2-c", "rep", 2, 600_00, 600_00 + 100, 600_00 - 100, 50, 9_000_00, "USD", T0 + 2 * DAY),
    ]


# -- leads, lead sources and campaigns ----------------------------------------------------------


def test_a_lead_keeps_its_newest_version(runner: ConsumerRunner, sessions: sessionmaker[Session]) -> None:
    deliver(runner, lead(1, status=leads_pb2.LEAD_STATUS_NEW), lead(2, status=leads_pb2.LEAD_STATUS_ASSIGNED))
    deliver(runner, lead(1, status=leads_pb2.LEAD_STATUS_NEW, score=99))

    assert rows(
        sessions,
        tables.lead_view,
        "id",
        "status",
        "lead_source_id",
        "campaign_id",
        "assigned_user_id",
        "company",
        "score",
        "create_time",
        "convert_time",
        "version",
    ) == [("lead-1", "assigned", "src-1", "cmp-1", "ann", "Initech", 40, T0, None, 2)]


def test_a_lead_source_keeps_its_newest_version(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(runner, lead_source(2, name="Website", channel=leads_pb2.CHANNEL_PAID_SEARCH))
    deliver(runner, lead_source(1, name="Web"))

    assert rows(sessions, tables.lead_source_view, "id", "name", "channel", "version") == [
        ("src-1", "Website", "paid_search", 2)
    ]


def test_a_campaigns_cost_entries_are_replaced_by_a_newer_version_and_not_by_an_older_one(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(runner, campaign(1, ("c1", date(2031, 1, 3), 100_00), ("c2", date(2031, 1, 9), 50_00)))
    deliver(
        runner,
        campaign(2, ("c1", date(2031, 1, 3), 120_00), ("c3", date(2031, 2, 1), 30_00), ("undated", None, 5)),
    )
    deliver(runner, campaign(1, ("c1", date(2031, 1, 3), 100_00), ("c2", date(2031, 1, 9), 50_00)))

    assert rows(
        sessions, tables.campaign_view, "id", "name", "channel", "currency", "actual_cost_minor", "version"
    ) == [("cmp-1", "Spring v2", "event", "EUR", 150_05, 2)]
    assert rows(
        sessions, tables.campaign_costs, "campaign_id", "cost_id", "incurred_on", "amount_minor", "currency"
    ) == [
        ("cmp-1", "c1", date(2031, 1, 3), 120_00, "EUR"),
        ("cmp-1", "c3", date(2031, 2, 1), 30_00, "EUR"),
    ]


def test_within_one_batch_the_newest_campaign_version_brings_its_cost_entries_in_any_order(
    sessions: sessionmaker[Session],
) -> None:
    events = [
        campaign(1, ("c1", date(2031, 1, 3), 1)),
        campaign(3, ("c3", date(2031, 1, 3), 3)),
        campaign(2, ("c2", date(2031, 1, 3), 2)),
    ]

    with sessions() as session, session.begin():
        ReadModelProjector().apply(session, [ConsumedEvent(record(e), e) for e in events])

    assert rows(sessions, tables.campaign_view, "version") == [(3,)]
    assert rows(sessions, tables.campaign_costs, "cost_id", "amount_minor") == [("c3", 3)]


MILESTONES = ("status", "qualified_time", "recycled_time", "dead_time", "merged_into_lead_id", "version")
NEW, IN_PROCESS = leads_pb2.LEAD_STATUS_NEW, leads_pb2.LEAD_STATUS_IN_PROCESS
RECYCLED, DEAD = leads_pb2.LEAD_STATUS_RECYCLED, leads_pb2.LEAD_STATUS_DEAD


def a_lead_that_goes_every_way() -> list[EventEnvelope]:
    """New, qualified, recycled, dead, still dead, revived, dead again; qualified all along."""
    return [
        funnel_lead(1, at=T0, status=NEW),
        funnel_lead(2, at=T0 + DAY, status=IN_PROCESS, qualified=True),
        funnel_lead(3, at=T0 + 2 * DAY, status=RECYCLED, qualified=True),
        funnel_lead(4, at=T0 + 3 * DAY, status=DEAD, qualified=True),
        funnel_lead(5, at=T0 + 4 * DAY, status=DEAD, qualified=True),
        funnel_lead(6, at=T0 + 5 * DAY, status=IN_PROCESS, qualified=True),
        funnel_lead(7, at=T0 + 6 * DAY, status=DEAD, qualified=True, merged_into="lead-9"),
    ]


def test_a_leads_milestones_are_when_it_was_first_qualified_first_recycled_and_last_made_dead(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    for event in a_lead_that_goes_every_way()[:4]:
        deliver(runner, event)
    assert rows(sessions, tables.lead_view, *MILESTONES) == [
        ("dead", T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY, "", 4)
    ]

    deliver(runner, a_lead_that_goes_every_way()[4])
    assert rows(sessions, tables.lead_view, "dead_time") == [(T0 + 3 * DAY,)]

    deliver(runner, a_lead_that_goes_every_way()[5])
    assert rows(sessions, tables.lead_view, "status", "dead_time") == [("in_process", None)]

    deliver(runner, a_lead_that_goes_every_way()[6])
    assert rows(sessions, tables.lead_view, *MILESTONES) == [
        ("dead", T0 + DAY, T0 + 2 * DAY, T0 + 6 * DAY, "lead-9", 7)
    ]


def test_the_milestones_of_a_whole_history_in_one_batch_are_those_of_it_one_by_one(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(runner, *reversed(a_lead_that_goes_every_way()))

    assert rows(sessions, tables.lead_view, *MILESTONES) == [
        ("dead", T0 + DAY, T0 + 2 * DAY, T0 + 6 * DAY, "lead-9", 7)
    ]


def test_a_redelivered_older_lead_version_changes_no_milestone(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    history = a_lead_that_goes_every_way()
    deliver(runner, *history[:6])
    applied = snapshot(sessions)

    deliver(runner, *history[:6])
    for event in history[:6]:
        deliver(runner, event)
    # Even one the runner would pass again (a new batch) and that says something else: older.
    deliver(runner, funnel_lead(3, at=T0 - DAY, status=DEAD, qualified=True))

    assert snapshot(sessions) == applied


def test_qualification_keeps_its_first_time_when_it_is_lost_and_given_again(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(
        runner,
        funnel_lead(1, at=T0, status=NEW, qualified=True),
        funnel_lead(2, at=T0 + DAY, status=IN_PROCESS),
    )
    deliver(runner, funnel_lead(3, at=T0 + 2 * DAY, status=IN_PROCESS, qualified=True))

    assert rows(sessions, tables.lead_view, "qualified", "qualified_time", "recycled_time", "dead_time") == [
        (True, T0, None, None)
    ]


def test_a_touch_is_kept_once_however_often_it_is_delivered(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(runner, touch("t1", at=T0), touch("t1", at=T0), touch("t2", at=T0 + DAY, lead_id="lead-2"))
    deliver(runner, touch("t1", at=T0))

    assert rows(
        sessions, tables.lead_touch_view, "touch_id", "lead_id", "campaign_id", "kind", "touch_time"
    ) == [
        ("t1", "lead-1", "cmp-1", "email_click", T0),
        ("t2", "lead-2", "cmp-1", "email_click", T0 + DAY),
    ]


def test_an_exchange_rate_is_replaced_by_a_newer_version_of_its_date_and_not_by_an_older_one(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    deliver(runner, exchange_rate(1, rate="1.08"), exchange_rate(2, rate="1.0875"))
    deliver(
        runner, exchange_rate(1, rate="1.08"), exchange_rate(1, rate="1.1", effective_from=date(2031, 2, 1))
    )

    assert rows(
        sessions, tables.exchange_rate_view, "currency", "effective_from", "rate", "base_currency", "version"
    ) == [
        ("USD", date(2031, 1, 1), "1.0875", "EUR", 2),
        ("USD", date(2031, 2, 1), "1.1", "EUR", 1),
    ]


def test_malformed_touches_and_exchange_rates_are_dead_lettered(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    forged = touch("t1", at=T0)
    forged.event_type = opportunity_events_pb2.ExchangeRateChanged.DESCRIPTOR.full_name
    batch = [
        record(forged, topic=topics.OPPORTUNITIES),
        record(touch("t2", at=T0, aggregate_id="t3")),
        record(exchange_rate(1, rate="1.2", effective_from=None)),
        record(touch("t4", at=T0)),
        record(exchange_rate(1, rate="1.2")),
    ]

    deliver(runner, *batch)

    assert rows(sessions, tables.lead_touch_view, "touch_id") == [("t4",)]
    assert rows(sessions, tables.exchange_rate_view, "rate") == [("1.2",)]
    dead = rows(sessions, tables.platform.dead_letters, "offset", "error")
    assert [offset for offset, _ in dead] == [r.offset for r in batch[:3]]
    assert "expected salesplane.opportunities.v1.ExchangeRateChanged" in dead[0][1]
    assert "touch id differs" in dead[1][1]
    assert "needs a currency, a rate and the date" in dead[2][1]


def test_a_rebuild_empties_every_read_model_and_keeps_reportings_own_tables() -> None:
    own = {tables.saved_reports, tables.report_schedules, tables.report_runs}
    platform = {
        tables.platform.outbox,
        tables.platform.consumed_versions,
        tables.platform.dead_letters,
        tables.platform.audit_log,
    }

    assert set(admin.READ_MODELS) == set(tables.metadata.tables.values()) - own - platform


# -- bad events and redelivery ------------------------------------------------------------------


def test_a_malformed_event_is_dead_lettered_and_the_rest_of_its_batch_applied(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    forged = lead(1, status=leads_pb2.LEAD_STATUS_NEW, lead_id="forged")
    forged.event_type = opportunity_events_pb2.OpportunityChanged.DESCRIPTOR.full_name
    batch = [
        record(opportunity(1, at=T0)),
        record(forged, topic=topics.OPPORTUNITIES),
        IncomingRecord(topics.LEADS, 0, next(_offsets), b"k", b"\xff\xff\xff"),
        record(user("bob", 1, at=T0, user_id_in_payload="mallory")),
        record(lead(1, status=leads_pb2.LEAD_STATUS_NEW)),
    ]

    deliver(runner, *batch)
    deliver(runner, *batch)

    assert rows(sessions, tables.opportunity_current, "opportunity_id") == [(DEAL,)]
    assert rows(sessions, tables.lead_view, "id") == [("lead-1",)]
    assert rows(sessions, tables.org_users, "user_id") == []
    dead = rows(sessions, tables.platform.dead_letters, "offset", "topic", "value", "error")
    assert [(offset, topic, value) for offset, topic, value, _ in dead] == [
        (r.offset, r.topic, r.value) for r in batch[1:4]
    ]
    assert "expected salesplane.opportunities.v1.OpportunityChanged" in dead[0][3]
    assert "not an EventEnvelope" in dead[1][3]
    assert "user id differs" in dead[2][3]


def a_bit_of_everything() -> list[IncomingRecord]:
    return [
        record(e)
        for e in [
            stage_catalogue(4, ("Prospecting", 0, False, False), ("Won", 5, True, False)),
            opportunity(1, at=T0),
            opportunity(2, at=T0 + DAY, stage="Won", status=WON, close_time=T0 + DAY),
            opportunity(1, at=T0, opportunity_id="deal-2"),
            opportunity(2, at=T0, opportunity_id="deal-2", kind=DELETED, occurred_at=T0 + 3 * DAY),
            user("vp", 1, at=T0),
            user("ann", 1, manager="vp", at=T0),
            user("ann", 2, at=T0 + DAY),
            settings(1, start_month=2),
            quota(1, amount_minor=5),
            forecast(1),
            forecast(2, committed=False),
            lead(1, status=leads_pb2.LEAD_STATUS_NEW),
            lead_source(1, name="Web"),
            campaign(1, ("c1", date(2031, 1, 3), 100_00)),
            campaign(2, ("c2", date(2031, 1, 4), 200_00)),
            funnel_lead(1, at=T0, status=leads_pb2.LEAD_STATUS_NEW, lead_id="lead-2"),
            funnel_lead(
                2, at=T0 + DAY, status=leads_pb2.LEAD_STATUS_IN_PROCESS, qualified=True, lead_id="lead-2"
            ),
            funnel_lead(3, at=T0 + 2 * DAY, status=leads_pb2.LEAD_STATUS_DEAD, lead_id="lead-2"),
            touch("t1", at=T0),
            exchange_rate(1, rate="1.08"),
            exchange_rate(2, rate="1.09"),
        ]
    ] + [IncomingRecord(topics.LEADS, 0, next(_offsets), None, b"\xff")]


def test_redelivering_a_whole_batch_changes_nothing(
    runner: ConsumerRunner, sessions: sessionmaker[Session]
) -> None:
    batch = a_bit_of_everything()
    deliver(runner, *batch)
    applied = snapshot(sessions)

    deliver(runner, *batch)
    assert snapshot(sessions) == applied

    for one in reversed(batch):
        deliver(runner, one)
    assert snapshot(sessions) == applied
    assert all(
        applied[t.name]
        for t in (
            tables.opportunity_versions,
            tables.org_closure,
            tables.campaign_costs,
            tables.lead_touch_view,
            tables.exchange_rate_view,
        )
    )


def test_events_of_other_types_are_ignored(runner: ConsumerRunner, sessions: sessionmaker[Session]) -> None:
    stray = envelope(
        lead_events_pb2.ScoringRulesChanged(),
        aggregate_type="scoring_rules",
        aggregate_id="rules",
        version=1,
        occurred_at=T0,
    )

    deliver(runner, record(stray, topic=topics.LEADS), opportunity(1, at=T0))

    assert rows(sessions, tables.opportunity_current, "opportunity_id") == [(DEAL,)]
    assert rows(sessions, tables.platform.dead_letters, "offset") == []
