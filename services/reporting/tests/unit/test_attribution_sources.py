"""The attribution and campaign-performance sources through the report engine on SQLite, over the
marketing world of tests/conftest.py (its docstring gives every number used here)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from salesplane_platform.db import make_session_factory
from salesplane_platform.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.money import Money
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.attribution_source import summed_by
from salesplane_reporting.adapters.report_engine import EngineOutput, RunContext, SqlReportEngine
from salesplane_reporting.domain.attribution import Model
from salesplane_reporting.domain.builtin_reports import builtin
from salesplane_reporting.domain.definition import parse_definition
from salesplane_reporting.domain.report import RowKind
from salesplane_reporting.domain.run_options import RunOptions, apply_run_options

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ADMIN = Identity("admin", frozenset({"admin"}))
MARKETING = Identity("mk", frozenset({"marketing"}))
M1 = Identity("m1", frozenset({"manager", "rep"}))
R1 = Identity("r1", frozenset({"rep"}))
R3 = Identity("r3", frozenset({"rep"}))


def eur(minor: int) -> Money:
    return Money("EUR", minor)


class Reports:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def run(
        self, document: dict[str, Any], caller: Identity, options: RunOptions | None = None
    ) -> EngineOutput:
        if options is not None:
            document = apply_run_options(document, options)
        with self.sessions() as session:
            return SqlReportEngine(session).run(parse_definition(document), RunContext(caller, NOW))

    def rows(self, document: dict[str, Any], caller: Identity, *names: str) -> list[tuple[Any, ...]]:
        output = self.run(document, caller)
        index = [[c.name for c in output.columns].index(n) for n in names]
        return [tuple(r.cells[i] for i in index) for r in output.rows if r.kind is RowKind.DETAIL]


@pytest.fixture
def reports(marketing_world_loader: Callable[[Engine], None]) -> Iterator[Reports]:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    marketing_world_loader(engine)
    yield Reports(make_session_factory(engine))
    engine.dispose()


def credits_of(model: str, **parameters: Any) -> dict[str, Any]:
    return {
        "source": "attribution",
        "layout": "rows_and_columns",
        "detail_columns": ["opportunity_id", "campaign", "credit", "won_credit", "deal_share", "touches"],
        "filters": {"field": "opportunity_id", "op": "eq", "values": ["d1"]},
        "sort": [{"by": "campaign"}],
        "parameters": {"model": model, **parameters},
    }


# d1: touches A (day 0), B (day 5), A (day 9, of lead L2 merged into d1's lead), created day 10,
# 100.00, naming campaign B. Shares by hand as in test_attribution.py; shares in millionths.
@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("first_touch", [("A", 10_000, "1.000000", 2)]),
        ("last_touch", [("A", 10_000, "1.000000", 2)]),
        ("linear", [("A", 6_667, "0.666667", 2), ("B", 3_333, "0.333333", 1)]),
        ("u_shaped", [("A", 8_000, "0.800000", 2), ("B", 2_000, "0.200000", 1)]),
        # The creation point (B, the deal's campaign) is the third anchor: 30 + 30 % to A, 10 + 30 %
        # to B.
        ("w_shaped", [("A", 6_000, "0.600000", 2), ("B", 4_000, "0.400000", 1)]),
        # Weights 2^(-10/7), 2^(-5/7), 2^(-1/7): A 67.6951 %, B 32.3049 %.
        ("time_decay", [("A", 6_770, "0.676951", 2), ("B", 3_230, "0.323049", 1)]),
    ],
)
def test_each_model_credits_the_worked_example_through_the_source(
    reports: Reports, model: str, expected: list[tuple[str, int, str, int]]
) -> None:
    rows = reports.rows(
        credits_of(model), ADMIN, "campaign_id", "credit", "won_credit", "deal_share", "touches"
    )

    assert rows == [(c, eur(m), eur(m), Decimal(s), n) for c, m, s, n in expected]


def test_a_short_lookback_drops_the_older_touches(reports: Reports) -> None:
    rows = reports.rows(credits_of("linear", lookback_days=7), ADMIN, "campaign_id", "credit", "touches")

    # Only B (day 5) and A (day 9) are within 7 days of the deal's creation on day 10.
    assert rows == [("A", eur(5_000), 1), ("B", eur(5_000), 1)]


def test_a_run_may_choose_the_model_and_a_half_life(reports: Reports) -> None:
    document = apply_run_options(
        credits_of("linear"), RunOptions(parameters={"model": "time_decay", "half_life_days": "36500"})
    )

    # A half-life of a century is nearly linear.
    assert reports.rows(document, ADMIN, "campaign_id", "credit") == [("A", eur(6_667)), ("B", eur(3_333))]


def by_campaign(model: str = "linear") -> dict[str, Any]:
    return {
        "source": "attribution",
        "dimensions": [{"field": "campaign"}],
        "measures": [
            {"name": "credit", "aggregate": "sum", "field": "credit"},
            {"name": "won", "aggregate": "sum", "field": "won_credit"},
            {"name": "deals", "aggregate": "sum", "field": "deal_share"},
        ],
        "parameters": {"model": model},
    }


def groups(output: EngineOutput, *names: str) -> list[tuple[Any, ...]]:
    index = [[c.name for c in output.columns].index(n) for n in names]
    return [(r.kind.name, *(r.cells[i] for i in index)) for r in output.rows]


def test_marketing_and_admins_see_the_attribution_of_every_deal(reports: Reports) -> None:
    for caller in (MARKETING, ADMIN):
        assert groups(reports.run(by_campaign(), caller), "campaign_id", "credit", "won", "deals") == [
            ("GROUP", "A", eur(26_667), eur(26_667), Decimal("1.666667")),
            ("GROUP", "B", eur(43_333), eur(43_333), Decimal("1.333333")),
            ("GROUP", "unattributed", eur(5_000), eur(0), Decimal("1.000000")),
            ("GRAND_TOTAL", None, eur(75_000), eur(70_000), Decimal("4.000000")),
        ]


def test_a_manager_sees_the_attribution_of_their_teams_deals_and_a_rep_their_own(reports: Reports) -> None:
    # m1's team: d1 and d2 (r1) and d3 (m1); r1: d1 and d2; r3: d4.
    assert groups(reports.run(by_campaign(), M1), "campaign_id", "deals") == [
        ("GROUP", "A", Decimal("1.666667")),
        ("GROUP", "B", Decimal("0.333333")),
        ("GROUP", "unattributed", Decimal("1.000000")),
        ("GRAND_TOTAL", None, Decimal("3.000000")),
    ]
    assert groups(reports.run(by_campaign(), R1), "campaign_id", "credit") == [
        ("GROUP", "A", eur(26_667)),
        ("GROUP", "B", eur(3_333)),
        ("GRAND_TOTAL", None, eur(30_000)),
    ]
    assert groups(reports.run(by_campaign(), R3), "campaign_id", "credit") == [
        ("GROUP", "B", eur(40_000)),
        ("GRAND_TOTAL", None, eur(40_000)),
    ]


def test_a_deal_without_a_counted_touch_or_a_campaign_of_its_own_is_unattributed(reports: Reports) -> None:
    document = {
        **credits_of("linear", lookback_days=2),
        "filters": {"field": "opportunity_id", "op": "eq", "values": ["d4"]},
    }

    # d4's only touch came three days before it was created.
    assert reports.rows(document, ADMIN, "campaign_id", "credit", "touches") == [
        ("unattributed", eur(40_000), 0)
    ]


@pytest.mark.parametrize("model", [m.value for m in Model])
def test_credits_summed_before_they_are_written_give_the_report_of_every_row(
    reports: Reports, model: str
) -> None:
    # By campaign and status, filtered on the owner: summed by those before the table is written.
    document = {
        **by_campaign(model),
        "dimensions": [{"field": "campaign"}, {"field": "status"}],
        "filters": {"field": "owner", "op": "in", "values": ["r1", "m1", "r3"]},
    }
    assert summed_by(parse_definition(document)) == ["owner", "status"]
    every_row = reports.run(
        {
            "source": "attribution",
            "layout": "rows_and_columns",
            "detail_columns": ["campaign", "status", "credit", "won_credit", "deal_share"],
            "filters": document["filters"],
            "parameters": document["parameters"],
        },
        ADMIN,
    )
    expected: dict[tuple[Any, ...], list[Any]] = {}
    for row in every_row.rows:
        _, campaign, status, credit, won, share = row.cells
        total = expected.setdefault((campaign, status), [0, 0, Decimal(0)])
        total[0] += credit.amount_minor
        total[1] += won.amount_minor
        total[2] += share
    found = groups(reports.run(document, ADMIN), "campaign_id", "status", "credit", "won", "deals")
    assert {
        (campaign, status): [credit.amount_minor, won.amount_minor, deals]
        for kind, campaign, status, credit, won, deals in found
        if kind == "GROUP"
    } == expected


def test_a_definition_reading_single_rows_is_not_summed_first() -> None:
    counted = {**by_campaign(), "measures": [{"name": "rows", "aggregate": "count"}]}
    largest = {**by_campaign(), "measures": [{"name": "top", "aggregate": "max", "field": "credit"}]}
    on_credit = {**by_campaign(), "filters": {"field": "credit", "op": "gt", "values": [0]}}
    for document in (credits_of("linear"), counted, largest, on_credit):
        assert summed_by(parse_definition(document)) is None
    assert summed_by(parse_definition(by_campaign())) == []


def test_the_builtin_attribution_report_charts_credit_beside_won_credit(reports: Reports) -> None:
    report = builtin("attribution_by_campaign")
    assert report is not None
    output = reports.run(dict(report.document), MARKETING)

    assert output.chart is not None
    assert [s.name for s in output.chart.series] == ["Credit", "Won credit"]
    assert output.chart.series[0].values == (43_333, 26_667, 5_000)
    assert output.chart.series[1].values == (43_333, 26_667, 0)


# -- campaign performance ------------------------------------------------------------------------

PERFORMANCE_FIELDS = (
    "campaign",
    "cost",
    "leads",
    "qualified_leads",
    "cost_per_lead",
    "opportunities",
    "pipeline_generated",
    "won_deals",
    "won_revenue",
    "cac",
    "roi",
    "roas",
    "budget",
    "cost_to_date",
    "budget_used",
)


def performance(basis: str = "period", **parameters: Any) -> dict[str, Any]:
    return {
        "source": "campaign_performance",
        "layout": "rows_and_columns",
        "detail_columns": list(PERFORMANCE_FIELDS),
        "sort": [{"by": "campaign"}],
        "parameters": {"from": "2026-11-01", "to": "2026-11-20", "basis": basis, **parameters},
    }


def test_campaign_performance_over_a_period_as_computed_by_hand(reports: Reports) -> None:
    rows = reports.rows(performance(), MARKETING, "campaign_id", *PERFORMANCE_FIELDS[1:])

    assert rows == [
        # A: cost 300.00 once although it shares in two won deals (d1: 66.67, d2: 200.00); the
        # 100.00 of September counts only to date. Leads L1 and L3 (L2 was merged into L1).
        # CAC 300.00 / 1.666667 = 179.999996; ROI (266.67 - 300) / 300; ROAS 266.67 / 300.
        (
            "A",
            eur(30_000),
            2,
            1,
            eur(15_000),
            Decimal("1.666667"),
            eur(26_667),
            Decimal("1.666667"),
            eur(26_667),
            eur(18_000),
            Decimal("-0.1111"),
            Decimal("0.8889"),
            eur(100_000),
            eur(40_000),
            Decimal("0.4000"),
        ),
        # B: 100.00 USD at 0.9 on 11-05 and 50.01 USD at 0.8 on 11-12 = 90.00 + 40.01 EUR. Won:
        # its third of d1 and all of d4 (created in October, won in the window), pipeline only
        # d1's third. Budget 500.00 USD at 0.8 on the window's last day = 400.00 EUR.
        (
            "B",
            eur(13_001),
            0,
            0,
            None,
            Decimal("0.333333"),
            eur(3_333),
            Decimal("1.333333"),
            eur(43_333),
            eur(9_751),
            Decimal("2.3331"),
            Decimal("3.3331"),
            eur(40_000),
            eur(13_001),
            Decimal("0.3250"),
        ),
        # Lead L4 has no campaign; d3 names none and no touch.
        (
            "unattributed",
            eur(0),
            1,
            0,
            eur(0),
            Decimal("1.000000"),
            eur(5_000),
            Decimal("0.000000"),
            eur(0),
            None,
            None,
            None,
            eur(0),
            eur(0),
            None,
        ),
    ]


def test_a_cohort_follows_the_windows_leads_to_their_deals(reports: Reports) -> None:
    rows = reports.rows(
        performance("cohort"), MARKETING, "campaign_id", "cost", "won_deals", "won_revenue", "roi"
    )

    # d4's lead L5 was created in October: out of the cohort. d3 has no lead.
    assert rows == [
        ("A", eur(30_000), Decimal("1.666667"), eur(26_667), Decimal("-0.1111")),
        ("B", eur(13_001), Decimal("0.333333"), eur(3_333), Decimal("-0.7436")),
        ("unattributed", eur(0), Decimal("0.000000"), eur(0), None),
    ]


def test_the_builtin_campaign_roi_groups_campaigns_by_channel_and_charts_cost_beside_revenue(
    reports: Reports,
) -> None:
    report = builtin("campaign_roi")
    assert report is not None
    document = {**report.document, "parameters": {"from": "2026-11-01", "to": "2026-11-20"}}
    output = reports.run(document, ADMIN)

    assert groups(output, "channel", "campaign_id", "cost", "won_revenue", "roi", "cac") == [
        ("GROUP", "email", "A", eur(30_000), eur(26_667), Decimal("-0.1111"), eur(18_000)),
        ("SUBTOTAL", "email", None, eur(30_000), eur(26_667), Decimal("-0.1111"), eur(18_000)),
        ("GROUP", "paid_search", "B", eur(13_001), eur(43_333), Decimal("2.3331"), eur(9_751)),
        ("SUBTOTAL", "paid_search", None, eur(13_001), eur(43_333), Decimal("2.3331"), eur(9_751)),
        ("GROUP", "unattributed", "unattributed", eur(0), eur(0), None, None),
        ("SUBTOTAL", "unattributed", None, eur(0), eur(0), None, None),
        ("GRAND_TOTAL", "Total", None, eur(43_001), eur(70_000), Decimal("0.6279"), eur(14_334)),
    ]
    assert output.chart is not None
    assert [s.values for s in output.chart.series] == [(30_000, 13_001, 0), (26_667, 43_333, 0)]


def test_channel_roi_adds_the_campaigns_of_a_channel_before_dividing(reports: Reports) -> None:
    report = builtin("channel_roi")
    assert report is not None
    document = {**report.document, "parameters": {"from": "2026-11-01", "to": "2026-11-20"}}
    rows = groups(reports.run(document, MARKETING), "channel", "cost", "leads")

    assert rows[:3] == [
        ("GROUP", "email", eur(30_000), 2),
        ("GROUP", "paid_search", eur(13_001), 0),
        ("GROUP", "unattributed", eur(0), 1),
    ]


def test_campaign_performance_is_for_marketing_and_admins_only(reports: Reports) -> None:
    for caller in (M1, R1):
        with pytest.raises(PermissionDenied):
            reports.run(performance(), caller)


def test_a_cost_in_a_currency_without_a_rate_on_its_day_is_a_failed_precondition(reports: Reports) -> None:
    with reports.sessions() as session, session.begin():
        session.execute(
            tables.campaign_costs.insert().values(
                campaign_id="A",
                cost_id="gbp",
                incurred_on=date(2026, 11, 3),
                amount_minor=100,
                currency="GBP",
            )
        )
    with pytest.raises(FailedPrecondition, match=r"GBP .* on 2026-11-03"):
        reports.run(performance(), MARKETING)


@pytest.mark.parametrize(
    ("source", "parameters", "path"),
    [
        ("attribution", {"model": "data_driven"}, "parameters.model"),
        ("attribution", {"half_life_days": 0}, "parameters.half_life_days"),
        ("attribution", {"half_life_days": "-2"}, "parameters.half_life_days"),
        ("attribution", {"lookback_days": 0}, "parameters.lookback_days"),
        ("attribution", {"lookback_days": 2.5}, "parameters.lookback_days"),
        ("attribution", {"lookback_days": True}, "parameters.lookback_days"),
        (
            "campaign_performance",
            {"from": "2026-11-01", "to": "2026-11-20", "basis": "x"},
            "parameters.basis",
        ),
        ("campaign_performance", {"to": "2026-11-20"}, "parameters.from"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter(
    source: str, parameters: dict[str, Any], path: str
) -> None:
    document = {
        "source": source,
        "dimensions": [{"field": "campaign"}],
        "measures": [{"name": "n", "aggregate": "count"}],
    }
    with pytest.raises(InvalidArgument) as raised:
        parse_definition({**document, "parameters": parameters})

    assert path in [v.field for v in raised.value.violations]


def test_a_bad_run_time_parameter_is_refused_like_a_bad_definition() -> None:
    document = apply_run_options(credits_of("linear"), RunOptions(parameters={"lookback_days": "soon"}))
    with pytest.raises(InvalidArgument) as raised:
        parse_definition(document)

    assert [v.field for v in raised.value.violations] == ["parameters.lookback_days"]
