"""A tiny OpenTelemetry collector for tests: OTLP over HTTP (protobuf) on 127.0.0.1 and a free port,
keeping the spans it receives.

Services under test export to it exactly as to a real collector (their OTLPSpanExporter POSTs an
ExportTraceServiceRequest to /v1/traces), so a test sees the spans as they left each process:
which service made them, their ids, parents, kinds, attributes and links."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from salesplane_testing._util import LOOPBACK

TRACES_PATH = "/v1/traces"
KINDS = {
    Span.SPAN_KIND_INTERNAL: "INTERNAL",
    Span.SPAN_KIND_SERVER: "SERVER",
    Span.SPAN_KIND_CLIENT: "CLIENT",
    Span.SPAN_KIND_PRODUCER: "PRODUCER",
    Span.SPAN_KIND_CONSUMER: "CONSUMER",
}


@dataclass(frozen=True)
class CollectedSpan:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    # "" for a root span.
    parent_span_id: str
    attributes: dict[str, object]
    # (trace id, span id) of each linked span.
    links: tuple[tuple[str, str], ...]


class OtlpCollector:
    """Started by `running_collector()`; `endpoint` is what OTEL_EXPORTER_OTLP_ENDPOINT takes."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._spans: list[CollectedSpan] = []
        self._received = threading.Condition()

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_port}"

    @property
    def spans(self) -> list[CollectedSpan]:
        with self._received:
            return list(self._spans)

    def wait_for(
        self, found: Callable[[list[CollectedSpan]], bool], timeout: float = 30.0
    ) -> list[CollectedSpan]:
        """Every span received once `found` holds of them; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._received:
            while not found(self._spans):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    names = sorted({(s.service, s.name) for s in self._spans})
                    raise AssertionError(f"the spans expected did not arrive; received {names}")
                self._received.wait(remaining)
            return list(self._spans)

    def _add(self, request: ExportTraceServiceRequest) -> None:
        received: list[CollectedSpan] = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                received.extend(
                    _collected(str(resource.get("service.name", "")), s) for s in scope_spans.spans
                )
        with self._received:
            self._spans.extend(received)
            self._received.notify_all()


@contextmanager
def running_collector() -> Iterator[OtlpCollector]:
    server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
    collector = OtlpCollector(server)
    server.collector = collector  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="otlp-collector", daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        server.shutdown()
        server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        if self.path != TRACES_PATH:
            self.send_error(404)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.collector._add(request)  # type: ignore[attr-defined]
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per export would drown the test's output


def _collected(service: str, span: Span) -> CollectedSpan:
    return CollectedSpan(
        service=service,
        name=span.name,
        kind=KINDS.get(span.kind, "UNSPECIFIED"),
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        attributes={a.key: _value(a.value) for a in span.attributes},
        links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
    )


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)
