"""The rules (field_rules.FieldRule) of the request fields the routes reach, by protobuf full name, as
each service checks them: its domain and service-layer checks are the truth, and
gateway/tests/test_gateway_field_rules.py holds every shared format to the platform's own checks.
A field without an entry takes any value of its type."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.descriptor import FieldDescriptor

from salesplane_gateway.field_rules import (
    CURRENCY,
    PERCENT,
    PERIOD_ID,
    PERIOD_ID_OR_EMPTY,
    USER_ID_OR_EMPTY,
    USER_ID_VALUE,
    UUID,
    UUID_OR_EMPTY,
    VERSION,
    FieldRule,
    text,
)
from salesplane_platform.money import MAX_AMOUNT_MINOR
from salesplane_platform.page_tokens import MAX_PAGE_SIZE

COMMON = "salesplane.common.v1."
OPPORTUNITIES = "salesplane.opportunities.v1."
LEADS = "salesplane.leads.v1."
FORECASTING = "salesplane.forecasting.v1."
REPORTING = "salesplane.reporting.v1."
AUDIT = "salesplane.audit.v1."

_REQUIRED_UUID = FieldRule(UUID, required=True)
_OPTIONAL_UUID = FieldRule(UUID_OR_EMPTY)
_REQUIRED_USER = FieldRule(USER_ID_VALUE, required=True)
_OPTIONAL_USER = FieldRule(USER_ID_OR_EMPTY)
_PERIOD = FieldRule(PERIOD_ID, required=True)
_PERIOD_OR_EMPTY = FieldRule(PERIOD_ID_OR_EMPTY)
_PAGE_SIZE = FieldRule({"minimum": 0, "maximum": MAX_PAGE_SIZE, "description": "0: 50."})
_AMOUNT_MINOR = {"minimum": 0, "maximum": MAX_AMOUNT_MINOR}
_PRESENT = FieldRule(required=True)
# The dates a deal closes or a rate takes effect on (opportunity_inputs.EARLIEST_CLOSE_DATE, LATEST_..).
_DATE_1970_TO_2199 = {"pattern": "^(?:19[7-9][0-9]|2[01][0-9]{2})-", "description": "1970-01-01..2199-12-31."}
# forecasting's inspection thresholds.RANGES: (low, high) of each; a low above 0 makes it required,
# since protobuf cannot tell 0 from unset.
_THRESHOLDS = {
    "low_p_quota_bp": (0, 10_000),
    "coverage_tolerance_bp": (0, 9_999),
    "pacing_tolerance_bp": (0, 10_000),
    "commit_excess_bp": (0, 1_000_000),
    "commit_shortfall_bp": (0, 10_000),
    "slipping_share_bp": (0, 10_000),
    "bias_tolerance_bp": (0, 1_000_000),
    "bias_min_periods": (1, 12),
    "trailing_periods": (1, 12),
    "default_coverage_needed_bp": (10_000, 1_000_000),
    "max_coverage_needed_bp": (10_000, 1_000_000),
    "stalled_percentile": (1, 100),
    "stalled_min_samples": (1, 10_000),
    "large_deal_share_bp": (1, 1_000_000),
    "unlikely_max_probability": (0, 100),
    "unlikely_max_stage_order": (0, 1_000),
    "pushes_to_flag": (1, 100),
    "no_change_days": (1, 366),
    "backward_lookback_days": (1, 366),
    "slipping_lookback_days": (1, 366),
    "movement_lookback_days": (1, 366),
}


def _each(prefix: str, rule: FieldRule, *fields: str) -> dict[str, FieldRule]:
    return {prefix + name: rule for name in fields}


# Every request's expected_version (or expected_revision): the version a change is based on.
_VERSION_FIELDS = frozenset({"expected_version", "expected_revision"})
_VERSION = FieldRule(VERSION)
NO_RULE = FieldRule()


def rule_of(field: FieldDescriptor) -> FieldRule:
    if field.name in _VERSION_FIELDS:
        return _VERSION
    return RULES.get(field.full_name, NO_RULE)


RULES: Mapping[str, FieldRule] = {
    # -- shared messages ------------------------------------------------------------------------
    COMMON + "Money.currency_code": FieldRule(CURRENCY, required=True),
    # Every amount a caller sends is a non-negative one (a cost above 0: the service's check alone).
    COMMON + "Money.amount_minor": FieldRule(_AMOUNT_MINOR),
    # -- opportunities --------------------------------------------------------------------------
    **_each(
        OPPORTUNITIES,
        _REQUIRED_UUID,
        "GetOpportunityRequest.opportunity_id",
        "DeleteOpportunityRequest.opportunity_id",
        "CloseOpportunityRequest.opportunity_id",
        "ReopenOpportunityRequest.opportunity_id",
        "ReassignOpportunityRequest.opportunity_id",
        "GetStageHistoryRequest.opportunity_id",
        "Opportunity.id",
    ),
    OPPORTUNITIES + "CreateOpportunityRequest.name": FieldRule(text(255, required=True), required=True),
    OPPORTUNITIES + "CreateOpportunityRequest.owner_user_id": _OPTIONAL_USER,
    OPPORTUNITIES + "CreateOpportunityRequest.amount": _PRESENT,
    OPPORTUNITIES + "CreateOpportunityRequest.expected_close_date": FieldRule(
        _DATE_1970_TO_2199, required=True
    ),
    OPPORTUNITIES + "Opportunity.expected_close_date": FieldRule(_DATE_1970_TO_2199),
    OPPORTUNITIES + "SetExchangeRateRequest.effective_from": FieldRule(_DATE_1970_TO_2199, required=True),
    OPPORTUNITIES + "CreateOpportunityRequest.sales_stage": FieldRule(text(64, required=True), required=True),
    OPPORTUNITIES + "CreateOpportunityRequest.probability": FieldRule(PERCENT),
    OPPORTUNITIES + "CreateOpportunityRequest.account_name": FieldRule(text(255)),
    OPPORTUNITIES + "CreateOpportunityRequest.best_case_minor": FieldRule(_AMOUNT_MINOR),
    OPPORTUNITIES + "CreateOpportunityRequest.worst_case_minor": FieldRule(_AMOUNT_MINOR),
    OPPORTUNITIES + "CreateOpportunityRequest.next_step": FieldRule(text(500, multiline=True)),
    **_each(
        OPPORTUNITIES,
        _OPTIONAL_UUID,
        "CreateOpportunityRequest.lead_source_id",
        "CreateOpportunityRequest.campaign_id",
        "CreateOpportunityRequest.lead_id",
        "Opportunity.lead_source_id",
        "Opportunity.campaign_id",
        "ListOpportunitiesRequest.lead_id",
        "ListOpportunitiesRequest.campaign_id",
    ),
    OPPORTUNITIES + "CreateOpportunityRequest.request_id": FieldRule(text(128)),
    OPPORTUNITIES + "Opportunity.name": FieldRule(text(255, required=True)),
    OPPORTUNITIES + "Opportunity.account_name": FieldRule(text(255)),
    OPPORTUNITIES + "Opportunity.owner_user_id": FieldRule(USER_ID_VALUE),
    OPPORTUNITIES + "Opportunity.probability": FieldRule(PERCENT),
    OPPORTUNITIES + "Opportunity.next_step": FieldRule(text(500, multiline=True)),
    OPPORTUNITIES + "ListOpportunitiesRequest.page_size": _PAGE_SIZE,
    OPPORTUNITIES + "ListOpportunitiesRequest.owner_user_ids": FieldRule(USER_ID_VALUE),
    OPPORTUNITIES + "ListOpportunitiesRequest.amount_base_min": FieldRule(_AMOUNT_MINOR),
    OPPORTUNITIES + "ListOpportunitiesRequest.amount_base_max": FieldRule(_AMOUNT_MINOR),
    OPPORTUNITIES + "ListOpportunitiesRequest.text": FieldRule(text(200)),
    OPPORTUNITIES + "CloseOpportunityRequest.outcome": _PRESENT,
    OPPORTUNITIES + "CloseOpportunityRequest.reason": FieldRule(text(500, multiline=True)),
    OPPORTUNITIES + "ReopenOpportunityRequest.sales_stage": FieldRule(text(64, required=True), required=True),
    OPPORTUNITIES + "ReassignOpportunityRequest.new_owner_user_id": _REQUIRED_USER,
    OPPORTUNITIES + "ReplaceSalesStagesRequest.sales_stages": FieldRule(
        items={"minItems": 1, "maxItems": 50}, required=True
    ),
    OPPORTUNITIES + "SalesStage.name": FieldRule(text(64, required=True), required=True),
    OPPORTUNITIES + "SalesStage.default_probability": FieldRule(PERCENT),
    OPPORTUNITIES + "ListExchangeRatesRequest.currency_code": FieldRule({"enum": ["", *CURRENCY["enum"]]}),
    OPPORTUNITIES + "SetExchangeRateRequest.currency_code": FieldRule(CURRENCY, required=True),
    OPPORTUNITIES + "SetExchangeRateRequest.rate": FieldRule(
        {"pattern": r"^[0-9]{1,12}(?:\.[0-9]{1,12})?$", "examples": ["1.0850"]}, required=True
    ),
    OPPORTUNITIES + "ReassignOpenOpportunitiesRequest.from_user_id": _REQUIRED_USER,
    OPPORTUNITIES + "ReassignOpenOpportunitiesRequest.to_user_id": _REQUIRED_USER,
    # -- leads ----------------------------------------------------------------------------------
    **_each(
        LEADS,
        _REQUIRED_UUID,
        "GetLeadRequest.lead_id",
        "UpdateLeadRequest.lead_id",
        "AssignLeadRequest.lead_id",
        "ChangeLeadStatusRequest.lead_id",
        "QualifyLeadRequest.lead_id",
        "ConvertLeadRequest.lead_id",
        "MergeLeadsRequest.primary_lead_id",
        "RecordLeadTouchRequest.lead_id",
        "ListLeadTouchesRequest.lead_id",
        "GetCampaignRequest.campaign_id",
        "Campaign.id",
        "RecordCampaignCostRequest.campaign_id",
        "TouchInput.campaign_id",
    ),
    LEADS + "MergeLeadsRequest.duplicate_lead_ids": FieldRule(
        UUID, items={"minItems": 1, "maxItems": 20}, required=True
    ),
    LEADS + "LeadFields.last_name": FieldRule(text(100, required=True), required=True),
    # The rest of a lead's free text as lead_fields.check_lead_fields checks it.
    LEADS + "LeadFields.first_name": FieldRule(text(100)),
    LEADS + "LeadFields.company": FieldRule(text(255)),
    LEADS + "LeadFields.title": FieldRule(text(128)),
    LEADS + "LeadFields.description": FieldRule(text(4000, multiline=True)),
    LEADS + "Address.street": FieldRule(text(255)),
    LEADS + "Address.city": FieldRule(text(100)),
    LEADS + "Address.region": FieldRule(text(100)),
    LEADS + "Address.postal_code": FieldRule(text(20)),
    **_each(
        LEADS,
        _OPTIONAL_UUID,
        "LeadFields.lead_source_id",
        "LeadFields.campaign_id",
        "ListLeadsRequest.lead_source_id",
        "ListLeadsRequest.campaign_id",
        "ListCampaignsRequest.lead_source_id",
    ),
    LEADS + "CreateLeadRequest.lead": _PRESENT,
    LEADS + "CreateLeadRequest.assigned_user_id": _OPTIONAL_USER,
    LEADS + "CreateLeadRequest.request_id": FieldRule(text(128)),
    LEADS + "CreateLeadRequest.touches": FieldRule(items={"maxItems": 100}),
    LEADS + "AssignLeadRequest.assigned_user_id": _OPTIONAL_USER,
    LEADS + "ChangeLeadStatusRequest.status": _PRESENT,
    LEADS + "ChangeLeadStatusRequest.reason": FieldRule(text(500)),
    LEADS + "ListLeadsRequest.page_size": _PAGE_SIZE,
    LEADS + "ListLeadsRequest.assigned_user_ids": FieldRule(USER_ID_VALUE),
    LEADS + "ListLeadsRequest.text": FieldRule(text(200)),
    LEADS + "ListLeadsRequest.min_score": FieldRule(PERCENT),
    LEADS + "TouchInput.touch_key": FieldRule(text(128)),
    # Not before 1970 (touches.py); not in the future, which no schema can say.
    LEADS + "TouchInput.touch_time": FieldRule(
        {"pattern": "^(?:19[7-9][0-9]|[2-9][0-9]{3})-"}, required=True
    ),
    LEADS + "TouchInput.kind": _PRESENT,
    LEADS + "RecordLeadTouchRequest.touch": _PRESENT,
    LEADS + "QualifyLeadRequest.qualification": _PRESENT,
    LEADS + "ScoringRule.id": FieldRule({"pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$"}, required=True),
    LEADS + "ScoringRule.criterion": _PRESENT,
    LEADS + "CreateCampaignRequest.budget": _PRESENT,
    LEADS + "CreateCampaignRequest.start_date": _PRESENT,
    LEADS + "CreateCampaignRequest.end_date": _PRESENT,
    LEADS + "TouchInput.note": FieldRule(text(500, multiline=True)),
    LEADS + "Qualification.notes": FieldRule(text(2000, multiline=True)),
    LEADS + "ConvertLeadRequest.opportunity_name": FieldRule(text(255, required=True), required=True),
    LEADS + "ConvertLeadRequest.owner_user_id": _OPTIONAL_USER,
    LEADS + "ConvertLeadRequest.sales_stage": FieldRule(text(64)),
    LEADS + "ConvertLeadRequest.next_step": FieldRule(text(255)),
    LEADS + "ImportLeadsRequest.file_name": FieldRule(text(255)),
    LEADS + "ScoringRule.description": FieldRule(text(200)),
    LEADS + "ScoringRule.points": FieldRule({"minimum": -100, "maximum": 100}),
    LEADS + "ScoringRule.within_days": FieldRule({"minimum": 0, "maximum": 3650}),
    LEADS + "ScoringRule.lead_source_id": _OPTIONAL_UUID,
    LEADS + "ReplaceScoringRulesRequest.rules": FieldRule(items={"maxItems": 100}),
    LEADS + "CreateLeadSourceRequest.name": FieldRule(text(100, required=True), required=True),
    LEADS + "CreateLeadSourceRequest.channel": _PRESENT,
    LEADS + "CreateCampaignRequest.name": FieldRule(text(100, required=True), required=True),
    LEADS + "CreateCampaignRequest.lead_source_id": _REQUIRED_UUID,
    LEADS + "Campaign.name": FieldRule(text(100, required=True)),
    LEADS + "RecordCampaignCostRequest.incurred_on": _PRESENT,
    LEADS + "RecordCampaignCostRequest.amount": _PRESENT,
    LEADS + "RecordCampaignCostRequest.note": FieldRule(text(500)),
    LEADS + "RecordCampaignCostRequest.request_id": FieldRule(text(128, required=True), required=True),
    LEADS + "CountOpenLeadsRequest.user_id": _REQUIRED_USER,
    LEADS + "ReassignOpenLeadsRequest.from_user_id": _REQUIRED_USER,
    LEADS + "ReassignOpenLeadsRequest.to_user_id": _REQUIRED_USER,
    # -- org and forecasting --------------------------------------------------------------------
    FORECASTING + "ListUsersRequest.root_user_id": _OPTIONAL_USER,
    FORECASTING + "GetUserRequest.user_id": _REQUIRED_USER,
    FORECASTING + "UpsertUserRequest.user": _PRESENT,
    FORECASTING + "User.user_id": _REQUIRED_USER,
    FORECASTING + "User.display_name": FieldRule(text(200, required=True), required=True),
    FORECASTING + "User.email": FieldRule({**text(254), "format": "email"}),
    FORECASTING + "User.roles": FieldRule(
        {"enum": ["admin", "manager", "marketing", "rep"]}, items={"minItems": 1}, required=True
    ),
    FORECASTING + "User.manager_user_id": _OPTIONAL_USER,
    FORECASTING + "GetRollupRequest.user_id": _REQUIRED_USER,
    FORECASTING + "GetRollupRequest.period_id": _PERIOD,  # the service refuses an empty one
    FORECASTING + "GetProbabilisticForecastRequest.user_id": _REQUIRED_USER,
    FORECASTING + "GetProbabilisticForecastRequest.period_id": _PERIOD,
    FORECASTING + "UpdateForecastSettingsRequest.settings": _PRESENT,
    FORECASTING + "ForecastSettings.fiscal_year_start_month": FieldRule(
        {"minimum": 1, "maximum": 12}, required=True
    ),
    FORECASTING + "ForecastSettings.range_scheme": _PRESENT,
    FORECASTING + "ForecastRange.name": FieldRule(text(40, required=True), required=True),
    FORECASTING + "ForecastRange.min_probability": FieldRule(PERCENT),
    FORECASTING + "ForecastRange.max_probability": FieldRule(PERCENT),
    FORECASTING + "ForecastRange.commit_stage": _PRESENT,
    FORECASTING + "ListPeriodsRequest.fiscal_year": FieldRule({"minimum": 1, "maximum": 9998}),
    FORECASTING + "GetPeriodOfDateRequest.date": _PRESENT,
    **{
        FORECASTING + f"{message}.{name}": rule
        for message, fields in {
            "SetQuotaRequest": ("user_id", "period_id"),
            "GetQuotaRequest": ("user_id", "period_id"),
            "ListQuotaChangesRequest": ("user_id",),
            "GetQuotaPlanRequest": ("manager_user_id", "period_id"),
            "SaveQuotaDraftRequest": ("manager_user_id", "period_id"),
            "CommitQuotaPlanRequest": ("manager_user_id", "period_id"),
            "GetWorksheetRequest": ("user_id", "period_id"),
            "AdjustManagerRowRequest": ("manager_user_id", "period_id", "user_id"),
            "SaveWorksheetDraftRequest": ("user_id", "period_id"),
            "CommitForecastRequest": ("user_id", "period_id"),
            "ListForecastCommitsRequest": ("user_id", "period_id"),
            "GetForecastAccuracyRequest": ("user_id", "period_id"),
            "InspectTeamRequest": ("manager_user_id", "period_id"),
            "InspectRepRequest": ("user_id", "period_id"),
            "DraftAllocation": ("user_id",),
        }.items()
        for name in fields
        for rule in [_PERIOD if name == "period_id" else _REQUIRED_USER]
    },
    FORECASTING + "ListQuotaChangesRequest.period_id": _PERIOD_OR_EMPTY,
    FORECASTING + "SetQuotaRequest.amount": _PRESENT,
    FORECASTING + "DraftAllocation.amount": _PRESENT,
    FORECASTING + "DraftAllocation.kind": _PRESENT,
    FORECASTING + "SaveQuotaDraftRequest.allocations": FieldRule(items={"maxItems": 1000}),
    FORECASTING + "SaveWorksheetDraftRequest.note": FieldRule(text(2000, multiline=True)),
    FORECASTING + "CommitForecastRequest.note": FieldRule(text(2000, multiline=True)),
    FORECASTING + "SetCommitStageRequest.opportunity_id": FieldRule(text(64, required=True), required=True),
    FORECASTING + "ListRiskAlertsRequest.user_id": _REQUIRED_USER,
    FORECASTING + "ListRiskAlertsRequest.period_id": _PERIOD_OR_EMPTY,
    FORECASTING + "ListRiskAlertsRequest.page_size": _PAGE_SIZE,
    FORECASTING + "UpdateInspectionSettingsRequest.settings": _PRESENT,
    FORECASTING + "InspectionSettings.thresholds": _PRESENT,
    **{
        FORECASTING + f"InspectionThresholds.{name}": FieldRule(
            {"minimum": low, "maximum": high}, required=low > 0
        )
        for name, (low, high) in _THRESHOLDS.items()
    },
    # -- reporting and audit --------------------------------------------------------------------
    REPORTING + "SaveReportRequest.title": FieldRule(text(200, required=True), required=True),
    REPORTING + "SaveReportRequest.definition": _PRESENT,
    REPORTING + "CreateScheduleRequest.schedule": _PRESENT,
    REPORTING + "ReportSchedule.frequency": _PRESENT,
    REPORTING + "ExportReportRequest.format": _PRESENT,
    REPORTING + "ListReportRunsRequest.limit": FieldRule({"minimum": 0}),
    AUDIT + "ListAuditEntriesRequest.page_size": _PAGE_SIZE,
}
