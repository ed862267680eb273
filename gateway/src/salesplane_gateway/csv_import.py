"""CSV upload routes (POST /v1/leads:import): a text/csv file of up to max_import_bytes, sent to the
RPC (ImportLeads) in chunks.

One call per file would hit gRPC's message size limit and hold the service's transaction for the
whole file, so the file is cut at record boundaries into chunks of up to CHUNK_ROWS data records
(and CHUNK_CHARS characters), each with the header line in front and first_line_number set to the
line in the original file where its first record starts, so the per-row report names the lines the
caller sees in their file. The chunks' reports are merged into one. Chunks are sent one after the
other; when one fails, the ones before it stay imported, and the problem says up to which line
(`processed_through_line`) and carries their merged report (`report`: the ids of the leads made and
the rows refused, which a second run would only list as already imported). Sending the whole file
again is safe: ImportLeads never imports a row twice.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from flask import Request, Response, request
from google.protobuf.message import Message

from salesplane_gateway.json_input import unsupported_media_type
from salesplane_gateway.json_values import INTEGER_RANGES
from salesplane_gateway.problems import Problem, validation_problem
from salesplane_gateway.proto_to_json import message_json
from salesplane_gateway.request_context import state
from salesplane_gateway.routing import CsvBody, Route
from salesplane_gateway.transcoding import build_request, json_response
from salesplane_gateway.upstream import call
from salesplane_platform.csv_records import CsvRecord, CsvSyntaxError, csv_records
from salesplane_platform.errors import FieldViolation

CSV_MEDIA_TYPE = "text/csv"
CHUNK_ROWS = 500
# Far below gRPC's default 4 MiB receive limit, even for text of multi-byte characters.
CHUNK_CHARS = 1024 * 1024
_BYTE_ORDER_MARK = "\ufeff"
_UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii"})


@dataclass(frozen=True)
class CsvChunk:
    text: str
    # Lines of the original file (the header is line 1) where the chunk's data starts and ends.
    first_line_number: int
    last_line_number: int


def csv_chunks(text: str, *, rows: int = CHUNK_ROWS, max_chars: int = CHUNK_CHARS) -> Iterator[CsvChunk]:
    """The file cut into chunks of whole records, each starting with the header record. A file with
    only a header is one chunk without data, so that the service still checks the header."""
    records = _records(text)
    header = next(records, None)
    if header is None:
        return
    header_text = header.text if header.text.endswith(("\n", "\r")) else header.text + "\r\n"
    pending: list[CsvRecord] = []
    size = 0
    sent = False
    for record in records:
        if pending and (len(pending) >= rows or size + len(record.text) > max_chars):
            yield _chunk(header_text, pending)
            pending, size, sent = [], 0, True
        pending.append(record)
        size += len(record.text)
    if pending:
        yield _chunk(header_text, pending)
    elif not sent:
        yield CsvChunk(header_text, header.last_line + 1, header.last_line)


def _chunk(header_text: str, records: list[CsvRecord]) -> CsvChunk:
    return CsvChunk(
        header_text + "".join(r.text for r in records), records[0].first_line, records[-1].last_line
    )


def _records(text: str) -> Iterator[CsvRecord]:
    try:
        yield from csv_records(io.StringIO(text, newline=""), strict=True)
    except CsvSyntaxError as error:
        raise validation_problem(
            [FieldViolation("body", str(error))], "The request body is not valid CSV."
        ) from None


def read_csv_text(http: Request) -> str:
    if http.mimetype != CSV_MEDIA_TYPE:
        raise unsupported_media_type("The request body must be CSV (Content-Type: text/csv).")
    charset = http.mimetype_params.get("charset", "utf-8").lower()
    if charset not in _UTF8_NAMES:
        raise unsupported_media_type(f"The CSV must be UTF-8 (charset={charset} given).")
    try:
        text = http.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError as error:
        raise validation_problem(
            [FieldViolation("body", f"is not valid UTF-8 (byte {error.start})")], "The CSV is not UTF-8 text."
        ) from None
    text = text.removeprefix(_BYTE_ORDER_MARK)  # as spreadsheets write it
    if not text.strip():
        raise validation_problem([FieldViolation("body", "must hold a header line and data lines")])
    return text


def merge_reports(total: Message, part: Message) -> None:
    """Adds one chunk's report to the total: counters add up, lists concatenate."""
    for field in part.DESCRIPTOR.fields:
        if field.is_repeated:
            getattr(total, field.name).extend(getattr(part, field.name))
        elif field.type in INTEGER_RANGES:
            setattr(total, field.name, getattr(total, field.name) + getattr(part, field.name))


def csv_import_view(route: Route) -> Callable[..., Response]:
    body = route.body
    if not isinstance(body, CsvBody):
        raise TypeError(f"{route.path} has no CSV body")

    def view() -> Response:
        # Set before anything reads the body: the app-wide limit is for JSON.
        request.max_content_length = state().config.max_import_bytes
        template = build_request(route, {})
        # Cut the whole file first: a malformed record near the end must fail before anything is imported.
        chunks = list(csv_chunks(read_csv_text(request)))
        total = route.rpc.response_class()
        processed_through = 0
        for chunk in chunks:
            message = route.rpc.request_class()
            message.CopyFrom(template)
            setattr(message, body.text_field, chunk.text)
            setattr(message, body.first_line_field, chunk.first_line_number)
            try:
                answer = call(
                    route.rpc,
                    message,
                    http_name=route.http_name,
                    timeout_seconds=state().config.import_rpc_timeout_seconds,
                )
                merge_reports(total, answer)
            except Problem as problem:
                if processed_through:
                    problem.extensions["processed_through_line"] = processed_through
                    problem.extensions["report"] = message_json(total)
                raise
            processed_through = chunk.last_line_number
        return json_response(route, total, route.status)

    return view
