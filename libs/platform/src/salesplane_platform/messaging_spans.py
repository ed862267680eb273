"""The spans of an event's way through the transport, named and described as the OpenTelemetry
messaging conventions have it: a PRODUCER span `publish <topic>` per record the relay sends, child
of the transaction that wrote its outbox row; a CONSUMER span `process <topic>` around the
transaction a consumer applies a batch in, child of a record's publish span.

A batch is applied in one transaction, so it gets one span. Its parent is the publish span of the
batch's first traced record, which puts the transaction in that event's trace (in interactive use
a batch holds one event, so every event's trace shows its effect); it links to the publish spans
of the other records (at most MAX_LINKS), so each of them leads to it too."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_BATCH_MESSAGE_COUNT,
    MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_KAFKA_MESSAGE_KEY,
    MESSAGING_KAFKA_OFFSET,
    MESSAGING_MESSAGE_ID,
    MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM,
)
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.trace_context import context_from_headers

KAFKA = "kafka"
# The SDK keeps 128 links a span by default; a batch of thousands would only build them to drop them.
MAX_LINKS = 128


def start_publish_span(
    tracer: Tracer, *, system: str, topic: str, key: str, event_id: str, parent: Context | None
) -> Span:
    """The span of one record's send; the caller ends it once the transport acknowledged it. A row
    written outside any trace starts one here."""
    return tracer.start_span(
        f"publish {topic}",
        # Never the relay's own context: without a stored one, the record starts a trace.
        context=parent or Context(),
        kind=SpanKind.PRODUCER,
        attributes={
            MESSAGING_SYSTEM: system,
            MESSAGING_OPERATION_TYPE: "send",
            MESSAGING_OPERATION_NAME: "publish",
            MESSAGING_DESTINATION_NAME: topic,
            MESSAGING_KAFKA_MESSAGE_KEY: key,
            MESSAGING_MESSAGE_ID: event_id,
        },
    )


@contextmanager
def process_span(
    tracer: Tracer, records: Sequence[IncomingRecord], *, system: str, consumer_group: str | None
) -> Iterator[Span]:
    """The current span while a batch is applied (see the module's description); an error that
    ends the batch is recorded on it."""
    contexts = (context_from_headers(r.headers) for r in records)
    # Only the first traced record is read here; the links below are read only when recorded.
    parent = next((c for c in contexts if c is not None), None)
    topics = sorted({r.topic for r in records})
    attributes: dict[str, AttributeValue] = {
        MESSAGING_SYSTEM: system,
        MESSAGING_OPERATION_TYPE: "process",
        MESSAGING_OPERATION_NAME: "process",
        MESSAGING_BATCH_MESSAGE_COUNT: len(records),
    }
    if consumer_group:
        attributes[MESSAGING_CONSUMER_GROUP_NAME] = consumer_group
    # The conventions name the destination only when every message of the batch has the same one.
    if len(topics) == 1:
        attributes[MESSAGING_DESTINATION_NAME] = topics[0]
    if len(records) == 1:
        (record,) = records
        attributes[MESSAGING_DESTINATION_PARTITION_ID] = str(record.partition)
        attributes[MESSAGING_KAFKA_OFFSET] = record.offset
        if record.key is not None:
            attributes[MESSAGING_KAFKA_MESSAGE_KEY] = record.key.decode("utf-8", "replace")
    name = f"process {topics[0]}" if len(topics) == 1 else "process"
    # Records without a context (replayed from dead letters, say) are processed in the current one.
    with tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        if span.is_recording() and len(records) > 1:
            _link_the_others(span, parent, contexts)
        yield span


def _link_the_others(span: Span, parent: Context | None, others: Iterator[Context | None]) -> None:
    seen = {trace.get_current_span(parent).get_span_context().span_id} if parent is not None else set()
    for context in others:
        if len(seen) >= MAX_LINKS:
            return
        if context is None:
            continue
        linked = trace.get_current_span(context).get_span_context()
        if linked.span_id not in seen:
            seen.add(linked.span_id)
            span.add_link(linked)
