"""The leads API on PostgreSQL, publishing through its outbox to a real Kafka broker and keeping its
reporting-line replica from forecasting's events on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.entrypoints.main import DEFINITION
from salesplane_platform.events import unpack_payload
from salesplane_testing.organisation import seed_members
from salesplane_testing.postgres_server import unique_database_name

pytestmark = pytest.mark.integration

MISSING_ID = "5d0f7f53-7d3e-4ad5-9a0e-5f8d2f1c6b10"


@pytest.fixture(scope="module")
def service(
    postgres_server: Any, kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory, it: SimpleNamespace
) -> Iterator[SimpleNamespace]:
    name = unique_database_name("leads_api")
    url = postgres_server.create_database(name)
    settings = it.settings_for(
        "leads", url, kafka_broker, f"it-{uuid.uuid4().hex[:10]}.", tmp_path_factory.mktemp("leads")
    )
    try:
        with it.running(DEFINITION, settings) as process, it.channel_to(process) as channel:
            yield SimpleNamespace(
                client=it.leads_client(channel, settings), settings=settings, kafka=kafka_broker
            )
    finally:
        postgres_server.drop_database(name)


def marker() -> str:
    """A company name no other test uses, to find this test's leads among all."""
    return f"Co {uuid.uuid4().hex[:12]}"


def create(client: Any, subject: str = "ann", *roles: str, **fields: Any) -> leads_pb2.CreateLeadResponse:
    assignee = fields.pop("assigned_user_id", "")
    policy = fields.pop("on_duplicate", leads_pb2.DUPLICATE_POLICY_UNSPECIFIED)
    request = leads_pb2.CreateLeadRequest(
        lead=leads_pb2.LeadFields(**{"last_name": "Lovelace", **fields}),
        assigned_user_id=assignee,
        on_duplicate=policy,
    )
    return client.call("CreateLead", request, subject, *roles)


def lead_events(service: SimpleNamespace, it: SimpleNamespace, aggregate_id: str, count: int) -> list[Any]:
    envelopes = it.read_envelopes(
        service.kafka,
        it.leads_topic(service.settings),
        lambda found: sum(e.aggregate_id == aggregate_id for e in found) >= count,
    )
    return [e for e in envelopes if e.aggregate_id == aggregate_id]


def test_a_created_lead_reads_back_equal_and_reaches_kafka_with_its_full_state(
    service: SimpleNamespace, it: SimpleNamespace
) -> None:
    created = create(
        service.client,
        "bob",
        "rep",
        first_name="Ada",
        company=marker(),
        email="Ada@Example.com",
        phone="+44 (0)20 7946 0018",
        address=leads_pb2.Address(city="London", country_code="gb"),
        assigned_user_id="bob",
    )

    assert created.outcome == leads_pb2.CREATE_LEAD_OUTCOME_CREATED
    lead = created.lead
    assert service.client.call("GetLead", leads_pb2.GetLeadRequest(lead_id=lead.id), "bob", "rep") == lead
    assert (lead.email, lead.normalised_phone, lead.address.country_code, lead.status, lead.version) == (
        "ada@example.com",
        "+442079460018",
        "GB",
        leads_pb2.LEAD_STATUS_ASSIGNED,
        1,
    )
    assert len(lead.score_breakdown) == 9 and lead.score == 10
    [envelope] = lead_events(service, it, lead.id, 1)
    assert (envelope.aggregate_type, envelope.aggregate_version, envelope.producer, envelope.actor) == (
        "lead",
        1,
        "leads",
        "bob",
    )
    event = unpack_payload(envelope, events_pb2.LeadChanged)
    assert (event.lead, event.kind) == (lead, events_pb2.LEAD_CHANGE_KIND_CREATED)


def test_every_change_is_published_in_version_order_with_its_kind(
    service: SimpleNamespace, it: SimpleNamespace
) -> None:
    client = service.client
    lead = create(client, company=marker()).lead
    client.call(
        "AssignLead", leads_pb2.AssignLeadRequest(lead_id=lead.id, assigned_user_id="bob", expected_version=1)
    )
    client.call(
        "ChangeLeadStatus",
        leads_pb2.ChangeLeadStatusRequest(
            lead_id=lead.id, status=leads_pb2.LEAD_STATUS_IN_PROCESS, expected_version=2
        ),
        "bob",
        "rep",
    )
    qualification = leads_pb2.Qualification(
        budget=Money(currency_code="USD", amount_minor=50_000_00),
        authority=leads_pb2.AUTHORITY_DECISION_MAKER,
        need=leads_pb2.NEED_HIGH,
    )
    qualified = client.call(
        "QualifyLead",
        leads_pb2.QualifyLeadRequest(lead_id=lead.id, qualification=qualification, expected_version=3),
        "bob",
        "rep",
    )
    client.call(
        "UpdateLead",
        leads_pb2.UpdateLeadRequest(
            lead_id=lead.id,
            lead=leads_pb2.LeadFields(title="CTO"),
            update_mask=FieldMask(paths=["title"]),
            expected_version=4,
        ),
        "bob",
        "rep",
    )

    assert qualified.qualified and qualified.score == 20 + 25 + 10 + 15 + 10
    assert {c.rule_id for c in qualified.score_breakdown if c.matched} == {
        "budget-10k-usd",
        "decision-maker",
        "influencer",
        "need-high",
        "need-medium",
    }
    events = [unpack_payload(e, events_pb2.LeadChanged) for e in lead_events(service, it, lead.id, 5)]
    assert [(e.lead.version, e.kind, e.previous_status) for e in events] == [
        (1, events_pb2.LEAD_CHANGE_KIND_CREATED, leads_pb2.LEAD_STATUS_UNSPECIFIED),
        (2, events_pb2.LEAD_CHANGE_KIND_ASSIGNED, leads_pb2.LEAD_STATUS_NEW),
        (3, events_pb2.LEAD_CHANGE_KIND_STATUS_CHANGED, leads_pb2.LEAD_STATUS_ASSIGNED),
        (4, events_pb2.LEAD_CHANGE_KIND_QUALIFIED, leads_pb2.LEAD_STATUS_UNSPECIFIED),
        (5, events_pb2.LEAD_CHANGE_KIND_UPDATED, leads_pb2.LEAD_STATUS_UNSPECIFIED),
    ]
    assert events[-1].lead.title == "CTO" and events[-1].lead.qualification == qualification


def test_sources_campaigns_costs_and_scoring_rules_are_published_with_their_full_state(
    service: SimpleNamespace, it: SimpleNamespace
) -> None:
    client = service.client
    source = client.call(
        "CreateLeadSource",
        leads_pb2.CreateLeadSourceRequest(name=marker(), channel=leads_pb2.CHANNEL_EVENT),
        "mo",
        "marketing",
    )
    campaign = client.call(
        "CreateCampaign",
        leads_pb2.CreateCampaignRequest(
            name=marker(),
            lead_source_id=source.id,
            budget=Money(currency_code="EUR", amount_minor=20_000_00),
            expected_revenue=Money(currency_code="EUR", amount_minor=100_000_00),
            start_date=Date(year=2031, month=3, day=1),
            end_date=Date(year=2031, month=3, day=31),
        ),
        "mo",
        "marketing",
    )
    cost = leads_pb2.RecordCampaignCostRequest(
        campaign_id=campaign.id,
        incurred_on=Date(year=2031, month=3, day=2),
        amount=Money(currency_code="EUR", amount_minor=7_500_00),
        request_id="invoice-7",
    )
    client.call("RecordCampaignCost", cost, "mo", "marketing")
    after = client.call("RecordCampaignCost", cost, "mo", "marketing")
    rules = client.call("GetScoringRules", leads_pb2.GetScoringRulesRequest(), "bob", "rep")
    rule = leads_pb2.ScoringRule(
        id="from-fair",
        description="From the fair",
        criterion=leads_pb2.SCORING_CRITERION_FROM_SOURCE,
        points=30,
        lead_source_id=source.id,
    )
    replaced = client.call(
        "ReplaceScoringRules",
        leads_pb2.ReplaceScoringRulesRequest(rules=[*rules.rules, rule], expected_revision=rules.revision),
        "mo",
        "marketing",
    )

    assert (campaign.channel, after.version, after.actual_cost.amount_minor, len(after.cost_entries)) == (
        leads_pb2.CHANNEL_EVENT,
        2,
        7_500_00,
        1,
    )
    assert replaced.revision == rules.revision + 1
    wanted = {source.id, campaign.id, "rules"}
    envelopes = it.read_envelopes(
        service.kafka,
        it.leads_topic(service.settings),
        lambda found: (
            {e.aggregate_id for e in found if e.aggregate_type != "lead"} >= wanted
            and any(e.aggregate_id == campaign.id and e.aggregate_version == 2 for e in found)
        ),
    )
    by_id = {(e.aggregate_id, e.aggregate_version): e for e in envelopes if e.aggregate_id in wanted}
    assert unpack_payload(by_id[(source.id, 1)], events_pb2.LeadSourceChanged).lead_source == source
    costed = unpack_payload(by_id[(campaign.id, 2)], events_pb2.CampaignChanged).campaign
    assert costed == after
    assert costed.cost_entries[0].amount.amount_minor == 7_500_00
    rules_event = by_id[("rules", replaced.revision)]
    assert rules_event.aggregate_type == "scoring_rules"
    assert unpack_payload(rules_event, events_pb2.ScoringRulesChanged).rules == replaced
    scored = create(client, company=marker(), lead_source_id=source.id, campaign_id=campaign.id).lead
    assert next(c for c in scored.score_breakdown if c.rule_id == "from-fair").matched


def test_a_manager_reaches_reports_leads_once_forecasting_publishes_the_reporting_line(
    service: SimpleNamespace, it: SimpleNamespace
) -> None:
    client = service.client
    manager, rep = f"mia-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    # The rep is a user (reporting to no one yet): only members of the organisation get leads.
    seed_members(service.settings.database_url, [rep])
    lead = create(client, company=marker(), assigned_user_id=rep).lead

    def manager_reaches() -> bool:
        try:
            client.call("GetLead", leads_pb2.GetLeadRequest(lead_id=lead.id), manager, "manager")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
            return False
        return True

    assert not manager_reaches()
    it.publish_reporting_line(service.kafka, service.settings, rep, manager)

    assert it.eventually(manager_reaches)
    listed = client.call("ListLeads", leads_pb2.ListLeadsRequest(assigned_user_ids=[rep]), manager, "manager")
    assert [found.id for found in listed.leads] == [lead.id]


def test_bad_input_is_an_invalid_argument_naming_every_field(
    service: SimpleNamespace, it: SimpleNamespace
) -> None:
    with pytest.raises(grpc.RpcError) as error:
        create(
            service.client,
            last_name="",
            email="not-an-address",
            phone="12",
            website="ftp://x",
            address=leads_pb2.Address(country_code="XX"),
            assigned_user_id="x y",
        )

    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert it.field_violations(error.value) == [
        "lead.last_name",
        "lead.email",
        "lead.phone",
        "lead.website",
        "lead.address.country_code",
        "assigned_user_id",
    ]


@pytest.mark.parametrize(
    ("method", "request_", "code"),
    [
        ("GetLead", leads_pb2.GetLeadRequest(lead_id="lead-42"), grpc.StatusCode.INVALID_ARGUMENT),
        ("GetLead", leads_pb2.GetLeadRequest(lead_id=MISSING_ID), grpc.StatusCode.NOT_FOUND),
        ("ListLeads", leads_pb2.ListLeadsRequest(page_size=501), grpc.StatusCode.INVALID_ARGUMENT),
        ("ListLeads", leads_pb2.ListLeadsRequest(page_token="nope"), grpc.StatusCode.INVALID_ARGUMENT),
        (
            "ChangeLeadStatus",
            leads_pb2.ChangeLeadStatusRequest(lead_id=MISSING_ID),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            "MergeLeads",
            leads_pb2.MergeLeadsRequest(primary_lead_id=MISSING_ID),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        ("ImportLeads", leads_pb2.ImportLeadsRequest(csv_text="name\nx\n"), grpc.StatusCode.INVALID_ARGUMENT),
        (
            "CreateLeadSource",
            leads_pb2.CreateLeadSourceRequest(name="x", channel=99),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        ("GetCampaign", leads_pb2.GetCampaignRequest(campaign_id=MISSING_ID), grpc.StatusCode.NOT_FOUND),
        (
            "RecordCampaignCost",
            leads_pb2.RecordCampaignCostRequest(campaign_id=MISSING_ID),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            "ReplaceScoringRules",
            leads_pb2.ReplaceScoringRulesRequest(rules=[leads_pb2.ScoringRule(id="X")]),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        ("ConvertLead", leads_pb2.ConvertLeadRequest(lead_id=MISSING_ID), grpc.StatusCode.NOT_FOUND),
    ],
)
def test_bad_requests_get_a_precise_status_never_internal(
    service: SimpleNamespace, method: str, request_: Any, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.RpcError) as error:
        service.client.call(method, request_)
    assert error.value.code() == code


def test_workflow_concurrency_and_permission_errors_have_their_codes(service: SimpleNamespace) -> None:
    client = service.client
    lead = create(client, company=marker()).lead

    with pytest.raises(grpc.RpcError) as illegal:
        client.call(
            "ChangeLeadStatus",
            leads_pb2.ChangeLeadStatusRequest(lead_id=lead.id, status=leads_pb2.LEAD_STATUS_IN_PROCESS),
        )
    with pytest.raises(grpc.RpcError) as stale:
        client.call(
            "AssignLead",
            leads_pb2.AssignLeadRequest(lead_id=lead.id, assigned_user_id="carol", expected_version=7),
        )
    with pytest.raises(grpc.RpcError) as foreign:
        client.call("GetLead", leads_pb2.GetLeadRequest(lead_id=lead.id), "mallory", "rep")
    with pytest.raises(grpc.RpcError) as not_marketing:
        client.call(
            "CreateLeadSource",
            leads_pb2.CreateLeadSourceRequest(name=marker(), channel=leads_pb2.CHANNEL_WEB),
            "bob",
            "rep",
        )

    assert illegal.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (
        illegal.value.details()
        == "a lead cannot go from New to In Process; from New it can go to Assigned, Dead"
    )
    assert stale.value.code() == grpc.StatusCode.ABORTED
    assert foreign.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert not_marketing.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_call_without_a_token_is_unauthenticated(service: SimpleNamespace) -> None:
    with pytest.raises(grpc.RpcError) as error:
        service.client.stub.GetLead(leads_pb2.GetLeadRequest(lead_id=MISSING_ID), timeout=10)
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_lists_page_with_opaque_tokens_bound_to_their_filters(
    service: SimpleNamespace, it: SimpleNamespace
) -> None:
    client = service.client
    company = marker()
    made = [create(client, company=company, last_name=f"Person {n}").lead.id for n in range(5)]

    seen, token = [], ""
    while True:
        page = client.call(
            "ListLeads", leads_pb2.ListLeadsRequest(text=company, page_size=2, page_token=token)
        )
        seen += [lead.id for lead in page.leads]
        token = page.next_page_token
        if not token:
            break
        last_token = token

    assert seen == list(reversed(made))
    with pytest.raises(grpc.RpcError) as mismatch:
        client.call(
            "ListLeads", leads_pb2.ListLeadsRequest(text="something else", page_size=2, page_token=last_token)
        )
    assert it.field_violations(mismatch.value) == ["page_token"]


def test_duplicates_are_found_and_handled_by_policy(service: SimpleNamespace) -> None:
    client = service.client
    company = marker()
    email = f"grace-{uuid.uuid4().hex[:6]}@example.com"
    original = create(
        client, first_name="Grace", last_name="Hopper", company=f"{company} Inc.", email=email
    ).lead

    rejected = create(client, first_name="GRACE", last_name="hopper", company=f"{company} GmbH")
    merged = create(
        client,
        last_name="Hopper",
        email=email.upper(),
        phone="123456",
        on_duplicate=leads_pb2.DUPLICATE_POLICY_MERGE,
    )
    insisted = create(client, last_name="Hopper", email=email, on_duplicate=leads_pb2.DUPLICATE_POLICY_INSIST)

    assert (rejected.outcome, rejected.HasField("lead")) == (
        leads_pb2.CREATE_LEAD_OUTCOME_DUPLICATES_FOUND,
        False,
    )
    assert [(d.lead_id, list(d.reasons), d.display_name) for d in rejected.duplicates] == [
        (original.id, [leads_pb2.DUPLICATE_REASON_SAME_PERSON_AT_COMPANY], "Grace Hopper")
    ]
    assert (merged.outcome, merged.lead.id, merged.lead.phone, merged.lead.version) == (
        leads_pb2.CREATE_LEAD_OUTCOME_MERGED,
        original.id,
        "123456",
        2,
    )
    assert insisted.outcome == leads_pb2.CREATE_LEAD_OUTCOME_CREATED and insisted.lead.id != original.id
    folded = client.call(
        "MergeLeads",
        leads_pb2.MergeLeadsRequest(primary_lead_id=original.id, duplicate_lead_ids=[insisted.lead.id]),
    )
    gone = client.call("GetLead", leads_pb2.GetLeadRequest(lead_id=insisted.lead.id))
    assert (folded.version, gone.status, gone.merged_into_lead_id) == (
        3,
        leads_pb2.LEAD_STATUS_DEAD,
        original.id,
    )


def test_values_at_postgresqls_limits_are_stored_or_refused_never_a_crash(service: SimpleNamespace) -> None:
    client = service.client
    long_subject = "u" * 300
    folded_wider = "ß" * 100  # 100 characters, 200 once case-folded for the uniqueness key

    created = create(client, long_subject, "marketing", company=marker())
    source = client.call(
        "CreateLeadSource",
        leads_pb2.CreateLeadSourceRequest(name=folded_wider, channel=leads_pb2.CHANNEL_OTHER),
        long_subject,
        "marketing",
    )
    with pytest.raises(grpc.RpcError) as nul:
        client.call("ListLeads", leads_pb2.ListLeadsRequest(text="a\x00b"))
    with pytest.raises(grpc.RpcError) as far:
        client.call(
            "ImportLeads",
            leads_pb2.ImportLeadsRequest(csv_text="last_name\nA\nB\n", first_line_number=2**31 - 1),
        )

    assert created.outcome == leads_pb2.CREATE_LEAD_OUTCOME_CREATED
    assert source.name == folded_wider
    assert nul.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert far.value.code() == grpc.StatusCode.INVALID_ARGUMENT
