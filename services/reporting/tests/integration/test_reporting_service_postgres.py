"""The reporting service as it runs: a real gRPC server on PostgreSQL, fed through the local event
log with events of all three topics; every report read in the caller's scope."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import openpyxl
import pytest
from google.protobuf import struct_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import org_pb2, settings_pb2
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
from salesplane_reporting.entrypoints import admin
from salesplane_reporting.entrypoints.main import DEFINITION

pytestmark = pytest.mark.integration

OPEN = opportunities_pb2.OPPORTUNITY_STATUS_OPEN
WON = opportunities_pb2.OPPORTUNITY_STATUS_WON
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
# vp <- (m1 <- (r1, r2)), (m2 <- r3)
ORG = {"vp": None, "m1": "vp", "m2": "vp", "r1": "m1", "r2": "m1", "r3": "m2"}
MANAGERS = {"vp", "m1", "m2"}


@pytest.fixture
def environ(postgres_database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "SALESPLANE_ENV": "development",
        "SALESPLANE_DATA_DIR": str(tmp_path),
        "SALESPLANE_DATABASE_URL": postgres_database_url,
    }


@pytest.fixture
def settings(environ: dict[str, str]) -> ServiceSettings:
    return ServiceSettings.from_env("reporting", default_grpc_port=0, default_metrics_port=0, environ=environ)


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


Caller = Callable[[str], list[tuple[str, str]]]


@pytest.fixture
def caller(settings: ServiceSettings) -> Caller:
    def metadata(user: str) -> list[tuple[str, str]]:
        roles = ["admin"] if user == "admin" else ["manager"] if user in MANAGERS else ["rep"]
        return [("authorization", f"Bearer {issue_token(settings.auth_secret, user, roles)}")]

    return metadata


def _record(
    topic: str, payload: Message, kind: str, aggregate_id: str, version: int, at: datetime
) -> OutgoingRecord:
    envelope = build_envelope(
        payload=payload,
        aggregate_type=kind,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        producer="test",
        actor="admin",
        occurred_at=at,
    )
    return OutgoingRecord(topic, aggregate_id.encode(), envelope.SerializeToString())


def org_events() -> list[OutgoingRecord]:
    records = [
        _record(
            topics.FORECASTING,
            settings_pb2.ForecastSettingsChanged(
                settings=settings_pb2.ForecastSettings(
                    fiscal_year_start_month=1, currency_code="EUR", version=1
                )
            ),
            "forecast_settings",
            "settings",
            1,
            T0,
        )
    ]
    for user, manager in ORG.items():
        message = org_pb2.User(
            user_id=user,
            display_name=user.upper(),
            manager_user_id=manager or "",
            roles=["manager"] if user in MANAGERS else ["rep"],
            active=True,
            version=1,
        )
        message.update_time.FromDatetime(T0)
        records.append(_record(topics.FORECASTING, org_pb2.UserChanged(user=message), "user", user, 1, T0))
    return records


def deal(
    deal_id: str,
    version: int,
    owner: str,
    stage: str,
    amount: int,
    close: Date,
    at: datetime,
    status: int = OPEN,
) -> OutgoingRecord:
    message = opportunities_pb2.Opportunity(
        id=deal_id,
        name=f"Deal {deal_id}",
        owner_user_id=owner,
        sales_stage=stage,
        probability=100 if status == WON else 30,
        status=status,
        amount=Money(currency_code="EUR", amount_minor=amount),
        amount_base=Money(currency_code="EUR", amount_minor=amount),
        expected_close_date=close,
        version=version,
    )
    message.create_time.FromDatetime(T0)
    message.update_time.FromDatetime(at)
    if status != OPEN:
        message.close_time.FromDatetime(at)
    changed = opportunity_events_pb2.OpportunityChanged(
        opportunity=message, kind=opportunity_events_pb2.CHANGE_KIND_UPDATED
    )
    return _record(topics.OPPORTUNITIES, changed, "opportunity", deal_id, version, at)


DEC = Date(year=2026, month=12, day=15)
MARCH = Date(year=2027, month=3, day=1)


def history() -> list[OutgoingRecord]:
    """Four deals over a morning: one grows, one is won, one is pulled into the quarter."""
    hour = timedelta(hours=1)
    return [
        deal("d1", 1, "r1", "Prospecting", 1_000_00, DEC, T0),
        deal("d2", 1, "r2", "Qualification", 2_000_00, DEC, T0),
        deal("d3", 1, "r3", "Prospecting", 500_00, MARCH, T0),
        deal("d4", 1, "m1", "Prospecting", 300_00, DEC, T0),
        deal("d1", 2, "r1", "Qualification", 1_500_00, DEC, T0 + 2 * hour),
        deal("d2", 2, "r2", "Closed Won", 2_000_00, DEC, T0 + 3 * hour, status=WON),
        deal("d3", 2, "r3", "Prospecting", 500_00, DEC, T0 + 4 * hour),
    ]


def run(
    stub: reporting_pb2_grpc.ReportingServiceStub,
    metadata: list[tuple[str, str]],
    report_id: str,
    **options: object,
) -> reporting_pb2.ReportResult:
    return stub.RunReport(reporting_pb2.RunReportRequest(report_id=report_id, **options), metadata=metadata)  # type: ignore[arg-type]


def totals(result: reporting_pb2.ReportResult, key: str, value: str) -> dict[str, int]:
    names = [c.name for c in result.columns]
    rows = [r for r in result.rows if r.kind == reporting_pb2.ROW_KIND_GROUP]
    found: dict[str, int] = {}
    for row in rows:
        cell = row.cells[names.index(value)]
        amount = cell.money_value.amount_minor if cell.HasField("money_value") else cell.integer_value
        found[row.cells[names.index(key)].string_value] = amount
    return found


def eventually(check: Callable[[], bool], *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the read models did not catch up in time")
        time.sleep(0.1)


@pytest.fixture
def loaded(
    stub: reporting_pb2_grpc.ReportingServiceStub, publisher: LocalLogPublisher, caller: Caller
) -> reporting_pb2_grpc.ReportingServiceStub:
    publisher.publish(org_events())
    publisher.publish(history())
    eventually(
        lambda: (
            sum(totals(run(stub, caller("admin"), "pipeline_by_stage"), "sales_stage", "deals").values()) == 3
        )
    )
    return stub


def test_each_caller_sees_the_pipeline_of_exactly_their_scope(
    loaded: reporting_pb2_grpc.ReportingServiceStub, caller: Caller
) -> None:
    def amounts(user: str) -> dict[str, int]:
        return totals(run(loaded, caller(user), "pipeline_by_stage"), "sales_stage", "amount")

    assert amounts("vp") == {"Prospecting": 800_00, "Qualification": 1_500_00}
    assert amounts("m1") == {"Prospecting": 300_00, "Qualification": 1_500_00}
    assert amounts("m2") == {"Prospecting": 500_00}
    assert amounts("r1") == {"Qualification": 1_500_00}
    assert amounts("r2") == {}


def test_the_team_dimension_rolls_each_deal_up_to_the_viewers_direct_report(
    loaded: reporting_pb2_grpc.ReportingServiceStub, caller: Caller
) -> None:
    definition = struct_pb2.Struct()
    definition.update(
        {
            "source": "opportunities",
            "dimensions": [{"field": "team"}],
            "measures": [{"name": "amount", "aggregate": "sum", "field": "amount_base"}],
            "filters": {"field": "status", "op": "eq", "values": ["open"]},
        }
    )
    result = loaded.RunReport(reporting_pb2.RunReportRequest(definition=definition), metadata=caller("vp"))
    assert totals(result, "team_id", "amount") == {"m1": 1_800_00, "m2": 500_00}
    as_m1 = loaded.RunReport(reporting_pb2.RunReportRequest(definition=definition), metadata=caller("m1"))
    assert totals(as_m1, "team_id", "amount") == {"r1": 1_500_00, "m1": 300_00}


def test_the_pipeline_as_it_was_reads_the_versions_held_then(
    loaded: reporting_pb2_grpc.ReportingServiceStub, caller: Caller
) -> None:
    earlier = run(loaded, caller("vp"), "pipeline_by_stage", as_of=(T0 + timedelta(minutes=30)).isoformat())
    assert totals(earlier, "sales_stage", "amount") == {"Prospecting": 1_800_00, "Qualification": 2_000_00}


def test_pipeline_movement_bars_add_up_from_start_to_end(
    loaded: reporting_pb2_grpc.ReportingServiceStub, caller: Caller
) -> None:
    result = run(
        loaded,
        caller("vp"),
        "pipeline_movement",
        parameters={
            "from": (T0 + timedelta(hours=1)).isoformat(),
            "to": (T0 + timedelta(hours=5)).isoformat(),
            "window": "2026-Q4",
        },
    )
    bars = totals(result, "category", "change")
    assert bars == {
        "start": 3_300_00,
        "pulled_in": 500_00,
        "increased": 500_00,
        "won": -2_000_00,
        "end": 2_300_00,
    }
    assert bars["start"] + sum(v for k, v in bars.items() if k not in ("start", "end")) == bars["end"]
    details = [r for r in result.rows if r.kind == reporting_pb2.ROW_KIND_DETAIL]
    assert len(details) == 3 + 3 + 3  # start (d1 d2 d4), movements (d1 d2 d3), end (d1 d3 d4)
    assert result.chart_svg.startswith("<svg")


def test_reps_and_other_teams_managers_do_not_see_each_others_numbers(
    loaded: reporting_pb2_grpc.ReportingServiceStub, caller: Caller
) -> None:
    rows = run(loaded, caller("m2"), "top_open_deals").rows
    assert [r.cells[0].string_value for r in rows] == ["Deal d3"]
    won = totals(run(loaded, caller("r1"), "win_rate_by_owner"), "owner_id", "won")
    assert won == {}
    assert totals(run(loaded, caller("m1"), "win_rate_by_owner"), "owner_id", "won") == {"r2": 1}


def test_a_saved_report_is_run_in_the_scope_of_whoever_runs_it(
    loaded: reporting_pb2_grpc.ReportingServiceStub, caller: Caller
) -> None:
    definition = struct_pb2.Struct()
    definition.update(
        {
            "source": "opportunities",
            "dimensions": [{"field": "owner"}],
            "measures": [{"name": "deals", "aggregate": "count"}],
        }
    )
    saved = loaded.CreateReport(
        reporting_pb2.SaveReportRequest(title="Deals per owner", sharing="everyone", definition=definition),
        metadata=caller("vp"),
    )
    assert not saved.builtin and saved.owner_user_id == "vp" and saved.version == 1
    assert saved.id in [
        r.id for r in loaded.ListReports(reporting_pb2.ListReportsRequest(), metadata=caller("r3")).reports
    ]

    assert totals(run(loaded, caller("vp"), saved.id), "owner_id", "deals") == {
        "r1": 1,
        "r2": 1,
        "r3": 1,
        "m1": 1,
    }
    assert totals(run(loaded, caller("r3"), saved.id), "owner_id", "deals") == {"r3": 1}

    with pytest.raises(grpc.RpcError) as denied:
        loaded.DeleteReport(reporting_pb2.DeleteReportRequest(report_id=saved.id), metadata=caller("r3"))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    loaded.DeleteReport(reporting_pb2.DeleteReportRequest(report_id=saved.id), metadata=caller("vp"))
    with pytest.raises(grpc.RpcError) as gone:
        run(loaded, caller("vp"), saved.id)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_private_report_is_invisible_to_others(
    loaded: reporting_pb2_grpc.ReportingServiceStub, caller: Caller
) -> None:
    definition = struct_pb2.Struct()
    definition.update({"source": "opportunities", "measures": [{"name": "deals", "aggregate": "count"}]})
    saved = loaded.CreateReport(
        reporting_pb2.SaveReportRequest(title="Mine", definition=definition), metadata=caller("m1")
    )
    assert saved.sharing == "private"
    with pytest.raises(grpc.RpcError) as hidden:
        run(loaded, caller("m2"), saved.id)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_bad_definition_names_every_bad_field(
    stub: reporting_pb2_grpc.ReportingServiceStub, caller: Caller
) -> None:
    definition = struct_pb2.Struct()
    definition.update(
        {
            "source": "opportunities",
            "dimensions": [
                {"field": "sales_stage"},
                {"field": "owner"},
                {"field": "status"},
                {"field": "currency"},
            ],
            "measures": [
                {"name": "deals", "aggregate": "count"},
                {"name": "rate", "formula": "deals / nothing"},
                {"name": "total", "aggregate": "sum", "field": "salary"},
            ],
            "filters": {"field": "probability", "op": "eq", "values": ["high"]},
        }
    )
    with pytest.raises(grpc.RpcError) as error:
        stub.RunReport(reporting_pb2.RunReportRequest(definition=definition), metadata=caller("vp"))
    status = rpc_status.from_call(error.value)
    assert status is not None and status.code == code_pb2.INVALID_ARGUMENT
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert {v.field for v in bad_request.field_violations} == {
        "dimensions",
        "measures[1].formula",
        "measures[2].field",
        "filters.values[0]",
    }


def test_exports_stream_csv_xlsx_and_the_charts_svg(
    loaded: reporting_pb2_grpc.ReportingServiceStub, caller: Caller
) -> None:
    def export(report_id: str, format: int) -> tuple[str, str, bytes]:
        chunks = list(
            loaded.ExportReport(
                reporting_pb2.ExportReportRequest(
                    run=reporting_pb2.RunReportRequest(report_id=report_id), format=format
                ),
                metadata=caller("vp"),
            )
        )
        return chunks[0].content_type, chunks[0].filename, b"".join(c.data for c in chunks)

    content_type, name, data = export("top_open_deals", reporting_pb2.EXPORT_FORMAT_CSV)
    assert content_type.startswith("text/csv") and name == "top-open-deals.csv"
    lines = data.decode().splitlines()
    assert lines[0].startswith("Opportunity,Account,Owner")
    assert len(lines) == 1 + 3

    content_type, _, data = export("pipeline_by_stage", reporting_pb2.EXPORT_FORMAT_XLSX)
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Report"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert any(row[:2] == ["Qualification", 1] for row in values)

    content_type, _, data = export("pipeline_by_stage", reporting_pb2.EXPORT_FORMAT_SVG)
    assert content_type == "image/svg+xml" and data.startswith(b"<svg")

    with pytest.raises(grpc.RpcError) as no_chart:
        export("top_open_deals", reporting_pb2.EXPORT_FORMAT_SVG)
    assert no_chart.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_run_time_filters_change_a_run_without_changing_the_report(
    loaded: reporting_pb2_grpc.ReportingServiceStub, caller: Caller
) -> None:
    values = reporting_pb2.FilterValues(values=[struct_pb2.Value(string_value="next_fiscal_quarter")])
    result = run(loaded, caller("vp"), "top_open_deals", filter_values={"close": values})
    assert list(result.rows) == []
    with pytest.raises(grpc.RpcError) as unknown:
        run(loaded, caller("vp"), "top_open_deals", filter_values={"nope": values})
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_rebuild_replays_every_topic_into_the_same_read_models(
    loaded: reporting_pb2_grpc.ReportingServiceStub,
    caller: Caller,
    service: ServiceProcess,
    settings: ServiceSettings,
    environ: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = run(
        loaded,
        caller("vp"),
        "pipeline_movement",
        parameters={"from": T0.isoformat(), "to": (T0 + timedelta(hours=5)).isoformat()},
    )
    service.stop()
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert "replayed" in admin.rebuild()
    restarted = ServiceProcess(DEFINITION, settings)
    restarted.start()
    try:
        with grpc.insecure_channel(f"localhost:{restarted.grpc_port}") as channel:
            again = reporting_pb2_grpc.ReportingServiceStub(channel)
            eventually(
                lambda: (
                    sum(
                        totals(
                            run(again, caller("admin"), "pipeline_by_stage"), "sales_stage", "deals"
                        ).values()
                    )
                    == 3
                )
            )
            after = run(
                again,
                caller("vp"),
                "pipeline_movement",
                parameters={"from": T0.isoformat(), "to": (T0 + timedelta(hours=5)).isoformat()},
            )
    finally:
        restarted.stop()
    assert [list(r.cells) for r in after.rows] == [list(r.cells) for r in before.rows]


def test_a_report_follows_the_team_as_it_is_now_or_as_it_was(
    loaded: reporting_pb2_grpc.ReportingServiceStub, publisher: LocalLogPublisher, caller: Caller
) -> None:
    moved_at = T0 + timedelta(hours=6)
    message = org_pb2.User(
        user_id="r1", display_name="R1", manager_user_id="m2", roles=["rep"], active=True, version=2
    )
    message.update_time.FromDatetime(moved_at)
    publisher.publish(
        [_record(topics.FORECASTING, org_pb2.UserChanged(user=message), "user", "r1", 2, moved_at)]
    )

    def by_team(**extra: object) -> dict[str, int]:
        definition = struct_pb2.Struct()
        definition.update(
            {
                "source": "opportunities",
                "dimensions": [{"field": "team"}],
                "measures": [{"name": "amount", "aggregate": "sum", "field": "amount_base"}],
                "filters": {"field": "status", "op": "eq", "values": ["open"]},
                **extra,
            }
        )
        return totals(
            loaded.RunReport(reporting_pb2.RunReportRequest(definition=definition), metadata=caller("vp")),
            "team_id",
            "amount",
        )

    eventually(lambda: by_team() == {"m1": 300_00, "m2": 2_000_00})
    assert by_team(org_as_of=(moved_at - timedelta(hours=1)).isoformat()) == {"m1": 1_800_00, "m2": 500_00}
    # Scope is always the organisation as it is now: m1 no longer reads r1's deal.
    assert totals(run(loaded, caller("m1"), "pipeline_by_stage"), "sales_stage", "amount") == {
        "Prospecting": 300_00
    }
