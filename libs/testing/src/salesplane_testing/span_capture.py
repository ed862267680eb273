"""Spans recorded in memory for in-process tests: an SDK tracer provider with OpenTelemetry's
InMemorySpanExporter, installed as the global provider for the length of a test.

The global provider can be set only once in a process; tests need their own each, and must not
leave one behind (a later test in the same run would record into it forever), so the API's
"set once" guard is reset on the way in and out, as OpenTelemetry's own test utilities do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once


@contextmanager
def captured_spans() -> Iterator[InMemorySpanExporter]:
    """Every span ended while the block runs, in `get_finished_spans()` (sampling every trace)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _install(provider)
    try:
        yield exporter
    finally:
        _install(None)
        provider.shutdown()


def _install(provider: TracerProvider | None) -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    if provider is None:
        trace._TRACER_PROVIDER = None
    else:
        trace.set_tracer_provider(provider)
