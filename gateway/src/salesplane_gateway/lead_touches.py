"""How POST /v1/leads/{lead_id}/touches answers RecordLeadTouch: 201 when the touch was recorded
now, 200 when the lead had a touch with this key already (the body is that first touch, so a retry
sees what the first call recorded). A touch has no URL of its own, so there is no Location: the
lead's touches are listed at the same path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from flask import Response
from google.protobuf.message import Message

from salesplane.leads.v1 import leads_pb2
from salesplane_gateway.transcoding import JsonPresenter, json_response

if TYPE_CHECKING:
    from salesplane_gateway.openapi_components import Components
    from salesplane_gateway.routing import Route


class RecordTouchPresenter(JsonPresenter):
    def present(self, route: Route, response: Message) -> Response:
        recorded = cast(leads_pb2.RecordLeadTouchResponse, response)
        return json_response(route, recorded, 201 if recorded.created else 200)

    def responses(self, route: Route, components: Components) -> dict[str, Any]:
        return {
            "201": components.success_response(route, 201, "Recorded: `created` is true."),
            "200": components.success_response(
                route,
                200,
                "The lead has a touch with this key already: `created` is false and `touch` is the "
                "touch recorded first. Nothing was recorded.",
            ),
        }
