"""The quota plan arithmetic and draft validation, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salesplane_forecasting.domain.quotas import (
    AllocationInput,
    DraftAllocation,
    Quota,
    QuotaKind,
    build_plan,
    changed_allocations,
    next_quota,
    outside_the_team,
    plan_members,
    validate_draft,
)
from salesplane_platform.errors import FailedPrecondition, InvalidArgument
from salesplane_platform.money import MAX_AMOUNT_MINOR, MoneyInput

ASSIGNED, DIRECT = QuotaKind.ASSIGNED, QuotaKind.DIRECT
NOW = datetime(2026, 10, 1, tzinfo=UTC)
MEMBERS = plan_members("vp", "Vera", [("east", "Eve"), ("west", "Walt")])


def quota(user_id: str, amount_minor: int, kind: QuotaKind = ASSIGNED) -> Quota:
    return Quota(user_id, "2026-Q4", kind, amount_minor, "USD", "root", NOW, 1)


def plan(quota_minor: int | None, committed: list[Quota], draft: dict[tuple[str, QuotaKind], int]):
    return build_plan(
        manager_user_id="vp",
        period_id="2026-Q4",
        quota=None if quota_minor is None else quota("vp", quota_minor),
        members=MEMBERS,
        committed={(q.user_id, q.kind): q for q in committed},
        draft=draft,
        draft_updated_at=NOW if draft else None,
    )


def test_a_plan_has_a_row_per_direct_report_and_the_managers_own_direct_row():
    rows = plan(1000, [], {}).allocations
    assert [(r.user_id, r.kind, r.display_name) for r in rows] == [
        ("east", ASSIGNED, "Eve"),
        ("west", ASSIGNED, "Walt"),
        ("vp", DIRECT, "Vera"),
    ]


def test_an_under_allocated_plan_leaves_a_positive_gap():
    shown = plan(1000, [quota("east", 300)], {("west", ASSIGNED): 400, ("vp", DIRECT): 100})
    assert (shown.allocated_minor, shown.unallocated_minor, shown.has_draft) == (800, 200, True)


def test_an_over_allocated_plan_leaves_a_negative_gap():
    shown = plan(1000, [quota("east", 600)], {("west", ASSIGNED): 600})
    assert (shown.allocated_minor, shown.unallocated_minor) == (1200, -200)


def test_the_draft_counts_instead_of_what_is_committed():
    shown = plan(1000, [quota("east", 600)], {("east", ASSIGNED): 100})
    east = shown.allocations[0]
    assert (east.committed_minor, east.draft_minor, shown.allocated_minor) == (600, 100, 100)


def test_a_draft_value_equal_to_the_committed_one_is_not_shown_as_a_draft():
    shown = plan(1000, [quota("east", 600)], {("east", ASSIGNED): 600})
    assert shown.allocations[0].draft_minor is None
    assert not shown.has_draft
    assert shown.allocated_minor == 600


def test_without_a_quota_everything_allocated_is_over_allocation():
    shown = plan(None, [quota("east", 250)], {})
    assert (shown.quota_minor, shown.unallocated_minor) == (None, -250)


def test_the_last_commit_time_is_the_latest_of_the_rows():
    later = datetime(2026, 10, 2, tzinfo=UTC)
    east = quota("east", 1)
    west = Quota("west", "2026-Q4", ASSIGNED, 1, "USD", "vp", later, 1)
    assert plan(10, [east, west], {}).last_commit_at == later


def test_only_changed_draft_rows_are_committed():
    draft = [DraftAllocation("east", ASSIGNED, 600), DraftAllocation("west", ASSIGNED, 1)]
    assert changed_allocations(draft, {("east", ASSIGNED): quota("east", 600)}) == [draft[1]]


def test_the_first_commit_has_no_from_amount_and_later_ones_grow_the_version():
    first, change = next_quota(
        None,
        user_id="east",
        period_id="2026-Q4",
        kind=ASSIGNED,
        amount_minor=5,
        currency="USD",
        committed_by="vp",
        now=NOW,
    ) or pytest.fail("changed")
    assert (first.version, change.from_minor, change.to_minor) == (1, None, 5)
    second, change = next_quota(
        first,
        user_id="east",
        period_id="2026-Q4",
        kind=ASSIGNED,
        amount_minor=7,
        currency="USD",
        committed_by="vp",
        now=NOW,
    ) or pytest.fail("changed")
    assert (second.version, change.from_minor, change.to_minor) == (2, 5, 7)
    unchanged = next_quota(
        second,
        user_id="east",
        period_id="2026-Q4",
        kind=ASSIGNED,
        amount_minor=7,
        currency="USD",
        committed_by="vp",
        now=NOW,
    )
    assert unchanged is None


def usd(amount_minor: int) -> MoneyInput:
    return MoneyInput("USD", amount_minor)


def violations(allocations: list[AllocationInput], period_id: str = "2026-Q4") -> list[str]:
    with pytest.raises(InvalidArgument) as raised:
        validate_draft(
            manager_user_id="vp", period_id=period_id, allocations=allocations, base_currency="USD"
        )
    return [v.field for v in raised.value.violations]


def test_a_valid_draft_is_returned_in_order():
    allocations = [AllocationInput("east", ASSIGNED, usd(5)), AllocationInput("vp", DIRECT, usd(0))]
    assert validate_draft(
        manager_user_id="vp", period_id="2026-11", allocations=allocations, base_currency="USD"
    ) == [DraftAllocation("east", ASSIGNED, 5), DraftAllocation("vp", DIRECT, 0)]


def test_draft_amounts_must_be_given_in_a_currency_and_within_bounds():
    assert violations(
        [
            AllocationInput("east", ASSIGNED, MoneyInput("EURO", 5)),
            AllocationInput("west", ASSIGNED, usd(-1)),
            AllocationInput("north", ASSIGNED, usd(MAX_AMOUNT_MINOR + 1)),
            AllocationInput("south", ASSIGNED, None),
        ]
    ) == [
        "allocations[0].amount.currency_code",
        "allocations[1].amount.amount_minor",
        "allocations[2].amount.amount_minor",
        "allocations[3].amount",
    ]


def test_a_draft_in_another_currency_than_the_base_one_is_refused_by_the_configuration():
    with pytest.raises(FailedPrecondition) as raised:
        validate_draft(
            manager_user_id="vp",
            period_id="2026-Q4",
            allocations=[AllocationInput("east", ASSIGNED, MoneyInput("EUR", 5))],
            base_currency="USD",
        )
    assert raised.value.reason == "NOT_BASE_CURRENCY"
    assert [v.field for v in raised.value.violations] == ["allocations[0].amount.currency_code"]


def test_a_direct_row_is_the_managers_own_and_an_assigned_row_is_someone_elses():
    assert violations([AllocationInput("east", DIRECT, usd(1)), AllocationInput("vp", ASSIGNED, usd(1))]) == [
        "allocations[0].user_id",
        "allocations[1].user_id",
    ]


def test_a_user_may_be_allocated_only_once_per_kind():
    assert violations(
        [AllocationInput("east", ASSIGNED, usd(1)), AllocationInput("east", ASSIGNED, usd(2))]
    ) == ["allocations[1].user_id"]


def test_a_kind_and_a_period_are_required():
    assert violations([AllocationInput("east", None, usd(1))], period_id="2026-Q5") == [
        "period_id",
        "allocations[0].kind",
    ]


def test_assigned_rows_for_users_outside_the_team_are_named_by_field():
    draft = [
        DraftAllocation("east", ASSIGNED, 1),
        DraftAllocation("vp", DIRECT, 1),
        DraftAllocation("x", ASSIGNED, 1),
    ]
    assert [v.field for v in outside_the_team(draft, "vp", ["east", "west"])] == ["allocations[2].user_id"]
