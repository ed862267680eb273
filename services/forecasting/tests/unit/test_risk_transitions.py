"""Alerts: the risk kinds a subject entered and left between two inspections."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from salesplane_forecasting.domain.inspection.deal_flags import DealFlagKind
from salesplane_forecasting.domain.inspection.rep_flags import RepFlagKind
from salesplane_forecasting.domain.inspection.risk_transitions import transition

K = RepFlagKind


def test_a_new_flag_is_entered_and_a_gone_one_left():
    moved = transition({K.LOW_P_QUOTA, K.SLIPPING}, [K.SLIPPING, K.PACING_BEHIND])
    assert moved.entered == {K.PACING_BEHIND}
    assert moved.left == {K.LOW_P_QUOTA}
    assert moved.changed


def test_the_same_kinds_again_are_no_transition_whatever_their_order_or_repeats():
    moved = transition([K.SLIPPING, K.LOW_P_QUOTA], [K.LOW_P_QUOTA, K.SLIPPING, K.SLIPPING])
    assert not moved.entered and not moved.left and not moved.changed


def test_the_first_inspection_enters_every_kind_and_clearing_all_leaves_them():
    assert transition([], [DealFlagKind.STALLED]).entered == {DealFlagKind.STALLED}
    assert transition([DealFlagKind.STALLED], []).left == {DealFlagKind.STALLED}
    assert not transition([], []).changed


@given(st.sets(st.sampled_from(list(K))), st.sets(st.sampled_from(list(K))))
def test_entered_and_left_rebuild_the_new_set_from_the_old(before, after):
    moved = transition(before, after)
    assert (before - moved.left) | moved.entered == after
    assert not moved.entered & moved.left
