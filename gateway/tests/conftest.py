"""Fixtures: the real opportunities service in-process on SQLite, a scriptable fake of the other
upstreams (leads, forecasting, reporting) on a real gRPC server, and the gateway's Flask test client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from flask import Flask
from flask.testing import FlaskClient
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from salesplane.common.v1.common_pb2 import Money
from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc
from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from salesplane_gateway.app import create_app
from salesplane_gateway.clients import HEALTH_SERVICE_NAMES, ServiceClients
from salesplane_gateway.config import GatewayConfig
from salesplane_opportunities.entrypoints.main import DEFINITION as OPPORTUNITIES
from salesplane_platform.identity import issue_token
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings

SECRET = "gateway-test-secret-of-at-least-32-bytes"
LEAD_ID = "0f5a3c1e-8d1b-4b8e-9a51-3f6f0a0c2d11"


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
def free_target() -> str:
    """host:port where nothing listens."""
    return unused_target()


@pytest.fixture
def make_token() -> Callable[..., str]:
    """make_token(subject="alice", *roles, secret=SECRET) -> a signed bearer token."""
    return token


def unused_target() -> str:
    """host:port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"


@pytest.fixture(scope="session")
def opportunities_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("opportunities")
    settings = ServiceSettings.from_env(
        "opportunities",
        default_grpc_port=0,
        default_metrics_port=0,
        environ={
            "SALESPLANE_DATA_DIR": str(data_dir),
            "SALESPLANE_AUTH_SECRET": SECRET,
            "SALESPLANE_ROLES": "api",
        },
    )
    process = ServiceProcess(OPPORTUNITIES, settings)
    process.start()
    try:
        yield f"127.0.0.1:{process.grpc_port}"
    finally:
        process.stop()


def _abort(context: grpc.ServicerContext, code: int, message: str, *details: Any) -> None:
    packed = []
    for detail in details:
        wrapped = any_pb2.Any()
        wrapped.Pack(detail)
        packed.append(wrapped)
    context.abort_with_status(
        rpc_status.to_status(status_pb2.Status(code=code, message=message, details=packed))
    )


class FakeUpstreams(
    leads_pb2_grpc.LeadServiceServicer,
    forecasting_pb2_grpc.ForecastingServiceServicer,
    reporting_pb2_grpc.ReportingServiceServicer,
):
    """Leads, forecasting and reporting with canned answers. Ids select failures:
    a report id names what RunReport does (see `run_report`)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, str]]] = []
        self.report = reporting_pb2.ReportResult()

    def _record(self, method: str, request: Any, context: grpc.ServicerContext) -> None:
        self.calls.append((method, request, dict(context.invocation_metadata())))

    def CreateLead(
        self, request: leads_pb2.CreateLeadRequest, context: grpc.ServicerContext
    ) -> leads_pb2.Lead:
        self._record("CreateLead", request, context)
        if not request.last_name:
            _abort(
                context,
                code_pb2.INVALID_ARGUMENT,
                "last_name: must not be empty",
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field="last_name", description="must not be empty"
                        )
                    ]
                ),
            )
        lead = leads_pb2.Lead(
            id=LEAD_ID,
            first_name=request.first_name,
            last_name=request.last_name,
            company=request.company,
            email=request.email,
            status=leads_pb2.LEAD_STATUS_ASSIGNED if request.assigned_user_id else leads_pb2.LEAD_STATUS_NEW,
            assigned_user_id=request.assigned_user_id,
            version=1,
        )
        lead.create_time.FromSeconds(1_790_000_000)
        lead.update_time.FromSeconds(1_790_000_000)
        return lead

    def GetLead(self, request: leads_pb2.GetLeadRequest, context: grpc.ServicerContext) -> leads_pb2.Lead:
        self._record("GetLead", request, context)
        if request.lead_id != LEAD_ID:
            _abort(
                context,
                code_pb2.NOT_FOUND,
                f"lead {request.lead_id!r} not found",
                error_details_pb2.ResourceInfo(resource_type="lead", resource_name=request.lead_id),
            )
        return leads_pb2.Lead(
            id=LEAD_ID, last_name="Lovelace", status=leads_pb2.LEAD_STATUS_IN_PROCESS, version=4
        )

    def GetRollup(
        self, request: forecasting_pb2.GetRollupRequest, context: grpc.ServicerContext
    ) -> forecasting_pb2.Rollup:
        self._record("GetRollup", request, context)
        if request.period_id != "2026-Q4":
            _abort(
                context,
                code_pb2.INVALID_ARGUMENT,
                "period_id: must look like 2026-Q4",
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field="period_id", description="must look like 2026-Q4"
                        )
                    ]
                ),
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

    def ListReports(
        self, request: reporting_pb2.ListReportsRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ListReportsResponse:
        self._record("ListReports", request, context)
        return reporting_pb2.ListReportsResponse(
            reports=[
                reporting_pb2.ReportDefinition(id="pipeline", title="Pipeline", description="Open deals")
            ]
        )

    def RunReport(
        self, request: reporting_pb2.RunReportRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ReportResult:
        """report ids: "pipeline" answers `self.report`; "internal", "unavailable", "exists",
        "precondition", "exhausted" fail with that status; "slow" outlives any short deadline."""
        self._record("RunReport", request, context)
        failures = {
            "internal": (code_pb2.INTERNAL, "sqlalchemy.exc.OperationalError: password=hunter2"),
            "unavailable": (code_pb2.UNAVAILABLE, "connection refused to db-7.internal"),
            "exists": (code_pb2.ALREADY_EXISTS, "report already exists"),
            "unknown": (code_pb2.UNKNOWN, "Traceback (most recent call last): secret"),
        }
        if request.report_id in failures:
            code, message = failures[request.report_id]
            _abort(context, code, message)
        if request.report_id == "precondition":
            _abort(
                context,
                code_pb2.FAILED_PRECONDITION,
                "the report is still being built",
                error_details_pb2.ErrorInfo(reason="NOT_BUILT", domain="salesplane.dev"),
            )
        if request.report_id == "slow":
            time.sleep(1.0)
        if request.report_id != "pipeline":
            _abort(context, code_pb2.NOT_FOUND, f"report {request.report_id!r} not found")
        return self.report


@pytest.fixture(scope="session")
def fake_server() -> Iterator[tuple[str, FakeUpstreams, health.HealthServicer]]:
    fake = FakeUpstreams()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.so_reuseport", 0)])
    leads_pb2_grpc.add_LeadServiceServicer_to_server(fake, server)
    forecasting_pb2_grpc.add_ForecastingServiceServicer_to_server(fake, server)
    reporting_pb2_grpc.add_ReportingServiceServicer_to_server(fake, server)
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
def fake(fake_server: tuple[str, FakeUpstreams, health.HealthServicer]) -> FakeUpstreams:
    fake_server[1].calls.clear()
    return fake_server[1]


AppFactory = Callable[..., FlaskClient]


@pytest.fixture
def make_client(
    opportunities_target: str, fake_server: tuple[str, FakeUpstreams, health.HealthServicer]
) -> Iterator[AppFactory]:
    """make_client(**config overrides) -> a test client of a gateway whose opportunities upstream
    is the real service and whose other upstreams are the fake."""
    made: list[ServiceClients] = []
    lock = threading.Lock()

    def make(**overrides: Any) -> FlaskClient:
        settings: dict[str, Any] = {
            "auth_secret": SECRET,
            "opportunities_target": opportunities_target,
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
