"""Use cases on lead sources and campaigns (marketing and admins change them, everyone reads)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from salesplane_leads.domain.access import ensure_can_manage_marketing
from salesplane_leads.domain.marketing import (
    Campaign,
    CampaignPlan,
    Channel,
    LeadSource,
    check_cost_entry,
    check_new_plan,
)
from salesplane_leads.service_layer.request_checks import require_uuid, retry_lost_races
from salesplane_leads.service_layer.unit_of_work import AlreadyStored, LeadsUnitOfWork
from salesplane_platform.errors import FailedPrecondition, FieldViolation, NotFound
from salesplane_platform.identity import Identity
from salesplane_platform.money import MoneyInput


def _name_taken(what: str, name: str) -> FailedPrecondition:
    """For the AlreadyStored of the unique name key, which alone tells a taken name (a lookup
    beforehand would cost a query and still miss a concurrent insert)."""
    return FailedPrecondition(f"a {what} named {name!r} exists already", reason="ALREADY_EXISTS")


def create_lead_source(
    *, name: str, channel: Channel | None, caller: Identity, uow: LeadsUnitOfWork
) -> LeadSource:
    """Add a lead source; names are unique case-insensitively."""
    source = LeadSource.create(name=name, channel=channel)
    ensure_can_manage_marketing(caller, "lead sources")
    with uow.acting_for(caller.subject):
        try:
            uow.lead_sources.add(source)
        except AlreadyStored:
            raise _name_taken("lead source", source.name) from None
        uow.commit()
    return source


def list_lead_sources(*, uow: LeadsUnitOfWork) -> list[LeadSource]:
    """Every lead source, by name."""
    with uow:
        return uow.lead_sources.all()


def create_campaign(
    *,
    plan: CampaignPlan,
    lead_source_id: str,
    channel: Channel | None,
    caller: Identity,
    uow: LeadsUnitOfWork,
) -> Campaign:
    """Add a campaign run through a lead source; without a channel it takes the source's."""
    require_uuid("lead_source_id", lead_source_id)
    check_new_plan(plan)
    ensure_can_manage_marketing(caller, "campaigns")
    with uow.acting_for(caller.subject):
        source = uow.lead_sources.get(lead_source_id)
        if source is None:
            raise FailedPrecondition(
                "lead_source_id: no lead source has this id",
                reason="UNKNOWN_REFERENCE",
                violations=[FieldViolation("lead_source_id", "no lead source has this id")],
            )
        campaign = Campaign.create(plan=plan, source=source, channel=channel)
        try:
            uow.campaigns.add(campaign)
        except AlreadyStored:
            raise _name_taken("campaign", campaign.name) from None
        uow.commit()
    return campaign


def _load_campaign(uow: LeadsUnitOfWork, campaign_id: str) -> Campaign:
    campaign = uow.campaigns.get(campaign_id)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    return campaign


def update_campaign(
    *,
    campaign_id: str,
    plan: CampaignPlan,
    expected_version: int | None,
    caller: Identity,
    uow: LeadsUnitOfWork,
) -> Campaign:
    """Change a campaign's name, money or dates."""
    require_uuid("campaign.id", campaign_id)
    ensure_can_manage_marketing(caller, "campaigns")
    with uow.acting_for(caller.subject):
        campaign = _load_campaign(uow, campaign_id)
        campaign.ensure_version(expected_version)
        read_version = campaign.version
        if not campaign.revise(plan):
            return campaign
        try:
            uow.campaigns.save(campaign, read_version=read_version)
        except AlreadyStored:
            raise _name_taken("campaign", campaign.name) from None
        uow.commit()
    return campaign


def get_campaign(*, campaign_id: str, uow: LeadsUnitOfWork) -> Campaign:
    require_uuid("campaign_id", campaign_id)
    with uow:
        return _load_campaign(uow, campaign_id)


def list_campaigns(*, lead_source_id: str, uow: LeadsUnitOfWork) -> list[Campaign]:
    """Every campaign (of one lead source, if given), by name."""
    if lead_source_id:
        require_uuid("lead_source_id", lead_source_id)
    with uow:
        return uow.campaigns.list(lead_source_id=lead_source_id)


def record_campaign_cost(
    *,
    campaign_id: str,
    incurred_on: date | None,
    amount: MoneyInput | None,
    note: str,
    request_id: str,
    caller: Identity,
    uow: LeadsUnitOfWork,
) -> Campaign:
    """Add a cost incurred on a date; the same request id adds it once."""
    require_uuid("campaign_id", campaign_id)
    check_cost_entry(incurred_on=incurred_on, amount=amount, note=note, request_id=request_id)
    ensure_can_manage_marketing(caller, "campaign costs")

    def record() -> Campaign:
        with uow.acting_for(caller.subject):
            campaign = _load_campaign(uow, campaign_id)
            read_version = campaign.version
            if campaign.record_cost(
                incurred_on=incurred_on,
                amount=amount,
                note=note,
                request_id=request_id.strip(),
                now=datetime.now(UTC),
            ):
                uow.campaigns.save(campaign, read_version=read_version)
                uow.commit()
            return campaign

    # A concurrent cost (or the same one sent twice at once) bumps the version first; the retry
    # then adds this entry, or finds it there.
    return retry_lost_races(record, on_conflict=True)
