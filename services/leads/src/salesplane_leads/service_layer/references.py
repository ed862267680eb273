"""A lead's lead source and campaign must exist, and the campaign must belong to the source."""

from __future__ import annotations

from dataclasses import replace

from salesplane_leads.domain.lead_fields import LeadFields
from salesplane_leads.service_layer.unit_of_work import LeadsUnitOfWork
from salesplane_platform.errors import Validator
from salesplane_platform.identifiers import is_uuid


def resolve_references(uow: LeadsUnitOfWork, fields: LeadFields, *, prefix: str) -> LeadFields:
    """Check the referenced source and campaign (ids already well-formed, or reported elsewhere);
    a campaign without a source brings its own source along. A missing or mismatched one is the
    stored data refusing a well-formed request: FAILED_PRECONDITION naming the field."""
    check = Validator()
    source_id, campaign_id = fields.lead_source_id, fields.campaign_id
    if source_id and is_uuid(source_id):
        check.require(
            uow.lead_sources.get(source_id) is not None,
            f"{prefix}lead_source_id",
            "no lead source has this id",
        )
    if campaign_id and is_uuid(campaign_id):
        campaign = uow.campaigns.get(campaign_id)
        if campaign is None:
            check.fail(f"{prefix}campaign_id", "no campaign has this id")
        elif not source_id:
            fields = replace(fields, lead_source_id=campaign.lead_source_id)
        elif campaign.lead_source_id != source_id:
            check.fail(
                f"{prefix}campaign_id",
                f"belongs to lead source {campaign.lead_source_id}, not to {source_id}",
            )
    check.raise_if_refused("UNKNOWN_REFERENCE")
    return fields
