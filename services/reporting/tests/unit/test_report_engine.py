"""The report engine over read models fed the way production feeds them: serialized envelopes
through the consumer runner and the projector into SQLite, then definitions run for callers with
different scopes.

The organisation: vp -> m1 -> (r1, r2), vp -> m2 -> r3. Fiscal years start in February, base
currency EUR, and "now" is 2026-11-20, in fiscal quarter 2026-Q4 (2026-11-01..2027-01-31)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import create_engine, select
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
from salesplane_platform.consumer_runner import ConsumerRunner
from salesplane_platform.db import make_session_factory
from salesplane_platform.errors import PermissionDenied
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope
from salesplane_platform.identity import Identity
from salesplane_platform.money import Money
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.report_engine import EngineOutput, RunContext, SqlReportEngine
from salesplane_reporting.domain.builtin_reports import BUILTIN_REPORTS, builtin
from salesplane_reporting.domain.definition import parse_definition
from salesplane_reporting.domain.report import ChartKind, ChartSeries, ColumnType, RowKind, ValueFormat
from salesplane_reporting.domain.run_options import RunOptions, apply_run_options
from salesplane_reporting.entrypoints.read_model_consumer import ReadModelProjector

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ORG_SINCE = NOW - 200 * DAY

ADMIN = Identity("admin", frozenset({"admin"}))
VP = Identity("vp", frozenset({"manager", "rep"}))
M1 = Identity("m1", frozenset({"manager", "rep"}))
M2 = Identity("m2", frozenset({"manager", "rep"}))
R1 = Identity("r1", frozenset({"rep"}))
R3 = Identity("r3", frozenset({"rep"}))
MARKETING = Identity("mk", frozenset({"marketing"}))

OPEN = opportunities_pb2.OPPORTUNITY_STATUS_OPEN
WON = opportunities_pb2.OPPORTUNITY_STATUS_WON
LOST = opportunities_pb2.OPPORTUNITY_STATUS_LOST
TOPIC_OF = {
    "opportunity": topics.OPPORTUNITIES,
    "sales_stages": topics.OPPORTUNITIES,
    "lead": topics.LEADS,
    "lead_source": topics.LEADS,
    "campaign": topics.LEADS,
    "user": topics.FORECASTING,
    "quota": topics.FORECASTING,
    "forecast_settings": topics.FORECASTING,
    "forecast": topics.FORECASTING,
}
_offsets = itertools.count()


def eur(minor: int) -> Money:
    return Money("EUR", minor)


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


def proto_date(day: date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


# -- events ------------------------------------------------------------------------------------


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


def record(event: EventEnvelope) -> IncomingRecord:
    return IncomingRecord(
        TOPIC_OF[event.aggregate_type],
        0,
        next(_offsets),
        event.aggregate_id.encode(),
        event.SerializeToString(),
    )


def user(user_id: str, manager: str = "", *, version: int = 1) -> EventEnvelope:
    payload = org_pb2.UserChanged(
        user=org_pb2.User(
            user_id=user_id,
            display_name=user_id.upper(),
            roles=["rep"] if user_id.startswith("r") else ["manager", "rep"],
            manager_user_id=manager,
            active=True,
            version=version,
            update_time=stamp(ORG_SINCE),
        )
    )
    return envelope(
        payload, aggregate_type="user", aggregate_id=user_id, version=version, occurred_at=ORG_SINCE
    )


def settings(*, start_month: int = 2, currency: str = "EUR") -> EventEnvelope:
    payload = settings_pb2.ForecastSettingsChanged(
        settings=settings_pb2.ForecastSettings(
            fiscal_year_start_month=start_month, currency_code=currency, version=1
        )
    )
    return envelope(
        payload, aggregate_type="forecast_settings", aggregate_id="1", version=1, occurred_at=ORG_SINCE
    )


STAGES = (
    ("Prospecting", 1, False, False),
    ("Qualification", 2, False, False),
    ("Proposal", 3, False, False),
    ("Closed Won", 4, True, False),
    ("Closed Lost", 5, False, True),
)


def stage_catalogue() -> EventEnvelope:
    return envelope(
        opportunity_events_pb2.SalesStagesChanged(
            sales_stages=[
                opportunities_pb2.SalesStage(
                    name=n, order=o, default_probability=10 * o, is_won=w, is_lost=lo
                )
                for n, o, w, lo in STAGES
            ],
            revision=1,
        ),
        aggregate_type="sales_stages",
        aggregate_id="catalog",
        version=1,
        occurred_at=ORG_SINCE,
    )


def deal(
    opportunity_id: str,
    version: int,
    *,
    at: datetime,
    owner: str,
    amount: int,
    close: date,
    stage: str = "Prospecting",
    probability: int = 10,
    status: opportunities_pb2.OpportunityStatus.ValueType = OPEN,
    created: datetime | None = None,
    lead_source: str = "",
) -> EventEnvelope:
    """One version of a deal whose amount is in the base currency (EUR, minor units)."""
    if status == WON:
        stage, probability = "Closed Won", 100
    elif status == LOST:
        stage, probability = "Closed Lost", 0
    message = opportunities_pb2.Opportunity(
        id=opportunity_id,
        name=opportunity_id,
        account_name=f"Account of {opportunity_id}",
        owner_user_id=owner,
        amount=MoneyMessage(currency_code="EUR", amount_minor=amount),
        amount_base=MoneyMessage(currency_code="EUR", amount_minor=amount),
        sales_stage=stage,
        probability=probability,
        status=status,
        version=version,
        lead_source_id=lead_source,
        create_time=stamp(created or at),
        update_time=stamp(at),
        expected_close_date=proto_date(close),
    )
    if status != OPEN:
        message.close_time.FromDatetime(at)
    return envelope(
        opportunity_events_pb2.OpportunityChanged(
            opportunity=message, kind=opportunity_events_pb2.CHANGE_KIND_UPDATED
        ),
        aggregate_type="opportunity",
        aggregate_id=opportunity_id,
        version=version,
        occurred_at=at,
    )


def quota(user_id: str, period_id: str, amount: int, *, direct: bool = False) -> EventEnvelope:
    kind = quotas_pb2.QUOTA_KIND_DIRECT if direct else quotas_pb2.QUOTA_KIND_ASSIGNED
    payload = quotas_pb2.QuotaCommitted(
        quota=quotas_pb2.Quota(
            user_id=user_id,
            period_id=period_id,
            kind=kind,
            amount=MoneyMessage(currency_code="EUR", amount_minor=amount),
            committed_by="vp",
            commit_time=stamp(NOW - 30 * DAY),
            version=1,
        )
    )
    return envelope(
        payload,
        aggregate_type="quota",
        aggregate_id=f"quota/{user_id}/{period_id}/{kind}",
        version=1,
        occurred_at=NOW - 30 * DAY,
    )


def commit(
    user_id: str, period_id: str, sequence: int, likely: int, *, manager: bool = False, committed: bool = True
) -> EventEnvelope:
    kind = worksheets_pb2.SNAPSHOT_KIND_MANAGER if manager else worksheets_pb2.SNAPSHOT_KIND_REP
    kind_name = "manager" if manager else "rep"
    at = NOW - (40 - sequence) * DAY
    snapshot = worksheets_pb2.ForecastSnapshot(
        snapshot_id=f"{user_id}-{period_id}-{kind_name}-{sequence}",
        user_id=user_id,
        period_id=period_id,
        kind=kind,
        committed=committed,
        likely=MoneyMessage(currency_code="EUR", amount_minor=likely),
        best=MoneyMessage(currency_code="EUR", amount_minor=likely + 100_000),
        worst=MoneyMessage(currency_code="EUR", amount_minor=likely - 100_000),
        closed_won=MoneyMessage(currency_code="EUR", amount_minor=0),
        author=user_id,
        create_time=stamp(at),
        sequence=sequence,
    )
    return envelope(
        worksheets_pb2.ForecastCommitted(commit=snapshot),
        aggregate_type="forecast",
        aggregate_id=f"forecast/{user_id}/{period_id}/{kind_name}",
        version=sequence,
        occurred_at=at,
    )


def lead(lead_id: str, assigned: str, *, source: str = "web") -> EventEnvelope:
    payload = lead_events_pb2.LeadChanged(
        lead=leads_pb2.Lead(
            id=lead_id,
            company=f"Company {lead_id}",
            status=leads_pb2.LEAD_STATUS_ASSIGNED,
            assigned_user_id=assigned,
            lead_source_id=source,
            campaign_id="spring",
            score=50,
            version=1,
            create_time=stamp(NOW - 3 * DAY),
        )
    )
    return envelope(
        payload, aggregate_type="lead", aggregate_id=lead_id, version=1, occurred_at=NOW - 3 * DAY
    )


def lead_source(source_id: str, name: str) -> EventEnvelope:
    payload = lead_events_pb2.LeadSourceChanged(
        lead_source=leads_pb2.LeadSource(id=source_id, name=name, channel=leads_pb2.CHANNEL_WEB, version=1)
    )
    return envelope(
        payload, aggregate_type="lead_source", aggregate_id=source_id, version=1, occurred_at=ORG_SINCE
    )


def campaign() -> EventEnvelope:
    payload = lead_events_pb2.CampaignChanged(
        campaign=leads_pb2.Campaign(
            id="spring",
            name="Spring fair",
            lead_source_id="web",
            channel=leads_pb2.CHANNEL_EVENT,
            budget=MoneyMessage(currency_code="EUR", amount_minor=1_000_000),
            actual_cost=MoneyMessage(currency_code="EUR", amount_minor=250_000),
            start_date=proto_date(date(2026, 3, 1)),
            version=1,
        )
    )
    return envelope(
        payload, aggregate_type="campaign", aggregate_id="spring", version=1, occurred_at=ORG_SINCE
    )


ORGANISATION = (
    settings(),
    stage_catalogue(),
    user("vp"),
    user("m1", "vp"),
    user("m2", "vp"),
    user("r1", "m1"),
    user("r2", "m1"),
    user("r3", "m2"),
)

# The pipeline most tests read (amounts in EUR minor units; weighted = amount x probability):
#   d1 r1 Prospecting  1,000.00 p10 close 2026-12-15
#   d2 r1 Proposal     3,000.00 p50 close 2027-01-20 (until 10 days ago: Prospecting 2,000.00, 2026-12-31)
#   d3 r2 Qualification 2,000.00 p20 close 2026-11-30 (created 5 days ago)
#   d4 r2 won          5,000.00     close 2026-11-10 (won 12 days ago; before: Proposal, open)
#   d5 r3 lost         4,000.00     close 2026-11-05
#   d6 r3 Prospecting    500.00 p10 close 2027-03-10
#   d7 m1 Qualification  700.00 p20 close 2026-12-01
#   d8 r1 won          2,500.00     close 2026-10-20
PIPELINE = (
    deal("d1", 1, at=NOW - 60 * DAY, owner="r1", amount=100_000, close=date(2026, 12, 15)),
    deal("d2", 1, at=NOW - 30 * DAY, owner="r1", amount=200_000, close=date(2026, 12, 31)),
    deal(
        "d2",
        2,
        at=NOW - 10 * DAY,
        owner="r1",
        amount=300_000,
        close=date(2027, 1, 20),
        stage="Proposal",
        probability=50,
        created=NOW - 30 * DAY,
    ),
    deal(
        "d3",
        1,
        at=NOW - 5 * DAY,
        owner="r2",
        amount=200_000,
        close=date(2026, 11, 30),
        stage="Qualification",
        probability=20,
    ),
    deal(
        "d4",
        1,
        at=NOW - 40 * DAY,
        owner="r2",
        amount=500_000,
        close=date(2026, 11, 10),
        stage="Proposal",
        probability=50,
    ),
    deal(
        "d4",
        2,
        at=NOW - 12 * DAY,
        owner="r2",
        amount=500_000,
        close=date(2026, 11, 10),
        status=WON,
        created=NOW - 40 * DAY,
    ),
    deal("d5", 1, at=NOW - 60 * DAY, owner="r3", amount=400_000, close=date(2026, 11, 5), status=LOST),
    deal("d6", 1, at=NOW - 60 * DAY, owner="r3", amount=50_000, close=date(2027, 3, 10)),
    deal(
        "d7",
        1,
        at=NOW - 60 * DAY,
        owner="m1",
        amount=70_000,
        close=date(2026, 12, 1),
        stage="Qualification",
        probability=20,
    ),
    deal("d8", 1, at=NOW - 60 * DAY, owner="r1", amount=250_000, close=date(2026, 10, 20), status=WON),
)


# -- the world ---------------------------------------------------------------------------------


class ListSubscriber:
    """Just enough of an EventSubscriber for ConsumerRunner.process."""

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        return []

    def commit(self, records: object) -> None: ...

    def rewind(self, records: object) -> None: ...

    def close(self) -> None: ...


@dataclass
class World:
    sessions: sessionmaker[Session]
    runner: ConsumerRunner

    def deliver(self, *events: EventEnvelope) -> None:
        self.runner.process([record(e) for e in events])

    def run(
        self,
        document: Any,
        caller: Identity,
        *,
        options: RunOptions | None = None,
        now: datetime = NOW,
        viewpoint: str | None = None,
    ) -> EngineOutput:
        if options is not None:
            document = apply_run_options(document, options)
        spec = parse_definition(document)
        with self.sessions() as session:
            return SqlReportEngine(session).run(spec, RunContext(caller, now, viewpoint))


@pytest.fixture
def organisation() -> Iterator[World]:
    """Settings, stages and users only."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    tables.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    world = World(sessions, ConsumerRunner(sessions, tables.platform, ListSubscriber(), ReadModelProjector()))
    world.deliver(*ORGANISATION)
    yield world
    engine.dispose()


@pytest.fixture
def world(organisation: World) -> World:
    organisation.deliver(*PIPELINE)
    return organisation


def column_names(output: EngineOutput) -> list[str]:
    return [c.name for c in output.columns]


def view(output: EngineOutput, *names: str, kinds: Sequence[RowKind] = ()) -> list[tuple[Any, ...]]:
    """The named cells of each row (of the given kinds, default all), after the row's kind."""
    index = [column_names(output).index(n) for n in names]
    return [
        (row.kind.name, *(row.cells[i] for i in index))
        for row in output.rows
        if not kinds or row.kind in kinds
    ]


def by_owner(*measures: dict[str, Any], filters: Any = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "source": "opportunities",
        "dimensions": [{"field": "owner"}],
        "measures": list(measures)
        or [
            {"name": "deals", "aggregate": "count"},
            {"name": "amount", "aggregate": "sum", "field": "amount_base"},
        ],
    }
    if filters is not None:
        document["filters"] = filters
    return document


# -- scope -------------------------------------------------------------------------------------


def test_a_rep_sees_only_their_own_deals(world: World) -> None:
    output = world.run(by_owner(), R1)

    assert view(output, "owner", "owner_id", "deals", "amount") == [
        ("GROUP", "R1", "r1", 3, eur(650_000)),
        ("GRAND_TOTAL", "Total", None, 3, eur(650_000)),
    ]


def test_a_manager_sees_the_deals_of_their_whole_subtree_and_their_own(world: World) -> None:
    output = world.run(by_owner(), M1)

    assert view(output, "owner", "deals", "amount") == [
        ("GROUP", "M1", 1, eur(70_000)),
        ("GROUP", "R1", 3, eur(650_000)),
        ("GROUP", "R2", 2, eur(700_000)),
        ("GRAND_TOTAL", "Total", 6, eur(1_420_000)),
    ]


def test_a_manager_sees_nothing_of_another_managers_team(world: World) -> None:
    assert view(world.run(by_owner(), M2), "owner", "deals") == [
        ("GROUP", "R3", 2),
        ("GRAND_TOTAL", "Total", 2),
    ]
    stranger = Identity("m9", frozenset({"manager"}))
    assert view(world.run(by_owner({"name": "deals", "aggregate": "count"}), stranger), "deals") == [
        ("GRAND_TOTAL", 0)
    ]


def test_the_top_manager_and_an_admin_see_everyone(world: World) -> None:
    for caller in (VP, ADMIN):
        output = world.run(by_owner(), caller)

        assert view(output, "owner", "deals", kinds=[RowKind.GROUP]) == [
            ("GROUP", "M1", 1),
            ("GROUP", "R1", 3),
            ("GROUP", "R2", 2),
            ("GROUP", "R3", 2),
        ]
        assert view(output, "deals", "amount", kinds=[RowKind.GRAND_TOTAL]) == [
            ("GRAND_TOTAL", 8, eur(1_870_000))
        ]


def test_a_filter_in_the_definition_cannot_widen_the_callers_scope(world: World) -> None:
    document = by_owner(
        {"name": "deals", "aggregate": "count"},
        filters={"or": [{"field": "owner", "op": "in", "values": ["r2", "r3", "m1"]}]},
    )

    assert view(world.run(document, R1), "owner", "deals") == [("GRAND_TOTAL", "Total", 0)]


def test_marketing_reads_every_lead_and_a_rep_or_manager_only_their_scopes_leads(organisation: World) -> None:
    organisation.deliver(
        lead_source("web", "Website"),
        lead("l1", "r1"),
        lead("l2", "r1"),
        lead("l3", "r3"),
    )
    document = {
        "source": "leads",
        "dimensions": [{"field": "assigned_user"}, {"field": "lead_source"}],
        "measures": [{"name": "leads", "aggregate": "count"}],
    }

    assert view(organisation.run(document, MARKETING), "assigned_user", "lead_source", "leads") == [
        ("GROUP", "R1", "Website", 2),
        ("GROUP", "R3", "Website", 1),
        ("GRAND_TOTAL", "Total", None, 3),
    ]
    assert view(organisation.run(document, R1), "assigned_user", "leads") == [
        ("GROUP", "R1", 2),
        ("GRAND_TOTAL", "Total", 2),
    ]
    assert view(organisation.run(document, M2), "assigned_user", "leads") == [
        ("GROUP", "R3", 1),
        ("GRAND_TOTAL", "Total", 1),
    ]


def test_campaigns_are_read_by_marketing_and_admins_and_refused_to_reps_and_managers(
    organisation: World,
) -> None:
    organisation.deliver(campaign())
    document = {
        "source": "campaigns",
        "dimensions": [{"field": "campaign"}],
        "measures": [
            {"name": "budget", "aggregate": "sum", "field": "budget"},
            {"name": "spent", "aggregate": "sum", "field": "actual_cost"},
            {"name": "share", "formula": "spent / budget", "type": "percent"},
        ],
        "grand_total": False,
    }

    for caller in (MARKETING, ADMIN):
        assert view(organisation.run(document, caller), "campaign", "budget", "spent", "share") == [
            ("GROUP", "Spring fair", eur(1_000_000), eur(250_000), Decimal("0.2500"))
        ]
    for caller in (R1, M1):
        with pytest.raises(PermissionDenied):
            organisation.run(document, caller)


# -- summation ---------------------------------------------------------------------------------


def test_pipeline_by_stage_sums_each_open_stage_and_the_grand_total(world: World) -> None:
    output = world.run(builtin("pipeline_by_stage").document, ADMIN)  # type: ignore[union-attr]

    assert column_names(output) == ["sales_stage", "deals", "amount", "weighted"]
    assert [c.type for c in output.columns] == [
        ColumnType.STRING,
        ColumnType.INTEGER,
        ColumnType.MONEY,
        ColumnType.MONEY,
    ]
    assert view(output, "sales_stage", "deals", "amount", "weighted") == [
        ("GROUP", "Prospecting", 2, eur(150_000), eur(15_000)),
        ("GROUP", "Qualification", 2, eur(270_000), eur(54_000)),
        ("GROUP", "Proposal", 1, eur(300_000), eur(150_000)),
        ("GRAND_TOTAL", "Total", 5, eur(720_000), eur(219_000)),
    ]
    assert output.truncated is False
    assert "base currency (EUR)" in output.notes[0]


def test_the_bar_chart_shows_exactly_the_numbers_of_the_table(world: World) -> None:
    output = world.run(builtin("pipeline_by_stage").document, ADMIN)  # type: ignore[union-attr]

    groups = view(output, "sales_stage", "amount", kinds=[RowKind.GROUP])
    chart = output.chart
    assert chart is not None
    assert chart.kind is ChartKind.BAR
    assert chart.categories == tuple(stage for _, stage, _ in groups)
    assert chart.series == (ChartSeries("Amount", tuple(amount.amount_minor for _, _, amount in groups)),)
    assert chart.value_format is ValueFormat.MONEY
    assert chart.currency == "EUR"
    assert (chart.x_title, chart.y_title) == ("Sales stage", "Amount")


def test_subtotals_close_each_group_with_the_level_of_dimensions_they_share(world: World) -> None:
    document = {
        "source": "opportunities",
        "dimensions": [{"field": "status"}, {"field": "sales_stage"}, {"field": "owner"}],
        "measures": [{"name": "amount", "aggregate": "sum", "field": "amount_base"}],
        "subtotals": True,
    }

    output = world.run(document, ADMIN)

    assert [(row.kind.name, row.level, *row.cells) for row in output.rows] == [
        ("GROUP", 0, "open", "Prospecting", "R1", "r1", eur(100_000)),
        ("GROUP", 0, "open", "Prospecting", "R3", "r3", eur(50_000)),
        ("SUBTOTAL", 2, "open", "Prospecting", None, None, eur(150_000)),
        ("GROUP", 0, "open", "Qualification", "M1", "m1", eur(70_000)),
        ("GROUP", 0, "open", "Qualification", "R2", "r2", eur(200_000)),
        ("SUBTOTAL", 2, "open", "Qualification", None, None, eur(270_000)),
        ("GROUP", 0, "open", "Proposal", "R1", "r1", eur(300_000)),
        ("SUBTOTAL", 2, "open", "Proposal", None, None, eur(300_000)),
        ("SUBTOTAL", 1, "open", None, None, None, eur(720_000)),
        ("GROUP", 0, "won", "Closed Won", "R1", "r1", eur(250_000)),
        ("GROUP", 0, "won", "Closed Won", "R2", "r2", eur(500_000)),
        ("SUBTOTAL", 2, "won", "Closed Won", None, None, eur(750_000)),
        ("SUBTOTAL", 1, "won", None, None, None, eur(750_000)),
        ("GROUP", 0, "lost", "Closed Lost", "R3", "r3", eur(400_000)),
        ("SUBTOTAL", 2, "lost", "Closed Lost", None, None, eur(400_000)),
        ("SUBTOTAL", 1, "lost", None, None, None, eur(400_000)),
        ("GRAND_TOTAL", 0, "Total", None, None, None, eur(1_870_000)),
    ]


def test_sorting_by_an_inner_dimension_keeps_each_subtotalled_group_together(world: World) -> None:
    document = {
        "source": "opportunities",
        "dimensions": [{"field": "status"}, {"field": "owner"}],
        "measures": [{"name": "deals", "aggregate": "count"}],
        "subtotals": True,
        "sort": [{"by": "owner", "descending": True}],
    }

    output = world.run(document, ADMIN)

    assert [(row.kind.name, row.level, *row.cells) for row in output.rows] == [
        ("GROUP", 0, "open", "R3", "r3", 1),
        ("GROUP", 0, "open", "R2", "r2", 1),
        ("GROUP", 0, "open", "R1", "r1", 2),
        ("GROUP", 0, "open", "M1", "m1", 1),
        ("SUBTOTAL", 1, "open", None, None, 5),
        ("GROUP", 0, "won", "R2", "r2", 1),
        ("GROUP", 0, "won", "R1", "r1", 1),
        ("SUBTOTAL", 1, "won", None, None, 2),
        ("GROUP", 0, "lost", "R3", "r3", 1),
        ("SUBTOTAL", 1, "lost", None, None, 1),
        ("GRAND_TOTAL", 0, "Total", None, None, 8),
    ]


def test_summation_with_details_lists_each_groups_records_under_it(world: World) -> None:
    document = {
        "source": "opportunities",
        "layout": "summation_with_details",
        "dimensions": [{"field": "owner"}],
        "measures": [{"name": "deals", "aggregate": "count"}],
        "detail_columns": ["name", "amount_base"],
        "filters": {"field": "status", "op": "eq", "values": ["open"]},
    }

    output = world.run(document, M1)

    assert column_names(output) == ["owner", "owner_id", "deals", "name", "amount_base"]
    assert [(row.kind.name, row.level, *row.cells) for row in output.rows] == [
        ("GROUP", 0, "M1", "m1", 1, None, None),
        ("DETAIL", 1, "M1", "m1", None, "d7", eur(70_000)),
        ("GROUP", 0, "R1", "r1", 2, None, None),
        ("DETAIL", 1, "R1", "r1", None, "d1", eur(100_000)),
        ("DETAIL", 1, "R1", "r1", None, "d2", eur(300_000)),
        ("GROUP", 0, "R2", "r2", 1, None, None),
        ("DETAIL", 1, "R2", "r2", None, "d3", eur(200_000)),
        ("GRAND_TOTAL", 0, "Total", None, 4, None, None),
    ]


def test_a_matrix_pivots_owners_against_close_months_with_row_and_column_totals(world: World) -> None:
    # Open deals closing this fiscal quarter (2026-11-01..2027-01-31): d6 closes in March.
    output = world.run(builtin("pipeline_matrix_owner_month").document, ADMIN)  # type: ignore[union-attr]

    assert [c.title for c in output.columns] == [
        "Owner",
        "Owner id",
        "2026-11",
        "2026-12",
        "2027-01",
        "Total - Amount",
    ]
    assert [(row.kind.name, *row.cells) for row in output.rows] == [
        ("GROUP", "M1", "m1", None, eur(70_000), None, eur(70_000)),
        ("GROUP", "R1", "r1", None, eur(100_000), eur(300_000), eur(400_000)),
        ("GROUP", "R2", "r2", eur(200_000), None, None, eur(200_000)),
        ("GRAND_TOTAL", "Total", None, eur(200_000), eur(170_000), eur(300_000), eur(670_000)),
    ]


def test_rows_and_columns_sorts_limits_and_says_it_was_truncated(world: World) -> None:
    document = {
        "source": "opportunities",
        "layout": "rows_and_columns",
        "detail_columns": ["name", "owner", "amount_base", "expected_close_date"],
        "filters": {"field": "status", "op": "eq", "values": ["open"]},
        "sort": [{"by": "amount_base", "descending": True}],
        "limit": 3,
    }

    output = world.run(document, ADMIN)

    assert column_names(output) == ["name", "owner", "owner_id", "amount_base", "expected_close_date"]
    assert [row.cells for row in output.rows] == [
        ("d2", "R1", "r1", eur(300_000), date(2027, 1, 20)),
        ("d3", "R2", "r2", eur(200_000), date(2026, 11, 30)),
        ("d1", "R1", "r1", eur(100_000), date(2026, 12, 15)),
    ]
    assert {row.kind for row in output.rows} == {RowKind.DETAIL}
    assert output.truncated is True


def test_rows_and_columns_within_the_limit_is_not_truncated(world: World) -> None:
    document = {
        "source": "opportunities",
        "layout": "rows_and_columns",
        "detail_columns": ["name", "expected_close_date"],
        "sort": [{"by": "expected_close_date"}],
        "limit": 8,
    }

    output = world.run(document, ADMIN)

    assert [row.cells[0] for row in output.rows] == ["d8", "d5", "d4", "d3", "d7", "d1", "d2", "d6"]
    assert output.truncated is False


# -- measures ----------------------------------------------------------------------------------

WHERE_WON = {"field": "status", "op": "eq", "values": ["won"]}
WHERE_LOST = {"field": "status", "op": "eq", "values": ["lost"]}


def test_conditional_counts_give_a_win_rate_and_an_empty_cell_where_nothing_closed(world: World) -> None:
    document = by_owner(
        {"name": "won", "aggregate": "count", "where": WHERE_WON},
        {"name": "lost", "aggregate": "count", "where": WHERE_LOST},
        {"name": "won_amount", "aggregate": "sum", "field": "amount_base", "where": WHERE_WON},
        {"name": "win_rate", "formula": "won / (won + lost)", "type": "percent"},
    )

    output = world.run(document, ADMIN)

    assert view(output, "owner", "won", "lost", "won_amount", "win_rate") == [
        ("GROUP", "M1", 0, 0, eur(0), None),
        ("GROUP", "R1", 1, 0, eur(250_000), Decimal("1.0000")),
        ("GROUP", "R2", 1, 0, eur(500_000), Decimal("1.0000")),
        ("GROUP", "R3", 0, 1, eur(0), Decimal("0.0000")),
        ("GRAND_TOTAL", "Total", 2, 1, eur(750_000), Decimal("0.6667")),
    ]
    win_rate = output.columns[column_names(output).index("win_rate")]
    assert (win_rate.type, win_rate.scale) == (ColumnType.PERCENT, 4)


def test_an_average_of_money_is_computed_exactly_and_rounded_half_even_once(organisation: World) -> None:
    # r1: 33.33 + 33.33 + 33.35 = 100.01, a third of which is 33.3366..., shown as 33.34; three
    # times the average is exactly 100.01 again (rounding the average first would make it 100.02).
    # r2: 0.02 and 0.03 average 0.025, which half-even rounds to 0.02 (half-up would give 0.03).
    close = date(2026, 11, 2)
    organisation.deliver(
        *(
            deal(name, 1, at=NOW - DAY, owner=owner, amount=amount, close=close, status=WON)
            for name, owner, amount in [
                ("a1", "r1", 3_333),
                ("a2", "r1", 3_333),
                ("a3", "r1", 3_335),
                ("b1", "r2", 2),
                ("b2", "r2", 3),
            ]
        )
    )
    document = by_owner(
        {"name": "average", "aggregate": "avg", "field": "amount_base", "where": WHERE_WON},
        {"name": "three_times", "formula": "average * 3", "type": "money"},
        {"name": "per_deal", "formula": "average / 1", "scale": 4},
        {"name": "probability", "aggregate": "avg", "field": "probability"},
    )

    output = organisation.run(document, ADMIN)

    assert view(output, "owner", "average", "three_times", "per_deal", "probability") == [
        ("GROUP", "R1", eur(3_334), eur(10_001), Decimal("3333.6667"), Decimal("100.00")),
        ("GROUP", "R2", eur(2), eur(8), Decimal("2.5000"), Decimal("100.00")),
        # 100.06 / 5 = 20.012 -> 20.01; x 3 = 60.036 -> 60.04.
        ("GRAND_TOTAL", "Total", eur(2_001), eur(6_004), Decimal("2001.2000"), Decimal("100.00")),
    ]
    assert [c.type for c in output.columns[2:]] == [
        ColumnType.MONEY,
        ColumnType.MONEY,
        ColumnType.DECIMAL,
        ColumnType.DECIMAL,
    ]


def test_a_half_even_average_rounds_a_tie_to_the_even_neighbour_both_ways(organisation: World) -> None:
    close = date(2026, 11, 2)
    organisation.deliver(
        deal("c1", 1, at=NOW - DAY, owner="r1", amount=4, close=close),
        deal("c2", 1, at=NOW - DAY, owner="r1", amount=7, close=close),
        deal("c3", 1, at=NOW - DAY, owner="r2", amount=-4, close=close),
        deal("c4", 1, at=NOW - DAY, owner="r2", amount=-7, close=close),
    )
    document = by_owner({"name": "average", "aggregate": "avg", "field": "amount_base"})

    assert view(organisation.run(document, ADMIN), "owner", "average") == [
        ("GROUP", "R1", eur(6)),  # 5.5 -> 6
        ("GROUP", "R2", eur(-6)),  # -5.5 -> -6
        ("GRAND_TOTAL", "Total", eur(0)),
    ]


def test_number_buckets_split_money_at_the_edges(world: World) -> None:
    document = {
        "source": "opportunities",
        "dimensions": [{"field": "amount_base", "bucket": {"edges": [100_000, 300_000]}}],
        "measures": [{"name": "deals", "aggregate": "count"}],
    }

    assert view(world.run(document, ADMIN), "amount_base", "deals") == [
        ("GROUP", "< 1,000 EUR", 2),
        ("GROUP", "1,000 EUR - 3,000 EUR", 3),
        ("GROUP", ">= 3,000 EUR", 3),
        ("GRAND_TOTAL", "Total", 8),
    ]


def test_number_buckets_on_a_whole_number_field_show_plain_numbers(world: World) -> None:
    document = {
        "source": "opportunities",
        "dimensions": [{"field": "probability", "bucket": {"edges": [20, 50]}}],
        "measures": [{"name": "deals", "aggregate": "count"}],
        "grand_total": False,
    }

    assert view(world.run(document, ADMIN), "probability", "deals") == [
        ("GROUP", "< 20", 3),  # d1, d5, d6
        ("GROUP", "20 - 50", 2),  # d3, d7
        ("GROUP", ">= 50", 3),  # d2, d4, d8
    ]


def test_list_buckets_group_named_values_and_put_the_rest_in_other(world: World) -> None:
    document = {
        "source": "opportunities",
        "dimensions": [
            {
                "field": "sales_stage",
                "bucket": {
                    "groups": [
                        {"label": "Early", "values": ["Prospecting", "Qualification"]},
                        {"label": "Closed", "values": ["Closed Won", "Closed Lost"]},
                    ]
                },
            }
        ],
        "measures": [
            {"name": "deals", "aggregate": "count"},
            {"name": "amount", "aggregate": "sum", "field": "amount_base"},
        ],
        "grand_total": False,
    }

    rows = view(world.run(document, ADMIN), "sales_stage", "deals", "amount")

    assert sorted(rows) == [
        ("GROUP", "Closed", 3, eur(1_150_000)),
        ("GROUP", "Early", 4, eur(420_000)),
        ("GROUP", "Other", 1, eur(300_000)),
    ]


def test_list_buckets_may_name_their_other_group(world: World) -> None:
    document = {
        "source": "opportunities",
        "dimensions": [
            {
                "field": "owner",
                "bucket": {
                    "groups": [{"label": "Team one", "values": ["r1", "r2"]}],
                    "other_label": "Elsewhere",
                },
            }
        ],
        "measures": [{"name": "deals", "aggregate": "count"}],
        "grand_total": False,
    }

    assert sorted(view(world.run(document, ADMIN), "owner", "deals")) == [
        ("GROUP", "Elsewhere", 3),
        ("GROUP", "Team one", 5),
    ]


@pytest.mark.parametrize(
    ("grain", "expected"),
    [
        ("month", [("2026-10", 1), ("2026-11", 3), ("2026-12", 2), ("2027-01", 1), ("2027-03", 1)]),
        # Fiscal years start in February: 2026-Q3 is Aug..Oct 2026, 2026-Q4 Nov 2026..Jan 2027.
        ("fiscal_quarter", [("2026-Q3", 1), ("2026-Q4", 6), ("2027-Q1", 1)]),
        ("fiscal_year", [("FY2026", 7), ("FY2027", 1)]),
        ("day", [("2026-10-20", 1), ("2026-11-05", 1), ("2026-11-10", 1), ("2026-11-30", 1)]),
    ],
)
def test_date_grains_label_their_periods(world: World, grain: str, expected: list[tuple[str, int]]) -> None:
    document = {
        "source": "opportunities",
        "dimensions": [{"field": "expected_close_date", "grain": grain}],
        "measures": [{"name": "deals", "aggregate": "count"}],
        "grand_total": False,
    }

    rows = view(world.run(document, ADMIN), "expected_close_date", "deals")

    assert [(label, deals) for _, label, deals in rows][: len(expected)] == expected


def test_a_week_grain_on_timestamps_labels_iso_weeks(world: World) -> None:
    document = {
        "source": "opportunities",
        "dimensions": [{"field": "update_time", "grain": "week"}],
        "measures": [{"name": "deals", "aggregate": "count"}],
        "grand_total": False,
    }

    # Updated 60 days ago (2026-09-21, a Monday: W39), 12 (Sunday 2026-11-08: still W45), 10
    # (Tuesday 2026-11-10: W46) and 5 days ago (Sunday 2026-11-15: W46).
    assert [r[1:] for r in view(world.run(document, ADMIN), "update_time", "deals")] == [
        ("2026-W39", 5),
        ("2026-W45", 1),
        ("2026-W46", 2),
    ]


# -- run-time filters and past states ----------------------------------------------------------


def test_a_run_time_filter_takes_a_relative_date_resolved_on_the_run_day(world: World) -> None:
    top = builtin("top_open_deals").document  # type: ignore[union-attr]

    this_quarter = world.run(top, ADMIN)
    next_month = world.run(top, ADMIN, options=RunOptions(filter_values={"close": ["next_month"]}))
    a_quarter_later = world.run(top, ADMIN, now=NOW + 91 * DAY)

    assert [row.cells[0] for row in this_quarter.rows] == ["d2", "d3", "d1", "d7"]
    assert [row.cells[0] for row in next_month.rows] == ["d1", "d7"]
    # On 2027-02-19 this fiscal quarter is 2027-Q1 (Feb..Apr 2027).
    assert [row.cells[0] for row in a_quarter_later.rows] == ["d6"]


def test_as_of_reads_the_versions_held_at_the_end_of_that_day(world: World) -> None:
    # On 2026-10-31: d2 was a 2,000.00 prospect, d4 still open in Proposal, d3 not yet created.
    pipeline = builtin("pipeline_by_stage").document  # type: ignore[union-attr]
    expected = [
        ("GROUP", "Prospecting", 3, eur(350_000)),
        ("GROUP", "Qualification", 1, eur(70_000)),
        ("GROUP", "Proposal", 1, eur(500_000)),
        ("GRAND_TOTAL", "Total", 5, eur(920_000)),
    ]

    for as_of in ("2026-10-31", "last_month", "2026-10-31T23:00:00Z"):
        output = world.run(pipeline, ADMIN, options=RunOptions(as_of=as_of))
        assert view(output, "sales_stage", "deals", "amount") == expected, as_of


def test_as_of_keeps_the_callers_scope(world: World) -> None:
    pipeline = builtin("pipeline_by_stage").document  # type: ignore[union-attr]

    output = world.run(pipeline, R1, options=RunOptions(as_of="2026-10-31"))

    assert view(output, "sales_stage", "deals", "amount") == [
        ("GROUP", "Prospecting", 2, eur(300_000)),
        ("GRAND_TOTAL", "Total", 2, eur(300_000)),
    ]


# -- pipeline movement -------------------------------------------------------------------------

START = datetime(2026, 11, 6, tzinfo=UTC)
END = datetime(2026, 11, 20, tzinfo=UTC)
BEFORE = START - 10 * DAY
MOVEMENT = (
    # Created inside the window between the two instants.
    deal("mv_new", 1, at=START + 2 * DAY, owner="r1", amount=100_000, close=date(2026, 12, 10)),
    # Close date moved from after the window into it.
    deal("mv_pull", 1, at=BEFORE, owner="r1", amount=200_000, close=date(2027, 3, 15)),
    deal("mv_pull", 2, at=START + 3 * DAY, owner="r1", amount=200_000, close=date(2026, 12, 20)),
    # Close date moved out past the window.
    deal("mv_push", 1, at=BEFORE, owner="r1", amount=300_000, close=date(2026, 12, 5)),
    deal("mv_push", 2, at=START + 4 * DAY, owner="r1", amount=300_000, close=date(2027, 2, 15)),
    deal("mv_up", 1, at=BEFORE, owner="r2", amount=400_000, close=date(2026, 12, 1)),
    deal("mv_up", 2, at=START + 5 * DAY, owner="r2", amount=450_000, close=date(2026, 12, 1)),
    deal("mv_down", 1, at=BEFORE, owner="r2", amount=500_000, close=date(2026, 12, 2)),
    deal("mv_down", 2, at=START + 5 * DAY, owner="r2", amount=420_000, close=date(2026, 12, 2)),
    deal("mv_won", 1, at=BEFORE, owner="r1", amount=600_000, close=date(2026, 11, 25)),
    deal("mv_won", 2, at=START + 6 * DAY, owner="r1", amount=600_000, close=date(2026, 11, 25), status=WON),
    deal("mv_lost", 1, at=BEFORE, owner="r2", amount=700_000, close=date(2026, 11, 26)),
    deal("mv_lost", 2, at=START + 6 * DAY, owner="r2", amount=700_000, close=date(2026, 11, 26), status=LOST),
    # Handed to r3, outside m1's team.
    deal("mv_moved", 1, at=BEFORE, owner="r2", amount=80_000, close=date(2026, 12, 3)),
    deal("mv_moved", 2, at=START + 7 * DAY, owner="r3", amount=80_000, close=date(2026, 12, 3)),
    # Unchanged: in both totals, no movement.
    deal("mv_same", 1, at=BEFORE, owner="m1", amount=90_000, close=date(2026, 12, 4)),
    # Created and won between the two instants: in neither total.
    deal("mv_flash", 1, at=START + DAY, owner="r1", amount=1_000, close=date(2026, 12, 1)),
    deal("mv_flash", 2, at=START + 2 * DAY, owner="r1", amount=1_000, close=date(2026, 12, 1), status=WON),
    # Outside m1's team all along.
    deal("mv_outside", 1, at=BEFORE, owner="r3", amount=5_000, close=date(2026, 12, 1)),
    deal("mv_outside", 2, at=START + 3 * DAY, owner="r3", amount=6_000, close=date(2026, 12, 1)),
)
MOVEMENT_PARAMETERS = {"from": START.isoformat(), "to": END.isoformat(), "window": "2026-Q4"}


@pytest.fixture
def movement(organisation: World) -> World:
    organisation.deliver(*MOVEMENT)
    return organisation


def test_pipeline_movement_puts_each_deliberate_change_in_its_category(movement: World) -> None:
    output = movement.run(
        builtin("pipeline_movement").document,  # type: ignore[union-attr]
        M1,
        options=RunOptions(parameters=MOVEMENT_PARAMETERS),
    )

    assert view(output, "category", "deals", "change", kinds=[RowKind.GROUP]) == [
        ("GROUP", "start", 7, eur(2_670_000)),
        ("GROUP", "new", 1, eur(100_000)),
        ("GROUP", "pulled_in", 1, eur(200_000)),
        ("GROUP", "increased", 1, eur(50_000)),
        ("GROUP", "decreased", 1, eur(-80_000)),
        ("GROUP", "pushed_out", 1, eur(-300_000)),
        ("GROUP", "reassigned_out", 1, eur(-80_000)),
        ("GROUP", "won", 1, eur(-600_000)),
        ("GROUP", "lost", 1, eur(-700_000)),
        ("GROUP", "end", 5, eur(1_260_000)),
    ]
    details = {
        (row.cells[0], row.cells[3]): row.cells[3:]
        for row in output.rows
        if row.kind is RowKind.DETAIL and row.cells[0] not in ("start", "end")
    }
    assert sorted(str(name) for _, name in details) == [
        "mv_down",
        "mv_lost",
        "mv_moved",
        "mv_new",
        "mv_pull",
        "mv_push",
        "mv_up",
        "mv_won",
    ]
    assert details[("pushed_out", "mv_push")] == (
        "mv_push",
        "R1",
        "r1",
        eur(300_000),
        eur(300_000),
        "Prospecting",
        "Prospecting",
        date(2026, 12, 5),
        date(2027, 2, 15),
    )
    assert details[("new", "mv_new")][3:5] == (None, eur(100_000))
    assert details[("won", "mv_won")][5:7] == ("Prospecting", "Closed Won")
    assert details[("reassigned_out", "mv_moved")][1:3] == ("R3", "r3")


def test_pipeline_movement_bars_add_up_from_start_to_end(movement: World) -> None:
    output = movement.run(
        builtin("pipeline_movement").document,  # type: ignore[union-attr]
        M1,
        options=RunOptions(parameters=MOVEMENT_PARAMETERS),
    )

    changes = {
        category: change.amount_minor
        for _, category, change in view(output, "category", "change", kinds=[RowKind.GROUP])
    }
    moved = sum(v for k, v in changes.items() if k not in ("start", "end"))
    assert changes["start"] + moved == changes["end"]


def test_the_waterfall_chart_steps_through_the_movement_table(movement: World) -> None:
    output = movement.run(
        builtin("pipeline_movement").document,  # type: ignore[union-attr]
        M1,
        options=RunOptions(parameters=MOVEMENT_PARAMETERS),
    )

    groups = view(output, "category", "change", kinds=[RowKind.GROUP])
    chart = output.chart
    assert chart is not None
    assert chart.kind is ChartKind.WATERFALL
    assert chart.categories == tuple(category for _, category, _ in groups)
    assert chart.categories[0] == "start" and chart.categories[-1] == "end"
    assert chart.series == (ChartSeries("Change", tuple(change.amount_minor for _, _, change in groups)),)
    steps = [int(value or 0) for value in chart.series[0].values]
    assert steps[0] + sum(steps[1:-1]) == steps[-1]
    assert (chart.value_format, chart.currency) == (ValueFormat.MONEY, "EUR")


def test_an_admin_sees_the_reassigned_deal_and_the_other_teams_deal_stay(movement: World) -> None:
    output = movement.run(
        builtin("pipeline_movement").document,  # type: ignore[union-attr]
        ADMIN,
        options=RunOptions(parameters=MOVEMENT_PARAMETERS),
    )

    changes = dict(
        (category, (deals, change))
        for _, category, deals, change in view(output, "category", "deals", "change", kinds=[RowKind.GROUP])
    )
    assert "reassigned_out" not in changes
    assert changes["start"] == (8, eur(2_675_000))
    assert changes["increased"] == (2, eur(51_000))
    assert changes["end"] == (7, eur(1_346_000))


def test_the_builtin_movement_report_compares_the_pipeline_of_30_days_ago_with_today(movement: World) -> None:
    # 30 days before 2026-11-20 none of these deals existed yet: everything in the window is new.
    output = movement.run(builtin("pipeline_movement").document, M1)  # type: ignore[union-attr]

    assert view(output, "category", "deals", "change", kinds=[RowKind.GROUP]) == [
        ("GROUP", "new", 5, eur(1_260_000)),
        ("GROUP", "end", 5, eur(1_260_000)),
    ]


# -- period performance and forecast accuracy --------------------------------------------------


def test_period_performance_shows_quota_latest_commit_and_live_numbers_per_person(world: World) -> None:
    world.deliver(
        quota("r1", "2026-Q4", 1_000_000),
        quota("m1", "2026-Q4", 3_000_000),
        # A manager's direct quota and another period's quota are not this row's quota.
        quota("m1", "2026-Q4", 123, direct=True),
        quota("r2", "2026-Q3", 999),
        commit("r1", "2026-Q4", 1, 500_000),
        commit("r1", "2026-Q4", 2, 600_000),
        # A draft never reaches reporting's read model.
        commit("r1", "2026-Q4", 3, 9_999_999, committed=False),
        commit("m1", "2026-Q4", 1, 1_500_000, manager=True),
        # m1 manages a team: their own rep commit is not what their row shows.
        commit("m1", "2026-Q4", 1, 77, manager=False),
    )

    output = world.run(builtin("forecast_vs_quota").document, M1)  # type: ignore[union-attr]

    names = ["user", "quota", "committed_likely", "committed_best", "committed_worst"]
    names += ["live_forecast", "open_pipeline", "closed_won", "attainment", "gap"]
    assert view(output, *names) == [
        # m1's subtree: open d1 + d2 + d3 + d7 = 6,700.00 (weighted 2,140.00), won d4 5,000.00.
        (
            "GROUP",
            "M1",
            eur(3_000_000),
            eur(1_500_000),
            eur(1_600_000),
            eur(1_400_000),
            eur(714_000),
            eur(670_000),
            eur(500_000),
            Decimal("0.1667"),
            eur(2_500_000),
        ),
        (
            "GROUP",
            "R1",
            eur(1_000_000),
            eur(600_000),
            eur(700_000),
            eur(500_000),
            eur(160_000),
            eur(400_000),
            eur(0),
            Decimal("0.0000"),
            eur(1_000_000),
        ),
        ("GROUP", "R2", None, None, None, None, eur(540_000), eur(200_000), eur(500_000), None, None),
    ]


def test_a_rep_sees_only_their_own_period_performance(world: World) -> None:
    world.deliver(quota("r1", "2026-Q4", 1_000_000), quota("m1", "2026-Q4", 3_000_000))
    document = apply_run_options(
        builtin("forecast_vs_quota").document,  # type: ignore[union-attr]
        RunOptions(parameters={"period": "2026-Q4"}),
    )

    output = world.run(document, R1)

    assert view(output, "user", "quota", "closed_won", "attainment") == [
        ("GROUP", "R1", eur(1_000_000), eur(0), Decimal("0.0000"))
    ]


def test_period_performance_for_a_calendar_month_reads_that_months_quota(world: World) -> None:
    world.deliver(quota("r1", "2026-11", 100_000))
    document = apply_run_options(
        builtin("forecast_vs_quota").document,  # type: ignore[union-attr]
        RunOptions(parameters={"period": "2026-11"}),
    )

    output = world.run(document, R1)

    # d1 and d2 close in December and January: nothing of r1's closes in November.
    assert view(output, "user", "quota", "open_pipeline", "gap") == [
        ("GROUP", "R1", eur(100_000), eur(0), eur(100_000))
    ]


def test_period_performance_for_this_month_reads_the_quota_of_the_current_month(world: World) -> None:
    world.deliver(quota("r1", "2026-11", 100_000))
    document = apply_run_options(
        builtin("forecast_vs_quota").document,  # type: ignore[union-attr]
        RunOptions(parameters={"period": "this_month"}),
    )

    output = world.run(document, R1)

    assert view(output, "user", "quota") == [("GROUP", "R1", eur(100_000))]


ACCURACY = (
    # r1 won 300.00 closing in 2026-Q2 (May..Jul 2026) and d8 (2,500.00) in 2026-Q3 (Aug..Oct).
    deal("a9", 1, at=NOW - 150 * DAY, owner="r1", amount=30_000, close=date(2026, 6, 15), status=WON),
    commit("r1", "2026-Q2", 1, 10_000),
    commit("r1", "2026-Q3", 1, 400_000),
    commit("r1", "2026-Q3", 2, 251_087),
    commit("m1", "2026-Q3", 1, 1_000_000, manager=True),
    # 2026-Q4 has not ended on 2026-11-20: not measured yet.
    commit("r1", "2026-Q4", 1, 1),
)
ACCURACY_DETAILS = ["period_id", "committed_likely", "actual", "error", "ape", "bias"]


def test_forecast_accuracy_compares_the_latest_commit_of_each_ended_period_with_what_closed_won(
    world: World,
) -> None:
    world.deliver(*ACCURACY)

    output = world.run(builtin("forecast_accuracy").document, ADMIN)  # type: ignore[union-attr]

    measures = ["periods", "committed", "actual_total", "absolute_error", "wape"]
    assert view(output, "user", "kind", *measures, kinds=[RowKind.GROUP]) == [
        # m1's manager commit is measured against their whole team's won deals.
        ("GROUP", "M1", "manager", 1, eur(1_000_000), eur(250_000), eur(750_000), Decimal("3.0000")),
        # 210.87 / 2,800.00 = 7.53 %.
        ("GROUP", "R1", "rep", 2, eur(261_087), eur(280_000), eur(21_087), Decimal("0.0753")),
    ]
    assert view(output, "user", *ACCURACY_DETAILS, kinds=[RowKind.DETAIL]) == [
        (
            "DETAIL",
            "M1",
            "2026-Q3",
            eur(1_000_000),
            eur(250_000),
            eur(-750_000),
            Decimal("3.0000"),
            Decimal("3.0000"),
        ),
        # |100 - 300| / 300 = 66.67 %, under-forecast: negative bias.
        (
            "DETAIL",
            "R1",
            "2026-Q2",
            eur(10_000),
            eur(30_000),
            eur(20_000),
            Decimal("0.6667"),
            Decimal("-0.6667"),
        ),
        # 10.87 / 2,500.00 = 0.4348 % -> 43 basis points, over-forecast: positive bias.
        (
            "DETAIL",
            "R1",
            "2026-Q3",
            eur(251_087),
            eur(250_000),
            eur(-1_087),
            Decimal("0.0043"),
            Decimal("0.0043"),
        ),
    ]
    assert {c.name: (c.type, c.scale) for c in output.columns if c.name in ("mape", "ape")} == {
        "mape": (ColumnType.PERCENT, 4),
        "ape": (ColumnType.PERCENT, 4),
    }


def test_mape_and_mean_bias_average_the_per_period_basis_points_rounded_once_each(world: World) -> None:
    world.deliver(*ACCURACY)

    output = world.run(builtin("forecast_accuracy").document, ADMIN)  # type: ignore[union-attr]

    # r1: ape 6667 and 43 basis points average 3355; bias -6667 and +43 average -3312.
    assert view(output, "user", "mape", "mean_bias", kinds=[RowKind.GROUP]) == [
        ("GROUP", "M1", Decimal("3.0000"), Decimal("3.0000")),
        ("GROUP", "R1", Decimal("0.3355"), Decimal("-0.3312")),
    ]


# -- the pipeline rollup -------------------------------------------------------------------------

ROLLUP_DEFINITIONS = [
    builtin_document
    for builtin_document in (
        report.document
        for report in BUILTIN_REPORTS
        if report.id in ("pipeline_by_stage", "pipeline_by_stage_team_month", "pipeline_matrix_owner_month")
    )
] + [
    by_owner(),
    {
        "source": "opportunities",
        "dimensions": [{"field": "status"}, {"field": "expected_close_date", "grain": "fiscal_quarter"}],
        "measures": [
            {"name": "deals", "aggregate": "count"},
            {
                "name": "won",
                "aggregate": "sum",
                "field": "amount_base",
                "where": {"field": "status", "op": "eq", "values": ["won"]},
            },
            {"name": "best", "aggregate": "sum", "field": "best_case"},
            {"name": "share", "formula": "won / best", "type": "percent"},
        ],
        "filters": {"field": "expected_close_date", "op": "within", "values": ["this_fiscal_year"]},
        "subtotals": True,
    },
]
CALLERS = [
    Identity("vp", frozenset({"manager"})),
    Identity("m1", frozenset({"manager"})),
    Identity("m2", frozenset({"manager"})),
    Identity("r1", frozenset({"rep"})),
    Identity("root", frozenset({"admin"})),
]


def _without_rollup(
    world: World, document: Any, caller: Identity, monkeypatch: pytest.MonkeyPatch
) -> EngineOutput:
    from salesplane_reporting.adapters import report_engine

    with monkeypatch.context() as patch:
        patch.setattr(report_engine._Run, "_rollup_view", lambda self, context: None)
        return world.run(document, caller)


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c.subject)
def test_the_pipeline_rollup_answers_exactly_what_the_deals_do(
    world: World, caller: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    for document in ROLLUP_DEFINITIONS:
        with_rollup = world.run(document, caller)
        assert [r.cells for r in with_rollup.rows] == [
            r.cells for r in _without_rollup(world, document, caller, monkeypatch).rows
        ]


def test_the_rollup_kept_by_deltas_equals_one_rebuilt_after_changes_and_a_reorganisation(
    world: World,
) -> None:
    from salesplane_reporting.adapters import pipeline_rollup

    world.deliver(
        deal("d1", 2, at=NOW - DAY, owner="r3", amount=150_000, close=date(2027, 2, 1)),
        deal("d6", 2, at=NOW - DAY, owner="r3", amount=50_000, close=date(2027, 3, 10), status=WON),
        user("r2", "m2", version=2),
    )
    world.deliver(
        deal("d3", 2, at=NOW, owner="r2", amount=250_000, close=date(2026, 12, 1), stage="Proposal")
    )

    def rows() -> set[tuple[Any, ...]]:
        with world.sessions() as session:
            return {tuple(r) for r in session.execute(select(tables.pipeline_rollup)) if r.deals}

    kept = rows()
    with world.sessions() as session, session.begin():
        pipeline_rollup.rebuild(session)
    assert kept == rows()
    assert kept  # not vacuous


def test_the_pipeline_reports_of_managers_reps_and_admins_are_read_from_the_rollup(world: World) -> None:
    from salesplane_reporting.adapters.report_engine import _Run

    with world.sessions() as session:
        engine = SqlReportEngine(session)
        for caller in CALLERS:
            for document in ROLLUP_DEFINITIONS:
                run = _Run(engine, parse_definition(document), RunContext(caller, NOW))
                assert run.pre_aggregated, (caller.subject, document)
        # A day-level date or a per-deal measure needs the deals.
        daily = {**by_owner(), "dimensions": [{"field": "expected_close_date", "grain": "day"}]}
        assert not _Run(engine, parse_definition(daily), RunContext(CALLERS[0], NOW)).pre_aggregated


def test_before_forecastings_settings_arrive_money_is_in_the_base_currency_the_deals_carry() -> None:
    """A fresh deployment where nobody has edited forecasting's settings yet has no settings event;
    the base currency is then the one the opportunities service converted the deals into."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    tables.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    fresh = World(sessions, ConsumerRunner(sessions, tables.platform, ListSubscriber(), ReadModelProjector()))
    fresh.deliver(*ORGANISATION[1:], *PIPELINE)
    output = fresh.run(builtin("pipeline_by_stage").document, ADMIN)  # type: ignore[union-attr]
    assert "base currency (EUR)" in output.notes[0]
    assert view(output, "deals", "amount", kinds=[RowKind.GRAND_TOTAL]) == [("GRAND_TOTAL", 5, eur(720_000))]
    engine.dispose()
