"""Use cases on the scoring rules (marketing and admins replace them, everyone reads)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from salesplane_leads.domain.access import ensure_can_manage_marketing
from salesplane_leads.domain.scoring import ScoringRuleInput, ScoringRules, validated_rules
from salesplane_leads.service_layer.unit_of_work import LeadsUnitOfWork
from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_platform.identity import Identity


def get_scoring_rules(*, uow: LeadsUnitOfWork) -> ScoringRules:
    with uow:
        return uow.scoring_rules.get()


def replace_scoring_rules(
    *, rules: Sequence[ScoringRuleInput], expected_revision: int, caller: Identity, uow: LeadsUnitOfWork
) -> ScoringRules:
    """Put a new rule set in force (a new revision). Leads are scored with it from their next
    change on; see domain.scoring for why existing scores are not rewritten."""
    if expected_revision < 0:
        raise InvalidArgument(FieldViolation("expected_revision", "must not be negative"))
    validated_rules(rules, source_exists=lambda _: True)  # all but the lookups, before authorising
    ensure_can_manage_marketing(caller, "the scoring rules")
    with uow.acting_for(caller.subject):
        valid = validated_rules(
            rules, source_exists=lambda source_id: uow.lead_sources.get(source_id) is not None
        )
        current = uow.scoring_rules.get()
        read_revision = current.revision
        current.replace(valid, expected_revision=expected_revision or None, now=datetime.now(UTC))
        uow.scoring_rules.save(current, read_revision=read_revision)
        uow.commit()
    return current
