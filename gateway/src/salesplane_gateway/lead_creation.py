"""How POST /v1/leads answers each outcome of CreateLead.

created           201 with Location and ETag of the new lead
merged            200: the new data filled the empty fields of an existing lead (on_duplicate "merge")
duplicates_found  409 problem+json with the candidates in `duplicates`: nothing was created, as
                  for any other conflict with existing state; the caller resends with on_duplicate
                  "insist" or "merge", or uses a candidate instead. A 2xx would let a client that
                  only checks the status believe a lead exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from flask import Response
from google.protobuf.message import Message

from salesplane.leads.v1 import leads_pb2
from salesplane_gateway.problems import Problem, problem_type
from salesplane_gateway.proto_to_json import message_json
from salesplane_gateway.transcoding import JsonPresenter, json_response

if TYPE_CHECKING:
    from salesplane_gateway.openapi_components import Components
    from salesplane_gateway.routing import Route

DUPLICATES_REASON = "DUPLICATES_FOUND"


def duplicates_problem(response: leads_pb2.CreateLeadResponse) -> Problem:
    return Problem(
        409,
        "Possible duplicates",
        'Leads that look like this one exist, so none was created. Send on_duplicate "insist" to '
        'create it anyway or "merge" to fill the best candidate instead.',
        problem_type("duplicate-lead"),
        reason=DUPLICATES_REASON,
        extensions={"duplicates": [message_json(candidate) for candidate in response.duplicates]},
    )


class CreateLeadPresenter(JsonPresenter):
    def present(self, route: Route, response: Message) -> Response:
        response = cast(leads_pb2.CreateLeadResponse, response)
        if response.outcome == leads_pb2.CREATE_LEAD_OUTCOME_DUPLICATES_FOUND:
            raise duplicates_problem(response)
        status = 200 if response.outcome == leads_pb2.CREATE_LEAD_OUTCOME_MERGED else 201
        return json_response(route, response, status)

    def responses(self, route: Route, components: Components) -> dict[str, Any]:
        candidate = components.output_schema(leads_pb2.DuplicateCandidate.DESCRIPTOR)
        return {
            "201": components.success_response(route, 201, "Created: `outcome` is `created`."),
            "200": components.success_response(
                route,
                200,
                "With on_duplicate `merge` and a duplicate found: `outcome` is `merged` and `lead` is "
                "the existing lead, now filled from the new data. No Location.",
            ),
            "409": components.problem_response(
                "Possible duplicates (on_duplicate `reject`, the default): nothing was created; "
                "`reason` is DUPLICATES_FOUND and `duplicates` lists the candidates. Also any other "
                "conflict (`reason` tells).",
                "DuplicateLeadProblem",
                {"duplicates": {"type": "array", "items": candidate}},
            ),
        }
