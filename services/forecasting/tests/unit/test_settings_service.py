"""ForecastSettingsService over a real gRPC channel to an in-process forecasting service on SQLite."""

from __future__ import annotations

from datetime import UTC, date, datetime

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import select

from salesplane.common.v1.common_pb2 import Date
from salesplane.forecasting.v1 import settings_pb2, settings_pb2_grpc
from salesplane_forecasting.adapters import tables
from salesplane_forecasting.adapters.sql_unit_of_work import SqlRollupStores
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_forecasting.service_layer.rollups import apply_deal_states
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.identity import issue_token
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings
from salesplane_testing.in_process import running_service

INCLUDE, UPSIDE, EXCLUDE = (
    settings_pb2.COMMIT_STAGE_INCLUDE,
    settings_pb2.COMMIT_STAGE_UPSIDE,
    settings_pb2.COMMIT_STAGE_EXCLUDE,
)


class Running:
    def __init__(self, process: ServiceProcess, channel: grpc.Channel, settings: ServiceSettings) -> None:
        self.process = process
        self.stub = settings_pb2_grpc.ForecastSettingsServiceStub(channel)
        self._secret = settings.auth_secret

    def auth(self, subject: str = "root", *roles: str) -> list[tuple[str, str]]:
        token = issue_token(self._secret, subject, list(roles or ["admin"]))
        return [("authorization", f"Bearer {token}")]

    def read(self, subject: str = "root", *roles: str) -> settings_pb2.ForecastSettings:
        request = settings_pb2.GetForecastSettingsRequest()
        return self.stub.GetForecastSettings(request, metadata=self.auth(subject, *roles))

    def update(
        self, settings: settings_pb2.ForecastSettings, **request: object
    ) -> settings_pb2.ForecastSettings:
        return self.stub.UpdateForecastSettings(
            settings_pb2.UpdateForecastSettingsRequest(settings=settings, **request), metadata=self.auth()
        )


@pytest.fixture
def running(tmp_path):
    # API only: no relay emptying the outbox in the background.
    with running_service(DEFINITION, tmp_path) as service:
        yield Running(service.process, service.channel, service.settings)


def forecast_range(name: str, low: int, high: int, stage: int) -> settings_pb2.ForecastRange:
    return settings_pb2.ForecastRange(
        name=name, min_probability=low, max_probability=high, commit_stage=stage
    )


def settings_message(*ranges: settings_pb2.ForecastRange, **fields: object) -> settings_pb2.ForecastSettings:
    values: dict[str, object] = dict(
        fiscal_year_start_month=1,
        range_scheme=settings_pb2.RANGE_SCHEME_TWO_BUCKETS,
        ranges=list(ranges)
        or [forecast_range("Include", 70, 100, INCLUDE), forecast_range("Exclude", 0, 69, EXCLUDE)],
        show_likely=True,
        show_best=True,
        show_worst=False,
    )
    values.update(fields)
    return settings_pb2.ForecastSettings(**values)  # type: ignore[arg-type]


def violated_fields(error: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(error)
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    return [v.field for v in bad_request.field_violations]


def ranges_of(message: settings_pb2.ForecastSettings) -> list[tuple[str, int, int, int]]:
    return [(r.name, r.min_probability, r.max_probability, r.commit_stage) for r in message.ranges]


def test_the_defaults_are_returned_before_any_save(running):
    settings = running.read("rep-a", "rep")

    assert settings.version == 0
    assert not settings.HasField("update_time")
    assert settings.fiscal_year_start_month == 1
    assert settings.range_scheme == settings_pb2.RANGE_SCHEME_THREE_BUCKETS
    assert ranges_of(settings) == [
        ("Include", 70, 100, INCLUDE),
        ("Upside", 40, 69, UPSIDE),
        ("Exclude", 0, 39, EXCLUDE),
    ]
    assert (settings.show_likely, settings.show_best, settings.show_worst) == (True, True, True)
    assert settings.currency_code == "USD"


def test_an_admin_switches_to_two_buckets_with_a_70_threshold_and_reads_it_back_at_version_1(running):
    before = datetime.now(UTC)
    # Listed bottom first with padded names: stored top first, trimmed.
    saved = running.update(
        settings_message(
            forecast_range(" Exclude ", 0, 69, EXCLUDE), forecast_range("Include", 70, 100, INCLUDE)
        )
    )

    read = running.read("rep-a", "rep")
    assert read == saved
    assert read.version == 1
    assert read.range_scheme == settings_pb2.RANGE_SCHEME_TWO_BUCKETS
    assert ranges_of(read) == [("Include", 70, 100, INCLUDE), ("Exclude", 0, 69, EXCLUDE)]
    assert (read.show_likely, read.show_best, read.show_worst) == (True, True, False)
    assert read.update_time.ToDatetime(tzinfo=UTC) >= before.replace(microsecond=0)


def test_saving_the_same_settings_again_is_no_new_version(running):
    running.update(settings_message())

    again = running.update(settings_message())

    assert again.version == 1


def test_a_rep_may_not_change_the_settings(running):
    with pytest.raises(grpc.RpcError) as error:
        running.stub.UpdateForecastSettings(
            settings_pb2.UpdateForecastSettingsRequest(settings=settings_message()),
            metadata=running.auth("rep-a", "rep"),
        )
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # Not even told what is wrong with a malformed request.
    with pytest.raises(grpc.RpcError) as error:
        running.stub.UpdateForecastSettings(
            settings_pb2.UpdateForecastSettingsRequest(settings=settings_pb2.ForecastSettings()),
            metadata=running.auth("mgr", "manager"),
        )
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
    read = running.read()
    assert read.version == 0


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        # 61..69 in no range.
        (
            settings_message(
                forecast_range("Include", 70, 100, INCLUDE), forecast_range("Exclude", 0, 60, EXCLUDE)
            ),
            "settings.ranges",
        ),
        # 60..69 in both.
        (
            settings_message(
                forecast_range("Include", 60, 100, INCLUDE), forecast_range("Exclude", 0, 69, EXCLUDE)
            ),
            "settings.ranges",
        ),
        (settings_message(range_scheme=settings_pb2.RANGE_SCHEME_UNSPECIFIED), "settings.range_scheme"),
        (settings_message(range_scheme=42), "settings.range_scheme"),
        (
            settings_message(
                forecast_range("Include", 70, 100, INCLUDE),
                forecast_range("Exclude", 0, 69, settings_pb2.COMMIT_STAGE_UNSPECIFIED),
            ),
            "settings.ranges[1].commit_stage",
        ),
        (
            settings_message(
                forecast_range("Include", 70, 100, 9), forecast_range("Exclude", 0, 69, EXCLUDE)
            ),
            "settings.ranges[0].commit_stage",
        ),
        (settings_message(fiscal_year_start_month=13), "settings.fiscal_year_start_month"),
        (settings_message(show_likely=False, show_best=False, show_worst=False), "settings.show_likely"),
    ],
    ids=[
        "gap",
        "overlap",
        "no scheme",
        "unknown scheme",
        "range without stage",
        "unknown stage",
        "month",
        "shows",
    ],
)
def test_invalid_settings_are_invalid_arguments_naming_the_field(running, settings, field):
    with pytest.raises(grpc.RpcError) as error:
        running.update(settings)

    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violated_fields(error.value)
    read = running.read()
    assert read.version == 0


def test_a_stale_expected_version_is_aborted(running):
    running.update(settings_message())
    second = running.update(settings_message(show_worst=True), expected_version=1)
    assert second.version == 2

    with pytest.raises(grpc.RpcError) as error:
        running.update(settings_message(show_best=False), expected_version=1)

    assert error.value.code() == grpc.StatusCode.ABORTED
    read = running.read()
    assert read == second


def test_a_february_fiscal_year_moves_list_periods_and_get_period_of_date(running):
    rep = running.auth("rep-a", "rep")
    january_15 = settings_pb2.GetPeriodOfDateRequest(date=Date(year=2026, month=1, day=15))
    calendar_year = running.stub.GetPeriodOfDate(january_15, metadata=rep)
    assert (calendar_year.quarter.period_id, calendar_year.month.period_id) == ("2026-Q1", "2026-01")

    running.update(settings_message(fiscal_year_start_month=2))

    of_date = running.stub.GetPeriodOfDate(january_15, metadata=rep)
    assert of_date.quarter == settings_pb2.Period(
        period_id="2025-Q4",
        kind=settings_pb2.PERIOD_KIND_QUARTER,
        fiscal_year=2025,
        quarter=4,
        start_date=Date(year=2025, month=11, day=1),
        end_date=Date(year=2026, month=1, day=31),
    )
    assert of_date.month == settings_pb2.Period(
        period_id="2026-01",
        kind=settings_pb2.PERIOD_KIND_MONTH,
        fiscal_year=2025,
        quarter=4,
        start_date=Date(year=2026, month=1, day=1),
        end_date=Date(year=2026, month=1, day=31),
        parent_period_id="2025-Q4",
    )
    periods = running.stub.ListPeriods(
        settings_pb2.ListPeriodsRequest(fiscal_year=2025), metadata=rep
    ).periods
    assert [p.period_id for p in periods] == [
        "2025-Q1", "2025-02", "2025-03", "2025-04",
        "2025-Q2", "2025-05", "2025-06", "2025-07",
        "2025-Q3", "2025-08", "2025-09", "2025-10",
        "2025-Q4", "2025-11", "2025-12", "2026-01",
    ]  # fmt: skip
    assert (periods[0].start_date, periods[-1].end_date) == (
        Date(year=2025, month=2, day=1),
        Date(year=2026, month=1, day=31),
    )
    # Zero: the fiscal year of today, under the new calendar.
    today = datetime.now(UTC).date()
    this_year = today.year if today.month >= 2 else today.year - 1
    current = running.stub.ListPeriods(settings_pb2.ListPeriodsRequest(), metadata=rep).periods
    assert current[0].period_id == f"{this_year}-Q1"
    assert current[0].start_date == Date(year=this_year, month=2, day=1)


def test_a_fiscal_year_change_moves_the_tracked_deals_and_their_rollups_in_the_same_call(running):
    deal = Deal(
        opportunity_id="opp-1",
        version=1,
        owner_user_id="rep-a",
        status="open",
        close_date=date(2026, 1, 15),
        currency="USD",
        amount_minor=10_000,
        probability=80,
        name="Deal",
        account_name="Acme",
        sales_stage="proposal",
        likely_minor=10_000,
        best_minor=12_000,
        worst_minor=8_000,
    )
    with running.process.context.session_factory() as session:
        apply_deal_states(SqlRollupStores(session), {deal.opportunity_id: deal})
        session.commit()

    def quarters() -> tuple[list[str], list[str]]:
        t, r = tables.tracked_opportunities.c, tables.rollup_totals.c
        with running.process.context.engine.connect() as connection:
            tracked = connection.execute(select(t.period_id)).scalars().all()
            rolled = connection.execute(
                # The quarters whose rollup row counts the open deal in rep-a's own totals.
                select(r.period_id).where(
                    r.user_id == "rep-a", r.own_open_count == 1, r.period_id.like("%-Q%")
                )
            )
            return list(tracked), list(rolled.scalars())

    assert quarters() == (["2026-Q1"], ["2026-Q1"])

    running.update(settings_message(fiscal_year_start_month=2))

    assert quarters() == (["2025-Q4"], ["2025-Q4"])


@pytest.mark.parametrize(
    ("method", "request_message", "field"),
    [
        ("ListPeriods", settings_pb2.ListPeriodsRequest(fiscal_year=-1), "fiscal_year"),
        ("ListPeriods", settings_pb2.ListPeriodsRequest(fiscal_year=10000), "fiscal_year"),
        ("GetPeriodOfDate", settings_pb2.GetPeriodOfDateRequest(), "date"),
        (
            "GetPeriodOfDate",
            settings_pb2.GetPeriodOfDateRequest(date=Date(year=2026, month=2, day=30)),
            "date",
        ),
        ("GetPeriodOfDate", settings_pb2.GetPeriodOfDateRequest(date=Date(year=1, month=1, day=1)), "date"),
    ],
    ids=["negative year", "year 10000", "no date", "february 30", "before fiscal year 1"],
)
def test_bad_periods_requests_are_invalid_arguments_naming_the_field(running, method, request_message, field):
    # A February start puts 0001-01-01 in fiscal year 0, which does not exist.
    running.update(settings_message(fiscal_year_start_month=2))

    with pytest.raises(grpc.RpcError) as error:
        getattr(running.stub, method)(request_message, metadata=running.auth("rep-a", "rep"))

    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error.value) == [field]


def test_a_forecast_settings_changed_event_is_written_to_the_outbox(running):
    saved = running.update(settings_message(fiscal_year_start_month=2))
    running.update(settings_message(fiscal_year_start_month=2))  # no change, no event

    outbox = tables.platform.outbox
    with running.process.context.engine.connect() as connection:
        rows = connection.execute(
            select(outbox).where(outbox.c.aggregate_type != "audit_entry").order_by(outbox.c.id)
        ).all()
    assert [(r.aggregate_type, r.aggregate_id, r.aggregate_version, r.event_type) for r in rows] == [
        ("forecast_settings", "settings", 1, "salesplane.forecasting.v1.ForecastSettingsChanged")
    ]
    assert rows[0].topic == "salesplane.forecasting.v1"
    envelope = decode_envelope(rows[0].payload)
    assert envelope.actor == "root"
    assert unpack_payload(envelope, settings_pb2.ForecastSettingsChanged).settings == saved
