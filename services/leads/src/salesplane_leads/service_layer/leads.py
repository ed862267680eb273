"""Use cases on leads: capture (with duplicate detection), read, list, edit, assign, move through the
workflow, qualify and merge. Each validates the request, then authorises, then changes one
transaction's worth of state; its commit writes the events the changed leads raised."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

from salesplane_leads.domain.access import (
    InSubtree,
    can_reach_lead,
    ensure_can_assign,
    ensure_can_create_leads,
    ensure_can_reach_lead,
    lead_scope,
)
from salesplane_leads.domain.duplicates import (
    DuplicateCandidate,
    DuplicatePolicy,
    MatchingKeys,
    duplicate_candidates,
    merge_target,
)
from salesplane_leads.domain.lead import Lead, checked_status_reason
from salesplane_leads.domain.lead_fields import LeadFields, check_lead_fields
from salesplane_leads.domain.lead_status import LeadStatus
from salesplane_leads.domain.qualification import QualificationInput, validated_qualification
from salesplane_leads.domain.touches import CheckedTouch, TouchInput, checked_touches
from salesplane_leads.service_layer.lead_pages import encode_token, page_request
from salesplane_leads.service_layer.references import resolve_references
from salesplane_leads.service_layer.request_checks import (
    check_request_id,
    require_uuid,
    retry_lost_races,
)
from salesplane_leads.service_layer.touch_recording import check_campaigns_exist, record_touches
from salesplane_leads.service_layer.unit_of_work import LeadCursor, LeadFilter, LeadsUnitOfWork
from salesplane_platform.errors import Conflict, FieldViolation, InvalidArgument, NotFound, Validator
from salesplane_platform.identifiers import is_user_id, is_uuid
from salesplane_platform.identity import Identity
from salesplane_platform.org_membership import ensure_active_member
from salesplane_platform.text_rules import check_text

MAX_MERGED_DUPLICATES = 20
MAX_SEARCH_TEXT_LENGTH = 200
LEAD_FIELDS_PREFIX = "lead."
TOUCHES_FIELD = "touches"


class CreateOutcome(Enum):
    CREATED = "created"
    DUPLICATES_FOUND = "duplicates_found"
    MERGED = "merged"


@dataclass(frozen=True)
class CreateResult:
    outcome: CreateOutcome
    # The created or merged-into lead; None when duplicates were found.
    lead: Lead | None
    duplicates: Sequence[DuplicateCandidate] = field(default_factory=tuple)


def subtree_of(caller: Identity, uow: LeadsUnitOfWork) -> InSubtree:
    return lambda user_id: uow.org.in_subtree(caller.subject, user_id)


def load_lead(uow: LeadsUnitOfWork, lead_id: str) -> Lead:
    lead = uow.leads.get(lead_id)
    if lead is None:
        raise NotFound("lead", lead_id)
    return lead


def load_reachable_lead(uow: LeadsUnitOfWork, lead_id: str, caller: Identity) -> Lead:
    lead = load_lead(uow, lead_id)
    ensure_can_reach_lead(caller, lead.id, lead.assigned_user_id, subtree_of(caller, uow))
    return lead


def ensure_version(lead: Lead, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != lead.version:
        raise Conflict(f"lead {lead.id} is at version {lead.version}, not {expected_version}")


def create_lead(
    *,
    fields: LeadFields,
    assigned_user_id: str,
    policy: DuplicatePolicy,
    request_id: str,
    caller: Identity,
    uow: LeadsUnitOfWork,
    touches: Sequence[TouchInput] = (),
) -> CreateResult:
    """Capture a lead unless it duplicates one we have (see DuplicatePolicy), with its touches
    (recorded on the lead merged into, under MERGE; none when duplicates were found)."""
    check = Validator()
    check_request_id(check, request_id)
    check.raise_if_invalid()
    # Fails on any invalid field before anything else is looked at.
    Lead.create(
        fields,
        assigned_user_id=assigned_user_id,
        created_by=caller.subject,
        rules=(),
        field_prefix=LEAD_FIELDS_PREFIX,
    )
    checked = checked_touches(list(touches), now=datetime.now(UTC), prefix=TOUCHES_FIELD)
    ensure_can_create_leads(caller)
    return retry_lost_races(
        lambda: _create_lead(
            fields, assigned_user_id.strip(), policy, request_id.strip(), checked, caller, uow
        )
    )


def _create_lead(
    fields: LeadFields,
    assigned_user_id: str,
    policy: DuplicatePolicy,
    request_id: str,
    touches: Sequence[CheckedTouch],
    caller: Identity,
    uow: LeadsUnitOfWork,
) -> CreateResult:
    now = datetime.now(UTC)
    with uow.acting_for(caller.subject):
        if request_id and (earlier := uow.create_requests.find(caller.subject, request_id)):
            lead_id, stored_outcome = earlier
            return CreateResult(CreateOutcome(stored_outcome), load_lead(uow, lead_id))
        in_subtree = subtree_of(caller, uow)
        ensure_can_assign(caller, assigned_user_id, in_subtree)
        if assigned_user_id:
            ensure_active_member(
                assigned_user_id, uow.org.is_active(assigned_user_id), field="assigned_user_id"
            )
        fields = resolve_references(uow, fields.cleaned(), prefix=LEAD_FIELDS_PREFIX)
        check_campaigns_exist(uow, touches, field_of=lambda index: f"{TOUCHES_FIELD}[{index}].campaign_id")
        rules = uow.scoring_rules.get().rules

        keys = MatchingKeys.of(fields)
        candidates = duplicate_candidates(keys, uow.leads.find_matching(keys))
        if candidates and policy is DuplicatePolicy.REJECT:
            return CreateResult(CreateOutcome.DUPLICATES_FOUND, None, tuple(candidates))
        if candidates and policy is DuplicatePolicy.MERGE:
            target = merge_target(candidates, can_change=lambda lead: _reaches(caller, lead, in_subtree))
            if target is None:
                return CreateResult(CreateOutcome.DUPLICATES_FOUND, None, tuple(candidates))
            lead = target.lead
            read_version = lead.version
            if lead.fill_empty_fields(fields, rules=rules, now=now):
                uow.leads.save(lead, read_version=read_version)
            outcome = CreateOutcome.MERGED
        else:
            lead = Lead.create(
                fields, assigned_user_id=assigned_user_id, created_by=caller.subject, rules=rules, now=now
            )
            uow.leads.add(lead)
            outcome = CreateOutcome.CREATED
        record_touches(uow, lead_id=lead.id, touches=touches, now=now)
        if request_id:
            uow.create_requests.add(caller.subject, request_id, lead.id, outcome.value, now)
        uow.commit()
    return CreateResult(outcome, lead, tuple(candidates))


def _reaches(caller: Identity, lead: Lead, in_subtree: InSubtree) -> bool:
    return can_reach_lead(caller, lead.assigned_user_id, in_subtree)


def get_lead(*, lead_id: str, caller: Identity, uow: LeadsUnitOfWork) -> Lead:
    """Read one lead the caller may see."""
    require_uuid("lead_id", lead_id)
    with uow:
        return load_reachable_lead(uow, lead_id, caller)


def update_lead(
    *,
    lead_id: str,
    changes: Mapping[str, str],
    expected_version: int | None,
    caller: Identity,
    uow: LeadsUnitOfWork,
) -> Lead:
    """Change some fields (by path, see lead_fields.EDITABLE_PATHS) and re-score the lead."""
    require_uuid("lead_id", lead_id)
    with uow.acting_for(caller.subject):
        lead = load_reachable_lead(uow, lead_id, caller)
        ensure_version(lead, expected_version)
        lead.ensure_changeable()
        edited = lead.fields.with_changes(changes).cleaned()
        check = Validator()
        check_lead_fields(check, edited, prefix=LEAD_FIELDS_PREFIX)
        check.raise_if_invalid()
        if {"lead_source_id", "campaign_id"} & set(changes):
            resolved = resolve_references(uow, edited, prefix=LEAD_FIELDS_PREFIX)
            changes = {**changes, "lead_source_id": resolved.lead_source_id}
        read_version = lead.version
        rules = uow.scoring_rules.get().rules
        if lead.edit(changes, rules=rules, field_prefix=LEAD_FIELDS_PREFIX):
            uow.leads.save(lead, read_version=read_version)
            uow.commit()
    return lead


def assign_lead(
    *,
    lead_id: str,
    assigned_user_id: str,
    expected_version: int | None,
    caller: Identity,
    uow: LeadsUnitOfWork,
) -> Lead:
    """Give the lead to a user (New -> Assigned) or back to the pool with an empty user id."""
    require_uuid("lead_id", lead_id)
    with uow.acting_for(caller.subject):
        lead = load_reachable_lead(uow, lead_id, caller)
        assignee = assigned_user_id.strip()
        ensure_can_assign(caller, assignee, subtree_of(caller, uow))
        if assignee and assignee != lead.assigned_user_id:
            ensure_active_member(assignee, uow.org.is_active(assignee), field="assigned_user_id")
        ensure_version(lead, expected_version)
        read_version = lead.version
        if lead.assign(assigned_user_id):
            uow.leads.save(lead, read_version=read_version)
            uow.commit()
    return lead


def change_lead_status(
    *,
    lead_id: str,
    status: LeadStatus | None,
    reason: str,
    expected_version: int | None,
    caller: Identity,
    uow: LeadsUnitOfWork,
) -> Lead:
    """Move the lead through the workflow (see domain.lead_status for what may follow what)."""
    require_uuid("lead_id", lead_id)
    if status is None:
        raise InvalidArgument(FieldViolation("status", "must be set"))
    checked_status_reason(status, reason)
    with uow.acting_for(caller.subject):
        lead = load_reachable_lead(uow, lead_id, caller)
        ensure_version(lead, expected_version)
        read_version = lead.version
        lead.change_status(status, reason=reason)
        uow.leads.save(lead, read_version=read_version)
        uow.commit()
    return lead


def qualify_lead(
    *,
    lead_id: str,
    qualification: QualificationInput,
    expected_version: int | None,
    caller: Identity,
    uow: LeadsUnitOfWork,
) -> Lead:
    """Record budget, authority, need and timeline; the lead is scored anew."""
    require_uuid("lead_id", lead_id)
    check = Validator()
    valid = validated_qualification(qualification, check)
    check.raise_if_invalid()
    with uow.acting_for(caller.subject):
        lead = load_reachable_lead(uow, lead_id, caller)
        ensure_version(lead, expected_version)
        read_version = lead.version
        if lead.qualify(valid, rules=uow.scoring_rules.get().rules):
            uow.leads.save(lead, read_version=read_version)
            uow.commit()
    return lead


def merge_leads(
    *, primary_lead_id: str, duplicate_lead_ids: Sequence[str], caller: Identity, uow: LeadsUnitOfWork
) -> Lead:
    """Fold duplicates into a primary lead: its empty fields are filled from them (in the order
    given), and they become Dead, pointing at it."""
    check = Validator()
    check.require(is_uuid(primary_lead_id), "primary_lead_id", "must be a UUID")
    if check.require(bool(duplicate_lead_ids), "duplicate_lead_ids", "must name at least one lead"):
        check.require(
            len(duplicate_lead_ids) <= MAX_MERGED_DUPLICATES,
            "duplicate_lead_ids",
            f"must name at most {MAX_MERGED_DUPLICATES} leads",
        )
    seen: set[str] = set()
    for index, duplicate_id in enumerate(duplicate_lead_ids[:MAX_MERGED_DUPLICATES]):
        name = f"duplicate_lead_ids[{index}]"
        if not is_uuid(duplicate_id):
            check.fail(name, "must be a UUID")
        elif duplicate_id == primary_lead_id:
            check.fail(name, "is the primary lead itself")
        elif duplicate_id in seen:
            check.fail(name, "is named twice")
        seen.add(duplicate_id)
    check.raise_if_invalid()
    now = datetime.now(UTC)
    with uow.acting_for(caller.subject):
        primary = load_reachable_lead(uow, primary_lead_id, caller)
        duplicates = [load_reachable_lead(uow, duplicate_id, caller) for duplicate_id in duplicate_lead_ids]
        versions = {lead.id: lead.version for lead in (primary, *duplicates)}
        primary.absorb(duplicates, rules=uow.scoring_rules.get().rules, now=now)
        for duplicate in duplicates:
            duplicate.fold_into(primary.id, now=now)
        for lead in (primary, *duplicates):
            uow.leads.save(lead, read_version=versions[lead.id])
        uow.commit()
    return primary


@dataclass(frozen=True)
class LeadPage:
    leads: list[Lead]
    next_page_token: str


def list_leads(
    *, lead_filter: LeadFilter, page_size: int, page_token: str, caller: Identity, uow: LeadsUnitOfWork
) -> LeadPage:
    """The leads the caller may see that pass the filter, newest first, a page at a time."""
    check = Validator()
    for user_id in sorted(lead_filter.assigned_user_ids):
        if user_id:
            check.require(is_user_id(user_id), "assigned_user_ids", f"{user_id!r} is not a user id")
    if lead_filter.lead_source_id:
        check.require(is_uuid(lead_filter.lead_source_id), "lead_source_id", "must be a UUID")
    if lead_filter.campaign_id:
        check.require(is_uuid(lead_filter.campaign_id), "campaign_id", "must be a UUID")
    check_text(check, "text", lead_filter.text, MAX_SEARCH_TEXT_LENGTH)
    if lead_filter.min_score is not None:
        check.require(0 <= lead_filter.min_score <= 100, "min_score", "must be between 0 and 100")
    check.raise_if_invalid()
    page = page_request(lead_filter, page_size=page_size, page_token=page_token)
    with uow:
        leads = uow.leads.page(
            scope=lead_scope(caller), lead_filter=lead_filter, after=page.after, limit=page.size + 1
        )
    if len(leads) <= page.size:
        return LeadPage(leads, "")
    shown = leads[: page.size]
    last = shown[-1]
    return LeadPage(shown, encode_token(LeadCursor(last.created_at, last.id), page.filter_hash))
