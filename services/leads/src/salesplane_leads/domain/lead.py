"""The Lead aggregate: a prospective customer, its place in the status workflow, its qualification
and score, until it is converted into an opportunity (or dies, or is merged into another lead)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum

from salesplane_leads.domain.contact import normalise_phone
from salesplane_leads.domain.lead_fields import LeadFields, check_lead_fields
from salesplane_leads.domain.lead_status import (
    NEEDS_ASSIGNEE,
    REASON_REQUIRED,
    LeadStatus,
    ensure_transition,
)
from salesplane_leads.domain.matching_keys import company_key, person_key
from salesplane_leads.domain.qualification import Qualification
from salesplane_leads.domain.scoring import Score, ScoredFacts, ScoringRule, score
from salesplane_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument, Validator
from salesplane_platform.identifiers import USER_ID_RULE, check_user_id, is_user_id, new_id
from salesplane_platform.text_rules import check_text

MAX_REASON_LENGTH = 500


class ChangeKind(Enum):
    CREATED = "created"
    UPDATED = "updated"
    ASSIGNED = "assigned"
    STATUS_CHANGED = "status_changed"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    MERGED = "merged"
    IMPORTED = "imported"


@dataclass(frozen=True)
class LeadChanged:
    """Domain event: the lead's new state is what consumers receive. `previous_status` is set only
    when the status changed."""

    lead: Lead
    kind: ChangeKind
    previous_status: LeadStatus | None = None


def checked_status_reason(target: LeadStatus, reason: str) -> str:
    """The trimmed reason for a status change; Dead and Recycled need one."""
    reason = reason.strip()
    check = Validator()
    if target is LeadStatus.CONVERTED:
        check.fail("status", "a lead is converted with ConvertLead, which also creates the opportunity")
    check_text(check, "reason", reason, MAX_REASON_LENGTH, required=target in REASON_REQUIRED)
    check.raise_if_invalid()
    return reason


@dataclass
class Lead:
    id: str
    fields: LeadFields
    status: LeadStatus
    assigned_user_id: str
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime
    score: Score = field(default_factory=Score)
    # Why it is Dead or Recycled; empty otherwise.
    status_reason: str = ""
    qualification: Qualification | None = None
    qualified_at: datetime | None = None
    converted_opportunity_id: str = ""
    converted_at: datetime | None = None
    merged_into_lead_id: str = ""
    # Set while ConvertLead has asked for the opportunity but not yet recorded it: the lead must not
    # change meanwhile, or the opportunity would be made from (and the lead end up in) another state.
    conversion_pending: bool = field(default=False, compare=False)
    events: list[LeadChanged] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def create(
        cls,
        fields: LeadFields,
        *,
        assigned_user_id: str,
        created_by: str,
        rules: Sequence[ScoringRule],
        kind: ChangeKind = ChangeKind.CREATED,
        field_prefix: str = "",
        now: datetime | None = None,
    ) -> Lead:
        """Validate every field (reporting all violations at once) and raise LeadChanged."""
        cleaned = fields.cleaned()
        assigned_user_id = assigned_user_id.strip()
        check = Validator()
        check_lead_fields(check, cleaned, prefix=field_prefix)
        if assigned_user_id:
            check_user_id(check, "assigned_user_id", assigned_user_id)
        check.raise_if_invalid()
        timestamp = now or datetime.now(UTC)
        lead = cls(
            id=new_id(),
            fields=cleaned,
            status=LeadStatus.ASSIGNED if assigned_user_id else LeadStatus.NEW,
            assigned_user_id=assigned_user_id,
            created_by=created_by,
            version=1,
            created_at=timestamp,
            updated_at=timestamp,
        )
        lead._rescore(rules)
        lead.events.append(LeadChanged(lead.snapshot(), kind))
        return lead

    # Derived values: duplicate detection and search use them.

    @property
    def normalised_phone(self) -> str:
        return normalise_phone(self.fields.phone)

    @property
    def person_key(self) -> str:
        return person_key(self.fields.first_name, self.fields.last_name)

    @property
    def company_key(self) -> str:
        return company_key(self.fields.company)

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.fields.first_name, self.fields.last_name) if part)

    @property
    def qualified(self) -> bool:
        return self.qualification is not None

    @property
    def is_converted(self) -> bool:
        return self.status is LeadStatus.CONVERTED

    # Changes. Each returns whether anything changed; only a change raises an event.

    def ensure_changeable(self) -> None:
        if self.is_converted:
            raise FailedPrecondition(
                f"lead {self.id} was converted into opportunity {self.converted_opportunity_id}"
                " and can no longer change",
                reason="LEAD_CONVERTED",
            )
        if self.merged_into_lead_id:
            raise FailedPrecondition(
                f"lead {self.id} was merged into lead {self.merged_into_lead_id}; change that one instead",
                reason="LEAD_MERGED",
            )
        if self.conversion_pending:
            raise FailedPrecondition(
                f"lead {self.id} is being converted; call ConvertLead again to complete the conversion",
                reason="CONVERSION_PENDING",
            )

    def edit(
        self,
        changes: Mapping[str, str],
        *,
        rules: Sequence[ScoringRule],
        field_prefix: str = "",
        now: datetime | None = None,
    ) -> bool:
        """Apply new values by field path (see lead_fields.EDITABLE_PATHS) and re-score."""
        self.ensure_changeable()
        edited = self.fields.with_changes(changes).cleaned()
        check = Validator()
        check_lead_fields(check, edited, prefix=field_prefix)
        check.raise_if_invalid()
        if edited == self.fields:
            return False
        self.fields = edited
        self._rescore(rules)
        self._changed(ChangeKind.UPDATED, None, now)
        return True

    def assign(self, user_id: str, *, now: datetime | None = None) -> bool:
        """Give the lead to a user, or take it back into the pool with an empty user id (New)."""
        user_id = user_id.strip()
        if user_id and not is_user_id(user_id):
            raise InvalidArgument(FieldViolation("assigned_user_id", USER_ID_RULE))
        self.ensure_changeable()
        already = self.status in NEEDS_ASSIGNEE if user_id else self.status is LeadStatus.NEW
        if user_id == self.assigned_user_id and already:
            return False
        previous = self.status
        if not user_id:
            target = LeadStatus.NEW
        elif self.status in NEEDS_ASSIGNEE:
            target = self.status  # a reassignment: the work goes on with somebody else
        else:
            target = LeadStatus.ASSIGNED
        if target is not previous:
            ensure_transition(previous, target)
            self.status_reason = ""
        self.status = target
        self.assigned_user_id = user_id
        self._changed(ChangeKind.ASSIGNED, previous, now)
        return True

    def change_status(self, target: LeadStatus, *, reason: str = "", now: datetime | None = None) -> bool:
        reason = checked_status_reason(target, reason)
        self.ensure_changeable()
        previous = self.status
        ensure_transition(previous, target)
        if target is LeadStatus.ASSIGNED and not self.assigned_user_id:
            raise FailedPrecondition(
                f"lead {self.id} has nobody to be assigned to; use AssignLead to name the user",
                reason="NO_ASSIGNEE",
            )
        if target is LeadStatus.NEW:
            self.assigned_user_id = ""
        self.status = target
        self.status_reason = reason if target in REASON_REQUIRED else ""
        self._changed(ChangeKind.STATUS_CHANGED, previous, now)
        return True

    def qualify(
        self, qualification: Qualification, *, rules: Sequence[ScoringRule], now: datetime | None = None
    ) -> bool:
        self.ensure_changeable()
        if self.status is LeadStatus.DEAD:
            raise FailedPrecondition(
                f"lead {self.id} is Dead; recycle it before qualifying it", reason="LEAD_DEAD"
            )
        if qualification == self.qualification:
            return False
        timestamp = now or datetime.now(UTC)
        self.qualification = qualification
        self.qualified_at = timestamp
        self._rescore(rules)
        self._changed(ChangeKind.QUALIFIED, None, timestamp)
        return True

    def ensure_convertible(self) -> None:
        self.ensure_changeable()
        ensure_transition(self.status, LeadStatus.CONVERTED)

    def mark_converted(self, opportunity_id: str, *, now: datetime | None = None) -> None:
        """Record the conversion once the opportunity exists (the pending state ends here)."""
        self.conversion_pending = False
        self.ensure_convertible()
        timestamp = now or datetime.now(UTC)
        previous = self.status
        self.status = LeadStatus.CONVERTED
        self.status_reason = ""
        self.converted_opportunity_id = opportunity_id
        self.converted_at = timestamp
        self._changed(ChangeKind.CONVERTED, previous, timestamp)

    def fill_empty_fields(
        self, fields: LeadFields, *, rules: Sequence[ScoringRule], now: datetime | None = None
    ) -> bool:
        """Take what this lead lacks from a duplicate's data (the MERGE duplicate policy)."""
        self.ensure_changeable()
        filled = self.fields.filled_from(fields.cleaned())
        if filled == self.fields:
            return False
        self.fields = filled
        self._rescore(rules)
        self._changed(ChangeKind.MERGED, None, now)
        return True

    def absorb(
        self, duplicates: Sequence[Lead], *, rules: Sequence[ScoringRule], now: datetime | None = None
    ) -> None:
        """Fill this lead's empty fields (and missing qualification) from duplicates, in order. A
        merge is recorded even when nothing was missing: the duplicates now point here."""
        self.ensure_changeable()
        for duplicate in duplicates:
            self.fields = self.fields.filled_from(duplicate.fields)
            if self.qualification is None and duplicate.qualification is not None:
                self.qualification = duplicate.qualification
                self.qualified_at = duplicate.qualified_at
        self._rescore(rules)
        self._changed(ChangeKind.MERGED, None, now)

    def fold_into(self, primary_id: str, *, now: datetime | None = None) -> None:
        """This lead was a duplicate of `primary_id`: it becomes Dead and points there."""
        self.ensure_changeable()
        previous = self.status
        if previous is not LeadStatus.DEAD:
            ensure_transition(previous, LeadStatus.DEAD)
        self.status = LeadStatus.DEAD
        self.status_reason = f"merged into lead {primary_id}"
        self.merged_into_lead_id = primary_id
        self._changed(ChangeKind.MERGED, previous if previous is not LeadStatus.DEAD else None, now)

    def snapshot(self) -> Lead:
        return replace(self, events=[])

    def _rescore(self, rules: Sequence[ScoringRule]) -> None:
        facts = ScoredFacts(
            has_email=bool(self.fields.email),
            has_phone=bool(self.fields.phone),
            lead_source_id=self.fields.lead_source_id,
            qualification=self.qualification,
            qualified_on=self.qualified_at.date() if self.qualified_at else None,
        )
        self.score = score(rules, facts)

    def _changed(self, kind: ChangeKind, previous: LeadStatus | None, now: datetime | None) -> None:
        self.version += 1
        self.updated_at = now or datetime.now(UTC)
        changed_status = previous if previous is not None and previous is not self.status else None
        self.events.append(LeadChanged(self.snapshot(), kind, changed_status))
