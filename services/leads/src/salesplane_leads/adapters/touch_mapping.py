"""Translation of lead touches to and from the protobuf contract (touch times are Timestamps)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.adapters.contract_mapping import enum_from_proto, enum_mapping, inverted
from salesplane_leads.domain.touches import Touch, TouchHistory, TouchInput, TouchKind
from salesplane_platform.errors import Validator

TOUCH_KIND_TO_PROTO = enum_mapping(TouchKind, leads_pb2.TouchKind, "TOUCH_KIND_")
TOUCH_KIND_FROM_PROTO = inverted(TOUCH_KIND_TO_PROTO)


def touch_to_proto(touch: Touch) -> leads_pb2.LeadTouch:
    message = leads_pb2.LeadTouch(
        id=touch.id,
        lead_id=touch.lead_id,
        campaign_id=touch.campaign_id,
        kind=TOUCH_KIND_TO_PROTO[touch.kind],
        touch_key=touch.touch_key,
        note=touch.note,
    )
    message.touch_time.FromDatetime(touch.touch_time)
    message.record_time.FromDatetime(touch.recorded_at)
    return message


def touch_history_to_proto(history: TouchHistory) -> leads_pb2.ListLeadTouchesResponse:
    response = leads_pb2.ListLeadTouchesResponse(touches=[touch_to_proto(t) for t in history.touches])
    if history.first is not None:
        response.first_touch.CopyFrom(touch_to_proto(history.first))
    if history.last is not None:
        response.last_touch.CopyFrom(touch_to_proto(history.last))
    return response


def touch_input_from_proto(check: Validator, field: str, message: leads_pb2.TouchInput) -> TouchInput:
    """What the caller sent. An unknown kind or a timestamp out of range is recorded in `check` (on
    `field`.kind, `field`.touch_time), which the caller raises before the domain sees the input; an
    unspecified kind or an unset time is the domain's to report."""
    kind = None
    if message.kind != leads_pb2.TOUCH_KIND_UNSPECIFIED:
        kind = enum_from_proto(check, f"{field}.kind", TOUCH_KIND_FROM_PROTO, message.kind)
    touch_time = None
    if message.HasField("touch_time"):
        touch_time = _datetime(check, f"{field}.touch_time", message.touch_time)
    return TouchInput(
        campaign_id=message.campaign_id,
        kind=kind,
        touch_time=touch_time,
        touch_key=message.touch_key,
        note=message.note,
    )


def touch_inputs_from_proto(field: str, messages: Iterable[leads_pb2.TouchInput]) -> list[TouchInput]:
    check = Validator()
    inputs = [touch_input_from_proto(check, f"{field}[{i}]", m) for i, m in enumerate(messages)]
    check.raise_if_invalid()
    return inputs


def _datetime(check: Validator, field: str, value: Timestamp) -> datetime | None:
    try:
        return value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        check.fail(field, "must be a valid timestamp between years 1 and 9999")
        return None


def touch_event(touch: Touch) -> events_pb2.LeadTouched:
    return events_pb2.LeadTouched(touch=touch_to_proto(touch))
