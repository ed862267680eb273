"""Issue 3's story, end to end on real Kafka and PostgreSQL, with every service a separate process:

marketing imports a CSV of 1,000 leads (with duplicates and bad rows) through the gateway, then the
same file again; reps qualify and convert some of their leads (one conversion retried); the
opportunities move through stages to won and lost. The events on the Kafka topics must tell exactly
that story: nothing missing, nothing twice, every version in order.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections import defaultdict

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from kafka import KafkaConsumer

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import org_pb2, org_pb2_grpc
from salesplane.leads.v1 import events_pb2 as lead_events
from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane.opportunities.v1 import events_pb2 as opportunity_events
from salesplane.opportunities.v1 import opportunities_pb2, opportunities_pb2_grpc
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.identity import issue_token
from tests.e2e.conftest import SECRET, bearer
from tests.e2e.story_helpers import await_organisation

pytestmark = pytest.mark.e2e

REPS = ["rep-1", "rep-2", "rep-3", "rep-4"]
ROWS = 1000


def build_csv(rng: random.Random) -> tuple[str, dict[str, set[int]]]:
    """1,000 data lines: mostly good leads, some repeating an earlier email, some invalid.
    Returns the text and the expected line numbers per outcome."""
    header = (
        "first_name,last_name,company,email,phone,title,country_code,lead_source,campaign,assigned_user_id"
    )
    lines = [header]
    expected: dict[str, set[int]] = {"imported": set(), "invalid": set(), "duplicate": set()}
    emails: list[str] = []
    for index in range(ROWS):
        line_number = index + 2
        rep = REPS[index % len(REPS)]
        first, last, company = f"First{index}", f"Last{index}", f"Company {index} Ltd"
        email, phone, country = f"lead{index}@example{index % 37}.com", f"+44 20 7946 {index:04d}", "GB"
        kind = "imported"
        roll = rng.random()
        if index > 10 and roll < 0.03:
            email, kind = "not-an-email", "invalid"
        elif index > 10 and roll < 0.05:
            phone, kind = "call me maybe", "invalid"
        elif index > 10 and roll < 0.08:
            # Same email as an earlier imported lead: a duplicate, not a new lead.
            email, kind = rng.choice(emails), "duplicate"
            phone = f"+1 555 {index:07d}"
        if kind == "imported":
            emails.append(email)
        expected[kind].add(line_number)
        lines.append(f"{first},{last},{company},{email},{phone},Buyer,{country},Webinars,Q4 Webinar,{rep}")
    return "\n".join(lines) + "\n", expected


def post_csv(base: str, token: str, body: str) -> dict:
    request = urllib.request.Request(
        f"{base}/v1/leads:import?file_name=leads.csv",
        method="POST",
        data=body.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise AssertionError(f"import failed with {error.code}: {error.read()!r}") from None


def read_topic(bootstrap: str, topic: str, until: int, timeout: float = 60) -> list:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=1000
    )
    records: list = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            records.extend(consumer)
            if len(records) >= until:
                # Anything beyond the expected count would be a duplicate: give it a moment to show.
                records.extend(consumer)
                break
    finally:
        consumer.close()
    return [decode_envelope(r.value) for r in records]


def by_aggregate(envelopes: list, aggregate_type: str) -> dict[str, list]:
    grouped: dict[str, list] = defaultdict(list)
    for envelope in envelopes:
        if envelope.aggregate_type == aggregate_type:
            grouped[envelope.aggregate_id].append(envelope)
    return grouped


def eventually(check, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except (AssertionError, grpc.RpcError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_leads_imported_qualified_converted_and_closed_tell_their_story_on_kafka(
    services, gateway, kafka_broker, topic_prefix
):
    forecasting = services("forecasting")
    opportunities = services("opportunities")
    leads = services("leads", {"SALESPLANE_OPPORTUNITIES_TARGET": opportunities.target})
    base = gateway(
        {
            "SALESPLANE_LEADS_TARGET": leads.target,
            "SALESPLANE_OPPORTUNITIES_TARGET": opportunities.target,
            "SALESPLANE_FORECASTING_TARGET": forecasting.target,
        }
    )
    rng = random.Random(20261126)
    admin = bearer()
    marketing = bearer("mkt-1", ("marketing",))

    org = org_pb2_grpc.OrgServiceStub(grpc.insecure_channel(forecasting.target))
    for user_id, manager, roles in [
        ("vp", "", ["manager"]),
        ("mgr-1", "vp", ["manager"]),
        *[(rep, "mgr-1", ["rep"]) for rep in REPS],
    ]:
        org.UpsertUser(
            org_pb2.UpsertUserRequest(
                user=org_pb2.User(
                    user_id=user_id, display_name=user_id, roles=roles, manager_user_id=manager, active=True
                )
            ),
            metadata=admin,
        )

    # The reps reach leads and opportunities by event; an import assigning leads to reps those
    # replicas do not know yet would rightly refuse the rows.
    for service in (leads, opportunities):
        await_organisation(service.env["SALESPLANE_DATABASE_URL"], ["vp", "mgr-1", *REPS])

    lead_api = leads_pb2_grpc.LeadServiceStub(grpc.insecure_channel(leads.target))
    opportunity_api = opportunities_pb2_grpc.OpportunityServiceStub(
        grpc.insecure_channel(opportunities.target)
    )
    # Deals are in EUR, reported in the base currency (USD by default) at the rate of their close date.
    opportunity_api.SetExchangeRate(
        opportunities_pb2.SetExchangeRateRequest(
            currency_code="EUR", rate="1.0825", effective_from=Date(year=2026, month=1, day=1)
        ),
        metadata=admin,
    )
    source = lead_api.CreateLeadSource(
        leads_pb2.CreateLeadSourceRequest(name="Webinars", channel=leads_pb2.CHANNEL_EVENT),
        metadata=marketing,
    )
    campaign = lead_api.CreateCampaign(
        leads_pb2.CreateCampaignRequest(
            name="Q4 Webinar",
            lead_source_id=source.id,
            budget=Money(currency_code="EUR", amount_minor=20_000_00),
            expected_cost=Money(currency_code="EUR", amount_minor=15_000_00),
            expected_revenue=Money(currency_code="EUR", amount_minor=200_000_00),
            start_date=Date(year=2026, month=10, day=1),
            end_date=Date(year=2026, month=12, day=31),
        ),
        metadata=marketing,
    )
    for month, cost in [(10, 4_000_00), (11, 6_500_00)]:
        lead_api.RecordCampaignCost(
            leads_pb2.RecordCampaignCostRequest(
                campaign_id=campaign.id,
                incurred_on=Date(year=2026, month=month, day=28),
                amount=Money(currency_code="EUR", amount_minor=cost),
                note="venue and ads",
                request_id=f"cost-{month}",
            ),
            metadata=marketing,
        )

    # The import, through the gateway: every valid row in, every bad row reported with its line.
    text, expected = build_csv(rng)
    token = issue_token(SECRET, "mkt-1", ["marketing"])
    report = post_csv(base, token, text)
    outcomes: dict[str, set[int]] = defaultdict(set)
    lead_of_line: dict[int, str] = {}
    for row in report["rows"]:
        outcomes[row["outcome"]].add(row["line_number"])
        if row["outcome"] == "imported":
            lead_of_line[row["line_number"]] = row["lead_id"]
        if row["outcome"] in ("invalid", "duplicate"):
            assert row["reasons"], row
    assert outcomes["imported"] == expected["imported"]
    assert outcomes["invalid"] == expected["invalid"]
    assert outcomes["duplicate"] == expected["duplicate"]
    assert report["imported"] == len(expected["imported"])

    # The same file again imports nothing twice.
    again = post_csv(base, token, text)
    assert again["imported"] == 0
    assert again["already_imported"] == len(expected["imported"])

    # Reps qualify some of their leads and convert some of those; one conversion is retried.
    imported_lines = sorted(expected["imported"])
    qualified_lines = imported_lines[:24]
    converted_lines = qualified_lines[:12]
    rep_of_line = {line: REPS[(line - 2) % len(REPS)] for line in imported_lines}
    for line in qualified_lines:
        lead_api.QualifyLead(
            leads_pb2.QualifyLeadRequest(
                lead_id=lead_of_line[line],
                qualification=leads_pb2.Qualification(
                    budget=Money(currency_code="EUR", amount_minor=50_000_00),
                    authority=leads_pb2.AUTHORITY_DECISION_MAKER,
                    need=leads_pb2.NEED_HIGH,
                    timeline=Date(year=2026, month=12, day=15),
                ),
            ),
            metadata=bearer(rep_of_line[line], ("rep",)),
        )
    opportunity_of_line: dict[int, str] = {}
    for line in converted_lines:
        request = leads_pb2.ConvertLeadRequest(
            lead_id=lead_of_line[line],
            opportunity_name=f"Deal from line {line}",
            amount=Money(currency_code="EUR", amount_minor=10_000_00 + line),
            expected_close_date=Date(year=2026, month=12, day=20),
        )
        caller = bearer(rep_of_line[line], ("rep",))
        converted = lead_api.ConvertLead(request, metadata=caller)
        assert converted.lead.status == leads_pb2.LEAD_STATUS_CONVERTED
        opportunity_of_line[line] = converted.opportunity_id
        if line == converted_lines[0]:
            retried = lead_api.ConvertLead(request, metadata=caller)
            assert retried.opportunity_id == converted.opportunity_id

    # Their opportunities move through the stages; two thirds are won, the rest lost.
    won_lines = set(converted_lines[:8])
    for line in converted_lines:
        caller = bearer(rep_of_line[line], ("rep",))
        opportunity_id = opportunity_of_line[line]
        for stage in ["Qualification", "Proposal/Price Quote"]:
            opportunity_api.UpdateOpportunity(
                opportunities_pb2.UpdateOpportunityRequest(
                    opportunity=opportunities_pb2.Opportunity(id=opportunity_id, sales_stage=stage),
                    update_mask=FieldMask(paths=["sales_stage"]),
                ),
                metadata=caller,
            )
        won = line in won_lines
        opportunity_api.CloseOpportunity(
            opportunities_pb2.CloseOpportunityRequest(
                opportunity_id=opportunity_id,
                outcome=opportunities_pb2.CLOSE_OUTCOME_WON if won else opportunities_pb2.CLOSE_OUTCOME_LOST,
                reason="signed" if won else "went with a competitor",
            ),
            metadata=caller,
        )

    # The manager sees the team's deals once the org has reached the opportunities service.
    def manager_reads_a_reps_deal() -> None:
        opportunity_api.GetOpportunity(
            opportunities_pb2.GetOpportunityRequest(opportunity_id=opportunity_of_line[converted_lines[0]]),
            metadata=bearer("mgr-1", ("manager",)),
        )

    eventually(manager_reads_a_reps_deal)

    # ---- The story on Kafka ----------------------------------------------------------------
    imported_leads = set(lead_of_line.values())
    lead_envelopes = read_topic(
        kafka_broker.bootstrap_servers,
        f"{topic_prefix}salesplane.leads.v1",
        until=len(imported_leads) + len(qualified_lines) + len(converted_lines) + 4,
    )
    lead_story = by_aggregate(lead_envelopes, "lead")
    assert set(lead_story) == imported_leads, "exactly the imported leads have events"
    converted_leads = {lead_of_line[line]: line for line in converted_lines}
    qualified_leads = {lead_of_line[line] for line in qualified_lines}
    for lead_id, envelopes in lead_story.items():
        versions = [e.aggregate_version for e in envelopes]
        assert versions == list(range(1, len(versions) + 1)), f"{lead_id}: versions {versions}"
        changes = [unpack_payload(e, lead_events.LeadChanged) for e in envelopes]
        kinds = [c.kind for c in changes]
        expected_kinds = [lead_events.LEAD_CHANGE_KIND_IMPORTED]
        if lead_id in qualified_leads:
            expected_kinds.append(lead_events.LEAD_CHANGE_KIND_QUALIFIED)
        if lead_id in converted_leads:
            expected_kinds.append(lead_events.LEAD_CHANGE_KIND_CONVERTED)
        assert kinds == expected_kinds, f"{lead_id}: {kinds}"
        first = changes[0].lead
        assert first.lead_source_id == source.id and first.campaign_id == campaign.id
        last = changes[-1].lead
        if lead_id in converted_leads:
            assert last.status == leads_pb2.LEAD_STATUS_CONVERTED
            assert last.converted_opportunity_id == opportunity_of_line[converted_leads[lead_id]]
        else:
            assert last.status == leads_pb2.LEAD_STATUS_ASSIGNED
    campaign_story = by_aggregate(lead_envelopes, "campaign")[campaign.id]
    final_campaign = unpack_payload(campaign_story[-1], lead_events.CampaignChanged).campaign
    assert final_campaign.actual_cost.amount_minor == 10_500_00
    assert [e.aggregate_version for e in campaign_story] == [1, 2, 3]

    opportunity_envelopes = read_topic(
        kafka_broker.bootstrap_servers,
        f"{topic_prefix}salesplane.opportunities.v1",
        until=len(converted_lines) * 4,
    )
    opportunity_story = by_aggregate(opportunity_envelopes, "opportunity")
    assert set(opportunity_story) == set(opportunity_of_line.values()), "one opportunity per conversion"
    for line, opportunity_id in opportunity_of_line.items():
        changes = [
            unpack_payload(e, opportunity_events.OpportunityChanged)
            for e in opportunity_story[opportunity_id]
        ]
        assert [c.opportunity.version for c in changes] == [1, 2, 3, 4]
        assert [c.kind for c in changes] == [
            opportunity_events.CHANGE_KIND_CREATED,
            opportunity_events.CHANGE_KIND_UPDATED,
            opportunity_events.CHANGE_KIND_UPDATED,
            opportunity_events.CHANGE_KIND_CLOSED,
        ]
        stages = [c.opportunity.sales_stage for c in changes]
        won = line in won_lines
        assert stages[1:3] == ["Qualification", "Proposal/Price Quote"]
        assert stages[3] == ("Closed Won" if won else "Closed Lost")
        created = changes[0].opportunity
        assert created.lead_id == lead_of_line[line]
        assert created.lead_source_id == source.id and created.campaign_id == campaign.id
        assert created.owner_user_id == rep_of_line[line]
        assert created.amount.amount_minor == 10_000_00 + line
        assert created.exchange_rate == "1.0825"
        # Half-up to the cent: the base amount is exact integer arithmetic, never a float.
        assert created.amount_base.amount_minor == ((10_000_00 + line) * 10825 + 5000) // 10000
        final = changes[-1].opportunity
        assert final.status == (
            opportunities_pb2.OPPORTUNITY_STATUS_WON if won else opportunities_pb2.OPPORTUNITY_STATUS_LOST
        )
        assert final.close_reason == ("signed" if won else "went with a competitor")
