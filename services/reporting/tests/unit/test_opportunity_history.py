"""An opportunity's history derived from its set of versions: intervals, stage stays, pushes, reach,
cycle, the weighted amount, and which version held at an instant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesplane_reporting.domain.opportunity_history import (
    HistoryRow,
    OpportunityState,
    OpportunityVersion,
    as_of,
    derive_history,
    weighted_minor,
)

T0 = datetime(2031, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
STAGE_ORDERS = {
    "Prospecting": 0,
    "Qualification": 1,
    "Needs Analysis": 2,
    "Proposal/Price Quote": 6,
    "Closed Won": 8,
    "Closed Lost": 9,
}
STATUS = {"Closed Won": "won", "Closed Lost": "lost"}


def state(**changes: Any) -> OpportunityState:
    base = OpportunityState(
        owner_user_id="ann",
        name="Deal",
        account_name="Acme",
        sales_stage="Prospecting",
        stage_order=0,
        probability=10,
        status="open",
        amount_minor=1_000_00,
        currency="EUR",
        amount_base_minor=1_100_00,
        weighted_base_minor=110_00,
        best_base_minor=1_100_00,
        worst_base_minor=1_100_00,
        base_currency="USD",
        expected_close_date=date(2031, 6, 30),
        lead_source_id="",
        campaign_id="",
        lead_id="",
        close_reason="",
        next_step="",
        create_time=T0,
        update_time=T0,
        close_time=None,
    )
    return replace(base, **changes)


def version(
    number: int, days: float, *, stage: str = "Prospecting", deleted: bool = False, **changes: Any
) -> OpportunityVersion:
    at = T0 + days * DAY
    return OpportunityVersion(
        opportunity_id="deal-1",
        version=number,
        valid_from=at,
        deleted=deleted,
        change_kind="deleted" if deleted else "updated",
        state=state(
            sales_stage=stage,
            stage_order=STAGE_ORDERS[stage],
            status=STATUS.get(stage, "open"),
            update_time=at,
            **changes,
        ),
    )


def by_version(rows: list[HistoryRow]) -> dict[int, HistoryRow]:
    return {row.version.version: row for row in rows}


def test_each_version_holds_until_the_next_one_begins_and_the_newest_holds_on() -> None:
    rows = derive_history([version(1, 0), version(2, 3), version(3, 7)])

    assert [(r.version.version, r.version.valid_from, r.derived.valid_to) for r in rows] == [
        (1, T0, T0 + 3 * DAY),
        (2, T0 + 3 * DAY, T0 + 7 * DAY),
        (3, T0 + 7 * DAY, None),
    ]


def test_versions_are_ordered_by_their_number_whatever_order_they_arrive_in() -> None:
    ordered = derive_history([version(1, 0), version(2, 3), version(3, 7)])

    assert derive_history([version(3, 7), version(1, 0), version(2, 3)]) == ordered


def test_a_version_arriving_late_rechains_its_neighbours() -> None:
    first = version(1, 0, expected_close_date=date(2031, 6, 30))
    late = version(2, 2, stage="Qualification", expected_close_date=date(2031, 7, 31))
    third = version(3, 5, stage="Qualification", expected_close_date=date(2031, 7, 31), amount_minor=5)

    before = by_version(derive_history([first, third]))
    after = by_version(derive_history([first, third, late]))

    assert before[1].derived.valid_to == T0 + 5 * DAY
    assert (before[3].derived.stage_entered_at, before[3].derived.push_count) == (T0 + 5 * DAY, 1)
    assert before[1].derived.stage_seconds == 5 * 86_400
    assert after[1].derived.valid_to == T0 + 2 * DAY
    assert after[2].derived.valid_to == T0 + 5 * DAY
    assert after[1].derived.stage_seconds == 2 * 86_400
    # The late version now starts the stay in Qualification and carries the push.
    assert (after[2].derived.stage_entry, after[2].derived.push_count) == (True, 1)
    assert (after[3].derived.stage_entry, after[3].derived.stage_entered_at) == (False, T0 + 2 * DAY)
    assert after[3].derived.push_count == 1
    assert after[3].derived.valid_to is None


def test_a_duplicate_version_is_dropped_and_the_first_seen_is_kept() -> None:
    kept = version(2, 3, amount_minor=700)
    repeated = version(2, 3, amount_minor=999)

    rows = derive_history([version(1, 0), kept, repeated, version(1, 0)])

    assert [r.version.version for r in rows] == [1, 2]
    assert rows[1].version == kept
    assert derive_history([version(1, 0), kept]) == rows


def test_a_stay_in_a_stage_starts_at_its_first_version_and_lasts_until_the_stage_changes() -> None:
    rows = derive_history(
        [
            version(1, 0, stage="Prospecting"),
            version(2, 2, stage="Prospecting", amount_minor=1),
            version(3, 5, stage="Qualification"),
            version(4, 6, stage="Qualification", probability=30),
            version(5, 10, stage="Prospecting"),
        ]
    )

    assert [r.derived.stage_entry for r in rows] == [True, False, True, False, True]
    assert [r.derived.stage_entered_at for r in rows] == [T0, T0, T0 + 5 * DAY, T0 + 5 * DAY, T0 + 10 * DAY]
    # Only a stay's first version says how long it lasted; the last stay still lasts.
    assert [r.derived.stage_seconds for r in rows] == [5 * 86_400, None, 5 * 86_400, None, None]


def test_a_deletion_ends_the_stay_in_the_stage() -> None:
    rows = derive_history(
        [
            version(1, 0, stage="Prospecting"),
            version(2, 1, stage="Qualification"),
            version(3, 3, stage="Qualification", amount_minor=4),
            version(4, 4.5, stage="Qualification", deleted=True),
        ]
    )

    assert [r.derived.stage_seconds for r in rows] == [86_400, int(3.5 * 86_400), None, None]
    assert [r.derived.stage_entry for r in rows] == [True, True, False, False]
    assert rows[3].derived.stage_entered_at == T0 + DAY


def test_a_version_after_a_deletion_starts_a_new_stay() -> None:
    rows = derive_history(
        [
            version(1, 0, stage="Qualification"),
            version(2, 2, stage="Qualification", deleted=True),
            version(3, 3, stage="Qualification"),
        ]
    )

    assert [r.derived.stage_entry for r in rows] == [True, False, True]
    assert rows[2].derived.stage_entered_at == T0 + 3 * DAY
    assert [r.derived.stage_seconds for r in rows] == [2 * 86_400, None, None]


def test_the_push_count_counts_only_moves_of_the_close_date_to_later() -> None:
    closes = [
        date(2031, 6, 30),
        date(2031, 7, 31),  # pushed
        date(2031, 7, 15),  # pulled in
        date(2031, 7, 15),  # unchanged
        None,  # cleared
        date(2031, 8, 1),  # set again: not a push from a date
        date(2031, 9, 1),  # pushed
    ]

    rows = derive_history([version(n, n, expected_close_date=d) for n, d in enumerate(closes, start=1)])

    assert [r.derived.push_count for r in rows] == [0, 1, 1, 1, 1, 1, 2]


def test_a_close_date_moved_later_across_a_deletion_is_no_push() -> None:
    rows = derive_history(
        [
            version(1, 0, expected_close_date=date(2031, 6, 30)),
            version(2, 1, deleted=True, expected_close_date=date(2031, 6, 30)),
            version(3, 2, expected_close_date=date(2031, 12, 31)),
        ]
    )

    assert [r.derived.push_count for r in rows] == [0, 0, 0]


def test_the_furthest_stage_reached_never_falls_and_ignores_a_loss() -> None:
    rows = derive_history(
        [
            version(1, 0, stage="Qualification"),
            version(2, 1, stage="Proposal/Price Quote"),
            version(3, 2, stage="Needs Analysis"),
            version(4, 3, stage="Closed Lost", close_time=T0 + 3 * DAY),
        ]
    )

    assert [r.derived.max_stage_order for r in rows] == [1, 6, 6, 6]


def test_a_win_counts_as_the_furthest_stage_reached() -> None:
    rows = derive_history([version(1, 0, stage="Qualification"), version(2, 1, stage="Closed Won")])

    assert [r.derived.max_stage_order for r in rows] == [1, 8]


def test_the_cycle_of_a_closed_deal_runs_from_its_creation_to_its_close() -> None:
    closed_at = T0 + 12 * DAY + timedelta(seconds=7)
    rows = derive_history(
        [
            version(1, 0),
            version(2, 12, stage="Closed Won", close_time=closed_at),
            # Reopened: the last close time stays on the deal, but an open deal has no cycle.
            version(3, 13, stage="Qualification", close_time=closed_at),
            version(4, 20, stage="Closed Lost", close_time=T0 + 20 * DAY),
        ]
    )

    assert [r.derived.cycle_seconds for r in rows] == [None, 12 * 86_400 + 7, None, 20 * 86_400]


def test_a_closed_deal_without_a_close_time_has_no_cycle_and_one_closed_before_creation_has_zero() -> None:
    rows = derive_history(
        [
            version(1, 0, stage="Closed Won"),
            version(2, 1, stage="Closed Won", close_time=T0 - DAY),
        ]
    )

    assert [r.derived.cycle_seconds for r in rows] == [None, 0]


@pytest.mark.parametrize(
    ("amount_minor", "probability", "expected"),
    [
        (250, 50, 125),
        (0, 50, 0),
        (12_345, 100, 12_345),
        (12_345, 0, 0),
        # Exactly half a minor unit: to the even neighbour, down and up.
        (1, 50, 0),
        (3, 50, 2),
        (5, 50, 2),
        (7, 50, 4),
        (250, 1, 2),  # 2.5
        (350, 1, 4),  # 3.5
        # Not a tie: to the nearest.
        (101, 49, 49),  # 49.49
        (101, 51, 52),  # 51.51
        (249, 1, 2),  # 2.49
        (251, 1, 3),  # 2.51
        # Negative amounts (a credit) round the same way, mirrored.
        (-1, 50, 0),
        (-3, 50, -2),
        (-5, 50, -2),
        (-250, 1, -2),
        (-350, 1, -4),
        (-101, 49, -49),
        (-101, 51, -52),
        # Beyond a float's exact integers.
        (2**53 + 3, 50, 2**52 + 2),
        (2**53 + 1, 50, 2**52),
    ],
)
def test_the_weighted_amount_rounds_half_to_even_once(
    amount_minor: int, probability: int, expected: int
) -> None:
    assert weighted_minor(amount_minor, probability) == expected


@given(st.integers(-(10**15), 10**15), st.integers(0, 100))
def test_the_weighted_amount_is_the_exact_product_rounded_half_to_even(
    amount_minor: int, probability: int
) -> None:
    # round() of a Fraction rounds half to even, exactly.
    assert weighted_minor(amount_minor, probability) == round(Fraction(amount_minor * probability, 100))


def test_as_of_an_instant_the_version_that_began_at_or_before_it_and_had_not_ended_holds() -> None:
    rows = derive_history([version(1, 0), version(2, 5), version(3, 9, deleted=True)])
    tick = timedelta(microseconds=1)

    def held(instant: datetime) -> int | None:
        row = as_of(rows, instant)
        return None if row is None else row.version.version

    assert held(T0 - tick) is None
    assert held(T0) == 1
    assert held(T0 + 5 * DAY - tick) == 1
    assert held(T0 + 5 * DAY) == 2
    assert held(T0 + 9 * DAY - tick) == 2
    assert held(T0 + 9 * DAY) is None
    assert held(T0 + 900 * DAY) is None


def test_as_of_any_instant_after_the_newest_version_it_holds() -> None:
    rows = derive_history([version(1, 0), version(2, 5)])

    row = as_of(rows, T0 + 10_000 * DAY)

    assert row is not None and row.version.version == 2
