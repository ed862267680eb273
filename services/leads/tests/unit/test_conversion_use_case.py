"""Converting a lead through a stand-in opportunities service: one opportunity however often it is
asked, a lead that stays put while a conversion is pending, and refusals passed on."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.domain.conversion import ConversionRequest, OpportunityOrder
from salesplane_leads.domain.duplicates import DuplicatePolicy
from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.lead_fields import LeadFields
from salesplane_leads.domain.lead_status import LeadStatus
from salesplane_leads.service_layer import conversion, leads
from salesplane_leads.service_layer.conversion import OpportunityRejected, OpportunityServiceUnavailable
from salesplane_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.money import Money, MoneyInput

REQUEST = ConversionRequest(
    amount=MoneyInput("EUR", 12_000_00), expected_close_date=date(2031, 9, 30), expected_close_date_given=True
)


class StandInOpportunities:
    """Remembers opportunities by request id, like the real service; can fail on demand."""

    def __init__(self) -> None:
        self.created: dict[str, tuple[str, OpportunityOrder]] = {}
        self.calls: list[tuple[OpportunityOrder, str]] = []
        self.fail_before: Exception | None = None
        self.fail_after: Exception | None = None

    def first_open_stage(self, *, on_behalf_of: str) -> str:
        return "Prospecting"

    def create_opportunity(self, order: OpportunityOrder, *, on_behalf_of: str) -> str:
        self.calls.append((order, on_behalf_of))
        if self.fail_before is not None:
            raise self.fail_before
        if order.request_id not in self.created:
            self.created[order.request_id] = (str(uuid.uuid4()), order)
        if self.fail_after is not None:
            failure, self.fail_after = self.fail_after, None
            raise failure
        return self.created[order.request_id][0]


@pytest.fixture
def opportunities() -> StandInOpportunities:
    return StandInOpportunities()


@pytest.fixture
def lead(store: Any, admin: Identity) -> Lead:
    result = leads.create_lead(
        fields=LeadFields(first_name="Ada", last_name="Lovelace", company="Analytical Engines"),
        assigned_user_id="bob",
        policy=DuplicatePolicy.REJECT,
        request_id="",
        caller=admin,
        uow=store.uow(),
    )
    assert result.lead is not None
    return result.lead


def convert(
    store: Any,
    opportunities: StandInOpportunities,
    lead_id: str,
    caller: Identity,
    request: ConversionRequest = REQUEST,
) -> conversion.Conversion:
    return conversion.convert_lead(
        lead_id=lead_id,
        request=request,
        caller=caller,
        uow=store.uow(),
        opportunities=opportunities,
    )


def test_converting_creates_the_opportunity_and_marks_the_lead_converted(
    store: Any, opportunities: StandInOpportunities, lead: Lead, who: Any
) -> None:
    done = convert(store, opportunities, lead.id, who("bob", "rep"))

    # Asked as the leads service, naming bob for the record.
    [(order, on_behalf_of)] = opportunities.calls
    assert on_behalf_of == "bob"
    assert (order.request_id, order.lead_id, order.name, order.account_name, order.owner_user_id) == (
        f"lead-conversion:{lead.id}",
        lead.id,
        "Analytical Engines",
        "Analytical Engines",
        "bob",
    )
    assert (order.amount, order.sales_stage) == (Money("EUR", 12_000_00), "Prospecting")
    assert (done.lead.status, done.lead.converted_opportunity_id, done.opportunity_id) == (
        LeadStatus.CONVERTED,
        done.opportunity_id,
        opportunities.created[order.request_id][0],
    )
    event = store.events("lead")[-1]
    assert (event.payload.kind, event.payload.previous_status, event.payload.lead.status) == (
        events_pb2.LEAD_CHANGE_KIND_CONVERTED,
        leads_pb2.LEAD_STATUS_ASSIGNED,
        leads_pb2.LEAD_STATUS_CONVERTED,
    )
    assert event.payload.lead.converted_opportunity_id == done.opportunity_id
    assert event.payload.lead.HasField("convert_time")


def test_converting_a_converted_lead_answers_the_same_without_asking_again(
    store: Any, opportunities: StandInOpportunities, lead: Lead, admin: Identity
) -> None:
    first = convert(store, opportunities, lead.id, admin)

    again = convert(store, opportunities, lead.id, admin)

    assert again == first
    assert len(opportunities.calls) == 1
    assert len(store.events("lead")) == 2


def test_a_failure_after_the_opportunity_was_made_is_completed_by_a_retry_with_the_same_opportunity(
    store: Any, opportunities: StandInOpportunities, lead: Lead, admin: Identity
) -> None:
    opportunities.fail_after = OpportunityServiceUnavailable("deadline exceeded")

    with pytest.raises(OpportunityServiceUnavailable):
        convert(store, opportunities, lead.id, admin)

    pending = leads.get_lead(lead_id=lead.id, caller=admin, uow=store.uow())
    assert pending.status is LeadStatus.ASSIGNED and pending.conversion_pending
    with pytest.raises(FailedPrecondition) as blocked:
        leads.change_lead_status(
            lead_id=lead.id,
            status=LeadStatus.DEAD,
            reason="x",
            expected_version=None,
            caller=admin,
            uow=store.uow(),
        )
    assert blocked.value.reason == "CONVERSION_PENDING"

    done = convert(store, opportunities, lead.id, admin)

    assert len(opportunities.created) == 1
    assert done.opportunity_id == next(iter(opportunities.created.values()))[0]
    assert done.lead.status is LeadStatus.CONVERTED and not done.lead.conversion_pending
    assert store.count("lead_conversions") == 1


def test_a_refusal_releases_the_lead_and_reaches_the_caller(
    store: Any, opportunities: StandInOpportunities, lead: Lead, admin: Identity
) -> None:
    opportunities.fail_before = OpportunityRejected(
        InvalidArgument(FieldViolation("opportunity.sales_stage", "no such stage"))
    )

    with pytest.raises(InvalidArgument) as error:
        convert(store, opportunities, lead.id, admin)

    assert [v.field for v in error.value.violations] == ["opportunity.sales_stage"]
    after = leads.get_lead(lead_id=lead.id, caller=admin, uow=store.uow())
    assert not after.conversion_pending
    leads.change_lead_status(
        lead_id=lead.id,
        status=LeadStatus.IN_PROCESS,
        reason="",
        expected_version=None,
        caller=admin,
        uow=store.uow(),
    )


def test_a_refusal_after_an_unanswered_attempt_keeps_the_lead_pending(
    store: Any, opportunities: StandInOpportunities, lead: Lead, admin: Identity
) -> None:
    opportunities.fail_before = OpportunityServiceUnavailable("down")
    with pytest.raises(OpportunityServiceUnavailable):
        convert(store, opportunities, lead.id, admin)
    opportunities.fail_before = OpportunityRejected(PermissionDenied("not yours"))

    with pytest.raises(PermissionDenied):
        convert(store, opportunities, lead.id, admin)

    # The first call may have created the opportunity; only a successful retry may release the lead.
    assert leads.get_lead(lead_id=lead.id, caller=admin, uow=store.uow()).conversion_pending


def test_only_an_assigned_or_in_process_lead_is_converted(
    store: Any, opportunities: StandInOpportunities, lead: Lead, admin: Identity
) -> None:
    leads.change_lead_status(
        lead_id=lead.id,
        status=LeadStatus.DEAD,
        reason="gone",
        expected_version=None,
        caller=admin,
        uow=store.uow(),
    )

    with pytest.raises(FailedPrecondition, match="from Dead to Converted"):
        convert(store, opportunities, lead.id, admin)
    assert opportunities.calls == [] and store.count("lead_conversions") == 0


def test_a_conversion_without_amount_or_date_takes_them_from_the_qualification_or_fails(
    store: Any, opportunities: StandInOpportunities, lead: Lead, admin: Identity
) -> None:
    with pytest.raises(InvalidArgument) as error:
        convert(store, opportunities, lead.id, admin, ConversionRequest())
    assert [v.field for v in error.value.violations] == ["amount", "expected_close_date"]
    assert store.count("lead_conversions") == 0


def test_a_rep_converts_only_leads_they_reach(
    store: Any, opportunities: StandInOpportunities, lead: Lead, who: Any
) -> None:
    with pytest.raises(PermissionDenied):
        convert(store, opportunities, lead.id, who("carol", "rep"))
    assert opportunities.calls == []


def test_only_the_user_who_started_a_pending_conversion_may_complete_it(
    store: Any, opportunities: StandInOpportunities, lead: Lead, who: Any
) -> None:
    store.reports_to("bob", "mia")
    opportunities.fail_after = OpportunityServiceUnavailable("timeout")
    with pytest.raises(OpportunityServiceUnavailable):
        convert(store, opportunities, lead.id, who("bob", "rep"))

    with pytest.raises(FailedPrecondition, match="bob started converting"):
        convert(store, opportunities, lead.id, who("mia", "manager"))

    assert convert(store, opportunities, lead.id, who("bob", "rep")).lead.status is LeadStatus.CONVERTED
    assert len(opportunities.created) == 1


def test_the_deal_goes_only_to_an_owner_the_converting_user_may_give_deals_to(
    store: Any, opportunities: StandInOpportunities, lead: Lead, who: Any
) -> None:
    """Opportunities lets the leads service create a conversion's deal for any active owner, so the
    leads service checks the user's right to that owner, as opportunities did for the user."""
    store.reports_to("bob", "mia")
    with pytest.raises(PermissionDenied, match="may not access opportunities owned by carol"):
        convert(store, opportunities, lead.id, who("bob", "rep"), replace(REQUEST, owner_user_id="carol"))
    assert opportunities.calls == [] and store.count("lead_conversions") == 0

    done = convert(store, opportunities, lead.id, who("mia", "manager"))

    [(order, on_behalf_of)] = opportunities.calls
    assert (order.owner_user_id, on_behalf_of, done.lead.status) == ("bob", "mia", LeadStatus.CONVERTED)
