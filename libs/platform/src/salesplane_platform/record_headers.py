"""The headers of every record Salesplane puts on Kafka, so that a tool (kcat, a schema-aware
consumer, a tracing proxy) knows what a record is without decoding it.

The names follow the CloudEvents Kafka binding (binary mode keeps the envelope as the value, so
these are the `ce_` attributes beside it): a consumer that speaks CloudEvents routes by `ce_type`
and `ce_source`, and every consumer can read `content-type`.

Beside them, the W3C trace context of the record's publish span (`traceparent`, and `tracestate`
or `baggage` when there are any), as OpenTelemetry's Kafka instrumentations put it, so a consumer
continues the trace (trace_context.py, messaging_spans.py)."""

from __future__ import annotations

from collections.abc import Mapping

from salesplane.events.v1.envelope_pb2 import EventEnvelope

CONTENT_TYPE = f"application/protobuf; proto={EventEnvelope.DESCRIPTOR.full_name}"


def record_headers(
    *, event_id: str, event_type: str, producer: str, trace_context: Mapping[str, str] | None = None
) -> tuple[tuple[str, bytes], ...]:
    traced = tuple((name, value.encode()) for name, value in (trace_context or {}).items())
    return (
        ("content-type", CONTENT_TYPE.encode()),
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        # The payload's proto full name: its schema, e.g. salesplane.forecasting.v1.QuotaCommitted.
        ("ce_type", event_type.encode()),
        ("ce_source", f"salesplane/{producer}".encode()),
        ("ce_dataschema", f"proto:{event_type}".encode()),
        *traced,
    )
