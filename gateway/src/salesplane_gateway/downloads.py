"""Download routes (GET /v1/reports/{report_id}/export): a server-streaming RPC whose messages are the
pieces of one file, answered as that file, streamed as the pieces arrive (nothing holds it whole).

The status line and headers go out once, before the body. So the call is started and its first
message awaited before the view returns: a failure up to then is the usual problem answer (a bad
filter value is a 400 naming the query parameter, an unknown report a 404), and the first message
names the media type and file name. A failure after it cannot change the status any more: it is
logged and the body is cut short (upstream.StreamBroken), so that the caller sees an incomplete
download rather than a file that looks whole. The deadline covers the whole download."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

from flask import Response
from google.protobuf.message import Message

from salesplane_gateway.problems import Problem, problem_type
from salesplane_gateway.request_context import state
from salesplane_gateway.routing import Route
from salesplane_gateway.transcoding import build_request
from salesplane_gateway.upstream import ResponseStream, call_streaming

log = logging.getLogger(__name__)

OCTET_STREAM = "application/octet-stream"


def safe_filename(name: str, default: str = "download") -> str:
    """A plain file name for Content-Disposition: no path, no quotes, not hidden, ASCII."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or default


def attachment(filename: str) -> str:
    """The Content-Disposition of a download; `filename` must be safe_filename's."""
    return f'attachment; filename="{filename}"'


def download_view(route: Route) -> Callable[..., Response]:
    spec = route.download
    if spec is None:
        raise TypeError(f"{route.path} is not a download")

    def view(**path_arguments: str) -> Response:
        message = build_request(route, path_arguments)
        stream = call_streaming(
            route.rpc,
            message,
            http_name=route.http_name,
            timeout_seconds=state().config.download_rpc_timeout_seconds,
        )
        first = next(stream, None)
        if first is None:
            log.warning("upstream stream ended without a message", extra={"rpc": route.rpc.full_name})
            raise Problem(
                502,
                "Upstream error",
                "A backend service failed to answer the request.",
                problem_type("upstream-error"),
            )
        body = _FileBody(first, stream, spec.data_field)
        media_type = getattr(first, spec.content_type_field) or OCTET_STREAM
        if ";" in media_type:  # with its parameters (charset=...): as the service wrote it
            response = Response(body, content_type=media_type)
        else:  # Werkzeug adds charset=utf-8 to text types, as the services write them
            response = Response(body, mimetype=media_type)
        response.headers["Content-Disposition"] = attachment(
            safe_filename(getattr(first, spec.filename_field))
        )
        # The media type is the service's word; a browser must not guess another (HTML from an SVG).
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return view


class _FileBody:
    """The bytes of every piece, each sent on as it arrives. The WSGI server closes the body when it
    is sent or the caller went away; that cancels the call (a no-op once it has ended)."""

    def __init__(self, first: Message, stream: ResponseStream, data_field: str) -> None:
        self._first = first
        self._stream = stream
        self._data_field = data_field

    def __iter__(self) -> Iterator[bytes]:
        data: bytes = getattr(self._first, self._data_field)
        if data:
            yield data
        for piece in self._stream:
            # An empty piece would read as the end of a chunked body to some servers.
            if data := getattr(piece, self._data_field):
                yield data

    def close(self) -> None:
        self._stream.close()
