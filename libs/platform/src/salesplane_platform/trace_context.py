"""The W3C trace context across the hops gRPC metadata does not cover: from a transaction into
its outbox rows, from a row into its Kafka record's headers, and from the headers to the consumer.

The OpenTelemetry propagator reads and writes the context (W3C traceparent and tracestate, and
baggage, unless OTEL_PROPAGATORS says otherwise); this module only moves its carrier. An outbox
row keeps the carrier as a JSON object, so whatever the propagator writes survives the table."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context


def current_trace_context() -> str | None:
    """The trace context of the span current on this thread, as stored with an outbox row; None
    outside any trace (a job's first transaction, tracing switched off entirely)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return json.dumps(carrier, separators=(",", ":")) if carrier else None


def stored_carrier(stored: str | None) -> dict[str, str]:
    """The headers an outbox row's trace context was stored as; none when it has none (or they are
    unreadable: tracing never stops an event)."""
    if not stored:
        return {}
    try:
        carrier = json.loads(stored)
    except ValueError:
        return {}
    if not isinstance(carrier, dict):
        return {}
    return {k: v for k, v in carrier.items() if isinstance(k, str) and isinstance(v, str)}


def stored_context(stored: str | None) -> Context | None:
    """The context an outbox row was written in; None when it has none."""
    carrier = stored_carrier(stored)
    return _extracted(carrier) if carrier else None


def trace_carrier(context: Context) -> dict[str, str]:
    """The headers that carry `context` to the next hop (empty when it holds no valid span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return carrier


def context_from_headers(headers: Iterable[tuple[str, bytes]]) -> Context | None:
    """The context a record was published in, from its headers; None when they carry none."""
    fields = propagate.get_global_textmap().fields
    carrier = {name: value.decode("utf-8", "replace") for name, value in headers if name in fields}
    return _extracted(carrier) if carrier else None


def _extracted(carrier: Mapping[str, str]) -> Context | None:
    # Into an empty context: extracting into the current one would find the current span when
    # the carrier holds none.
    context = propagate.extract(carrier, context=Context())
    return context if trace.get_current_span(context).get_span_context().is_valid else None
