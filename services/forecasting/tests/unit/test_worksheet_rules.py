"""Worksheet rules: snapshot figures, manager row arithmetic, what-changed sentences, accuracy and
the money formatting they use."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesplane_forecasting.domain.contributions import STATUS_LOST, STATUS_OPEN, STATUS_WON, Totals
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.domain.forecast_settings import DEFAULT_SETTINGS, CommitStage
from salesplane_forecasting.domain.worksheets import (
    FIRST_COMMIT,
    NOT_COMMITTED,
    AccuracyRow,
    Adjustment,
    Figures,
    ManagerRow,
    Snapshot,
    SnapshotKind,
    SnapshotRow,
    basis_points,
    changes_between,
    commit_changes,
    compare,
    differs,
    is_manual,
    manager_figures,
    rep_figures,
)
from salesplane_platform.money import format_minor

T0 = datetime(2026, 10, 1, 12, tzinfo=UTC)


def deal(opportunity_id: str, name: str, likely: int, probability: int, status: str = STATUS_OPEN) -> Deal:
    raw = Deal(
        opportunity_id=opportunity_id,
        version=1,
        owner_user_id="ann",
        status=status,
        close_date=date(2026, 11, 15),
        currency="USD",
        amount_minor=likely,
        probability=probability,
        name=name,
        account_name="Acme",
        sales_stage="Proposal",
        likely_minor=likely,
        best_minor=likely + 100,
        worst_minor=likely - 100,
    )
    return raw.placed(DEFAULT_SETTINGS, None)


def snapshot(figures: Figures, *, kind: SnapshotKind = SnapshotKind.REP, at: datetime = T0) -> Snapshot:
    return Snapshot(
        snapshot_id="s",
        user_id="ann",
        period_id="2026-Q4",
        kind=kind,
        sequence=1,
        committed=True,
        figures=figures,
        quota_minor=None,
        currency="USD",
        note="",
        author="ann",
        created_at=at,
        changes=(),
    )


def figures(likely: int, rows: tuple[SnapshotRow, ...] = ()) -> Figures:
    return Figures(likely, likely, likely, 0, rows)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (12345678, "USD", "123,456.78"),
        (0, "USD", "0.00"),
        (5, "USD", "0.05"),
        (-12345678, "USD", "-123,456.78"),
        (-5, "EUR", "-0.05"),
        (1234567, "JPY", "1,234,567"),
        (-1, "JPY", "-1"),
        (1234567, "KWD", "1,234.567"),
        (10_000_000_000, "USD", "100,000,000.00"),
    ],
)
def test_format_minor(amount: int, currency: str, text: str) -> None:
    assert format_minor(amount, currency) == text


def test_format_minor_refuses_unknown_currencies() -> None:
    with pytest.raises(ValueError, match="XXX"):
        format_minor(1, "XXX")


def test_rep_figures_are_closed_won_plus_included_and_a_row_per_deal() -> None:
    deals = [
        deal("d1", "Big", 100_000, 80),
        deal("d2", "Maybe", 50_000, 50),
        deal("d3", "Won", 30_000, 100, STATUS_WON),
        deal("d4", "Lost", 20_000, 0, STATUS_LOST),
    ]
    totals = Totals.summing(d.contribution.measures for d in deals if d.contribution is not None)
    result = rep_figures(deals, totals)
    assert (result.likely_minor, result.best_minor, result.worst_minor) == (130_000, 130_100, 129_900)
    assert result.closed_won_minor == 30_000
    assert [(r.key, r.label, r.commit_stage) for r in result.rows] == [
        ("d1", "Big", CommitStage.INCLUDE),
        ("d2", "Maybe", CommitStage.UPSIDE),
        ("d3", "Won", None),
        ("d4", "Lost", None),
    ]


def test_a_hand_set_stage_is_manual_only_while_the_deal_is_open() -> None:
    assert is_manual(deal("d1", "x", 1, 50), True)
    assert not is_manual(deal("d1", "x", 1, 50), False)
    assert not is_manual(deal("d1", "x", 1, 100, STATUS_WON), True)


def commit_of(likely: int, *, at: datetime = T0) -> Snapshot:
    return snapshot(Figures(likely, likely + 10, likely - 10, 0, ()), at=at)


def test_a_manager_row_counts_the_adjustment_else_the_commit_else_zero() -> None:
    nothing = ManagerRow("bob", "Bob", False, None, None, None, 0)
    assert (nothing.likely_minor, nothing.best_minor, nothing.worst_minor) == (0, 0, 0)
    committed = ManagerRow("bob", "Bob", False, commit_of(1_000), None, None, 0)
    assert (committed.likely_minor, committed.best_minor, committed.worst_minor) == (1_000, 1_010, 990)
    assert not committed.adjusted
    # Only likely adjusted: best and worst still come from the commit.
    partly = ManagerRow("bob", "Bob", False, commit_of(1_000), Adjustment(1_500, None, None, T0), None, 0)
    assert (partly.likely_minor, partly.best_minor, partly.worst_minor) == (1_500, 1_010, 990)
    assert partly.adjusted
    # Adjusted to zero is an adjustment, not "no adjustment".
    zero = ManagerRow("bob", "Bob", False, commit_of(1_000), Adjustment(0, None, None, T0), None, 0)
    assert zero.likely_minor == 0 and zero.adjusted


def test_committed_after_adjustment_only_when_the_commit_is_newer() -> None:
    adjustment = Adjustment(2_000, None, None, T0)
    older = ManagerRow(
        "bob", "Bob", False, commit_of(1_000, at=T0 - timedelta(minutes=1)), adjustment, None, 0
    )
    newer = ManagerRow(
        "bob", "Bob", False, commit_of(1_000, at=T0 + timedelta(minutes=1)), adjustment, None, 0
    )
    unadjusted = ManagerRow(
        "bob", "Bob", False, commit_of(1_000, at=T0 + timedelta(minutes=1)), None, None, 0
    )
    assert not older.committed_after_adjustment
    assert newer.committed_after_adjustment
    assert not unadjusted.committed_after_adjustment
    # The adjustment stays in force either way.
    assert newer.likely_minor == 2_000


def test_manager_figures_sum_the_rows() -> None:
    rows = [
        ManagerRow("mgr", "Mia", True, commit_of(500), None, None, 0),
        ManagerRow("ann", "Ann", False, commit_of(1_000), Adjustment(None, 3_000, None, T0), None, 0),
        ManagerRow("bob", "Bob", False, None, None, None, 0),
    ]
    result = manager_figures(rows, closed_won_minor=77)
    assert (result.likely_minor, result.best_minor, result.worst_minor) == (1_500, 3_510, 1_480)
    assert result.closed_won_minor == 77
    assert [(r.key, r.label, r.adjusted) for r in result.rows] == [
        ("mgr", "Mia", False),
        ("ann", "Ann", True),
        ("bob", "Bob", False),
    ]


def test_changes_of_a_rep_commit() -> None:
    acme = SnapshotRow("d1", "Acme renewal", 100_000_00, 100_000_00, 100_000_00, CommitStage.UPSIDE)
    globex = SnapshotRow("d2", "Globex", 5_000_00, 5_000_00, 5_000_00, CommitStage.INCLUDE)
    initech = SnapshotRow("d3", "Initech", 7_000_00, 7_000_00, 7_000_00, CommitStage.INCLUDE)
    before = Figures(100_000_00, 100_000_00, 100_000_00, 0, (acme, globex))
    moved = SnapshotRow("d1", "Acme renewal", 120_000_00, 100_000_00, 100_000_00, CommitStage.INCLUDE)
    after = Figures(120_000_00, 100_000_00, 90_000_00, 0, (moved, initech))
    assert changes_between(SnapshotKind.REP, before, after, "USD") == [
        "likely up from 100,000.00 to 120,000.00",
        "worst down from 100,000.00 to 90,000.00",
        "deal Acme renewal moved from upside to include",
        "deal Acme renewal likely up from 100,000.00 to 120,000.00",
        "deal Initech added",
        "deal Globex removed",
    ]


def test_a_won_deal_reads_as_closed() -> None:
    before = Figures(0, 0, 0, 0, (SnapshotRow("d1", "Acme", 10, 10, 10, CommitStage.INCLUDE),))
    after = Figures(0, 0, 0, 0, (SnapshotRow("d1", "Acme", 10, 10, 10, None),))
    assert changes_between(SnapshotKind.REP, before, after, "USD") == [
        "deal Acme moved from include to closed"
    ]


def test_changes_of_a_manager_commit_name_rows() -> None:
    before = Figures(1_000, 1_000, 1_000, 0, (SnapshotRow("ann", "Ann", 1_000, 1_000, 1_000),))
    after = Figures(1_200, 1_000, 1_000, 0, (SnapshotRow("ann", "Ann", 1_200, 1_000, 1_000, adjusted=True),))
    assert changes_between(SnapshotKind.MANAGER, before, after, "JPY") == [
        "likely up from 1,000 to 1,200",
        "row Ann likely up from 1,000 to 1,200",
    ]


def test_the_first_commit_says_so() -> None:
    assert commit_changes(SnapshotKind.REP, None, figures(0), "USD") == (FIRST_COMMIT,)
    assert commit_changes(SnapshotKind.REP, snapshot(figures(5)), figures(5), "USD") == ()


def test_compare_with_the_last_commit() -> None:
    row = SnapshotRow("d1", "Acme", 10, 10, 10, CommitStage.INCLUDE)
    # Nothing committed: changed as soon as there is something to commit.
    assert compare(None, figures(0), "USD").changed is False
    assert compare(None, figures(10, (row,)), "USD").changes == (NOT_COMMITTED,)
    same = compare(snapshot(figures(10, (row,))), figures(10, (row,)), "USD")
    assert not same.changed and same.changes == ()
    # A stage change alone, with the same totals, is a change.
    upside = SnapshotRow("d1", "Acme", 10, 10, 10, CommitStage.UPSIDE)
    moved = compare(snapshot(figures(10, (row,))), figures(10, (upside,)), "USD")
    assert moved.changed and moved.changes == ("deal Acme moved from include to upside",)


rows_strategy = st.lists(
    st.builds(
        SnapshotRow,
        key=st.sampled_from(["a", "b", "c", "d"]),
        label=st.just("x"),
        likely_minor=st.integers(0, 10**6),
        best_minor=st.integers(0, 10**6),
        worst_minor=st.integers(0, 10**6),
        commit_stage=st.sampled_from([None, *CommitStage]),
    ),
    unique_by=lambda r: r.key,
    max_size=4,
).map(tuple)
figures_strategy = st.builds(
    Figures,
    likely_minor=st.integers(-(10**6), 10**6),
    best_minor=st.integers(-(10**6), 10**6),
    worst_minor=st.integers(-(10**6), 10**6),
    closed_won_minor=st.just(0),
    rows=rows_strategy,
)


@given(figures_strategy, figures_strategy)
def test_there_are_sentences_exactly_when_something_differs(before: Figures, after: Figures) -> None:
    sentences = changes_between(SnapshotKind.REP, before, after, "USD")
    assert bool(sentences) == differs(before, after)
    assert not differs(after, after) and changes_between(SnapshotKind.REP, after, after, "USD") == []


def test_accuracy_rows() -> None:
    committed = AccuracyRow("ann", "Ann", commit_of(1_000), 1_250, 2_000)
    assert committed.difference_minor == 250
    assert committed.accuracy_basis_points == 12_500
    never = AccuracyRow("bob", "Bob", None, 300, None)
    assert never.difference_minor == 300 and never.accuracy_basis_points == 0
    zero = AccuracyRow("cy", "Cy", commit_of(0), 300, None)
    assert zero.accuracy_basis_points == 0


def test_basis_points_round_half_up_and_need_a_positive_denominator() -> None:
    assert basis_points(1, 3) == 3_333
    assert basis_points(2, 3) == 6_667
    assert basis_points(5, None) == 0
    assert basis_points(5, 0) == 0
