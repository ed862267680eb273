"""The event transport seen by the relay and the consumer runner. Kafka in production; a durable
local log (SQLite) as the embedded default. Both give at-least-once delivery in per-key order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes
    value: bytes
    # Record headers (record_headers.py): CloudEvents attributes and the W3C trace context.
    headers: tuple[tuple[str, bytes], ...] = ()


class IncomingRecord(NamedTuple):
    """A consumed record. A named tuple, not a frozen dataclass: consumers make one per record,
    and a frozen dataclass's __init__ (one object.__setattr__ per field) cost several times more."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    # As published (the trace context the consumer's span continues, messaging_spans.py).
    headers: tuple[tuple[str, bytes], ...] = ()


class EventPublisher(Protocol):
    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Return only when every record is durably stored, in order per key; raise otherwise."""

    def close(self) -> None: ...


class EventSubscriber(Protocol):
    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        """Next records after the committed position (or after the last poll)."""

    def commit(self, records: Sequence[IncomingRecord]) -> None:
        """Mark these records and everything before them in their partitions as done."""

    def rewind(self, records: Sequence[IncomingRecord]) -> None:
        """Deliver these uncommitted records again on the next poll (after a failed apply)."""

    def close(self) -> None: ...
