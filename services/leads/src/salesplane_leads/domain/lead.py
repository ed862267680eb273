"""The Lead aggregate: a prospective customer, before it becomes an opportunity."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum

from salesplane_leads.domain.contact import (
    MAX_EMAIL_LENGTH,
    MAX_PHONE_LENGTH,
    is_plausible_email,
    is_plausible_phone,
    normalise_email,
)
from salesplane_platform.errors import Validator
from salesplane_platform.identifiers import is_user_id, new_id

MAX_NAME_LENGTH = 100
MAX_COMPANY_LENGTH = 255
MAX_LEAD_SOURCE_LENGTH = 100


class LeadStatus(Enum):
    NEW = "new"
    ASSIGNED = "assigned"


class ChangeKind(Enum):
    CREATED = "created"


@dataclass(frozen=True)
class LeadChanged:
    """Domain event: the lead's new state is what consumers receive."""

    lead: Lead
    kind: ChangeKind


@dataclass(frozen=True)
class LeadDraft:
    """Values for a new lead as the caller gave them; empty strings mean 'not given'."""

    last_name: str
    first_name: str = ""
    company: str = ""
    email: str = ""
    phone: str = ""
    assigned_user_id: str = ""
    lead_source: str = ""


@dataclass
class Lead:
    id: str
    first_name: str
    last_name: str
    company: str
    email: str
    phone: str
    status: LeadStatus
    assigned_user_id: str
    lead_source: str
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime
    events: list[LeadChanged] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def create(cls, draft: LeadDraft, *, created_by: str, now: datetime | None = None) -> Lead:
        """Validate every field (reporting all violations at once) and raise LeadChanged."""
        first_name = draft.first_name.strip()
        last_name = draft.last_name.strip()
        company = draft.company.strip()
        email = normalise_email(draft.email)
        phone = draft.phone.strip()
        assigned_user_id = draft.assigned_user_id
        lead_source = draft.lead_source.strip()

        check = Validator()
        check.require(
            len(first_name) <= MAX_NAME_LENGTH, "first_name", f"must be at most {MAX_NAME_LENGTH} characters"
        )
        if check.require(bool(last_name), "last_name", "must not be empty"):
            check.require(
                len(last_name) <= MAX_NAME_LENGTH,
                "last_name",
                f"must be at most {MAX_NAME_LENGTH} characters",
            )
        check.require(
            len(company) <= MAX_COMPANY_LENGTH, "company", f"must be at most {MAX_COMPANY_LENGTH} characters"
        )
        if email:
            check.require(
                is_plausible_email(email),
                "email",
                f"must be an e-mail address like name@example.com (at most {MAX_EMAIL_LENGTH} characters)",
            )
        if phone:
            check.require(
                is_plausible_phone(phone),
                "phone",
                "must be 6 to 20 digits, optionally with spaces, +, -, ( and )"
                f" (at most {MAX_PHONE_LENGTH} characters)",
            )
        if assigned_user_id:
            check.require(
                is_user_id(assigned_user_id),
                "assigned_user_id",
                "must be a user id (letters, digits, . _ @ -; 1-64)",
            )
        check.require(
            len(lead_source) <= MAX_LEAD_SOURCE_LENGTH,
            "lead_source",
            f"must be at most {MAX_LEAD_SOURCE_LENGTH} characters",
        )
        check.raise_if_invalid()

        timestamp = now or datetime.now(UTC)
        lead = cls(
            id=new_id(),
            first_name=first_name,
            last_name=last_name,
            company=company,
            email=email,
            phone=phone,
            status=LeadStatus.ASSIGNED if assigned_user_id else LeadStatus.NEW,
            assigned_user_id=assigned_user_id,
            lead_source=lead_source,
            created_by=created_by,
            version=1,
            created_at=timestamp,
            updated_at=timestamp,
        )
        lead.events.append(LeadChanged(lead.snapshot(), ChangeKind.CREATED))
        return lead

    def snapshot(self) -> Lead:
        return replace(self, events=[])
