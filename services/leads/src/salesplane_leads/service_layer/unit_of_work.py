"""What the use cases need from storage, as protocols; the SQL adapter implements them (on
PostgreSQL in production, SQLite embedded and in the fast tests)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from salesplane_leads.domain.access import LeadScope
from salesplane_leads.domain.conversion import PendingConversion
from salesplane_leads.domain.duplicates import MatchingKeys
from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.lead_status import LeadStatus
from salesplane_leads.domain.marketing import Campaign, LeadSource
from salesplane_leads.domain.scoring import ScoringRules
from salesplane_leads.domain.touches import Touch


class AlreadyStored(Exception):
    """A row with the same unique key exists (maybe written by a concurrent call)."""


@dataclass(frozen=True)
class LeadFilter:
    statuses: frozenset[LeadStatus] = frozenset()
    # "" stands for unassigned leads.
    assigned_user_ids: frozenset[str] = frozenset()
    lead_source_id: str = ""
    campaign_id: str = ""
    # Case-insensitive substring of the name, company or e-mail.
    text: str = ""
    min_score: int | None = None


@dataclass(frozen=True)
class LeadCursor:
    """Position after the last lead of a page; pages run newest first."""

    created_at: datetime
    lead_id: str


@dataclass(frozen=True)
class ImportedRow:
    fingerprint: str
    lead_id: str
    file_name: str
    line_number: int
    imported_by: str
    imported_at: datetime = field(compare=False)


class LeadRepository(Protocol):
    def add(self, lead: Lead) -> None: ...

    def get(self, lead_id: str) -> Lead | None: ...

    def save(self, lead: Lead, *, read_version: int, completing_conversion: bool = False) -> None:
        """Write a changed lead. Raises Conflict if it changed since `read_version` was read, or if
        a conversion started meanwhile (unless this save completes that conversion)."""

    def find_matching(self, keys: MatchingKeys) -> list[Lead]:
        """Leads sharing the e-mail, the phone, or the person and company with `keys`."""

    def page(
        self, *, scope: LeadScope, lead_filter: LeadFilter, after: LeadCursor | None, limit: int
    ) -> list[Lead]: ...

    def count_open(self, user_id: str) -> int:
        """How many open leads (lead_status.OPEN_STATUSES) are assigned to the user."""

    def open_assigned_to(self, user_id: str, *, limit: int) -> list[Lead]:
        """Up to `limit` of the user's open leads."""

    def open_pending_conversion(self, user_id: str, *, limit: int) -> list[str]:
        """Ids of up to `limit` of the user's open leads whose conversion is pending."""


class LeadSourceRepository(Protocol):
    def add(self, source: LeadSource) -> None:
        """Raises AlreadyStored when the name is taken."""

    def get(self, source_id: str) -> LeadSource | None: ...

    def get_by_name(self, name: str) -> LeadSource | None:
        """Case-insensitively."""

    def all(self) -> list[LeadSource]: ...


class CampaignRepository(Protocol):
    def add(self, campaign: Campaign) -> None:
        """Raises AlreadyStored when the name is taken."""

    def get(self, campaign_id: str) -> Campaign | None: ...

    def get_by_name(self, name: str) -> Campaign | None: ...

    def list(self, *, lead_source_id: str = "") -> list[Campaign]: ...

    def save(self, campaign: Campaign, *, read_version: int) -> None:
        """Write a changed campaign and its new cost entries; Conflict if it changed meanwhile,
        AlreadyStored if a name or cost request id is taken."""


class ScoringRulesRepository(Protocol):
    def get(self) -> ScoringRules: ...

    def save(self, rules: ScoringRules, *, read_revision: int) -> None: ...


class TouchRepository(Protocol):
    def add(self, touch: Touch) -> None:
        """Raises AlreadyStored when the lead has a touch with this key (maybe recorded by a
        concurrent call)."""

    def find_by_keys(self, lead_id: str, touch_keys: Collection[str]) -> dict[str, Touch]:
        """The lead's touches with these keys, by key."""

    def of_lead(self, lead_id: str) -> list[Touch]:
        """Every touch of the lead, oldest first (by touch time, then record time)."""


class CreateRequestLog(Protocol):
    """CreateLead idempotency keys, per caller."""

    def find(self, requested_by: str, request_id: str) -> tuple[str, str] | None:
        """(lead id, outcome) of the first call with this key."""

    def add(self, requested_by: str, request_id: str, lead_id: str, outcome: str, at: datetime) -> None:
        """Raises AlreadyStored when a concurrent call took the key first."""


class ImportRowLog(Protocol):
    def find(self, fingerprints: Collection[str]) -> dict[str, ImportedRow]: ...

    def add(self, rows: Sequence[ImportedRow]) -> None:
        """Raises AlreadyStored when a concurrent import recorded one of them first."""


class ConversionLog(Protocol):
    def pending(self, lead_id: str) -> PendingConversion | None: ...

    def start_attempt(self, lead_id: str, *, request_id: str, requested_by: str, at: datetime) -> int:
        """Record that a call for this conversion starts; return how many were started so far."""

    def complete(self, lead_id: str, *, opportunity_id: str, at: datetime) -> None: ...

    def forget(self, lead_id: str) -> None:
        """Drop a pending conversion that cannot have created anything."""


class OrgChart(Protocol):
    def in_subtree(self, manager_user_id: str, user_id: str) -> bool: ...

    def is_active(self, user_id: str) -> bool | None:
        """Whether the user is an active member of the organisation; None when unknown (yet)."""


class LeadsUnitOfWork(Protocol):
    # Read-only properties, not plain attributes: the use cases only read them, and a settable
    # protocol attribute would demand exactly these types, where an adapter's own repository
    # classes (which implement the protocols) should do.
    @property
    def leads(self) -> LeadRepository: ...

    @property
    def lead_sources(self) -> LeadSourceRepository: ...

    @property
    def campaigns(self) -> CampaignRepository: ...

    @property
    def scoring_rules(self) -> ScoringRulesRepository: ...

    @property
    def touches(self) -> TouchRepository: ...

    @property
    def create_requests(self) -> CreateRequestLog: ...

    @property
    def import_rows(self) -> ImportRowLog: ...

    @property
    def conversions(self) -> ConversionLog: ...

    @property
    def org(self) -> OrgChart: ...

    def acting_for(self, actor: str) -> Self:
        """Name who makes this transaction's changes; open a changing transaction with
        `with uow.acting_for(caller.subject):`."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Roll back whatever was not committed."""

    def commit(self) -> None:
        """Commit the changes together with the events of every aggregate the repositories handed
        out or were given, so no use case publishes by hand."""
