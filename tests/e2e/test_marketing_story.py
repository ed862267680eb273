"""The marketing issue's acceptance story, on real Kafka and PostgreSQL with the services as
processes.

Marketing runs three campaigns: a webinar and search ads paid in dollars, a trade-show stand paid
in euros, whose rate to the dollar changes in the middle of its costs. Leads come in through a
CSV import (through the gateway) whose rows carry their touches, one more through the API with a
touch on create, and a touch recorded later. Reps qualify, convert, win and lose; one lead dies,
one is recycled. From what the services answered alone, `marketing_oracle` computes what the
campaign performance (cost, leads, CAC, ROI, ROAS) must be under every attribution model and what
the funnel must count; reporting, fed only by the topics, must agree, in marketing's scope and in
a manager's."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from salesplane.common.v1.common_pb2 import Money
from salesplane.forecasting.v1 import org_pb2, org_pb2_grpc
from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane.opportunities.v1 import opportunities_pb2 as opp
from salesplane.opportunities.v1 import opportunities_pb2_grpc
from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from salesplane_platform.identity import issue_token
from tests.e2e import marketing_oracle as oracle
from tests.e2e.conftest import SECRET, bearer
from tests.e2e.story_helpers import await_organisation, eventually, instant, proto_date

pytestmark = pytest.mark.e2e

ORG = {"vp": "", "m1": "vp", "m2": "vp", "r1": "m1", "r2": "m1", "r3": "m2"}
MANAGERS = {"vp", "m1", "m2"}
MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay")
MARKETING = bearer("mkt-1", ("marketing",))


def caller(user: str) -> list[tuple[str, str]]:
    return bearer(user, ("manager",) if user in MANAGERS else ("rep",))


def money(amount_minor: int, currency: str = "USD") -> Money:
    return Money(currency_code=currency, amount_minor=amount_minor)


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def post_csv(base: str, body: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/v1/leads:import?file_name=touches.csv",
        method="POST",
        data=body.encode(),
        headers={
            "Authorization": f"Bearer {issue_token(SECRET, 'mkt-1', ['marketing'])}",
            "Content-Type": "text/csv",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        raise AssertionError(f"import failed with {error.code}: {error.read()!r}") from None


def cell_value(cell: reporting_pb2.Cell) -> object:
    which = cell.WhichOneof("value")
    if which is None:
        return None
    value = getattr(cell, which)
    if which == "money_value":
        return value.amount_minor
    if which == "decimal_value":
        return Decimal(value)
    return value


def records(result: reporting_pb2.ReportResult) -> list[dict[str, object]]:
    """The group rows of a summary, as {column name: value}."""
    names = [c.name for c in result.columns]
    return [
        {name: cell_value(cell) for name, cell in zip(names, row.cells, strict=True)}
        for row in result.rows
        if row.kind == reporting_pb2.ROW_KIND_GROUP
    ]


def scale_of(result: reporting_pb2.ReportResult, name: str) -> int:
    return next(c.scale for c in result.columns if c.name == name)


def shown(value: Fraction | int | None, scale: int) -> Decimal | None:
    """A figure as the report shows it: rounded half-even once, at the column's scale."""
    if value is None:
        return None
    exact = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else Decimal(value)
    )
    return exact.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_EVEN)


class Reports:
    def __init__(self, target: str) -> None:
        self.api = reporting_pb2_grpc.ReportingServiceStub(grpc.insecure_channel(target))

    def run(
        self,
        metadata: list[tuple[str, str]],
        definition: Mapping[str, Any],
        parameters: Mapping[str, str],
    ) -> reporting_pb2.ReportResult:
        request = reporting_pb2.RunReportRequest(parameters=dict(parameters))
        request.definition.update(dict(definition))
        return self.api.RunReport(request, metadata=metadata)


PERFORMANCE_MEASURES = (
    "cost",
    "leads",
    "qualified_leads",
    "opportunities",
    "pipeline_generated",
    "won_deals",
    "won_revenue",
)
RATIOS = ("cost_per_lead", "cac", "roi", "roas")


def performance_definition() -> dict[str, Any]:
    measures = [{"name": m, "aggregate": "sum", "field": m} for m in PERFORMANCE_MEASURES + RATIOS]
    return {"source": "campaign_performance", "dimensions": [{"field": "campaign"}], "measures": measures}


def test_campaign_roi_attribution_and_funnel_agree_with_an_oracle(services, gateway) -> None:
    forecasting = services("forecasting")
    opportunities = services("opportunities")
    leads = services("leads", {"SALESPLANE_OPPORTUNITIES_TARGET": opportunities.target})
    reporting = services("reporting")
    base = gateway({"SALESPLANE_LEADS_TARGET": leads.target})
    admin = bearer()
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.date()

    org_api = org_pb2_grpc.OrgServiceStub(grpc.insecure_channel(forecasting.target))
    for user, manager in ORG.items():
        org_api.UpsertUser(
            org_pb2.UpsertUserRequest(
                user=org_pb2.User(
                    user_id=user,
                    display_name=user.upper(),
                    roles=["manager"] if user in MANAGERS else ["rep"],
                    manager_user_id=manager,
                    active=True,
                )
            ),
            metadata=admin,
        )
    # The users reach the other services by event: wait for them before giving them deals.
    for service in (leads, opportunities):
        await_organisation(service.env["SALESPLANE_DATABASE_URL"], ORG)
    lead_api = leads_pb2_grpc.LeadServiceStub(grpc.insecure_channel(leads.target))
    opportunity_api = opportunities_pb2_grpc.OpportunityServiceStub(
        grpc.insecure_channel(opportunities.target)
    )
    reports = Reports(reporting.target)
    market = oracle.Marketing(base_currency="USD")

    # ---- Rates, sources, campaigns and their dated costs ----------------------------------------
    rate_change = today - timedelta(days=40)
    for effective, rate in [(date(2020, 1, 1), "1.10"), (rate_change, "1.2037")]:
        opportunity_api.SetExchangeRate(
            opp.SetExchangeRateRequest(currency_code="EUR", rate=rate, effective_from=proto_date(effective)),
            metadata=admin,
        )
        market.rates.setdefault("EUR", []).append((effective, Decimal(rate)))
    sources = {
        name: lead_api.CreateLeadSource(
            leads_pb2.CreateLeadSourceRequest(name=name, channel=channel), metadata=MARKETING
        ).id
        for name, channel in [
            ("Webinars", leads_pb2.CHANNEL_WEB),
            ("Trade shows", leads_pb2.CHANNEL_EVENT),
            ("Paid search", leads_pb2.CHANNEL_PAID_SEARCH),
        ]
    }
    plans = {
        "webinar": ("Spring webinar", "Webinars", "USD", 20_000_00),
        "expo": ("Berlin expo", "Trade shows", "EUR", 30_000_00),
        "ads": ("Search ads", "Paid search", "USD", 5_000_00),
    }
    campaigns: dict[str, str] = {}
    for key, (name, source, currency, budget) in plans.items():
        campaigns[key] = lead_api.CreateCampaign(
            leads_pb2.CreateCampaignRequest(
                name=name,
                lead_source_id=sources[source],
                budget=money(budget, currency),
                expected_revenue=money(budget * 5, currency),
                start_date=proto_date(today - timedelta(days=150)),
                end_date=proto_date(today + timedelta(days=30)),
            ),
            metadata=MARKETING,
        ).id
    costs = [
        ("webinar", 60, 3_000_00, "USD"),
        ("webinar", 10, 2_500_00, "USD"),
        ("expo", 50, 7_000_00, "EUR"),  # at 1.10
        ("expo", 20, 4_333_33, "EUR"),  # at 1.2037
        ("ads", 30, 1_200_00, "USD"),
        ("ads", 400, 999_00, "USD"),  # long before the window: never counted
    ]
    for index, (key, days_ago, amount, currency) in enumerate(costs):
        incurred = today - timedelta(days=days_ago)
        request = leads_pb2.RecordCampaignCostRequest(
            campaign_id=campaigns[key],
            incurred_on=proto_date(incurred),
            amount=money(amount, currency),
            request_id=f"cost-{index}",
        )
        lead_api.RecordCampaignCost(request, metadata=MARKETING)
        lead_api.RecordCampaignCost(request, metadata=MARKETING)  # a retry adds nothing
        market.costs.append(oracle.Cost(campaigns[key], incurred, amount, currency))

    # ---- Leads with their touches, imported through the gateway -----------------------------------
    def touched(days_ago: float) -> datetime:
        return now - timedelta(days=days_ago)

    names = {key: plan[0] for key, plan in plans.items()}
    # key: (rep, its campaign, touches as (campaign, kind, days ago))
    people: dict[str, tuple[str, str, list[tuple[str, str, float]]]] = {
        "ann": (
            "r1",
            "webinar",
            [("webinar", "form", 50), ("expo", "event", 20), ("webinar", "email_click", 5)],
        ),
        "bob": ("r1", "expo", [("expo", "event", 30)]),
        "cat": ("r2", "ads", [("ads", "ad", 10), ("webinar", "form", 8)]),
        "dan": ("r2", "webinar", [("webinar", "form", 120), ("expo", "event", 15)]),  # one beyond lookback
        "eve": ("r3", "ads", [("ads", "ad", 3), ("ads", "ad", 2.5), ("expo", "email_click", 1)]),
        "fay": ("r3", "webinar", [("webinar", "form", 12)]),
        "gus": ("r1", "expo", [("expo", "event", 2)]),
        "hal": ("r2", "webinar", [("webinar", "form", 6)]),
        "ivy": ("r3", "ads", []),  # no touch: its deal is credited to the campaign it names
        "jon": ("r1", "webinar", []),
    }
    header = "first_name,last_name,company,email,lead_source,campaign,assigned_user_id,touches"
    lines = [header]
    for key, (rep, campaign, touches) in people.items():
        entries = "; ".join(f"{names[c]}|{kind}|{touched(d).isoformat()}" for c, kind, d in touches)
        source = plans[campaign][1]
        lines.append(
            f"{key.title()},Lead,{key.title()} GmbH,{key}@example.com,"
            f"{source},{names[campaign]},{rep},{entries}"
        )
    text = "\n".join(lines) + "\n"
    imported = post_csv(base, text)
    assert imported["imported"] == len(people), imported
    lead_ids = {key: row["lead_id"] for key, row in zip(people, imported["rows"], strict=True)}
    again = post_csv(base, text)
    assert again["imported"] == 0 and again["already_imported"] == len(people), again
    for key, lead_id in lead_ids.items():
        rep, campaign, touches = people[key]
        market.leads[lead_id] = oracle.LeadStory(
            lead_id,
            campaigns[campaign],
            sources[plans[campaign][1]],
            rep,
            instant(lead_api.GetLead(leads_pb2.GetLeadRequest(lead_id=lead_id), metadata=admin).create_time),
        )
    for key, (_, _, touches) in people.items():
        listed = lead_api.ListLeadTouches(
            leads_pb2.ListLeadTouchesRequest(lead_id=lead_ids[key]), metadata=MARKETING
        )
        assert [
            (t.campaign_id, round((now - instant(t.touch_time)) / timedelta(days=1), 3))
            for t in listed.touches
        ] == [(campaigns[c], d) for c, _, d in sorted(touches, key=lambda t: -t[2])], key
        for touch in listed.touches:
            market.touches.append(oracle.Touch(lead_ids[key], touch.campaign_id, instant(touch.touch_time)))

    # One lead through the API with a touch on create, and a touch recorded later on another.
    created = lead_api.CreateLead(
        leads_pb2.CreateLeadRequest(
            lead=leads_pb2.LeadFields(
                first_name="Kim",
                last_name="Lead",
                company="Kim AG",
                email="kim@example.com",
                lead_source_id=sources["Trade shows"],
                campaign_id=campaigns["expo"],
            ),
            assigned_user_id="r3",
            touches=[
                leads_pb2.TouchInput(
                    campaign_id=campaigns["expo"],
                    kind=leads_pb2.TOUCH_KIND_EVENT,
                    touch_time=_timestamp(touched(4)),
                    touch_key="expo-badge-scan",
                )
            ],
            request_id="kim",
        ),
        metadata=MARKETING,
    ).lead
    lead_ids["kim"] = created.id
    market.leads[created.id] = oracle.LeadStory(
        created.id, campaigns["expo"], sources["Trade shows"], "r3", instant(created.create_time)
    )
    market.touches.append(oracle.Touch(created.id, campaigns["expo"], touched(4)))
    later = leads_pb2.RecordLeadTouchRequest(
        lead_id=lead_ids["cat"],
        touch=leads_pb2.TouchInput(
            campaign_id=campaigns["expo"],
            kind=leads_pb2.TOUCH_KIND_CALL,
            touch_time=_timestamp(touched(1)),
            touch_key="call-1",
        ),
    )
    first = lead_api.RecordLeadTouch(later, metadata=caller("r2"))
    retried = lead_api.RecordLeadTouch(later, metadata=caller("r2"))
    assert first.created and not retried.created and retried.touch.id == first.touch.id
    market.touches.append(oracle.Touch(lead_ids["cat"], campaigns["expo"], touched(1)))

    # Bad touches are refused, each with its own code.
    bad = [
        (
            leads_pb2.RecordLeadTouchRequest(
                lead_id=lead_ids["cat"],
                touch=leads_pb2.TouchInput(
                    campaign_id="00000000-0000-4000-8000-000000000000",
                    kind=leads_pb2.TOUCH_KIND_AD,
                    touch_time=_timestamp(touched(1)),
                ),
            ),
            # A well-formed id of no campaign: the stored data refuses it, not the request's shape.
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        (
            leads_pb2.RecordLeadTouchRequest(
                lead_id="00000000-0000-4000-8000-000000000000",
                touch=leads_pb2.TouchInput(
                    campaign_id=campaigns["ads"],
                    kind=leads_pb2.TOUCH_KIND_AD,
                    touch_time=_timestamp(touched(1)),
                ),
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            leads_pb2.RecordLeadTouchRequest(
                lead_id=lead_ids["cat"],
                touch=leads_pb2.TouchInput(
                    campaign_id=campaigns["ads"],
                    kind=leads_pb2.TOUCH_KIND_AD,
                    touch_time=_timestamp(now + timedelta(days=2)),
                ),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]
    for request, code in bad:
        with pytest.raises(grpc.RpcError) as refused:
            lead_api.RecordLeadTouch(request, metadata=MARKETING)
        assert refused.value.code() == code, (request, refused.value.details())

    # ---- Qualified, converted, won, lost; one dies, one is recycled ----------------------------------
    qualification = leads_pb2.Qualification(
        budget=money(50_000_00), authority=leads_pb2.AUTHORITY_DECISION_MAKER, need=leads_pb2.NEED_HIGH
    )
    outcomes = {  # key: (amount, currency, outcome or "" for open)
        "ann": (10_000_00, "USD", "won"),
        "bob": (8_000_00, "EUR", "won"),
        "cat": (6_000_00, "USD", "lost"),
        "dan": (5_000_00, "USD", "won"),
        "eve": (4_000_00, "USD", ""),
        "ivy": (3_333_33, "USD", "won"),
        "kim": (7_777_77, "EUR", "won"),
    }
    for key in [*outcomes, "fay"]:
        rep = market.leads[lead_ids[key]].assigned_user
        lead_api.QualifyLead(
            leads_pb2.QualifyLeadRequest(lead_id=lead_ids[key], qualification=qualification),
            metadata=caller(rep),
        )
        market.leads[lead_ids[key]].qualified = True
    for key, (amount, currency, outcome) in outcomes.items():
        story = market.leads[lead_ids[key]]
        converted = lead_api.ConvertLead(
            leads_pb2.ConvertLeadRequest(
                lead_id=story.lead_id,
                opportunity_name=f"{key} deal",
                amount=money(amount, currency),
                expected_close_date=proto_date(today + timedelta(days=20)),
            ),
            metadata=caller(story.assigned_user),
        )
        state = opportunity_api.GetOpportunity(
            opp.GetOpportunityRequest(opportunity_id=converted.opportunity_id), metadata=admin
        )
        if outcome:
            state = opportunity_api.CloseOpportunity(
                opp.CloseOpportunityRequest(
                    opportunity_id=state.id,
                    outcome=opp.CLOSE_OUTCOME_WON if outcome == "won" else opp.CLOSE_OUTCOME_LOST,
                    reason="signed" if outcome == "won" else "price",
                ),
                metadata=caller(story.assigned_user),
            )
        story.converted_deal = state.id
        assert state.lead_id == story.lead_id and state.campaign_id == story.campaign_id
        close = state.expected_close_date
        market.deals[state.id] = oracle.Deal(
            deal_id=state.id,
            lead_id=story.lead_id,
            owner=state.owner_user_id,
            campaign_id=state.campaign_id,
            amount_base=state.amount_base.amount_minor,
            status={opp.OPPORTUNITY_STATUS_WON: "won", opp.OPPORTUNITY_STATUS_LOST: "lost"}.get(
                state.status, "open"
            ),
            created_at=instant(state.create_time),
            close_date=date(close.year, close.month, close.day),
        )
    # A touch after the opportunity was created earns it nothing.
    lead_api.RecordLeadTouch(
        leads_pb2.RecordLeadTouchRequest(
            lead_id=lead_ids["ann"],
            touch=leads_pb2.TouchInput(
                campaign_id=campaigns["ads"],
                kind=leads_pb2.TOUCH_KIND_AD,
                touch_time=_timestamp(datetime.now(UTC)),
            ),
        ),
        metadata=MARKETING,
    )
    for key, status in [("gus", leads_pb2.LEAD_STATUS_DEAD), ("hal", leads_pb2.LEAD_STATUS_RECYCLED)]:
        story = market.leads[lead_ids[key]]
        lead_api.ChangeLeadStatus(
            leads_pb2.ChangeLeadStatusRequest(lead_id=story.lead_id, status=status, reason="no reply"),
            metadata=caller(story.assigned_user),
        )
        story.dead, story.recycled = (
            status == leads_pb2.LEAD_STATUS_DEAD,
            status == leads_pb2.LEAD_STATUS_RECYCLED,
        )

    # ---- Reporting catches up, then agrees with the oracle ------------------------------------------
    window = (today - timedelta(days=200), today + timedelta(days=400))
    period = {"basis": "period", "from": window[0].isoformat(), "to": window[1].isoformat()}

    def check_performance(model: str) -> None:
        result = reports.run(MARKETING, performance_definition(), {**period, "model": model})
        expected = oracle.campaign_performance(market, model, window)
        got = {str(r["campaign"]): r for r in records(result)}
        by_name = {names[k]: campaigns[k] for k in names}
        got = {by_name.get(label, label): r for label, r in got.items()}
        for campaign_id, figures in expected.items():
            row = got.get(campaign_id)
            assert row is not None, (model, campaign_id, sorted(got))
            for measure in PERFORMANCE_MEASURES + RATIOS:
                want = getattr(figures, measure)
                value = row[measure]
                if isinstance(value, Decimal):
                    want = shown(want, scale_of(result, measure))
                elif isinstance(want, Fraction):
                    # A ratio of money (cost per lead, CAC) in minor units, rounded half-even.
                    want = int(shown(want, 0) or 0)
                assert value == want, (model, campaign_id, measure, value, want)

    eventually(lambda: check_performance("linear"), timeout=60)
    for model in MODELS:
        check_performance(model)

    # Cost is counted once per campaign however many deals it wins, in dollars at each entry's rate.
    webinar_cost = 3_000_00 + 2_500_00
    expo_cost = 7_700_00 + 5_216_03  # 4,333.33 EUR x 1.2037 = 5,216.029321 USD, rounded half up
    linear = oracle.campaign_performance(market, "linear", window)
    assert (linear[campaigns["webinar"]].cost, linear[campaigns["expo"]].cost) == (webinar_cost, expo_cost)

    # The funnel, for marketing (every lead) and a manager (the team's leads).
    def check_funnel(metadata: list[tuple[str, str]], visible: Mapping[str, bool] | None) -> None:
        definition = {
            "source": "lead_funnel",
            "dimensions": [{"field": "lead_source"}, {"field": "campaign"}],
            "measures": [
                {"name": "created", "aggregate": "count"},
                *(
                    {"name": step, "aggregate": "sum", "field": f"{step}_leads"}
                    for step in ("qualified", "converted", "won", "dead", "recycled")
                ),
            ],
            "grand_total": False,
        }
        result = reports.run(metadata, definition, {})
        got = {(str(r["lead_source"]), str(r["campaign"])): r for r in records(result)}
        source_names = {v: k for k, v in sources.items()}
        expected = oracle.funnel(market, visible)
        assert len(got) == len(expected), (got, expected)
        for (source, campaign), figures in expected.items():
            label = (source_names[source], names[next(k for k, v in campaigns.items() if v == campaign)])
            row = got[label] if label in got else got[(source, campaign)]
            assert {s: row[s] for s in ("created", "qualified", "converted", "won", "dead", "recycled")} == {
                "created": figures.created,
                "qualified": figures.qualified,
                "converted": figures.converted,
                "won": figures.won,
                "dead": figures.dead,
                "recycled": figures.recycled,
            }, (label, row)

    eventually(lambda: check_funnel(MARKETING, None), timeout=30)
    check_funnel(caller("m1"), {"r1": True, "r2": True, "m1": True})

    # A manager sees the attribution of the team's deals only, and no campaign costs.
    team_deals = [d for d in market.deals.values() if d.owner in {"m1", "r1", "r2"}]
    attribution = reports.run(
        caller("m1"),
        {
            "source": "attribution",
            "dimensions": [{"field": "campaign"}],
            "measures": [{"name": "credit", "aggregate": "sum", "field": "credit"}],
            "grand_total": True,
        },
        {"model": "w_shaped"},
    )
    total = next(r for r in attribution.rows if r.kind == reporting_pb2.ROW_KIND_GRAND_TOTAL)
    assert cell_value(total.cells[-1]) == sum(d.amount_base for d in team_deals)
    with pytest.raises(grpc.RpcError) as denied:
        reports.run(caller("m1"), performance_definition(), {**period, "model": "linear"})
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    listed = {
        who: {r.id for r in reports.api.ListReports(reporting_pb2.ListReportsRequest(), metadata=md).reports}
        for who, md in (("marketing", MARKETING), ("m1", caller("m1")))
    }
    assert {"campaign_roi", "channel_roi"} <= listed["marketing"]
    assert not {"campaign_roi", "channel_roi"} & listed["m1"]
    assert {"lead_funnel", "attribution_by_campaign"} <= listed["m1"]

    # Bad parameters: an unknown model, a negative half-life.
    for parameters in ({"model": "gut_feeling"}, {"model": "time_decay", "half_life_days": "-3"}):
        with pytest.raises(grpc.RpcError) as refused:
            reports.run(MARKETING, performance_definition(), {**period, **parameters})
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, parameters
