"""One trace across the event hops, on SQLite and the embedded log: the transaction's context is
stored with its outbox rows, the relay publishes each record in a child span and puts that span's
context in the record's headers, and the consumer applies the batch in a span that continues it.
Log lines written inside a span name it."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import MetaData, select

from salesplane.common.v1.common_pb2 import Money
from salesplane_platform.consumer_runner import ConsumedEvent, ConsumerRunner, Rejection
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.event_transport import IncomingRecord, OutgoingRecord
from salesplane_platform.json_logging import JsonFormatter
from salesplane_platform.local_log import LocalLogPublisher, LocalLogSubscriber
from salesplane_platform.outbox_relay import OutboxRelay
from salesplane_platform.platform_tables import define_platform_tables
from salesplane_platform.unit_of_work import OutboxContext, SqlUnitOfWork
from salesplane_testing.span_capture import captured_spans

metadata = MetaData()
platform = define_platform_tables(metadata)
TOPIC = "deals"


class KeepingPublisher:
    def __init__(self) -> None:
        self.records: list[OutgoingRecord] = []

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        self.records.extend(records)

    def close(self) -> None: ...


class TracingHandler:
    """Notes the span current while it applies, as the handler's log lines would see it."""

    topics: Sequence[str] = (TOPIC,)

    def __init__(self) -> None:
        self.current: list[trace.SpanContext] = []

    def apply(self, session: object, events: Sequence[ConsumedEvent]) -> list[Rejection]:
        self.current.append(trace.get_current_span().get_span_context())
        return []


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with captured_spans() as exporter:
        yield exporter


@pytest.fixture
def engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def write_event(engine, aggregate_id: str, version: int = 1) -> None:
    outbox = OutboxContext(platform, "deals-service", TOPIC, threading.Event())
    with SqlUnitOfWork(make_session_factory(engine), outbox) as uow:
        uow.record_event(
            payload=Money(currency_code="EUR", amount_minor=version),
            aggregate_type="deal",
            aggregate_id=aggregate_id,
            aggregate_version=version,
            actor="alice",
        )
        uow.commit()


def relay(engine, publisher) -> OutboxRelay:
    return OutboxRelay(engine, platform, publisher, wakeup=threading.Event(), lock_name="deals-service")


def traceparent(record: OutgoingRecord | IncomingRecord) -> tuple[str, str]:
    """(trace id, span id) of a record's traceparent header."""
    value = dict(record.headers)["traceparent"].decode()
    _, trace_id, span_id, _ = value.split("-")
    return trace_id, span_id


def hex_ids(context: trace.SpanContext) -> tuple[str, str]:
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


def test_the_relay_publishes_in_a_child_of_the_writing_transaction_and_says_so_in_the_headers(engine, spans):
    with trace.get_tracer("test").start_as_current_span("POST /v1/opportunities") as request:
        write_event(engine, "deal-1")
    with engine.connect() as connection:
        (stored,) = connection.execute(select(platform.outbox.c.trace_context)).scalars()
    assert json.loads(stored)["traceparent"].split("-")[1] == hex_ids(request.get_span_context())[0]

    publisher = KeepingPublisher()
    assert relay(engine, publisher).publish_pending() == 1

    (publish,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.PRODUCER]
    assert publish.name == f"publish {TOPIC}"
    assert publish.parent is not None and publish.parent.span_id == request.get_span_context().span_id
    assert publish.context.trace_id == request.get_span_context().trace_id
    assert dict(publish.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "publish",
        "messaging.destination.name": TOPIC,
        "messaging.kafka.message.key": "deal-1",
        "messaging.message.id": dict(publisher.records[0].headers)["ce_id"].decode(),
    }
    (record,) = publisher.records
    # The CloudEvents headers are still there, the trace context beside them.
    assert dict(record.headers)["ce_type"] == b"salesplane.common.v1.Money"
    assert traceparent(record) == hex_ids(publish.context)


def test_without_export_the_relay_passes_the_stored_context_on_without_a_span(engine, spans):
    with trace.get_tracer("test").start_as_current_span("POST /v1/opportunities") as request:
        write_event(engine, "deal-1")
    publisher = KeepingPublisher()
    untraced = OutboxRelay(
        engine, platform, publisher, wakeup=threading.Event(), lock_name="deals-service", publish_spans=False
    )
    assert untraced.publish_pending() == 1
    assert [s.name for s in spans.get_finished_spans()] == ["POST /v1/opportunities"]
    assert traceparent(publisher.records[0]) == hex_ids(request.get_span_context())


def test_a_row_written_outside_any_trace_starts_one_at_the_relay(engine, spans):
    write_event(engine, "deal-1")
    with engine.connect() as connection:
        assert connection.execute(select(platform.outbox.c.trace_context)).scalar_one() is None
    publisher = KeepingPublisher()
    relay(engine, publisher).publish_pending()
    (publish,) = spans.get_finished_spans()
    assert publish.parent is None
    assert traceparent(publisher.records[0]) == hex_ids(publish.context)


def test_a_failed_publish_ends_its_spans_as_errors(engine, spans):
    class BrokenPublisher(KeepingPublisher):
        def publish(self, records: Sequence[OutgoingRecord]) -> None:
            raise ConnectionError("broker unreachable")

    write_event(engine, "deal-1")
    with pytest.raises(ConnectionError):
        relay(engine, BrokenPublisher()).publish_pending()
    (publish,) = spans.get_finished_spans()
    assert not publish.status.is_ok
    assert publish.events[0].name == "exception"


def test_the_consumers_transaction_continues_the_trace_through_the_local_log(engine, spans, tmp_path):
    with trace.get_tracer("test").start_as_current_span("POST /v1/opportunities") as request:
        write_event(engine, "deal-1")
    log_path = tmp_path / "events.db"
    publisher = LocalLogPublisher(log_path)
    relay(engine, publisher).publish_pending()
    subscriber = LocalLogSubscriber(log_path, [TOPIC], group_id="forecasting")
    handler = TracingHandler()
    runner = ConsumerRunner(
        make_session_factory(engine), platform, subscriber, handler, consumer_group="forecasting"
    )

    (received,) = subscriber.poll(10, 0.5)
    runner.process([received])

    finished = spans.get_finished_spans()
    (publish,) = [s for s in finished if s.kind is SpanKind.PRODUCER]
    (process,) = [s for s in finished if s.kind is SpanKind.CONSUMER]
    # The local log kept the headers the relay wrote.
    assert traceparent(received) == hex_ids(publish.context)
    assert process.name == f"process {TOPIC}"
    assert process.context.trace_id == request.get_span_context().trace_id
    assert process.parent is not None and process.parent.span_id == publish.context.span_id
    assert handler.current == [process.context]
    attributes = dict(process.attributes or {})
    assert attributes["messaging.operation.type"] == "process"
    assert attributes["messaging.consumer.group.name"] == "forecasting"
    assert attributes["messaging.destination.name"] == TOPIC
    assert attributes["messaging.kafka.message.key"] == "deal-1"
    publisher.close()
    subscriber.close()


def test_a_batch_is_processed_in_the_first_events_trace_and_links_the_others(engine, spans, tmp_path):
    tracer = trace.get_tracer("test")
    requests = []
    for deal in ("deal-1", "deal-2", "deal-3"):
        with tracer.start_as_current_span(f"create {deal}") as request:
            write_event(engine, deal)
        requests.append(request)
    publisher = KeepingPublisher()
    relay(engine, publisher).publish_pending()
    records = [
        IncomingRecord(r.topic, 0, offset, r.key, r.value, r.headers)
        for offset, r in enumerate(publisher.records)
    ]
    runner = ConsumerRunner(make_session_factory(engine), platform, _NoSubscriber(), TracingHandler())

    runner.process(records)

    (process,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert process.context.trace_id == requests[0].get_span_context().trace_id
    assert process.parent is not None and process.parent.span_id == int(traceparent(records[0])[1], 16)
    assert [hex_ids(link.context) for link in process.links] == [traceparent(r) for r in records[1:]]
    assert dict(process.attributes or {})["messaging.batch.message_count"] == 3


def test_a_handlers_failure_is_an_error_on_the_process_span(engine, spans):
    class FailingHandler(TracingHandler):
        def apply(self, session: object, events: Sequence[ConsumedEvent]) -> list[Rejection]:
            raise RuntimeError("database hiccup")

    write_event(engine, "deal-1")
    publisher = KeepingPublisher()
    relay(engine, publisher).publish_pending()
    (sent,) = publisher.records
    runner = ConsumerRunner(make_session_factory(engine), platform, _NoSubscriber(), FailingHandler())
    with pytest.raises(RuntimeError):
        runner.process([IncomingRecord(sent.topic, 0, 0, sent.key, sent.value, sent.headers)])
    (process,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert not process.status.is_ok


def test_a_local_log_from_before_headers_gets_the_column_and_its_records_read_without_any(tmp_path):
    path = tmp_path / "events.db"
    old = sqlite3.connect(path)
    old.executescript(
        'CREATE TABLE records ("offset" INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, '
        "key BLOB, value BLOB NOT NULL, appended_at REAL NOT NULL);"
        "INSERT INTO records (topic, key, value, appended_at) VALUES ('t', x'6b', x'76', 0);"
    )
    old.close()
    subscriber = LocalLogSubscriber(path, ["t"], group_id="g")
    publisher = LocalLogPublisher(path)
    publisher.publish(
        [OutgoingRecord("t", b"k2", b"v2", (("traceparent", b"00-ab"), ("x-bin", b"\xff\x00")))]
    )
    first, second = subscriber.poll(10, 0.5)
    assert first.headers == ()
    assert second.headers == (("traceparent", b"00-ab"), ("x-bin", b"\xff\x00"))
    publisher.close()
    subscriber.close()


def test_log_lines_inside_a_span_carry_its_trace_and_span_ids(spans):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("opportunities"))
    logger = logging.getLogger("test.trace_ids")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("outside")
        with trace.get_tracer("test").start_as_current_span("work") as span:
            logger.warning("inside")
    finally:
        logger.removeHandler(handler)
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "trace_id" not in outside and "span_id" not in outside
    assert (inside["trace_id"], inside["span_id"]) == hex_ids(span.get_span_context())


class _NoSubscriber:
    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        return []

    def commit(self, records: Sequence[IncomingRecord]) -> None: ...

    def rewind(self, records: Sequence[IncomingRecord]) -> None: ...

    def close(self) -> None: ...
