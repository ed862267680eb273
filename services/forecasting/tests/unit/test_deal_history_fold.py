"""Folding opportunity versions into a deal's facts: pushes, pull-ins, setbacks, stays, replays."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from salesplane_forecasting.domain.contributions import DealStatus
from salesplane_forecasting.domain.inspection.deal_history import (
    MAX_KEPT,
    CloseDateChange,
    DealVersion,
    Setback,
    SetbackKind,
    StageStay,
    fold,
    fold_all,
    newly_won_stays,
)

T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def version(number: int, **changes: object) -> DealVersion:
    base = DealVersion(
        opportunity_id="opp-1",
        version=number,
        sales_stage="Qualification",
        stage_order=2,
        probability=30,
        amount_minor=10_000_00,
        close_date=date(2026, 12, 15),
        status=DealStatus.OPEN,
        next_step="call the buyer",
        updated_at=T0 + number * DAY,
    )
    return base._replace(**changes)  # type: ignore[arg-type]


def test_the_first_version_starts_the_clocks_and_records_nothing():
    facts = fold(None, version(1))
    assert facts.version == 1
    assert facts.stage_entered_at == facts.last_changed_at == T0 + DAY
    assert facts.push_count == 0
    assert facts.close_date_changes == facts.setbacks == facts.stays == ()
    assert not facts.next_step_empty


def test_a_later_close_date_is_a_push_and_an_earlier_one_a_pull_in_that_does_not_count():
    facts = fold_all(
        [
            version(1),
            version(2, close_date=date(2026, 12, 20)),
            version(3, close_date=date(2026, 12, 1)),
            version(4, close_date=date(2027, 1, 10)),
        ]
    )
    assert facts is not None
    assert facts.push_count == 2
    assert facts.close_date_changes == (
        CloseDateChange(date(2026, 12, 15), date(2026, 12, 20), T0 + 2 * DAY),
        CloseDateChange(date(2026, 12, 20), date(2026, 12, 1), T0 + 3 * DAY),
        CloseDateChange(date(2026, 12, 1), date(2027, 1, 10), T0 + 4 * DAY),
    )
    assert [c.pushed for c in facts.close_date_changes] == [True, False, True]


def test_a_version_without_a_close_date_change_records_none():
    facts = fold_all([version(1), version(2, next_step="send the quote")])
    assert facts is not None
    assert facts.close_date_changes == () and facts.push_count == 0


def test_a_redelivered_or_older_version_changes_nothing():
    current = fold_all([version(1), version(2, close_date=date(2027, 1, 5)), version(3, probability=20)])
    assert current is not None
    assert fold(current, version(3, probability=20)) is current
    assert fold(current, version(2, close_date=date(2027, 3, 1))) is current
    assert fold(current, version(1)) is current


def test_closing_a_deal_is_no_push_and_no_setback():
    lost = fold_all(
        [version(1), version(2, status=DealStatus.LOST, probability=0, close_date=date(2027, 2, 1))]
    )
    assert lost is not None
    assert lost.push_count == 0 and lost.close_date_changes == () and lost.setbacks == ()
    assert lost.status is DealStatus.LOST


def test_a_stage_regression_and_amount_and_probability_cuts_are_setbacks():
    facts = fold_all(
        [
            version(1, sales_stage="Proposal", stage_order=3, probability=60),
            version(2, sales_stage="Qualification", stage_order=2, probability=30, amount_minor=8_000_00),
        ]
    )
    assert facts is not None
    at = T0 + 2 * DAY
    assert facts.setbacks == (
        Setback(SetbackKind.STAGE, 3, 2, at, "Proposal", "Qualification"),
        Setback(SetbackKind.AMOUNT, 10_000_00, 8_000_00, at),
        Setback(SetbackKind.PROBABILITY, 60, 30, at),
    )


def test_moving_forward_or_growing_is_no_setback():
    facts = fold_all(
        [
            version(1),
            version(2, sales_stage="Proposal", stage_order=3, probability=60, amount_minor=12_000_00),
        ]
    )
    assert facts is not None
    assert facts.setbacks == ()


def test_a_revaluation_updates_the_state_but_is_no_setback_and_no_change_by_anyone():
    facts = fold_all([version(1), version(2, probability=10, amount_minor=9_000_00, revaluation=True)])
    assert facts is not None
    assert facts.probability == 10 and facts.amount_minor == 9_000_00
    assert facts.setbacks == ()
    assert facts.last_changed_at == T0 + DAY


def test_every_newer_version_by_someone_moves_the_last_change():
    facts = fold_all([version(1), version(5, next_step="demo booked")])
    assert facts is not None
    assert facts.last_changed_at == T0 + 5 * DAY


def test_a_blank_next_step_counts_as_empty():
    assert fold(None, version(1, next_step="   ")).next_step_empty
    assert fold(None, version(1, next_step="")).next_step_empty


def test_a_stage_change_ends_a_stay_and_restarts_the_stage_clock():
    facts = fold_all(
        [
            version(1),
            version(2, probability=35),
            version(4, sales_stage="Proposal", stage_order=3),
            version(7, sales_stage="Closed Won", stage_order=9, status=DealStatus.WON, probability=100),
        ]
    )
    assert facts is not None
    assert facts.stays == (StageStay("Qualification", 3 * 86_400), StageStay("Proposal", 3 * 86_400))
    assert facts.stage_entered_at == T0 + 7 * DAY


def test_only_the_fold_that_wins_a_deal_gives_its_stays_to_the_samples():
    open_facts = fold_all([version(1), version(3, sales_stage="Proposal", stage_order=3)])
    assert open_facts is not None
    won = fold(open_facts, version(5, sales_stage="Closed Won", stage_order=9, status=DealStatus.WON))
    assert newly_won_stays(open_facts, won) == (
        StageStay("Qualification", 2 * 86_400),
        StageStay("Proposal", 2 * 86_400),
    )
    assert newly_won_stays(won, fold(won, version(6, status=DealStatus.WON, next_step="x"))) == ()
    lost = fold(open_facts, version(5, sales_stage="Closed Lost", stage_order=9, status=DealStatus.LOST))
    assert newly_won_stays(open_facts, lost) == ()
    assert newly_won_stays(None, fold(None, version(1, status=DealStatus.WON))) == ()


def test_the_kept_changes_are_bounded_but_the_push_count_stays_exact():
    pushes = MAX_KEPT + 8
    versions = [version(1)] + [
        version(n + 2, close_date=date(2026, 12, 15) + (n + 1) * DAY) for n in range(pushes)
    ]
    facts = fold_all(versions)
    assert facts is not None
    assert facts.push_count == pushes
    assert len(facts.close_date_changes) == MAX_KEPT
    assert facts.close_date_changes[-1].new == date(2026, 12, 15) + pushes * DAY


close_dates = st.dates(date(2026, 10, 1), date(2027, 3, 31))


@given(st.lists(close_dates, min_size=1, max_size=15))
def test_the_push_count_is_the_number_of_later_moves(dates):
    versions = [version(n + 1, close_date=day) for n, day in enumerate(dates)]
    facts = fold_all(versions)
    assert facts is not None
    assert facts.push_count == sum(later > earlier for earlier, later in itertools.pairwise(dates))


@given(st.lists(close_dates, min_size=1, max_size=10), st.data())
def test_redelivering_versions_in_any_order_after_they_were_applied_changes_nothing(dates, data):
    versions = [version(n + 1, close_date=day) for n, day in enumerate(dates)]
    once = fold_all(versions)
    replays = data.draw(st.lists(st.sampled_from(versions), max_size=10))
    assert fold_all(replays, once) == once


@given(st.lists(close_dates, min_size=1, max_size=10))
def test_a_version_delivered_twice_in_a_row_counts_once(dates):
    versions = [version(n + 1, close_date=day) for n, day in enumerate(dates)]
    doubled = [v for v in versions for _ in range(2)]
    assert fold_all(doubled) == fold_all(versions)
