"""Fixtures: one scriptable fake of every upstream service on a real gRPC server, and the gateway's
Flask test client over it.

The fake serves every RPC of every service the gateway reaches, generically from the descriptors:
it records each call and answers through a handler per method name. A few handlers have defaults
(below); any other RPC answers an empty response until a test sets `fake.on(...)`, `fake.reply(...)`
or `fake.fail(...)`. A server-streaming RPC's handler returns an iterable of its messages
(`fake.stream(...)` scripts them); one that fails before returning fails before the first message.
The real services are not used here: the gateway's job is the transcoding, and the e2e tests run it
against the real ones."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from flask import Flask
from flask.testing import FlaskClient
from google.protobuf import any_pb2, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from salesplane.audit.v1 import audit_pb2
from salesplane.common.v1.common_pb2 import Date, Money
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
from salesplane_gateway.app import create_app
from salesplane_gateway.clients import HEALTH_SERVICE_NAMES, ServiceClients
from salesplane_gateway.config import GatewayConfig
from salesplane_platform.identity import issue_token

SECRET = "gateway-test-secret-of-at-least-32-bytes"
LEAD_ID = "0f5a3c1e-8d1b-4b8e-9a51-3f6f0a0c2d11"
OPPORTUNITY_ID = "6c1f2e4a-3b5d-4c7e-8f90-a1b2c3d4e5f6"
SERVICES: tuple[ServiceDescriptor, ...] = (
    leads_pb2.DESCRIPTOR.services_by_name["LeadService"],
    opportunities_pb2.DESCRIPTOR.services_by_name["OpportunityService"],
    forecasting_pb2.DESCRIPTOR.services_by_name["ForecastingService"],
    org_pb2.DESCRIPTOR.services_by_name["OrgService"],
    settings_pb2.DESCRIPTOR.services_by_name["ForecastSettingsService"],
    quotas_pb2.DESCRIPTOR.services_by_name["QuotaService"],
    worksheets_pb2.DESCRIPTOR.services_by_name["WorksheetService"],
    inspection_pb2.DESCRIPTOR.services_by_name["InspectionService"],
    reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"],
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"],
)

Handler = Callable[[Any, grpc.ServicerContext], Message]
StreamHandler = Callable[[Any, grpc.ServicerContext], Iterable[Message]]


def token(subject: str = "alice", *roles: str, secret: str = SECRET) -> str:
    return issue_token(secret, subject, roles or ("rep",))


def _bearer(subject: str = "alice", *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(subject, *roles)}"}


@pytest.fixture
def bearer() -> Callable[..., dict[str, str]]:
    """bearer(subject="alice", *roles) -> an Authorization header with a valid token (role rep by default)."""
    return _bearer


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture
def lead_id() -> str:
    """The one lead the fake leads service knows."""
    return LEAD_ID


@pytest.fixture
def opportunity_id() -> str:
    """The one opportunity the fake opportunities service knows."""
    return OPPORTUNITY_ID


@pytest.fixture
def free_target() -> str:
    """host:port where nothing listens."""
    return unused_target()


@pytest.fixture
def make_token() -> Callable[..., str]:
    """make_token(subject="alice", *roles, secret=SECRET) -> a signed bearer token."""
    return token


def unused_target() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"


def abort(context: grpc.ServicerContext, code: int, message: str, *details: Message) -> None:
    packed = []
    for detail in details:
        wrapped = any_pb2.Any()
        wrapped.Pack(detail)
        packed.append(wrapped)
    context.abort_with_status(
        rpc_status.to_status(status_pb2.Status(code=code, message=message, details=packed))
    )


def bad_request(*violations: tuple[str, str]) -> error_details_pb2.BadRequest:
    return error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
            for field, description in violations
        ]
    )


def stored_opportunity(**overrides: Any) -> opportunities_pb2.Opportunity:
    fields: dict[str, Any] = {
        "id": OPPORTUNITY_ID,
        "name": "Acme renewal",
        "owner_user_id": "alice",
        "amount": Money(currency_code="EUR", amount_minor=100_000),
        "expected_close_date": Date(year=2026, month=12, day=31),
        "sales_stage": "Prospecting",
        "probability": 10,
        "probability_source": opportunities_pb2.PROBABILITY_SOURCE_STAGE,
        "status": opportunities_pb2.OPPORTUNITY_STATUS_OPEN,
        "version": 1,
    }
    opportunity = opportunities_pb2.Opportunity(**{**fields, **overrides})
    opportunity.create_time.FromSeconds(1_790_000_000)
    opportunity.update_time.FromSeconds(1_790_000_000)
    return opportunity


def stored_lead(**overrides: Any) -> leads_pb2.Lead:
    fields: dict[str, Any] = {
        "id": LEAD_ID,
        "last_name": "Lovelace",
        "status": leads_pb2.LEAD_STATUS_IN_PROCESS,
        "version": 4,
    }
    lead = leads_pb2.Lead(**{**fields, **overrides})
    lead.create_time.FromSeconds(1_790_000_000)
    return lead


class FakeUpstreams:
    """Every RPC of every upstream, answered by `handlers[method name]`; each call is recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, str]]] = []
        self.handlers: dict[str, Handler | StreamHandler] = {}
        self.report = reporting_pb2.ReportResult()
        self.reset()

    def reset(self) -> None:
        self.calls.clear()
        self.report = reporting_pb2.ReportResult()
        self.handlers = {
            "CreateOpportunity": self._create_opportunity,
            "GetOpportunity": self._get_opportunity,
            "UpdateOpportunity": lambda request, context: stored_opportunity(version=2),
            "ListSalesStages": self._list_sales_stages,
            "CreateLead": self._create_lead,
            "GetLead": self._get_lead,
            "GetRollup": self._get_rollup,
            "ListReports": self._list_reports,
            "RunReport": self._run_report,
        }

    # -- scripting -------------------------------------------------------------------------------

    def on(self, method: str, handler: Handler) -> None:
        self.handlers[method] = handler

    def reply(self, method: str, response: Message) -> None:
        self.handlers[method] = lambda request, context: response

    def stream(self, method: str, *responses: Message) -> None:
        """The server-streaming `method` answers these messages."""
        self.handlers[method] = lambda request, context: list(responses)

    def fail(self, method: str, code: int, message: str, *details: Message) -> None:
        def failing(request: Any, context: grpc.ServicerContext) -> Message:
            abort(context, code, message, *details)
            raise AssertionError("abort returns only by raising")

        self.handlers[method] = failing

    def invalid(self, method: str, *violations: tuple[str, str]) -> None:
        """`method` fails with INVALID_ARGUMENT and these (field, description) violations."""
        self.fail(
            method, code_pb2.INVALID_ARGUMENT, "The request has invalid fields.", bad_request(*violations)
        )

    def requests(self, method: str) -> list[Any]:
        return [request for name, request, _ in self.calls if name == method]

    def last(self, method: str) -> Any:
        found = self.requests(method)
        assert found, f"{method} was not called; calls: {[name for name, _, _ in self.calls]}"
        return found[-1]

    # -- serving ---------------------------------------------------------------------------------

    def generic_handler(self, service: ServiceDescriptor) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            service.full_name, {method.name: self._method_handler(method) for method in service.methods}
        )

    def _method_handler(self, method: MethodDescriptor) -> grpc.RpcMethodHandler:
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)

        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            self.calls.append((method.name, request, dict(context.invocation_metadata())))
            handler = self.handlers.get(method.name)
            if handler is None:
                return iter(()) if method.server_streaming else response_class()
            answer = handler(request, context)
            return iter(answer) if method.server_streaming else answer

        if method.server_streaming:
            return grpc.unary_stream_rpc_method_handler(
                handle,
                request_deserializer=request_class.FromString,
                response_serializer=response_class.SerializeToString,
            )
        return grpc.unary_unary_rpc_method_handler(
            handle,
            request_deserializer=request_class.FromString,
            response_serializer=response_class.SerializeToString,
        )

    # -- default answers -------------------------------------------------------------------------

    def _create_opportunity(
        self, request: opportunities_pb2.CreateOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.Opportunity:
        opportunity = stored_opportunity(
            id=str(uuid.uuid4()),
            name=request.name,
            owner_user_id=request.owner_user_id,
            sales_stage=request.sales_stage,
        )
        opportunity.amount.CopyFrom(request.amount)
        opportunity.expected_close_date.CopyFrom(request.expected_close_date)
        if request.HasField("probability"):
            opportunity.probability = request.probability
            opportunity.probability_source = opportunities_pb2.PROBABILITY_SOURCE_MANUAL
        return opportunity

    def _get_opportunity(
        self, request: opportunities_pb2.GetOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.Opportunity:
        if request.opportunity_id != OPPORTUNITY_ID:
            abort(context, code_pb2.NOT_FOUND, f"opportunity {request.opportunity_id!r} not found")
        return stored_opportunity()

    def _list_sales_stages(
        self, request: opportunities_pb2.ListSalesStagesRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.ListSalesStagesResponse:
        names = [("Prospecting", 10), ("Qualification", 20), ("Closed Won", 100), ("Closed Lost", 0)]
        return opportunities_pb2.ListSalesStagesResponse(
            sales_stages=[
                opportunities_pb2.SalesStage(
                    name=name,
                    default_probability=probability,
                    is_won=name == "Closed Won",
                    is_lost=name == "Closed Lost",
                    order=order,
                )
                for order, (name, probability) in enumerate(names)
            ],
            revision=3,
        )

    def _create_lead(
        self, request: leads_pb2.CreateLeadRequest, context: grpc.ServicerContext
    ) -> leads_pb2.CreateLeadResponse:
        if not request.lead.last_name:
            abort(
                context,
                code_pb2.INVALID_ARGUMENT,
                "lead.last_name: must not be empty",
                bad_request(("lead.last_name", "must not be empty")),
            )
        lead = leads_pb2.Lead(
            id=LEAD_ID,
            first_name=request.lead.first_name,
            last_name=request.lead.last_name,
            company=request.lead.company,
            email=request.lead.email,
            status=leads_pb2.LEAD_STATUS_ASSIGNED if request.assigned_user_id else leads_pb2.LEAD_STATUS_NEW,
            assigned_user_id=request.assigned_user_id,
            version=1,
        )
        lead.create_time.FromSeconds(1_790_000_000)
        lead.update_time.FromSeconds(1_790_000_000)
        return leads_pb2.CreateLeadResponse(outcome=leads_pb2.CREATE_LEAD_OUTCOME_CREATED, lead=lead)

    def _get_lead(self, request: leads_pb2.GetLeadRequest, context: grpc.ServicerContext) -> leads_pb2.Lead:
        if request.lead_id != LEAD_ID:
            abort(
                context,
                code_pb2.NOT_FOUND,
                f"lead {request.lead_id!r} not found",
                error_details_pb2.ResourceInfo(resource_type="lead", resource_name=request.lead_id),
            )
        return stored_lead()

    def _get_rollup(
        self, request: forecasting_pb2.GetRollupRequest, context: grpc.ServicerContext
    ) -> forecasting_pb2.Rollup:
        if request.period_id != "2026-Q4":
            abort(
                context,
                code_pb2.INVALID_ARGUMENT,
                "period_id: must look like 2026-Q4",
                bad_request(("period_id", "must look like 2026-Q4")),
            )
        rollup = forecasting_pb2.Rollup(
            user_id=request.user_id,
            period_id=request.period_id,
            lines=[
                forecasting_pb2.RollupLine(
                    currency_code="EUR",
                    opportunity_count=3,
                    amount=Money(currency_code="EUR", amount_minor=12_345_678_901_234),
                    weighted_amount=Money(currency_code="EUR", amount_minor=6_172_839_450_617),
                )
            ],
        )
        rollup.update_time.FromSeconds(1_790_000_000)
        return rollup

    def _list_reports(
        self, request: reporting_pb2.ListReportsRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ListReportsResponse:
        return reporting_pb2.ListReportsResponse(
            reports=[
                reporting_pb2.ReportDefinition(id="pipeline", title="Pipeline", description="Open deals")
            ]
        )

    def _run_report(
        self, request: reporting_pb2.RunReportRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ReportResult:
        """report ids: "pipeline" answers `self.report`; "internal", "unavailable", "exists",
        "unknown", "precondition" fail with that status; "slow" outlives any short deadline."""
        failures = {
            "internal": (code_pb2.INTERNAL, "sqlalchemy.exc.OperationalError: password=hunter2"),
            "unavailable": (code_pb2.UNAVAILABLE, "connection refused to db-7.internal"),
            "exists": (code_pb2.ALREADY_EXISTS, "report already exists"),
            "unknown": (code_pb2.UNKNOWN, "Traceback (most recent call last): secret"),
        }
        if request.report_id in failures:
            code, message = failures[request.report_id]
            abort(context, code, message)
        if request.report_id == "precondition":
            abort(
                context,
                code_pb2.FAILED_PRECONDITION,
                "the report is still being built",
                error_details_pb2.ErrorInfo(reason="NOT_BUILT", domain="salesplane.dev"),
            )
        if request.report_id == "slow":
            time.sleep(1.0)
        if request.report_id != "pipeline":
            abort(context, code_pb2.NOT_FOUND, f"report {request.report_id!r} not found")
        return self.report


@pytest.fixture(scope="session")
def fake_server() -> Iterator[tuple[str, FakeUpstreams, health.HealthServicer]]:
    fake = FakeUpstreams()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers([fake.generic_handler(service) for service in SERVICES])
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in HEALTH_SERVICE_NAMES.values():
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", fake, health_servicer
    finally:
        server.stop(0).wait()


@pytest.fixture
def fake(fake_server: tuple[str, FakeUpstreams, health.HealthServicer]) -> Iterator[FakeUpstreams]:
    fake_server[1].reset()
    yield fake_server[1]
    fake_server[1].reset()


AppFactory = Callable[..., FlaskClient]


@pytest.fixture
def make_client(
    fake_server: tuple[str, FakeUpstreams, health.HealthServicer], fake: FakeUpstreams
) -> Iterator[AppFactory]:
    """make_client(**config overrides) -> a test client of a gateway whose upstreams are the fake."""
    made: list[ServiceClients] = []
    lock = threading.Lock()

    def make(**overrides: Any) -> FlaskClient:
        settings: dict[str, Any] = {
            "auth_secret": SECRET,
            "opportunities_target": fake_server[0],
            "leads_target": fake_server[0],
            "forecasting_target": fake_server[0],
            "reporting_target": fake_server[0],
            **overrides,
        }
        config = GatewayConfig(**settings)
        clients = ServiceClients(config.targets)
        with lock:
            made.append(clients)
        app: Flask = create_app(config, clients)
        app.testing = True
        return app.test_client()

    yield make
    for clients in made:
        clients.close()


@pytest.fixture
def client(make_client: AppFactory) -> FlaskClient:
    return make_client()
