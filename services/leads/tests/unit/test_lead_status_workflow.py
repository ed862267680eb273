"""The lead status workflow table: which transitions are allowed and how a refusal reads."""

from __future__ import annotations

import pytest

from salesplane_leads.domain.lead_status import (
    ALLOWED_TRANSITIONS,
    LeadStatus,
    allowed_targets,
    ensure_transition,
)
from salesplane_platform.errors import FailedPrecondition

S = LeadStatus
ALLOWED = {
    (S.NEW, S.ASSIGNED),
    (S.NEW, S.DEAD),
    (S.ASSIGNED, S.IN_PROCESS),
    (S.ASSIGNED, S.RECYCLED),
    (S.ASSIGNED, S.DEAD),
    (S.ASSIGNED, S.NEW),
    (S.ASSIGNED, S.CONVERTED),
    (S.IN_PROCESS, S.RECYCLED),
    (S.IN_PROCESS, S.DEAD),
    (S.IN_PROCESS, S.CONVERTED),
    (S.RECYCLED, S.ASSIGNED),
    (S.RECYCLED, S.NEW),
    (S.RECYCLED, S.DEAD),
    (S.DEAD, S.RECYCLED),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_exactly_the_designed_transitions_are_allowed(current: LeadStatus, target: LeadStatus) -> None:
    if (current, target) in ALLOWED:
        ensure_transition(current, target)
    else:
        with pytest.raises(FailedPrecondition) as refused:
            ensure_transition(current, target)
        assert refused.value.reason == "ILLEGAL_STATUS_TRANSITION"


def test_converted_is_final() -> None:
    assert ALLOWED_TRANSITIONS[S.CONVERTED] == frozenset()
    with pytest.raises(FailedPrecondition, match="Converted is final"):
        ensure_transition(S.CONVERTED, S.RECYCLED)


def test_a_refusal_names_both_statuses_and_the_allowed_targets() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        ensure_transition(S.IN_PROCESS, S.NEW)

    assert refused.value.message == (
        "a lead cannot go from In Process to New; from In Process it can go to"
        " Converted (through ConvertLead), Recycled, Dead"
    )


def test_a_transition_to_the_same_status_says_it_is_already_there() -> None:
    with pytest.raises(FailedPrecondition, match="already Dead"):
        ensure_transition(S.DEAD, S.DEAD)


def test_allowed_targets_are_listed_in_workflow_order() -> None:
    assert allowed_targets(S.ASSIGNED) == [S.NEW, S.IN_PROCESS, S.CONVERTED, S.RECYCLED, S.DEAD]


def test_status_labels_read_as_people_say_them() -> None:
    assert [status.label for status in S] == [
        "New",
        "Assigned",
        "In Process",
        "Converted",
        "Recycled",
        "Dead",
    ]
