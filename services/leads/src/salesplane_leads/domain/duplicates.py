"""Duplicate detection: when new lead data describes a lead we already have, and what to do then."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from salesplane_leads.domain.contact import normalise_phone
from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.lead_fields import LeadFields
from salesplane_leads.domain.lead_status import LeadStatus
from salesplane_leads.domain.matching_keys import company_key, person_key


class DuplicatePolicy(Enum):
    # Nothing is created and the candidates are returned.
    REJECT = "reject"
    # Created anyway.
    INSIST = "insist"
    # The best candidate's empty fields are filled from the new data instead.
    MERGE = "merge"


class DuplicateReason(Enum):
    SAME_EMAIL = "same_email"
    SAME_PHONE = "same_phone"
    SAME_PERSON_AT_COMPANY = "same_person_at_company"

    @property
    def description(self) -> str:
        return {
            DuplicateReason.SAME_EMAIL: "same e-mail address",
            DuplicateReason.SAME_PHONE: "same phone number",
            DuplicateReason.SAME_PERSON_AT_COMPANY: "same person at the same company",
        }[self]


@dataclass(frozen=True)
class MatchingKeys:
    """What two leads are compared by; an empty key matches nothing."""

    email: str
    normalised_phone: str
    person_key: str
    company_key: str

    @classmethod
    def of(cls, fields: LeadFields) -> MatchingKeys:
        cleaned = fields.cleaned()
        return cls(
            email=cleaned.email,
            normalised_phone=normalise_phone(cleaned.phone),
            person_key=person_key(cleaned.first_name, cleaned.last_name),
            company_key=company_key(cleaned.company),
        )


@dataclass(frozen=True)
class DuplicateCandidate:
    lead: Lead
    reasons: tuple[DuplicateReason, ...]


def reasons_between(keys: MatchingKeys, lead: Lead) -> tuple[DuplicateReason, ...]:
    reasons = []
    if keys.email and keys.email == lead.fields.email:
        reasons.append(DuplicateReason.SAME_EMAIL)
    if keys.normalised_phone and keys.normalised_phone == lead.normalised_phone:
        reasons.append(DuplicateReason.SAME_PHONE)
    if (
        keys.person_key
        and keys.company_key
        and (keys.person_key, keys.company_key) == (lead.person_key, lead.company_key)
    ):
        reasons.append(DuplicateReason.SAME_PERSON_AT_COMPANY)
    return tuple(reasons)


def duplicate_candidates(keys: MatchingKeys, leads: Iterable[Lead]) -> list[DuplicateCandidate]:
    """The leads that match, best first. A lead already merged into another is not a candidate: the
    lead it was merged into holds its data and is found instead."""
    found = [
        DuplicateCandidate(lead, reasons)
        for lead in leads
        if not lead.merged_into_lead_id and (reasons := reasons_between(keys, lead))
    ]
    return sorted(found, key=_preference)


def _preference(candidate: DuplicateCandidate) -> tuple[int, int, str, str]:
    """More matching reasons first, then leads still in play (not Dead or Converted), then the
    oldest: the original is the one worth keeping."""
    lead = candidate.lead
    settled = lead.status in (LeadStatus.DEAD, LeadStatus.CONVERTED)
    return (-len(candidate.reasons), int(settled), lead.created_at.isoformat(), lead.id)


def merge_target(
    candidates: Iterable[DuplicateCandidate], *, can_change: Callable[[Lead], bool]
) -> DuplicateCandidate | None:
    """The best candidate the new data may be merged into: not converted (converted leads are
    final) and one the caller may change."""
    for candidate in candidates:
        lead = candidate.lead
        if not lead.is_converted and not lead.conversion_pending and can_change(lead):
            return candidate
    return None
