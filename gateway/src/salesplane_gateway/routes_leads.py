"""Routes of LeadService: leads and their workflow, CSV import, scoring rules, sources, campaigns."""

from __future__ import annotations

from salesplane.leads.v1 import leads_pb2
from salesplane_gateway.lead_creation import CreateLeadPresenter
from salesplane_gateway.lead_touches import RecordTouchPresenter
from salesplane_gateway.merge_patch import MergePatchBody
from salesplane_gateway.routing import CsvBody, JsonBody, Route, Service

LEADS = Service(leads_pb2, "LeadService", upstream="leads")
rpc = LEADS.rpc

LEAD = "/v1/leads/{lead_id}"
CAMPAIGN = "/v1/campaigns/{campaign_id}"

_ADDRESS_MEMBERS = tuple(f"address.{f.name}" for f in leads_pb2.Address.DESCRIPTOR.fields)
LEAD_PATCH = MergePatchBody(
    field="lead",
    # Every field of LeadFields; the address is replaced whole (null clears it) or merged member by member.
    paths=(*(f.name for f in leads_pb2.LeadFields.DESCRIPTOR.fields), *_ADDRESS_MEMBERS),
)
CAMPAIGN_PATCH = MergePatchBody(
    field="campaign",
    # As UpdateCampaignRequest.update_mask lists them; money is replaced whole (one currency per campaign).
    paths=("name", "budget", "expected_cost", "expected_revenue", "start_date", "end_date"),
)

LEAD_ROUTES = (
    Route(
        "POST",
        "/v1/leads",
        rpc("CreateLead"),
        "Capture a lead (checked for duplicates first)",
        body=JsonBody(),
        presenter=CreateLeadPresenter(),
        etag="lead.version",
        location="/v1/leads/{lead.id}",
    ),
    Route(
        "GET",
        "/v1/leads",
        rpc("ListLeads"),
        "List leads, filtered, a page at a time",
        query={
            "page_size": "page_size",
            "page_token": "page_token",
            "status": "statuses",
            "assigned_user_id": "assigned_user_ids",
            "lead_source_id": "lead_source_id",
            "campaign_id": "campaign_id",
            "text": "text",
            "min_score": "min_score",
        },
    ),
    Route("GET", LEAD, rpc("GetLead"), "Read a lead", etag="version"),
    Route(
        "PATCH",
        LEAD,
        rpc("UpdateLead"),
        "Change some fields of a lead (JSON merge patch)",
        body=LEAD_PATCH,
        if_match="expected_version",
        etag="version",
    ),
    Route(
        "POST",
        LEAD + ":assign",
        rpc("AssignLead"),
        "Assign a lead to a user, or unassign it",
        body=JsonBody(),
        if_match="expected_version",
        etag="version",
    ),
    Route(
        "POST",
        LEAD + ":change-status",
        rpc("ChangeLeadStatus"),
        "Move a lead through the status workflow",
        body=JsonBody(),
        if_match="expected_version",
        etag="version",
    ),
    Route(
        "POST",
        LEAD + ":qualify",
        rpc("QualifyLead"),
        "Record budget, authority, need and timeline; the lead is scored",
        body=JsonBody(),
        if_match="expected_version",
        etag="version",
    ),
    Route(
        "POST",
        LEAD + ":convert",
        rpc("ConvertLead"),
        "Convert a lead into an opportunity",
        body=JsonBody(),
        etag="lead.version",
    ),
    Route(
        "POST",
        LEAD + ":merge",
        rpc("MergeLeads"),
        "Fold duplicate leads into this one",
        body=JsonBody(),
        path_fields={"lead_id": "primary_lead_id"},
        etag="version",
    ),
    Route(
        "POST",
        LEAD + "/touches",
        rpc("RecordLeadTouch"),
        "Record a lead's contact with a campaign (idempotent by touch key)",
        body=JsonBody(field="touch"),
        presenter=RecordTouchPresenter(),
    ),
    Route("GET", LEAD + "/touches", rpc("ListLeadTouches"), "A lead's touches, oldest first"),
    Route(
        "POST",
        "/v1/leads:import",
        rpc("ImportLeads"),
        "Import leads from a CSV file",
        body=CsvBody(text_field="csv_text", first_line_field="first_line_number"),
        query={"on_duplicate": "on_duplicate", "file_name": "file_name"},
        description="The file is sent to the service in chunks of whole records and the reports are "
        "merged into one, with the line numbers of this file. Importing the same rows again imports "
        "nothing twice, so after a failure (which names the last line processed in "
        "`processed_through_line` and carries the merged report of the rows before it in `report`) the "
        "whole file can simply be sent again.",
    ),
    Route("GET", "/v1/scoring-rules", rpc("GetScoringRules"), "The lead scoring rules", etag="revision"),
    Route(
        "PUT",
        "/v1/scoring-rules",
        rpc("ReplaceScoringRules"),
        "Replace the lead scoring rules",
        body=JsonBody(),
        if_match="expected_revision",
        etag="revision",
    ),
    Route(
        "POST",
        "/v1/lead-sources",
        rpc("CreateLeadSource"),
        "Create a lead source",
        body=JsonBody(),
        status=201,
        etag="version",
    ),
    Route("GET", "/v1/lead-sources", rpc("ListLeadSources"), "List the lead sources"),
    Route(
        "POST",
        "/v1/campaigns",
        rpc("CreateCampaign"),
        "Create a campaign",
        body=JsonBody(),
        status=201,
        etag="version",
        location="/v1/campaigns/{id}",
    ),
    Route(
        "GET",
        "/v1/campaigns",
        rpc("ListCampaigns"),
        "List campaigns",
        query={"lead_source_id": "lead_source_id"},
    ),
    Route("GET", CAMPAIGN, rpc("GetCampaign"), "Read a campaign", etag="version"),
    Route(
        "PATCH",
        CAMPAIGN,
        rpc("UpdateCampaign"),
        "Change some fields of a campaign (JSON merge patch)",
        body=CAMPAIGN_PATCH,
        path_fields={"campaign_id": "campaign.id"},
        if_match="expected_version",
        etag="version",
    ),
    Route(
        "POST",
        CAMPAIGN + ":record-cost",
        rpc("RecordCampaignCost"),
        "Record a cost incurred by a campaign",
        body=JsonBody(),
        etag="version",
    ),
    Route(
        "GET",
        "/v1/leads:count-open",
        rpc("CountOpenLeads"),
        "How many open leads a user has (admin)",
        query={"user_id": "user_id"},
        required_query=("user_id",),
    ),
    Route(
        "POST",
        "/v1/leads:reassign-open",
        rpc("ReassignOpenLeads"),
        "Hand every open lead of one user to another (admin)",
        body=JsonBody(),
    ),
)
