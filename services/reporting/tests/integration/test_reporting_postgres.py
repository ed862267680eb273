"""The reporting service as it runs: real gRPC server and PostgreSQL, fed through the local event log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import create_engine, select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.leads.v1 import events_pb2 as lead_events_pb2
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import events_pb2 as opportunity_events_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from salesplane_platform import topics
from salesplane_platform.event_transport import OutgoingRecord
from salesplane_platform.events import build_envelope
from salesplane_platform.identity import issue_token
from salesplane_platform.local_log import LocalLogPublisher
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings
from salesplane_reporting.adapters import tables
from salesplane_reporting.entrypoints.main import DEFINITION

pytestmark = pytest.mark.integration

OPPORTUNITIES_TOPIC = topics.OPPORTUNITIES
LEADS_TOPIC = topics.LEADS

Row = tuple[str, str, int, tuple[str, int]]


@pytest.fixture
def settings(postgres_database_url: str, tmp_path: Path) -> ServiceSettings:
    return ServiceSettings.from_env(
        "reporting",
        default_grpc_port=0,
        default_metrics_port=0,
        environ={"SALESPLANE_DATA_DIR": str(tmp_path), "SALESPLANE_DATABASE_URL": postgres_database_url},
    )


@pytest.fixture
def service(settings: ServiceSettings) -> Iterator[ServiceProcess]:
    process = ServiceProcess(DEFINITION, settings)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def stub(service: ServiceProcess) -> Iterator[reporting_pb2_grpc.ReportingServiceStub]:
    with grpc.insecure_channel(f"localhost:{service.grpc_port}") as channel:
        yield reporting_pb2_grpc.ReportingServiceStub(channel)


@pytest.fixture
def publisher(settings: ServiceSettings) -> Iterator[LocalLogPublisher]:
    publisher = LocalLogPublisher(settings.event_log_path)
    yield publisher
    publisher.close()


@pytest.fixture
def as_role(settings: ServiceSettings) -> Callable[[str], list[tuple[str, str]]]:
    def metadata(role: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {issue_token(settings.auth_secret, 'zoe', [role])}")]

    return metadata


def opportunity_event(
    opportunity_id: str, version: int, stage: str, amount_minor: int, currency: str = "USD"
) -> OutgoingRecord:
    changed = opportunity_events_pb2.OpportunityChanged(
        opportunity=opportunities_pb2.Opportunity(
            id=opportunity_id,
            name=f"Deal {opportunity_id}",
            owner_user_id="alice",
            amount=Money(currency_code=currency, amount_minor=amount_minor),
            expected_close_date=Date(year=2031, month=9, day=30),
            sales_stage=stage,
            probability=50,
            version=version,
        ),
        kind=opportunity_events_pb2.CHANGE_KIND_CREATED
        if version == 1
        else opportunity_events_pb2.CHANGE_KIND_UPDATED,
    )
    return _record(OPPORTUNITIES_TOPIC, changed, "opportunity", opportunity_id, version, "opportunities")


def lead_event(lead_id: str, version: int, status: int) -> OutgoingRecord:
    changed = lead_events_pb2.LeadChanged(
        lead=leads_pb2.Lead(
            id=lead_id,
            last_name="Lovelace",
            status=status,
            lead_source_id="5b0c1a7e-7d57-4b8e-9b3c-0c5a3f0e9a11",
            version=version,
        )
    )
    return _record(LEADS_TOPIC, changed, "lead", lead_id, version, "leads")


def _record(
    topic: str, payload: Message, aggregate_type: str, aggregate_id: str, version: int, producer: str
) -> OutgoingRecord:
    envelope = build_envelope(
        payload=payload,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        producer=producer,
        actor="alice",
    )
    return OutgoingRecord(topic, aggregate_id.encode(), envelope.SerializeToString())


def pipeline(stub: reporting_pb2_grpc.ReportingServiceStub, metadata: list[tuple[str, str]]) -> list[Row]:
    result = stub.RunReport(reporting_pb2.RunReportRequest(report_id="pipeline_by_stage"), metadata=metadata)
    return [
        (
            row.cells[0].string_value,
            row.cells[1].string_value,
            row.cells[2].integer_value,
            (row.cells[3].money_value.currency_code, row.cells[3].money_value.amount_minor),
        )
        for row in result.rows
    ]


def eventually(check: Callable[[], bool], *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the read model did not catch up in time")
        time.sleep(0.1)


def test_managers_see_the_builtin_reports(stub: reporting_pb2_grpc.ReportingServiceStub, as_role) -> None:
    response = stub.ListReports(reporting_pb2.ListReportsRequest(), metadata=as_role("manager"))

    assert [r.id for r in response.reports] == ["pipeline_by_stage"]
    assert response.reports[0].title


def test_an_empty_pipeline_report_has_typed_columns_and_no_rows(
    stub: reporting_pb2_grpc.ReportingServiceStub, as_role
) -> None:
    result = stub.RunReport(
        reporting_pb2.RunReportRequest(report_id="pipeline_by_stage"), metadata=as_role("admin")
    )

    assert result.report_id == "pipeline_by_stage"
    assert [(c.name, c.type) for c in result.columns] == [
        ("sales_stage", reporting_pb2.COLUMN_TYPE_STRING),
        ("currency", reporting_pb2.COLUMN_TYPE_STRING),
        ("opportunity_count", reporting_pb2.COLUMN_TYPE_INTEGER),
        ("amount", reporting_pb2.COLUMN_TYPE_MONEY),
    ]
    assert list(result.rows) == []
    assert result.generate_time.seconds > 0


def test_events_in_the_log_end_up_in_the_pipeline_report_once_and_in_their_newest_state(
    stub: reporting_pb2_grpc.ReportingServiceStub,
    publisher: LocalLogPublisher,
    postgres_database_url: str,
    as_role,
) -> None:
    manager = as_role("manager")
    publisher.publish(
        [
            opportunity_event("opp-1", 1, "Prospecting", 1_000_00),
            opportunity_event("opp-1", 2, "Proposal/Price Quote", 1_500_00),
            opportunity_event("opp-2", 1, "Prospecting", 300_00),
            opportunity_event("opp-3", 1, "Prospecting", 50_000, "JPY"),
            opportunity_event("opp-4", 1, "Awaiting Legal", 10_00, "EUR"),
            opportunity_event("opp-5", 1, "Closed Won", 99_00, "EUR"),
            lead_event("lead-1", 1, leads_pb2.LEAD_STATUS_NEW),
        ]
    )
    expected: list[Row] = [
        ("Prospecting", "JPY", 1, ("JPY", 50_000)),
        ("Prospecting", "USD", 1, ("USD", 300_00)),
        ("Proposal/Price Quote", "USD", 1, ("USD", 1_500_00)),
        ("Closed Won", "EUR", 1, ("EUR", 99_00)),
        ("Awaiting Legal", "EUR", 1, ("EUR", 10_00)),
    ]
    eventually(lambda: pipeline(stub, manager) == expected)

    # Later batches: a duplicate of the newest event, an older version after the newer one, a newer
    # version of another deal, and a new deal last, which tells us everything before it was consumed.
    publisher.publish([opportunity_event("opp-1", 2, "Proposal/Price Quote", 1_500_00)])
    publisher.publish([opportunity_event("opp-1", 1, "Prospecting", 1_000_00)])
    publisher.publish([opportunity_event("opp-2", 2, "Proposal/Price Quote", 200_00)])
    publisher.publish([lead_event("lead-1", 2, leads_pb2.LEAD_STATUS_ASSIGNED)])
    publisher.publish([lead_event("lead-1", 1, leads_pb2.LEAD_STATUS_NEW)])
    publisher.publish([opportunity_event("opp-6", 1, "Negotiation/Review", 7_00)])
    eventually(lambda: any(row[0] == "Negotiation/Review" for row in pipeline(stub, manager)))

    assert pipeline(stub, manager) == [
        ("Prospecting", "JPY", 1, ("JPY", 50_000)),
        ("Proposal/Price Quote", "USD", 2, ("USD", 1_700_00)),
        ("Negotiation/Review", "USD", 1, ("USD", 7_00)),
        ("Closed Won", "EUR", 1, ("EUR", 99_00)),
        ("Awaiting Legal", "EUR", 1, ("EUR", 10_00)),
    ]
    engine = create_engine(postgres_database_url)
    try:
        with engine.connect() as connection:
            leads = connection.execute(select(tables.lead_view)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in leads] == [
        ("lead-1", "assigned", "5b0c1a7e-7d57-4b8e-9b3c-0c5a3f0e9a11", 2)
    ]


def test_reps_may_not_read_reports_yet(stub: reporting_pb2_grpc.ReportingServiceStub, as_role) -> None:
    with pytest.raises(grpc.RpcError) as listing:
        stub.ListReports(reporting_pb2.ListReportsRequest(), metadata=as_role("rep"))
    with pytest.raises(grpc.RpcError) as running:
        stub.RunReport(reporting_pb2.RunReportRequest(report_id="pipeline_by_stage"), metadata=as_role("rep"))

    assert listing.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert running.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_an_unknown_report_is_not_found(stub: reporting_pb2_grpc.ReportingServiceStub, as_role) -> None:
    with pytest.raises(grpc.RpcError) as error:
        stub.RunReport(reporting_pb2.RunReportRequest(report_id="win_rate"), metadata=as_role("marketing"))

    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    status = rpc_status.from_call(error.value)
    assert status is not None
    assert status.code == code_pb2.NOT_FOUND
    info = error_details_pb2.ResourceInfo()
    assert status.details[0].Unpack(info)
    assert (info.resource_type, info.resource_name) == ("report", "win_rate")


def test_a_missing_report_id_is_an_invalid_argument_naming_the_field(
    stub: reporting_pb2_grpc.ReportingServiceStub, as_role
) -> None:
    with pytest.raises(grpc.RpcError) as error:
        stub.RunReport(reporting_pb2.RunReportRequest(), metadata=as_role("manager"))

    status = rpc_status.from_call(error.value)
    assert status is not None
    assert status.code == code_pb2.INVALID_ARGUMENT
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["report_id"]
