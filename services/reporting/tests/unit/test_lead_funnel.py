"""The lead funnel source, the median and the built-in lead funnel, over leads and deals fed through
the consumer runner into SQLite, against numbers worked out by hand.

The organisation: vp -> m1 -> (r1, r2), vp -> m2 -> r3. Fiscal years start in January, base
currency EUR, "now" is 2026-11-20. The leads (all created in 2026 but L7):

    lead  owner source  campaign  created      qualified (+days)  converted (+days)  won (+days)
    L1    r1    web     spring    03-01 10:00  03-03 10:00 (2)    03-08 10:00 (5)    03-18 10:00 (10)
    L2    r1    web     spring    03-01 10:00  03-05 10:00 (4)    03-06 22:00 (1.5)  (deal open)
    L3    r2    web     spring    03-02 00:00  03-03 00:00 (1)    dead 03-10
    L4    r3    web     fall      04-01 00:00  never              04-04 00:00 (3)    04-10 00:00 (6)
    L5    r3    event   -         04-02 00:00  recycled 04-05
    L6    r2    web     spring    a duplicate merged into L1: not a lead of the funnel
    L7    m1    web     spring    2025-12-01 (last fiscal year)

The spring campaign is an event; the fall campaign names no channel, so its source's (web) counts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from salesplane.common.v1.common_pb2 import Date
from salesplane.common.v1.common_pb2 import Money as MoneyMessage
from salesplane.events.v1.envelope_pb2 import EventEnvelope
from salesplane.forecasting.v1 import org_pb2, settings_pb2
from salesplane.leads.v1 import events_pb2 as lead_events_pb2
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import events_pb2 as opportunity_events_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane_platform import topics
from salesplane_platform.consumer_runner import ConsumerRunner
from salesplane_platform.db import make_session_factory
from salesplane_platform.errors import InvalidArgument
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope
from salesplane_platform.identity import Identity
from salesplane_platform.money import Money
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.report_engine import EngineOutput, RunContext, SqlReportEngine
from salesplane_reporting.adapters.sql_median import median_of
from salesplane_reporting.domain.builtin_reports import builtin
from salesplane_reporting.domain.definition import parse_definition
from salesplane_reporting.domain.report import ChartKind, ColumnType, RowKind
from salesplane_reporting.domain.run_options import RunOptions, apply_run_options
from salesplane_reporting.entrypoints.read_model_consumer import ReadModelProjector

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ORG_SINCE = datetime(2025, 1, 1, tzinfo=UTC)

ADMIN = Identity("admin", frozenset({"admin"}))
MARKETING = Identity("mk", frozenset({"marketing"}))
M1 = Identity("m1", frozenset({"manager", "rep"}))
M2 = Identity("m2", frozenset({"manager", "rep"}))
R1 = Identity("r1", frozenset({"rep"}))

NEW = leads_pb2.LEAD_STATUS_NEW
IN_PROCESS = leads_pb2.LEAD_STATUS_IN_PROCESS
CONVERTED = leads_pb2.LEAD_STATUS_CONVERTED
RECYCLED = leads_pb2.LEAD_STATUS_RECYCLED
DEAD = leads_pb2.LEAD_STATUS_DEAD
TOPIC_OF = {
    "opportunity": topics.OPPORTUNITIES,
    "lead": topics.LEADS,
    "lead_source": topics.LEADS,
    "campaign": topics.LEADS,
    "user": topics.FORECASTING,
    "forecast_settings": topics.FORECASTING,
}
_offsets = itertools.count()


def at(month: int, day: int, hour: int = 0, *, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


def envelope(
    payload: Message, kind: str, aggregate_id: str, version: int, occurred_at: datetime
) -> EventEnvelope:
    return build_envelope(
        payload=payload,
        aggregate_type=kind,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        producer="test",
        actor="test",
        occurred_at=occurred_at,
    )


def user(user_id: str, manager: str = "") -> EventEnvelope:
    message = org_pb2.User(
        user_id=user_id,
        display_name=user_id.upper(),
        roles=["rep"] if user_id.startswith("r") else ["manager", "rep"],
        manager_user_id=manager,
        active=True,
        version=1,
        update_time=stamp(ORG_SINCE),
    )
    return envelope(org_pb2.UserChanged(user=message), "user", user_id, 1, ORG_SINCE)


def settings() -> EventEnvelope:
    message = settings_pb2.ForecastSettings(fiscal_year_start_month=1, currency_code="EUR", version=1)
    return envelope(
        settings_pb2.ForecastSettingsChanged(settings=message), "forecast_settings", "settings", 1, ORG_SINCE
    )


def lead_source(source_id: str, name: str, channel: leads_pb2.Channel.ValueType) -> EventEnvelope:
    message = leads_pb2.LeadSource(id=source_id, name=name, channel=channel, version=1)
    return envelope(
        lead_events_pb2.LeadSourceChanged(lead_source=message), "lead_source", source_id, 1, ORG_SINCE
    )


def campaign(campaign_id: str, name: str, source: str, channel: leads_pb2.Channel.ValueType) -> EventEnvelope:
    message = leads_pb2.Campaign(
        id=campaign_id,
        name=name,
        lead_source_id=source,
        channel=channel,
        budget=MoneyMessage(currency_code="EUR", amount_minor=1_000_00),
        version=1,
    )
    return envelope(lead_events_pb2.CampaignChanged(campaign=message), "campaign", campaign_id, 1, ORG_SINCE)


@dataclass(frozen=True)
class Step:
    when: datetime
    status: leads_pb2.LeadStatus.ValueType
    qualified: bool = False
    deal: str = ""
    merged_into: str = ""


def lead_history(
    lead_id: str, owner: str, source: str, campaign_id: str, created: datetime, *steps: Step
) -> list[EventEnvelope]:
    """Every version of a lead: created new, then each step at its time."""
    events = []
    convert_time: datetime | None = None
    for version, step in enumerate([Step(created, NEW), *steps], start=1):
        if step.deal and convert_time is None:
            convert_time = step.when
        message = leads_pb2.Lead(
            id=lead_id,
            company=f"Company {lead_id}",
            status=step.status,
            qualified=step.qualified,
            assigned_user_id=owner,
            lead_source_id=source,
            campaign_id=campaign_id,
            converted_opportunity_id=step.deal,
            merged_into_lead_id=step.merged_into,
            version=version,
            create_time=stamp(created),
            update_time=stamp(step.when),
        )
        if convert_time is not None:
            message.convert_time.CopyFrom(stamp(convert_time))
        events.append(
            envelope(lead_events_pb2.LeadChanged(lead=message), "lead", lead_id, version, step.when)
        )
    return events


def deal(
    deal_id: str, owner: str, created: datetime, won_at: datetime | None = None, *, amount: int = 1_000_00
) -> list[EventEnvelope]:
    """A deal converted from a lead: open when created, won at `won_at` if given."""
    versions = [(created, opportunities_pb2.OPPORTUNITY_STATUS_OPEN)]
    if won_at is not None:
        versions.append((won_at, opportunities_pb2.OPPORTUNITY_STATUS_WON))
    events = []
    for version, (when, status) in enumerate(versions, start=1):
        message = opportunities_pb2.Opportunity(
            id=deal_id,
            name=deal_id,
            owner_user_id=owner,
            amount=MoneyMessage(currency_code="EUR", amount_minor=amount),
            amount_base=MoneyMessage(currency_code="EUR", amount_minor=amount),
            sales_stage="Closed Won" if won_at is not None and when == won_at else "Prospecting",
            status=status,
            version=version,
            create_time=stamp(created),
            update_time=stamp(when),
            expected_close_date=Date(year=2026, month=6, day=30),
        )
        if status == opportunities_pb2.OPPORTUNITY_STATUS_WON:
            message.close_time.CopyFrom(stamp(when))
        changed = opportunity_events_pb2.OpportunityChanged(
            opportunity=message, kind=opportunity_events_pb2.CHANGE_KIND_UPDATED
        )
        events.append(envelope(changed, "opportunity", deal_id, version, when))
    return events


FUNNEL: tuple[EventEnvelope, ...] = (
    settings(),
    user("vp"),
    user("m1", "vp"),
    user("m2", "vp"),
    user("r1", "m1"),
    user("r2", "m1"),
    user("r3", "m2"),
    lead_source("web", "Website", leads_pb2.CHANNEL_WEB),
    lead_source("event", "Events", leads_pb2.CHANNEL_EVENT),
    campaign("spring", "Spring fair", "web", leads_pb2.CHANNEL_EVENT),
    campaign("fall", "Fall mailing", "web", leads_pb2.CHANNEL_UNSPECIFIED),
    *lead_history(
        "L1",
        "r1",
        "web",
        "spring",
        at(3, 1, 10),
        Step(at(3, 3, 10), IN_PROCESS, qualified=True),
        Step(at(3, 8, 10), CONVERTED, qualified=True, deal="D1"),
    ),
    *deal("D1", "r1", at(3, 8, 10), won_at=at(3, 18, 10), amount=1_000_01),
    *lead_history(
        "L2",
        "r1",
        "web",
        "spring",
        at(3, 1, 10),
        Step(at(3, 5, 10), IN_PROCESS, qualified=True),
        Step(at(3, 6, 22), CONVERTED, qualified=True, deal="D2"),
    ),
    *deal("D2", "r1", at(3, 6, 22)),
    *lead_history(
        "L3",
        "r2",
        "web",
        "spring",
        at(3, 2),
        Step(at(3, 3), IN_PROCESS, qualified=True),
        Step(at(3, 10), DEAD, qualified=True),
    ),
    *lead_history("L4", "r3", "web", "fall", at(4, 1), Step(at(4, 4), CONVERTED, deal="D4")),
    *deal("D4", "r3", at(4, 4), won_at=at(4, 10), amount=2_000_00),
    *lead_history("L5", "r3", "event", "", at(4, 2), Step(at(4, 5), RECYCLED)),
    *lead_history("L6", "r2", "web", "spring", at(3, 4), Step(at(3, 9), DEAD, merged_into="L1")),
    *lead_history(
        "L7", "m1", "web", "spring", at(12, 1, year=2025), Step(at(12, 2, year=2025), IN_PROCESS, True)
    ),
)


class ListSubscriber:
    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        return []

    def commit(self, records: object) -> None: ...

    def rewind(self, records: object) -> None: ...

    def close(self) -> None: ...


def record(event: EventEnvelope) -> IncomingRecord:
    return IncomingRecord(
        TOPIC_OF[event.aggregate_type],
        0,
        next(_offsets),
        event.aggregate_id.encode(),
        event.SerializeToString(),
    )


@dataclass
class World:
    sessions: sessionmaker[Session]

    def run(self, document: Any, caller: Identity, *, options: RunOptions | None = None) -> EngineOutput:
        if options is not None:
            document = apply_run_options(document, options)
        with self.sessions() as session:
            return SqlReportEngine(session).run(parse_definition(document), RunContext(caller, NOW))


@pytest.fixture
def world() -> Iterator[World]:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    tables.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    ConsumerRunner(sessions, tables.platform, ListSubscriber(), ReadModelProjector()).process(
        [record(e) for e in FUNNEL]
    )
    yield World(sessions)
    engine.dispose()


def view(output: EngineOutput, *names: str, kinds: Sequence[RowKind] = ()) -> list[tuple[Any, ...]]:
    index = [[c.name for c in output.columns].index(n) for n in names]
    return [
        (row.kind.name, *(row.cells[i] for i in index))
        for row in output.rows
        if not kinds or row.kind in kinds
    ]


def details(*columns: str, **filters: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "source": "lead_funnel",
        "layout": "rows_and_columns",
        "detail_columns": list(columns),
    }
    if filters:
        document["filters"] = {"and": [{"field": f, "op": "eq", "values": [v]} for f, v in filters.items()]}
    return document


STEPS = ("created", "qualified", "converted", "won", "dead", "recycled")
RATES = ("qualified_rate", "conversion_rate", "win_rate", "lead_win_rate")
MEDIANS = ("median_days_to_qualify", "median_days_to_convert", "median_days_to_win")


def d(text: str) -> Decimal:
    return Decimal(text)


# -- the source ---------------------------------------------------------------------------------


def test_each_lead_is_one_row_with_how_far_it_went_and_the_days_of_each_step(world: World) -> None:
    document = details(
        "lead_id",
        "channel",
        "qualified",
        "converted",
        "won",
        "dead",
        "recycled",
        "days_to_qualify",
        "days_to_convert",
        "days_to_win",
    )

    assert view(world.run(document, ADMIN), *document["detail_columns"]) == [
        ("DETAIL", "L1", "event", True, True, True, False, False, d("2.00"), d("5.00"), d("10.00")),
        ("DETAIL", "L2", "event", True, True, False, False, False, d("4.00"), d("1.50"), None),
        ("DETAIL", "L3", "event", True, False, False, True, False, d("1.00"), None, None),
        ("DETAIL", "L4", "web", False, True, True, False, False, None, d("3.00"), d("6.00")),
        ("DETAIL", "L5", "event", False, False, False, False, True, None, None, None),
        ("DETAIL", "L7", "event", True, False, False, False, False, d("1.00"), None, None),
    ]


def test_the_milestone_times_are_those_of_the_events_and_of_the_won_deal(world: World) -> None:
    document = details("lead_id", "create_time", "qualified_time", "convert_time", "won_time", lead_id="L1")

    assert view(world.run(document, ADMIN), *document["detail_columns"]) == [
        ("DETAIL", "L1", at(3, 1, 10), at(3, 3, 10), at(3, 8, 10), at(3, 18, 10))
    ]


def test_the_flags_are_also_numbers_that_sum_to_the_counts(world: World) -> None:
    document = {
        "source": "lead_funnel",
        "measures": [
            {"name": "leads", "aggregate": "count"},
            *({"name": n, "aggregate": "sum", "field": f"{n}_leads"} for n in STEPS[1:]),
            {
                "name": "qualified_count",
                "aggregate": "count",
                "where": {"field": "qualified", "op": "eq", "values": [True]},
            },
        ],
    }

    assert view(world.run(document, ADMIN), "leads", *STEPS[1:], "qualified_count") == [
        ("GROUP", 6, 4, 3, 2, 1, 1, 4)
    ]


def test_a_manager_sees_the_leads_of_their_team_a_rep_their_own_marketing_every_lead(world: World) -> None:
    document = details("lead_id")

    def seen(caller: Identity) -> list[str]:
        return [row.cells[0] for row in world.run(document, caller).rows]  # type: ignore[misc]

    assert seen(M1) == ["L1", "L2", "L3", "L7"]
    assert seen(M2) == ["L4", "L5"]
    assert seen(R1) == ["L1", "L2"]
    assert seen(MARKETING) == seen(ADMIN) == ["L1", "L2", "L3", "L4", "L5", "L7"]


# -- the median ---------------------------------------------------------------------------------


def test_the_median_is_the_middle_value_or_the_mean_of_the_two_middle_ones() -> None:
    assert median_of([]) is None
    assert median_of([7]) == 7
    assert median_of([3, 1, 2]) == 2
    assert median_of([4, 1, 3, 2]) == 2.5
    assert median_of([2**40 + 1, 2**40 + 2]) == 2**40 + 1.5


def test_a_median_of_days_groups_subtotals_and_totals_at_every_level(world: World) -> None:
    document = {
        "source": "lead_funnel",
        "dimensions": [{"field": "lead_source"}, {"field": "campaign"}],
        "measures": [
            {"name": "to_convert", "aggregate": "median", "field": "days_to_convert"},
            {"name": "to_qualify", "aggregate": "median", "field": "days_to_qualify"},
        ],
        "subtotals": True,
    }

    output = world.run(document, ADMIN)

    assert [(c.type, c.scale) for c in output.columns if c.name.startswith("to_")] == [
        (ColumnType.DECIMAL, 2),
        (ColumnType.DECIMAL, 2),
    ]
    assert view(output, "lead_source", "campaign", "to_convert", "to_qualify") == [
        ("GROUP", "Events", "", None, None),
        ("SUBTOTAL", "Events", None, None, None),
        ("GROUP", "Website", "Fall mailing", d("3.00"), None),
        ("GROUP", "Website", "Spring fair", d("3.25"), d("1.50")),
        ("SUBTOTAL", "Website", None, d("3.00"), d("1.50")),
        ("GRAND_TOTAL", "Total", None, d("3.00"), d("1.50")),
    ]


def test_a_median_in_a_matrix_has_its_row_column_and_grand_totals(world: World) -> None:
    document = {
        "source": "lead_funnel",
        "layout": "matrix",
        "dimensions": [{"field": "assigned_user"}, {"field": "create_time", "grain": "month"}],
        "column_dimensions": 1,
        "measures": [{"name": "to_qualify", "aggregate": "median", "field": "days_to_qualify"}],
        "filters": {"and": [{"field": "create_time", "op": "within", "values": ["this_fiscal_year"]}]},
    }

    output = world.run(document, ADMIN)

    assert [c.title for c in output.columns][2:] == ["2026-03", "2026-04", "Total - To qualify"]
    assert [row.cells[:1] + row.cells[2:] for row in output.rows] == [
        ("R1", d("3.00"), None, d("3.00")),
        ("R2", d("1.00"), None, d("1.00")),
        ("R3", None, None, None),
        ("Total", d("2.00"), None, d("2.00")),
    ]


def test_a_median_of_money_is_an_amount_rounded_half_even_once(world: World) -> None:
    def middle(*deals: str) -> Any:
        document = {
            "source": "opportunities",
            "measures": [{"name": "middle", "aggregate": "median", "field": "amount_base"}],
            "filters": {"and": [{"field": "opportunity_id", "op": "in", "values": list(deals)}]},
        }
        output = world.run(document, ADMIN)
        assert output.columns[0].type is ColumnType.MONEY
        return output.rows[0].cells[0]

    # 1,000.00 and 1,000.01: 1,000.005 rounds to the even cent.
    assert middle("D1", "D2") == Money("EUR", 1_000_00)
    assert middle("D1", "D2", "D4") == Money("EUR", 1_000_01)


@pytest.mark.parametrize(
    ("measure", "path"),
    [
        ({"name": "m", "aggregate": "median", "field": "channel"}, "measures[0].field"),
        ({"name": "m", "aggregate": "median", "field": "create_time"}, "measures[0].field"),
        ({"name": "m", "aggregate": "median", "field": "won"}, "measures[0].field"),
        ({"name": "m", "aggregate": "median"}, "measures[0].field"),
        (
            {"name": "m", "aggregate": "median", "field": "days_to_win", "cumulative": True},
            "measures[0].cumulative",
        ),
    ],
)
def test_a_median_is_taken_only_of_numbers_amounts_and_durations_and_never_cumulated(
    measure: dict[str, Any], path: str
) -> None:
    document = {"source": "lead_funnel", "dimensions": [{"field": "status"}], "measures": [measure]}

    with pytest.raises(InvalidArgument) as raised:
        parse_definition(document)

    # The measure is refused, so the report also has none left.
    assert [v.field for v in raised.value.violations] == [path, "measures"]


# -- the built-in -------------------------------------------------------------------------------


def test_the_builtin_lead_funnel_counts_rates_and_median_days_per_source_and_campaign(world: World) -> None:
    output = world.run(builtin("lead_funnel").document, MARKETING)  # type: ignore[union-attr]

    assert view(output, "lead_source", "campaign", *STEPS) == [
        ("GROUP", "Events", "", 1, 0, 0, 0, 0, 1),
        ("SUBTOTAL", "Events", None, 1, 0, 0, 0, 0, 1),
        ("GROUP", "Website", "Fall mailing", 1, 0, 1, 1, 0, 0),
        ("GROUP", "Website", "Spring fair", 3, 3, 2, 1, 1, 0),
        ("SUBTOTAL", "Website", None, 4, 3, 3, 2, 1, 0),
        ("GRAND_TOTAL", "Total", None, 5, 3, 3, 2, 1, 1),
    ]
    assert view(output, *RATES) == [
        ("GROUP", d("0.0000"), None, None, d("0.0000")),
        ("SUBTOTAL", d("0.0000"), None, None, d("0.0000")),
        ("GROUP", d("0.0000"), None, d("1.0000"), d("1.0000")),
        ("GROUP", d("1.0000"), d("0.6667"), d("0.5000"), d("0.3333")),
        ("SUBTOTAL", d("0.7500"), d("1.0000"), d("0.6667"), d("0.5000")),
        ("GRAND_TOTAL", d("0.6000"), d("1.0000"), d("0.6667"), d("0.4000")),
    ]
    assert view(output, *MEDIANS) == [
        ("GROUP", None, None, None),
        ("SUBTOTAL", None, None, None),
        ("GROUP", None, d("3.00"), d("6.00")),
        ("GROUP", d("2.00"), d("3.25"), d("10.00")),
        ("SUBTOTAL", d("2.00"), d("3.00"), d("8.00")),
        ("GRAND_TOTAL", d("2.00"), d("3.00"), d("8.00")),
    ]


def test_the_builtin_funnel_chart_has_a_bar_per_stage(world: World) -> None:
    chart = world.run(builtin("lead_funnel").document, ADMIN).chart  # type: ignore[union-attr]

    assert chart is not None
    assert chart.kind is ChartKind.FUNNEL
    assert chart.categories == ("Created", "Qualified", "Converted", "Won")
    assert [s.values for s in chart.series] == [(5, 3, 3, 2)]


def test_the_builtin_lead_funnel_keeps_each_callers_scope(world: World) -> None:
    report = builtin("lead_funnel").document  # type: ignore[union-attr]

    assert view(world.run(report, M1), "campaign", *STEPS, *MEDIANS, kinds=[RowKind.GRAND_TOTAL]) == [
        ("GRAND_TOTAL", None, 3, 3, 2, 1, 1, 0, d("2.00"), d("3.25"), d("10.00"))
    ]
    assert view(world.run(report, M2), *STEPS, kinds=[RowKind.GRAND_TOTAL]) == [
        ("GRAND_TOTAL", 2, 0, 1, 1, 0, 1)
    ]
    assert view(world.run(report, R1), *STEPS, *MEDIANS, kinds=[RowKind.GRAND_TOTAL]) == [
        ("GRAND_TOTAL", 2, 2, 2, 1, 0, 0, d("3.00"), d("3.25"), d("10.00"))
    ]


def test_the_builtin_lead_funnel_reads_another_creation_period_when_a_run_asks(world: World) -> None:
    report = builtin("lead_funnel").document  # type: ignore[union-attr]

    output = world.run(report, ADMIN, options=RunOptions(filter_values={"created": ["last_fiscal_year"]}))

    assert view(output, "campaign", "created", "qualified", kinds=[RowKind.GROUP]) == [
        ("GROUP", "Spring fair", 1, 1)
    ]


def test_the_builtin_lead_funnel_by_month_groups_by_the_month_created(world: World) -> None:
    output = world.run(builtin("lead_funnel_by_month").document, ADMIN)  # type: ignore[union-attr]

    assert view(output, "create_time", "created", "converted", "median_days_to_convert") == [
        ("GROUP", "2026-03", 3, 2, d("3.25")),
        ("GROUP", "2026-04", 2, 1, d("3.00")),
        ("GRAND_TOTAL", "Total", 5, 3, d("3.00")),
    ]


def test_a_reps_lead_whose_deal_went_to_another_team_no_longer_tells_them_it_was_won(world: World) -> None:
    """The funnel's won flag is read from the converted deal, so it follows that deal's scope: r1
    still sees their lead L1 converted, but once D1 belongs to r3 (another team) not whether it was
    won. An admin sees it won as before."""
    handed_over = deal("D1", "r3", at(3, 8, 10), won_at=at(3, 18, 10), amount=1_000_01)[-1]
    handed_over.aggregate_version = 3
    changed = opportunity_events_pb2.OpportunityChanged()
    handed_over.payload.Unpack(changed)
    changed.opportunity.version = 3
    handed_over.payload.Pack(changed)
    ConsumerRunner(world.sessions, tables.platform, ListSubscriber(), ReadModelProjector()).process(
        [record(handed_over)]
    )
    document = details("lead_id", "converted", "won", lead_id="L1")

    assert view(world.run(document, R1), "lead_id", "converted", "won") == [("DETAIL", "L1", True, False)]
    assert view(world.run(document, ADMIN), "lead_id", "converted", "won") == [("DETAIL", "L1", True, True)]
