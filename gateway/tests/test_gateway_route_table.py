"""The route table against the contracts: every RPC is reachable, every request field can be given,
and a table that names something the contracts do not have fails when the app is built."""

from __future__ import annotations

import dataclasses

import pytest
from google.protobuf.descriptor import FieldDescriptor, ServiceDescriptor

from salesplane.audit.v1 import audit_pb2
from salesplane.forecasting.v1 import (
    forecasting_pb2,
    inspection_pb2,
    org_pb2,
    quotas_pb2,
    settings_pb2,
    worksheets_pb2,
)
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.json_to_proto import resolve_field
from salesplane_gateway.merge_patch import MergePatchBody
from salesplane_gateway.route_table import ROUTES
from salesplane_gateway.routing import CsvBody, Download, JsonBody, Route, RouteError, check_route

SERVED: tuple[ServiceDescriptor, ...] = (
    opportunities_pb2.DESCRIPTOR.services_by_name["OpportunityService"],
    leads_pb2.DESCRIPTOR.services_by_name["LeadService"],
    org_pb2.DESCRIPTOR.services_by_name["OrgService"],
    forecasting_pb2.DESCRIPTOR.services_by_name["ForecastingService"],
    settings_pb2.DESCRIPTOR.services_by_name["ForecastSettingsService"],
    quotas_pb2.DESCRIPTOR.services_by_name["QuotaService"],
    worksheets_pb2.DESCRIPTOR.services_by_name["WorksheetService"],
    inspection_pb2.DESCRIPTOR.services_by_name["InspectionService"],
    reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"],
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"],
)


def route_of(rpc_name: str, method: str | None = None) -> Route:
    return next(route for route in ROUTES if route.rpc.name == rpc_name and method in (None, route.method))


def test_every_rpc_of_the_served_services_has_a_route() -> None:
    expected = sorted(f"{s.full_name}.{m.name}" for s in SERVED for m in s.methods)

    assert sorted({route.rpc.full_name for route in ROUTES}) == expected


def test_an_rpc_with_several_routes_gives_each_its_own_operation() -> None:
    operations = [route.operation_id for route in ROUTES]

    assert len(operations) == len(set(operations))
    assert {r.operation_id for r in ROUTES if r.rpc.name in ("RunReport", "ExportReport")} == {
        "runReport",
        "runReportFromBody",
        "exportReport",
        "exportReportFromBody",
    }


def test_every_route_matches_the_contracts() -> None:
    for route in ROUTES:
        check_route(route)


def test_no_two_routes_share_a_method_and_path() -> None:
    keys = [(route.method, route.path) for route in ROUTES]

    assert len(keys) == len(set(keys))


def bound_fields(route: Route) -> set[str]:
    """The top-level request fields an HTTP caller can give."""
    request = route.rpc.method.input_type
    bound = {route.path_field(p).split(".")[0] for p in route.path_parameters}
    bound |= {path.split(".")[0] for path in route.query.values()}
    bound |= {path.split(".")[0] for path in route.query_maps.values()}
    bound |= {route.if_match} if route.if_match else set()
    if isinstance(route.body, JsonBody):
        bound |= set(request.fields_by_name) if route.body.field == "*" else {route.body.field}
    if isinstance(route.body, MergePatchBody):
        bound |= {route.body.field, route.body.mask}
    if isinstance(route.body, CsvBody):
        bound |= {route.body.text_field, route.body.first_line_field}
    return bound


def excluded_fields(route: Route) -> set[str]:
    """Fields of a request message that serves several RPCs which this route's RPC does not take."""
    if isinstance(route.body, JsonBody) and route.body.field == "*":
        return set(route.body.exclude)
    return set()


def test_every_request_field_can_be_given_through_some_route_of_its_rpc() -> None:
    for rpc_name in {route.rpc.full_name for route in ROUTES}:
        routes = [route for route in ROUTES if route.rpc.full_name == rpc_name]
        fields = set(routes[0].rpc.method.input_type.fields_by_name)
        bound = set().union(*(bound_fields(route) | excluded_fields(route) for route in routes))

        assert fields - bound == set(), rpc_name


def test_every_request_field_of_a_post_run_or_export_can_be_given_in_its_body() -> None:
    for route in (route_of("RunReport", "POST"), route_of("ExportReport", "POST")):
        assert bound_fields(route) == set(route.rpc.method.input_type.fields_by_name)


def test_every_route_answering_a_versioned_resource_sends_its_etag() -> None:
    for route in ROUTES:
        output = route.rpc.method.output_type
        if "version" in output.fields_by_name or "revision" in output.fields_by_name:
            assert route.etag is not None, f"{route.method} {route.path}"


def test_creates_answer_201_and_changes_are_conditional_where_the_contract_allows() -> None:
    for route in ROUTES:
        request = route.rpc.method.input_type
        if route.rpc.name.startswith("Create") and route.presenter is None:
            assert route.status == 201, route.path
        for version_field in ("expected_version", "expected_revision"):
            if version_field in set(request.fields_by_name) - excluded_fields(route):
                assert route.if_match == version_field, route.path


def test_a_repeated_query_field_is_named_in_the_singular() -> None:
    for route in ROUTES:
        for name, path in route.query.items():
            field = resolve_field(route.rpc.method.input_type, path)[1]
            if field.is_repeated:  # ?sales_stage=A&sales_stage=B, not ?sales_stages=A&sales_stages=B
                assert name != path, (route.path, name)


def broken(**changes: object) -> Route:
    return dataclasses.replace(route_of("CloseOpportunity"), **changes)


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (broken(path="/v1/opportunities/{opportunity}:close"), "path parameter 'opportunity'"),
        (broken(query={"x": "nope"}), "query parameter 'nope'"),
        (broken(query={"x": "opportunity_id"}, required_query=("y",)), "required_query"),
        (broken(if_match="version"), "If-Match field 'version'"),
        (broken(etag="revision"), "ETag field 'revision'"),
        (broken(location="/v1/x/{uuid}"), "Location placeholder 'uuid'"),
        (broken(body=JsonBody("outcome")), "body field must be a top-level, single message"),
        (broken(body=None), "needs a body"),
        (broken(caller_fills=("owner",)), "caller-filled field 'owner'"),
        (
            dataclasses.replace(
                route_of("UpdateOpportunity"),
                body=MergePatchBody(field="opportunity", paths=("amount.cents",)),
            ),
            "patch path 'amount.cents'",
        ),
        (dataclasses.replace(route_of("ListOpportunities"), query={"amount": "close_date_from.year"}), None),
        (broken(body=JsonBody(exclude=("nope",))), "excluded body member 'nope'"),
        (broken(query_maps={"x": "opportunity_id"}), "query map 'x' must fill a map field"),
        (broken(query_maps={"x.y": "opportunity_id"}), "query map prefix 'x.y' must be a name"),
        (broken(operation="close"), None),
        (broken(download=Download()), "a download needs a server-streaming RPC"),
        (dataclasses.replace(route_of("ExportReport", "POST"), download=None), "needs a download"),
        (
            dataclasses.replace(route_of("ExportReport", "POST"), download=Download(data_field="filename")),
            "download data field 'filename'",
        ),
        (
            dataclasses.replace(route_of("ExportReport", "POST"), status=201),
            "a download has no presenter, ETag, Location or status",
        ),
        (
            dataclasses.replace(route_of("RunReport", "GET"), query_maps={"f": "definition"}),
            "query map 'f' must fill a map field",
        ),
        (dataclasses.replace(route_of("RunReport", "GET"), query_maps={"f": "parameters"}), None),
    ],
)
def test_a_route_that_disagrees_with_the_contracts_is_refused(route: Route, message: str | None) -> None:
    if message is None:  # a nested scalar is fine
        check_route(route)
        return
    with pytest.raises(RouteError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_route(route)


def test_a_query_parameter_must_fill_something_url_text_can_carry() -> None:
    route = dataclasses.replace(route_of("ListLeads"), query={"lead": "page_size"})
    check_route(route)
    qualify = dataclasses.replace(route_of("QualifyLead"), query={"q": "qualification"})

    with pytest.raises(RouteError, match="must fill a scalar field"):
        check_route(qualify)
    assert route_of("QualifyLead").rpc.method.input_type.fields_by_name["qualification"].type == (
        FieldDescriptor.TYPE_MESSAGE
    )


def test_a_path_parameter_never_takes_another_routes_word(client, bearer) -> None:
    # /v1/quotas/{user_id}/changes is GET only: a PUT there is not the quota of period "changes".
    response = client.put("/v1/quotas/alice/changes", headers=bearer("root", "admin"), json={})
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"] and "PUT" not in response.headers["Allow"]


def test_no_path_is_matched_by_two_routes() -> None:
    import itertools

    from werkzeug.exceptions import MethodNotAllowed, NotFound
    from werkzeug.routing import Map, Rule

    from salesplane_gateway.path_shadows import SegmentConverter, flask_rules

    rules = flask_rules([route.path for route in ROUTES])
    # One map per template, so that each answers for itself whether it matches a path.
    maps = {
        path: Map([Rule(rule, endpoint=path)], converters={"segment": SegmentConverter}).bind("gateway")
        for path, rule in rules.items()
    }
    # Every template with its parameters filled by a plain value or by any route's literal words.
    words = sorted({s.partition(":")[0] for r in ROUTES for s in r.path.split("/") if s and "{" not in s})
    checked = 0
    for path in rules:
        names = [segment for segment in path.split("/") if segment.startswith("{")]
        for filling in itertools.islice(itertools.product(["x1", *words], repeat=len(names)), 400):
            concrete = path
            for name, value in zip(names, filling, strict=True):
                concrete = concrete.replace(name, value, 1)
            matching = []
            for template, adapter in maps.items():
                try:
                    adapter.match(concrete, method="GET")
                    matching.append(template)
                except (NotFound, MethodNotAllowed):
                    pass
            assert len(matching) <= 1, (concrete, matching)
            checked += 1
    assert checked > len(rules)
