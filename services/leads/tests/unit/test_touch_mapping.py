"""Touches across the gRPC edge: TouchInput in (kinds, Timestamps), LeadTouch and the history out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.adapters.sql_unit_of_work import outbox_event
from salesplane_leads.adapters.touch_mapping import (
    TOUCH_KIND_TO_PROTO,
    touch_history_to_proto,
    touch_input_from_proto,
    touch_inputs_from_proto,
    touch_to_proto,
)
from salesplane_leads.domain.touches import Touch, TouchHistory, TouchInput, TouchKind, check_touch
from salesplane_platform.errors import InvalidArgument, Validator

CAMPAIGN = "7d1f0c2a-3b4e-4f5a-8b6c-9d0e1f2a3b4c"
LEAD = "2b0e9c1d-8a7f-4e6d-9c5b-4a3f2e1d0c9b"
AT = datetime(2025, 3, 4, 15, 0, 0, 123456, tzinfo=UTC)


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def test_every_touch_kind_has_its_contract_value() -> None:
    assert TOUCH_KIND_TO_PROTO == {
        TouchKind.FORM: leads_pb2.TOUCH_KIND_FORM,
        TouchKind.EMAIL_CLICK: leads_pb2.TOUCH_KIND_EMAIL_CLICK,
        TouchKind.EVENT: leads_pb2.TOUCH_KIND_EVENT,
        TouchKind.AD: leads_pb2.TOUCH_KIND_AD,
        TouchKind.CALL: leads_pb2.TOUCH_KIND_CALL,
        TouchKind.OTHER: leads_pb2.TOUCH_KIND_OTHER,
    }


def test_a_touch_input_becomes_the_domain_input_in_utc() -> None:
    check = Validator()
    message = leads_pb2.TouchInput(
        campaign_id=CAMPAIGN,
        kind=leads_pb2.TOUCH_KIND_EMAIL_CLICK,
        touch_time=timestamp(AT),
        touch_key="k",
        note="n",
    )

    assert touch_input_from_proto(check, "touch", message) == TouchInput(
        CAMPAIGN, TouchKind.EMAIL_CLICK, AT, "k", "n"
    )
    assert check.violations == []


def test_an_unspecified_kind_and_unset_time_are_left_for_the_domain_to_report() -> None:
    check = Validator()
    given = touch_input_from_proto(check, "touch", leads_pb2.TouchInput(campaign_id=CAMPAIGN))
    assert (given.kind, given.touch_time, check.violations) == (None, None, [])


def test_an_unknown_kind_or_a_timestamp_out_of_range_is_a_violation_on_its_field() -> None:
    with pytest.raises(InvalidArgument) as error:
        touch_inputs_from_proto(
            "touches",
            [
                leads_pb2.TouchInput(kind=leads_pb2.TouchKind.ValueType(42)),
                leads_pb2.TouchInput(touch_time=Timestamp(seconds=400_000_000_000)),
            ],
        )
    assert [v.field for v in error.value.violations] == ["touches[0].kind", "touches[1].touch_time"]


def test_a_touch_and_its_event_carry_every_value() -> None:
    checked = check_touch(Validator(), TouchInput(CAMPAIGN, TouchKind.AD, AT, note="clicked"), now=AT)
    assert checked is not None
    touch = Touch.record(lead_id=LEAD, touch=checked, now=AT)

    message = touch_to_proto(touch)

    assert message == leads_pb2.LeadTouch(
        id=touch.id,
        lead_id=LEAD,
        campaign_id=CAMPAIGN,
        kind=leads_pb2.TOUCH_KIND_AD,
        touch_time=timestamp(AT),
        touch_key=touch.touch_key,
        note="clicked",
        record_time=timestamp(AT),
    )
    event = outbox_event(touch.events[0])
    assert (event.aggregate_type, event.aggregate_id, event.aggregate_version) == ("lead_touch", touch.id, 1)
    assert event.payload == events_pb2.LeadTouched(touch=message)


def test_the_history_sets_first_and_last_only_when_there_are_touches() -> None:
    assert not touch_history_to_proto(TouchHistory(())).HasField("first_touch")
    checked = check_touch(Validator(), TouchInput(CAMPAIGN, TouchKind.AD, AT), now=AT)
    assert checked is not None
    touch = Touch.record(lead_id=LEAD, touch=checked, now=AT)

    response = touch_history_to_proto(TouchHistory((touch,)))

    assert response.first_touch == response.last_touch == response.touches[0] == touch_to_proto(touch)
