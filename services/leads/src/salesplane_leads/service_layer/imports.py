"""Importing a chunk of a CSV file: every valid row becomes a lead (or fills a duplicate, under
MERGE), every other row is reported with its line and reasons.

A chunk is one transaction: its leads, their events and the fingerprints of their rows commit
together, so a crash leaves each chunk wholly imported or not at all, and re-sending a chunk (or
re-running the whole file) finds the fingerprints and imports nothing twice. Duplicates are looked
for in the database and among the rows before them in the same file: earlier chunks are committed,
and earlier rows of this chunk are already written in this transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum

from salesplane_leads.domain.access import assignment_refusal, can_reach_lead, ensure_can_create_leads
from salesplane_leads.domain.csv_rows import ImportRow, RejectedRow, parse_chunk
from salesplane_leads.domain.csv_touches import TouchEntry
from salesplane_leads.domain.duplicates import (
    DuplicateCandidate,
    DuplicatePolicy,
    MatchingKeys,
    duplicate_candidates,
    merge_target,
)
from salesplane_leads.domain.import_fingerprint import row_fingerprint
from salesplane_leads.domain.lead import ChangeKind, Lead
from salesplane_leads.domain.marketing import Campaign, LeadSource
from salesplane_leads.domain.scoring import ScoringRule
from salesplane_leads.domain.touches import CheckedTouch, TouchInput, check_touch
from salesplane_leads.service_layer.leads import subtree_of
from salesplane_leads.service_layer.request_checks import retry_lost_races
from salesplane_leads.service_layer.touch_recording import record_touches
from salesplane_leads.service_layer.unit_of_work import ImportedRow, LeadsUnitOfWork
from salesplane_platform.errors import Validator
from salesplane_platform.identifiers import is_uuid
from salesplane_platform.identity import Identity
from salesplane_platform.org_membership import member_refusal
from salesplane_platform.text_rules import check_text

MAX_FILE_NAME_LENGTH = 255
FIRST_DATA_LINE = 2
# Line numbers are int32 in the contract; this leaves room for the lines of any chunk that fits in
# a gRPC message.
MAX_FIRST_LINE_NUMBER = 2_000_000_000
# Enough for the user to see which leads; the best come first.
MAX_REPORTED_CANDIDATES = 5


class RowOutcome(Enum):
    IMPORTED = "imported"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    ALREADY_IMPORTED = "already_imported"
    MERGED = "merged"


@dataclass(frozen=True)
class RowResult:
    line_number: int
    outcome: RowOutcome
    lead_id: str = ""
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    rows: list[RowResult]

    def count(self, outcome: RowOutcome) -> int:
        return Counter(row.outcome for row in self.rows)[outcome]


def import_leads(
    *,
    csv_text: str,
    first_line_number: int,
    policy: DuplicatePolicy,
    file_name: str,
    caller: Identity,
    uow: LeadsUnitOfWork,
) -> ImportReport:
    """Import one chunk (header line first) in one transaction."""
    check = Validator()
    check.require(
        first_line_number == 0 or FIRST_DATA_LINE <= first_line_number <= MAX_FIRST_LINE_NUMBER,
        "first_line_number",
        f"must be 0 (meaning {FIRST_DATA_LINE}) or between {FIRST_DATA_LINE} (line 1 is the header)"
        f" and {MAX_FIRST_LINE_NUMBER}",
    )
    file_name = file_name.strip()
    check_text(check, "file_name", file_name, MAX_FILE_NAME_LENGTH)
    check.raise_if_invalid()
    parsed = parse_chunk(csv_text, first_line_number=first_line_number or FIRST_DATA_LINE)
    ensure_can_create_leads(caller)
    # A concurrent import of the same rows may record their fingerprints first; the retry then
    # reports them as already imported.
    return retry_lost_races(lambda: _ChunkImport(uow, caller, policy, file_name).run(parsed))


class _ChunkImport:
    def __init__(
        self, uow: LeadsUnitOfWork, caller: Identity, policy: DuplicatePolicy, file_name: str
    ) -> None:
        self._uow = uow
        self._caller = caller
        self._policy = policy
        self._file_name = file_name
        self._now = datetime.now(UTC)
        self._sources: dict[str, LeadSource | None] = {}
        self._campaigns: dict[str, Campaign | None] = {}
        self._refusals: dict[str, str | None] = {}
        # Leads this chunk wrote, by id: their line, for telling the user which row a duplicate
        # repeats.
        self._line_of_lead: dict[str, int] = {}
        # The rows this chunk imported (or merged), by fingerprint.
        self._recorded: dict[str, ImportedRow] = {}
        self._rules: tuple[ScoringRule, ...] = ()

    def run(self, parsed: list[ImportRow | RejectedRow]) -> ImportReport:
        uow = self._uow
        with uow.acting_for(self._caller.subject):
            self._rules = uow.scoring_rules.get().rules
            fingerprints = {
                row.line_number: row_fingerprint(row) for row in parsed if isinstance(row, ImportRow)
            }
            known = uow.import_rows.find(fingerprints.values())
            results = []
            for row in parsed:
                if isinstance(row, RejectedRow):
                    results.append(RowResult(row.line_number, RowOutcome.INVALID, reasons=row.reasons))
                    continue
                fingerprint = fingerprints[row.line_number]
                if earlier := known.get(fingerprint):
                    where = f"line {earlier.line_number} of {earlier.file_name or 'an earlier import'}"
                    results.append(
                        RowResult(
                            row.line_number,
                            RowOutcome.ALREADY_IMPORTED,
                            earlier.lead_id,
                            (f"imported before from {where}",),
                        )
                    )
                elif repeated := self._recorded.get(fingerprint):
                    results.append(
                        RowResult(
                            row.line_number,
                            RowOutcome.ALREADY_IMPORTED,
                            repeated.lead_id,
                            (f"repeats line {repeated.line_number} of this import",),
                        )
                    )
                else:
                    results.append(self._import(row, fingerprint))
            uow.import_rows.add(list(self._recorded.values()))
            uow.commit()
        return ImportReport(results)

    def _import(self, row: ImportRow, fingerprint: str) -> RowResult:
        uow, caller = self._uow, self._caller
        reasons: list[str] = []
        fields = row.fields
        source = self._source(row.lead_source, reasons) if row.lead_source else None
        campaign = self._campaign(row.campaign, reasons) if row.campaign else None
        if campaign is not None:
            if source is None and not row.lead_source:
                source_id = campaign.lead_source_id
            elif source is not None and campaign.lead_source_id != source.id:
                reasons.append(f"campaign: {campaign.name!r} belongs to another lead source")
                source_id = source.id
            else:
                source_id = source.id if source else ""
            fields = replace(fields, lead_source_id=source_id, campaign_id=campaign.id)
        elif source is not None:
            fields = replace(fields, lead_source_id=source.id)
        if row.assigned_user_id and (refusal := self._assignment_refusal(row.assigned_user_id)):
            reasons.append(f"assigned_user_id: {refusal}")
        touches = self._checked_touches(row.touches, reasons)
        if reasons:
            return RowResult(row.line_number, RowOutcome.INVALID, reasons=tuple(reasons))

        keys = MatchingKeys.of(fields)
        candidates = duplicate_candidates(keys, uow.leads.find_matching(keys))
        if candidates and self._policy is DuplicatePolicy.MERGE:
            in_subtree = subtree_of(caller, uow)
            target = merge_target(
                candidates, can_change=lambda lead: can_reach_lead(caller, lead.assigned_user_id, in_subtree)
            )
            if target is not None:
                lead = target.lead
                read_version = lead.version
                if lead.fill_empty_fields(fields, rules=self._rules, now=self._now):
                    uow.leads.save(lead, read_version=read_version)
                # Keys the lead has already (a touch imported before, in another row) are skipped.
                record_touches(uow, lead_id=lead.id, touches=touches, now=self._now)
                self._remember(row, fingerprint, lead.id, created=False)
                return RowResult(row.line_number, RowOutcome.MERGED, lead.id, self._describe(candidates[:1]))
        if candidates and self._policy is not DuplicatePolicy.INSIST:
            return RowResult(
                row.line_number, RowOutcome.DUPLICATE, candidates[0].lead.id, self._describe(candidates)
            )
        lead = Lead.create(
            fields,
            assigned_user_id=row.assigned_user_id,
            created_by=caller.subject,
            rules=self._rules,
            kind=ChangeKind.IMPORTED,
            now=self._now,
        )
        uow.leads.add(lead)
        record_touches(uow, lead_id=lead.id, touches=touches, now=self._now)
        self._remember(row, fingerprint, lead.id, created=True)
        return RowResult(row.line_number, RowOutcome.IMPORTED, lead.id)

    def _remember(self, row: ImportRow, fingerprint: str, lead_id: str, *, created: bool) -> None:
        if created:
            self._line_of_lead[lead_id] = row.line_number
        self._recorded[fingerprint] = ImportedRow(
            fingerprint, lead_id, self._file_name, row.line_number, self._caller.subject, self._now
        )

    def _describe(self, candidates: list[DuplicateCandidate]) -> tuple[str, ...]:
        described = []
        for candidate in candidates[:MAX_REPORTED_CANDIDATES]:
            reasons = " and ".join(reason.description for reason in candidate.reasons)
            line = self._line_of_lead.get(candidate.lead.id)
            where = f" (line {line} of this import)" if line is not None else ""
            described.append(f"{reasons} as lead {candidate.lead.id}{where}")
        return tuple(described)

    def _source(self, reference: str, reasons: list[str]) -> LeadSource | None:
        if reference not in self._sources:
            sources = self._uow.lead_sources
            self._sources[reference] = (
                sources.get(reference) if is_uuid(reference) else sources.get_by_name(reference)
            )
        found = self._sources[reference]
        if found is None:
            reasons.append(f"lead_source: no lead source has the id or name {reference!r}")
        return found

    def _campaign(self, reference: str, reasons: list[str], *, label: str = "campaign") -> Campaign | None:
        if reference not in self._campaigns:
            campaigns = self._uow.campaigns
            self._campaigns[reference] = (
                campaigns.get(reference) if is_uuid(reference) else campaigns.get_by_name(reference)
            )
        found = self._campaigns[reference]
        if found is None:
            reasons.append(f"{label}: no campaign has the id or name {reference!r}")
        return found

    def _checked_touches(self, entries: tuple[TouchEntry, ...], reasons: list[str]) -> list[CheckedTouch]:
        """The row's touches with their campaigns found, checked like those of any other call; what
        is wrong with an entry goes to `reasons`, naming it. Their keys are derived from campaign,
        kind and time, so importing the same touch again finds it."""
        checked: list[CheckedTouch] = []
        entry_with_key: dict[str, TouchEntry] = {}
        for entry in entries:
            campaign = self._campaign(entry.campaign, reasons, label=entry.label)
            if campaign is None:
                continue
            check = Validator()
            touch = check_touch(check, TouchInput(campaign.id, entry.kind, entry.touch_time), now=self._now)
            reasons.extend(f"{entry.label}: {v.field} {v.description}" for v in check.violations)
            if touch is None:
                continue
            if (earlier := entry_with_key.setdefault(touch.touch_key, entry)) is not entry:
                reasons.append(
                    f"{entry.label}: repeats entry {earlier.number} (same campaign, kind and time)"
                )
                continue
            checked.append(touch)
        return checked

    def _assignment_refusal(self, assignee: str) -> str | None:
        if assignee not in self._refusals:
            self._refusals[assignee] = assignment_refusal(
                self._caller, assignee, subtree_of(self._caller, self._uow)
            ) or member_refusal(assignee, self._uow.org.is_active(assignee))
        return self._refusals[assignee]
