"""The reporting issue's acceptance story, on real Kafka and PostgreSQL with the services as
processes.

A VP leads two first-line managers (m1 with reps r1 and r2, m2 with rep r3). The fiscal year
starts in February; the VP's quota for next quarter is split down the tree. Then four "weeks" of
selling, each a phase between recorded instants (the opportunities service stamps real time):
deals are created, moved through the stages, re-priced, pushed out and pulled in, one is handed
from r1 to r3, some are won and some lost (one lost deal comes back), one is deleted, and two reps
and a manager commit forecasts (one of them for last quarter, which has ended). Every state the
opportunities service answered is recorded; from those states and the org chart alone,
`reporting_oracle` computes what every built-in report must say. Reporting, fed only by the
three topics, must agree: for the VP, as of each phase boundary, and in each viewer's scope (a
manager their subtree, a rep their own deals), for built-in, user-defined and exported reports.

Time-based figures (days in a stage, sales cycles) are seconds long here, so they are exactly 0.00
days on both sides: the oracle computes them from the recorded update times and the comparison is
exact; the counts of stays and closed deals behind them are what really gets checked."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from google.protobuf.field_mask_pb2 import FieldMask

from salesplane.audit.v1 import audit_pb2, audit_pb2_grpc
from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import (
    org_pb2,
    org_pb2_grpc,
    quotas_pb2,
    quotas_pb2_grpc,
    settings_pb2,
    settings_pb2_grpc,
    worksheets_pb2,
    worksheets_pb2_grpc,
)
from salesplane.opportunities.v1 import opportunities_pb2 as opp
from salesplane.opportunities.v1 import opportunities_pb2_grpc
from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from tests.e2e import reporting_oracle as oracle
from tests.e2e.conftest import bearer
from tests.e2e.story_helpers import await_organisation, eventually, instant, proto_date

pytestmark = pytest.mark.e2e

ORG = {"vp": None, "m1": "vp", "m2": "vp", "r1": "m1", "r2": "m1", "r3": "m2"}
NAMES = {
    "vp": "Vera Vance",
    "m1": "Mike Mills",
    "m2": "Nora North",
    "r1": "Rita Reed",
    "r2": "Sam Stone",
    "r3": "Tom Tate",
}
MANAGERS = {"vp", "m1", "m2"}
FISCAL_START_MONTH = 2
# Lead sources are ids the opportunities service takes as given; without the leads service running
# reporting knows no names for them, so a lead source is labelled by its id.
WEBINARS = "6f1c2a9e-3b7d-4c1e-9a5f-0d8e7b6c5a41"
PARTNERS = "0b9d8c7a-6e5f-4a3b-8c2d-1e0f9a8b7c62"
BUILTINS = (
    "pipeline_by_stage",
    "pipeline_by_stage_team_month",
    "pipeline_matrix_owner_month",
    "forecast_vs_quota",
    "pipeline_movement",
    "win_rate_by_owner",
    "win_rate_by_lead_source",
    "days_in_stage",
    "stage_funnel",
    "won_lost_reasons",
    "top_open_deals",
    "past_due_and_stale_deals",
    "forecast_accuracy",
)
# Built-ins over leads and touches, listed to sales too; the marketing story checks what they say.
# The campaign-wide ones (campaign_roi, channel_roi) are listed to marketing and admins only.
LEAD_BUILTINS = ("lead_funnel", "lead_funnel_by_month", "attribution_by_campaign")
STATUS = {
    opp.OPPORTUNITY_STATUS_OPEN: "open",
    opp.OPPORTUNITY_STATUS_WON: "won",
    opp.OPPORTUNITY_STATUS_LOST: "lost",
}
ROW_KINDS = {
    reporting_pb2.ROW_KIND_DETAIL: "detail",
    reporting_pb2.ROW_KIND_GROUP: "group",
    reporting_pb2.ROW_KIND_SUBTOTAL: "subtotal",
    reporting_pb2.ROW_KIND_GRAND_TOTAL: "total",
}


def caller(user: str) -> list[tuple[str, str]]:
    return bearer(user, ("manager",) if user in MANAGERS else ("rep",))


def usd(amount_minor: int, currency: str = "USD") -> Money:
    return Money(currency_code=currency, amount_minor=amount_minor)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def boundary() -> datetime:
    """The instant between two simulated weeks, a clear second from the versions on either side."""
    time.sleep(1.1)
    moment = datetime.now(UTC)
    time.sleep(1.1)
    return moment


def cell_value(cell: reporting_pb2.Cell) -> object:
    which = cell.WhichOneof("value")
    if which is None:
        return None
    value = getattr(cell, which)
    if which == "money_value":
        return (value.currency_code, value.amount_minor)
    if which == "date_value":
        return date(value.year, value.month, value.day)
    if which == "timestamp_value":
        return instant(value)
    return value


def table(result: reporting_pb2.ReportResult) -> list[oracle.Row]:
    return [(ROW_KINDS[r.kind], r.level, tuple(cell_value(c) for c in r.cells)) for r in result.rows]


def state_of(message: opp.Opportunity) -> oracle.DealState:
    close_date = message.expected_close_date
    return oracle.DealState(
        deal_id=message.id,
        version=message.version,
        valid_from=instant(message.update_time),
        name=message.name,
        account=message.account_name,
        owner=message.owner_user_id,
        stage=message.sales_stage,
        probability=message.probability,
        status=STATUS[message.status],
        amount_base=message.amount_base.amount_minor,
        currency=message.amount_base.currency_code,
        close_date=date(close_date.year, close_date.month, close_date.day),
        lead_source=message.lead_source_id,
        close_reason=message.close_reason,
        create_time=instant(message.create_time),
        update_time=instant(message.update_time),
        close_time=instant(message.close_time) if message.HasField("close_time") else None,
    )


class Deals:
    """Changes deals through the opportunities API and records every state it answers."""

    def __init__(self, api: opportunities_pb2_grpc.OpportunityServiceStub, ledger: oracle.Ledger) -> None:
        self.api = api
        self.ledger = ledger
        self.ids: dict[str, str] = {}

    def state(self, key: str) -> oracle.DealState:
        return self.ledger.latest(self.ids[key])

    def create(
        self,
        key: str,
        owner: str,
        name: str,
        amount_minor: int,
        stage: str,
        close: date,
        *,
        currency: str = "USD",
        lead_source: str = "",
    ) -> oracle.DealState:
        created = self.api.CreateOpportunity(
            opp.CreateOpportunityRequest(
                name=name,
                owner_user_id=owner,
                amount=usd(amount_minor, currency),
                expected_close_date=proto_date(close),
                sales_stage=stage,
                account_name=f"{name.split()[0]} Inc.",
                lead_source_id=lead_source,
                request_id=f"story-{key}",
            ),
            metadata=caller(owner),
        )
        self.ids[key] = created.id
        return self.ledger.record(state_of(created))

    def update(self, key: str, user: str, **changes: Any) -> oracle.DealState:
        message = opp.Opportunity(id=self.ids[key])
        paths = []
        for field, value in changes.items():
            paths.append(field)
            if field == "amount":
                message.amount.CopyFrom(usd(value))
            elif field == "expected_close_date":
                message.expected_close_date.CopyFrom(proto_date(value))
            else:
                setattr(message, field, value)
        updated = self.api.UpdateOpportunity(
            opp.UpdateOpportunityRequest(opportunity=message, update_mask=FieldMask(paths=paths)),
            metadata=caller(user),
        )
        return self.ledger.record(state_of(updated))

    def close(self, key: str, user: str, outcome: str, reason: str) -> oracle.DealState:
        closed = self.api.CloseOpportunity(
            opp.CloseOpportunityRequest(
                opportunity_id=self.ids[key],
                outcome=opp.CLOSE_OUTCOME_WON if outcome == "won" else opp.CLOSE_OUTCOME_LOST,
                reason=reason,
            ),
            metadata=caller(user),
        )
        return self.ledger.record(state_of(closed))

    def reopen(self, key: str, user: str, stage: str) -> oracle.DealState:
        reopened = self.api.ReopenOpportunity(
            opp.ReopenOpportunityRequest(opportunity_id=self.ids[key], sales_stage=stage),
            metadata=caller(user),
        )
        return self.ledger.record(state_of(reopened))

    def reassign(self, key: str, user: str, new_owner: str) -> oracle.DealState:
        # The manager reaches both owners once the org chart has reached the opportunities service.
        moved = eventually(
            lambda: self.api.ReassignOpportunity(
                opp.ReassignOpportunityRequest(opportunity_id=self.ids[key], new_owner_user_id=new_owner),
                metadata=caller(user),
            )
        )
        return self.ledger.record(state_of(moved))

    def delete(self, key: str, user: str) -> None:
        before = datetime.now(UTC)
        self.api.DeleteOpportunity(
            opp.DeleteOpportunityRequest(opportunity_id=self.ids[key]), metadata=caller(user)
        )
        after = datetime.now(UTC)
        # The deletion holds from when it happened, somewhere inside the call.
        self.ledger.record_deletion(self.ids[key], before + (after - before) / 2)


class Reports:
    def __init__(self, api: reporting_pb2_grpc.ReportingServiceStub) -> None:
        self.api = api

    @staticmethod
    def request(
        report_id: str = "",
        *,
        definition: Mapping[str, Any] | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        parameters: Mapping[str, str] | None = None,
        as_of: datetime | None = None,
    ) -> reporting_pb2.RunReportRequest:
        request = reporting_pb2.RunReportRequest(
            report_id=report_id,
            parameters=dict(parameters or {}),
            as_of=rfc3339(as_of) if as_of else "",
        )
        if definition is not None:
            request.definition.update(dict(definition))
        for key, values in (filters or {}).items():
            request.filter_values[key].values.extend(struct_pb2.Value(string_value=v) for v in values)
        return request

    def run(self, user: str, report_id: str = "", **options: Any) -> reporting_pb2.ReportResult:
        metadata = bearer() if user == "admin" else caller(user)
        return self.api.RunReport(self.request(report_id, **options), metadata=metadata)

    def rows(self, user: str, report_id: str = "", **options: Any) -> list[oracle.Row]:
        return table(self.run(user, report_id, **options))

    def export_csv(self, user: str, report_id: str, **options: Any) -> list[dict[str, str]]:
        chunks = self.api.ExportReport(
            reporting_pb2.ExportReportRequest(
                run=self.request(report_id, **options), format=reporting_pb2.EXPORT_FORMAT_CSV
            ),
            metadata=caller(user),
        )
        first, *rest = list(chunks)
        assert first.content_type.startswith("text/csv"), first.content_type
        text = b"".join([first.data, *(c.data for c in rest)]).decode("utf-8")
        return list(csv.DictReader(io.StringIO(text)))


def test_reports_retell_four_weeks_of_selling_in_each_viewers_scope(services) -> None:
    started = time.monotonic()
    forecasting = services("forecasting")
    opportunities = services("opportunities")
    reporting = services("reporting")
    admin = bearer()

    forecast_channel = grpc.insecure_channel(forecasting.target)
    org_api = org_pb2_grpc.OrgServiceStub(forecast_channel)
    settings_api = settings_pb2_grpc.ForecastSettingsServiceStub(forecast_channel)
    quota_api = quotas_pb2_grpc.QuotaServiceStub(forecast_channel)
    worksheet_api = worksheets_pb2_grpc.WorksheetServiceStub(forecast_channel)
    opportunity_api = opportunities_pb2_grpc.OpportunityServiceStub(
        grpc.insecure_channel(opportunities.target)
    )
    reports = Reports(reporting_pb2_grpc.ReportingServiceStub(grpc.insecure_channel(reporting.target)))

    # ---- The organisation, the fiscal calendar, the stages ------------------------------------
    for user, manager in ORG.items():
        org_api.UpsertUser(
            org_pb2.UpsertUserRequest(
                user=org_pb2.User(
                    user_id=user,
                    display_name=NAMES[user],
                    roles=["manager"] if user in MANAGERS else ["rep"],
                    manager_user_id=manager or "",
                    active=True,
                )
            ),
            metadata=admin,
        )
    org = oracle.Org(ORG, NAMES)
    # The users reach the other services by event: wait for them before giving them deals.
    await_organisation(opportunities.env["SALESPLANE_DATABASE_URL"], ORG)
    settings = settings_api.GetForecastSettings(settings_pb2.GetForecastSettingsRequest(), metadata=admin)
    assert settings.currency_code == "USD"  # the services' default base currency
    settings.fiscal_year_start_month = FISCAL_START_MONTH
    settings_api.UpdateForecastSettings(
        settings_pb2.UpdateForecastSettingsRequest(settings=settings), metadata=admin
    )

    today = datetime.now(UTC).date()
    fiscal = oracle.FiscalCalendar(FISCAL_START_MONTH)
    this_quarter = fiscal.quarter(today)
    next_quarter = fiscal.next_quarter(this_quarter)
    quarter_after = fiscal.next_quarter(next_quarter)
    last_quarter = fiscal.previous_quarter(this_quarter)
    periods = {p.id: p for p in (last_quarter, this_quarter, next_quarter, quarter_after)}
    window = next_quarter  # the quarter the pipeline is watched in
    year_ahead = oracle.next_days(today, 365)

    def in_window(days: int) -> date:
        return window.first + timedelta(days=days)

    catalogue = opportunity_api.ListSalesStages(opp.ListSalesStagesRequest(), metadata=admin).sales_stages
    ordered = sorted(catalogue, key=lambda s: s.order)
    ledger = oracle.Ledger({s.name: index for index, s in enumerate(ordered)})
    stage = [s.name for s in ordered if not (s.is_won or s.is_lost)]
    assert len(stage) == 8, stage  # Prospecting .. Negotiation/Review
    opportunity_api.SetExchangeRate(
        opp.SetExchangeRateRequest(
            currency_code="EUR", rate="1.0825", effective_from=Date(year=2020, month=1, day=1)
        ),
        metadata=admin,
    )

    # ---- The plan: the VP's quota for next quarter, split down the tree -----------------------
    quota_api.SetQuota(
        quotas_pb2.SetQuotaRequest(user_id="vp", period_id=window.id, amount=usd(500_000_00)), metadata=admin
    )
    splits = {
        "vp": {"m1": 300_000_00, "m2": 150_000_00, "vp": 50_000_00},
        "m1": {"r1": 120_000_00, "r2": 130_000_00, "m1": 50_000_00},
        "m2": {"r3": 150_000_00},
    }
    for manager, split in splits.items():
        allocations = [
            quotas_pb2.DraftAllocation(
                user_id=user,
                kind=quotas_pb2.QUOTA_KIND_DIRECT if user == manager else quotas_pb2.QUOTA_KIND_ASSIGNED,
                amount=usd(amount),
            )
            for user, amount in split.items()
        ]
        quota_api.SaveQuotaDraft(
            quotas_pb2.SaveQuotaDraftRequest(
                manager_user_id=manager, period_id=window.id, allocations=allocations
            ),
            metadata=caller(manager),
        )
        quota_api.CommitQuotaPlan(
            quotas_pb2.CommitQuotaPlanRequest(manager_user_id=manager, period_id=window.id),
            metadata=caller(manager),
        )
    assigned = {"vp": 500_000_00} | {u: a for m, s in splits.items() for u, a in s.items() if u != m}
    quota_rows = len(assigned) + sum(1 for m, s in splits.items() if m in s)

    commits: list[oracle.Commit] = []

    def commit_forecast(user: str, period: oracle.Period, kind: str, owned: Sequence[str] = ()) -> None:
        """Commit once forecasting shows the user's deals at the versions recorded here."""

        def sees_deals() -> None:
            sheet = worksheet_api.GetRepWorksheet(
                worksheets_pb2.GetWorksheetRequest(user_id=user, period_id=period.id), metadata=caller(user)
            )
            versions = {d.opportunity_id: d.opportunity_version for d in sheet.deals}
            expected = {deals.ids[k]: deals.state(k) for k in owned}
            # Every open deal at its latest version; closed ones, where a worksheet lists them, too.
            assert (
                {i for i, s in expected.items() if s.status == "open"} <= versions.keys() <= expected.keys()
            )
            assert all(versions[i] == expected[i].version for i in versions), versions

        if owned:
            eventually(sees_deals)
        snapshot = worksheet_api.CommitForecast(
            worksheets_pb2.CommitForecastRequest(
                user_id=user,
                period_id=period.id,
                kind=worksheets_pb2.SNAPSHOT_KIND_MANAGER
                if kind == "manager"
                else worksheets_pb2.SNAPSHOT_KIND_REP,
                note=f"{kind} call",
            ),
            metadata=caller(user),
        )
        assert snapshot.committed
        commits.append(
            oracle.Commit(
                user,
                period.id,
                kind,
                snapshot.sequence,
                snapshot.likely.amount_minor,
                snapshot.best.amount_minor,
                snapshot.worst.amount_minor,
                snapshot.likely.currency_code or "USD",
            )
        )

    deals = Deals(opportunity_api, ledger)
    t0 = boundary()

    # ---- Week 1: the pipeline is built ----------------------------------------------------------
    deals.create("acme", "r1", "Acme expansion", 50_000_00, stage[0], in_window(20), lead_source=WEBINARS)
    deals.create("globex", "r1", "Globex renewal", 30_000_00, stage[1], in_window(30))
    initech = deals.create(
        "initech", "r2", "Initech pilot", 20_000_00, stage[2], in_window(45), currency="EUR"
    )
    assert (initech.currency, initech.amount_base) == ("USD", 21_650_00)  # 20,000.00 EUR at 1.0825
    deals.create(
        "umbrella", "r3", "Umbrella platform", 80_000_00, stage[3], quarter_after.first + timedelta(15)
    )
    deals.create("hooli", "m1", "Hooli direct", 15_000_00, stage[4], in_window(10), lead_source=PARTNERS)
    deals.create("stark", "r2", "Stark overdue", 12_000_00, stage[5], today - timedelta(days=3))
    deals.create("wayne", "r3", "Wayne early", 25_000_00, stage[1], today)
    deals.create("cyberdyne", "r1", "Cyberdyne comeback", 40_000_00, stage[7], in_window(15))
    deals.close("cyberdyne", "r1", "lost", "went with a competitor")
    deals.create("past", "r2", "Past quarter win", 35_000_00, stage[7], last_quarter.first + timedelta(10))
    commit_forecast("r2", last_quarter, "rep", owned=["past"])
    deals.update("past", "r2", amount=38_000_00)
    deals.close("past", "r2", "won", "signed")
    deals.create("strategic", "vp", "VP strategic", 100_000_00, stage[6], in_window(60), lead_source=WEBINARS)
    deals.create("oscorp", "r2", "Oscorp doomed", 5_000_00, stage[0], in_window(5))
    deals.create("wonka", "r2", "Wonka upsell", 18_000_00, stage[3], in_window(12))
    deals.create("duff", "r1", "Duff lost", 7_500_00, stage[1], in_window(3))
    t1 = boundary()

    # ---- Week 2: deals advance, grow, slip and come closer ---------------------------------------
    deals.update("acme", "r1", sales_stage=stage[1], amount=60_000_00)
    deals.update("initech", "r2", expected_close_date=quarter_after.first)
    deals.update("umbrella", "r3", expected_close_date=in_window(50), sales_stage=stage[6])
    deals.create("soylent", "r3", "Soylent new", 45_000_00, stage[0], in_window(35))
    deals.create("tyrell", "r2", "Tyrell quick", 10_000_00, stage[6], in_window(8), lead_source=PARTNERS)
    deals.close("tyrell", "r2", "won", "price")
    deals.create("vandelay", "r3", "Vandelay", 9_000_00, stage[1], in_window(18))
    deals.close("duff", "r1", "lost", "timing")
    commit_forecast("r1", window, "rep", owned=["acme", "globex", "cyberdyne", "duff"])
    commit_forecast("m1", window, "manager")
    t2 = boundary()

    # ---- Week 3: a deal changes teams, one is lost, one comes back, one goes ----------------------
    deals.reassign("globex", "vp", "r3")
    deals.close("hooli", "m1", "lost", "no budget")
    deals.update("wayne", "r3", expected_close_date=in_window(25))
    deals.reopen("cyberdyne", "r1", stage[7])
    deals.delete("oscorp", "r2")
    deals.update("wonka", "r2", amount=22_000_00)
    deals.create("massive", "r1", "Massive dynamic", 20_000_00, stage[0], window.first)
    t3 = boundary()

    # ---- Week 4: a win, a cut, a deal moved earlier, a loss ---------------------------------------
    deals.update("acme", "r1", sales_stage=stage[6])
    deals.close("acme", "r1", "won", "signed")
    deals.update("globex", "r3", amount=27_000_00)
    deals.update("strategic", "vp", expected_close_date=today)
    deals.update("soylent", "r3", sales_stage=stage[1])
    deals.close("vandelay", "r3", "lost", "went with a competitor")
    t4 = boundary()
    current = ledger.current()

    # ---- Reporting catches up from the three topics -------------------------------------------------
    def caught_up() -> None:
        versions = reports.rows(
            "admin",
            definition={
                "source": "opportunity_history",
                "measures": [{"name": "versions", "aggregate": "count"}],
            },
        )
        assert versions == [("group", 0, (ledger.version_count,))], versions
        by_quarter = reports.run(
            "admin",
            definition={
                "source": "opportunities",
                "dimensions": [{"field": "expected_close_date", "grain": "fiscal_quarter"}],
                "measures": [{"name": "deals", "aggregate": "count"}],
                "grand_total": False,
            },
        )
        expected_quarters: dict[str, int] = {}
        for deal in current.values():
            quarter = fiscal.quarter(deal.close_date).id
            expected_quarters[quarter] = expected_quarters.get(quarter, 0) + 1
        assert {r[2][0]: r[2][1] for r in table(by_quarter)} == expected_quarters  # the February calendar
        assert any("(USD)" in note for note in by_quarter.notes), by_quarter.notes
        counted = {
            source: reports.rows(
                "admin", definition={"source": source, "measures": [{"name": "n", "aggregate": "count"}]}
            )
            for source in ("forecast_commits", "quotas")
        }
        assert counted == {
            "forecast_commits": [("group", 0, (len(commits),))],
            "quotas": [("group", 0, (quota_rows,))],
        }
        people = reports.rows("admin", "forecast_vs_quota", parameters={"period": window.id})
        assert len(people) == len(ORG)

    eventually(caught_up, timeout=45)
    caught_up_after = time.monotonic() - started

    vp_scope = org.visible("vp", manager=True)
    scopes = {
        "vp": vp_scope,
        "m1": org.visible("m1", manager=True),
        "m2": org.visible("m2", manager=True),
        "r1": org.visible("r1", manager=False),
    }
    assert scopes["m1"] == {"m1", "r1", "r2"} and scopes["r1"] == {"r1"}
    # Every user is in reporting's org replica by now (caught_up), so each manager's reach must be
    # their whole subtree. A missing owner here is a pair the org closure lost, which no later event
    # repairs: two consumer threads saving users in concurrent batches each derive the closure
    # from the users their own transaction sees (ReadModelWriter.save_users).
    owners = {
        "source": "opportunities",
        "dimensions": [{"field": "owner"}],
        "measures": [{"name": "n", "aggregate": "count"}],
    }
    for manager in ("vp", "m1", "m2"):
        reached = {cells[1] for kind, _, cells in reports.rows(manager, definition=owners) if kind == "group"}
        assert reached == {d.owner for d in current.values()} & scopes.get(manager, org.subtree(manager)), (
            f"{manager} reaches only the deals of {sorted(reached)}: reporting's org closure lost pairs"
        )
    stale_before = t2
    close_next_quarter = {"close": ["next_fiscal_quarter"]}
    close_year_ahead = {"close": [year_ahead.id]}

    # ---- Every built-in report is listed, readable, and says what the oracle says (VP) -------------
    listed = reports.api.ListReports(reporting_pb2.ListReportsRequest(), metadata=caller("vp")).reports
    assert tuple(r.id for r in listed if r.builtin) == BUILTINS + LEAD_BUILTINS
    definitions = {
        report_id: reports.api.GetReport(
            reporting_pb2.GetReportRequest(report_id=report_id), metadata=caller("vp")
        )
        for report_id in BUILTINS
    }
    for report_id, found in definitions.items():
        assert found.builtin and found.definition["source"], report_id
    assert list(definitions["top_open_deals"].runtime_filters) == ["close"]
    assert list(definitions["pipeline_matrix_owner_month"].runtime_filters) == ["close"]
    assert list(definitions["pipeline_by_stage_team_month"].runtime_filters) == ["close"]
    assert list(definitions["past_due_and_stale_deals"].runtime_filters) == ["stale_before"]
    assert set(definitions["pipeline_movement"].definition["parameters"]) == {"from", "to"}

    movement_parameters = {"from": rfc3339(t1), "to": rfc3339(t4), "window": window.id}

    def measures_of(report_id: str) -> list[str]:
        """The measures a win-rate report defines (as GetReport gives them), in order."""
        return [m["name"] for m in definitions[report_id].definition["measures"]]

    def expected_runs(user: str, scope: frozenset[str]) -> dict[str, tuple[dict[str, Any], list[oracle.Row]]]:
        """Each built-in report (but the funnel) with the run options used and what it must say."""
        return {
            "pipeline_by_stage": ({}, oracle.pipeline_by_stage(current, scope, ledger)),
            "pipeline_by_stage_team_month": (
                {"filters": close_year_ahead},
                oracle.pipeline_by_stage_team_month(current, scope, org, user, year_ahead, ledger),
            ),
            "pipeline_matrix_owner_month": (
                {"filters": close_year_ahead},
                oracle.pipeline_matrix_owner_month(current, scope, org, year_ahead)[1],
            ),
            "forecast_vs_quota": (
                {"parameters": {"period": window.id}},
                oracle.forecast_vs_quota(current, scope, org, window, assigned, commits),
            ),
            "pipeline_movement": (
                {"parameters": movement_parameters},
                oracle.pipeline_movement(ledger, scope, org, t1, t4, window),
            ),
            "win_rate_by_owner": (
                {},
                oracle.win_rate_by(
                    current, scope, ledger, lambda d: d.owner, org.label, measures_of("win_rate_by_owner")
                ),
            ),
            "win_rate_by_lead_source": (
                {},
                oracle.win_rate_by(
                    current,
                    scope,
                    ledger,
                    lambda d: d.lead_source,
                    str,
                    measures_of("win_rate_by_lead_source"),
                ),
            ),
            "days_in_stage": ({}, oracle.days_in_stage(ledger, scope)),
            "won_lost_reasons": ({}, oracle.won_lost_reasons(current, scope)),
            "top_open_deals": (
                {"filters": close_next_quarter},
                oracle.top_open_deals(current, scope, org, window),
            ),
            "past_due_and_stale_deals": (
                {"filters": {"stale_before": [rfc3339(stale_before)]}},
                oracle.past_due_and_stale_deals(current, scope, org, ledger, today, stale_before),
            ),
            "forecast_accuracy": ({}, oracle.forecast_accuracy(current, scope, org, commits, periods, today)),
        }

    def check_builtins(user: str, scope: frozenset[str]) -> dict[str, list[oracle.Row]]:
        seen: dict[str, list[oracle.Row]] = {}
        for report_id, (options, expected) in expected_runs(user, scope).items():
            seen[report_id] = reports.rows(user, report_id, **options)
            assert seen[report_id] == expected, (user, report_id)
        # The funnel: each stage listed counts the deals that reached it or a later one, and every
        # stage a deal stopped at is listed. The engine lists only the stages some deal stopped at
        # (one group per furthest stage); the description's "each stage" would list the others
        # too, so either is accepted here, in order.
        funnel = reports.rows(user, "stage_funnel")
        documented, stopped = oracle.stage_funnel(current, scope, ledger)
        assert funnel == [row for row in documented if row in funnel], (user, funnel)
        assert stopped <= {row[2][0] for row in funnel}, (user, funnel)
        seen["stage_funnel"] = funnel
        return seen

    seen = check_builtins("vp", vp_scope)
    assert {r[2][2] for r in seen["pipeline_by_stage_team_month"] if r[0] == "group"} == {"m1", "m2", "vp"}
    matrix = reports.run("vp", "pipeline_matrix_owner_month", filters=close_year_ahead)
    titles, _ = oracle.pipeline_matrix_owner_month(current, vp_scope, org, year_ahead)
    assert [c.title for c in matrix.columns] == ["Owner", "Owner id", *titles]
    movement = reports.run("vp", "pipeline_movement", parameters=movement_parameters)
    expected_bars: dict[str, int] = {}
    for m in oracle.movements(ledger, vp_scope, t1, t4, window):
        expected_bars[m.category] = expected_bars.get(m.category, 0) + m.change
    bars = {cells[0]: cells[2][1] for kind, _, cells in table(movement) if kind == "group"}
    assert bars == expected_bars
    assert set(bars) == set(oracle.MOVEMENT_ORDER) - {"reassigned_in", "reassigned_out"}
    assert bars["start"] + sum(v for k, v in bars.items() if k not in ("start", "end")) == bars["end"]
    assert movement.chart_svg.lstrip().startswith("<svg")
    assert [r[2][0] for r in seen["past_due_and_stale_deals"]] == [
        "Stark overdue",
        "Umbrella platform",
        "Initech pilot",
    ]
    assert [r[2][:3] for r in seen["forecast_accuracy"] if r[0] == "group"] == [("Sam Stone", "r2", "rep")]
    won_stage = next(s.name for s in ordered if s.is_won)
    assert [r[2][0] for r in seen["stage_funnel"]] == [*stage, won_stage]  # some deal stopped at each

    # ---- As of each boundary, the pipeline as it stood then -----------------------------------------
    for moment in (t0, t1, t2, t3, t4):
        then = ledger.held_at(moment)
        assert reports.rows("vp", "pipeline_by_stage", as_of=moment) == oracle.pipeline_by_stage(
            then, vp_scope, ledger
        ), moment
    assert reports.rows("vp", "pipeline_by_stage", as_of=t0) == []

    # ---- Each viewer sees their own scope -----------------------------------------------------------
    shared = reports.api.CreateReport(
        reporting_pb2.SaveReportRequest(
            title="Deals by owner and status",
            sharing="everyone",
            definition=reports.request(
                definition={
                    "source": "opportunities",
                    "layout": "summation",
                    "dimensions": [{"field": "owner"}, {"field": "status"}],
                    "measures": [
                        {"name": "deals", "title": "Deals", "aggregate": "count"},
                        {"name": "amount", "title": "Amount", "aggregate": "sum", "field": "amount_base"},
                    ],
                }
            ).definition,
        ),
        metadata=caller("m1"),
    )
    # Saving a report is audited in reporting's own log, for administrators only.
    audit = audit_pb2_grpc.AuditServiceStub(grpc.insecure_channel(reporting.target))
    logged = audit.ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(subject_type="report", subject_id=shared.id),
        metadata=bearer("root", ("admin",)),
    ).entries
    assert [(e.action, e.actor, e.service, e.state["title"]) for e in logged] == [
        ("ReportCreated", "m1", "reporting", "Deals by owner and status")
    ]
    with pytest.raises(grpc.RpcError) as refused:
        audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(), metadata=caller("m1"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    globex = deals.ids["globex"]
    m1_team = {"m1", "r1", "r2"}
    runs: dict[str, dict[str, list[oracle.Row]]] = {}
    for user, scope in scopes.items():
        listed_ids = [
            r.id
            for r in reports.api.ListReports(
                reporting_pb2.ListReportsRequest(), metadata=caller(user)
            ).reports
        ]
        assert shared.id in listed_ids, user
        runs[user] = seen if user == "vp" else check_builtins(user, scope)
        assert {r[2][3] for r in runs[user]["top_open_deals"]} <= scope, user
        assert reports.rows(user, shared.id) == oracle.deals_by_owner_and_status(current, scope, org), user
    top_names = {user: {r[2][0] for r in runs[user]["top_open_deals"]} for user in scopes}
    assert "Globex renewal" in top_names["m2"] and "Globex renewal" not in top_names["m1"]  # moved in week 3
    assert not {r[2][3] for r in runs["m2"]["top_open_deals"]} & m1_team
    assert top_names["r1"] == {"Cyberdyne comeback", "Massive dynamic"}
    # Before the reassignment the deal was r1's: m1 saw it then, m2 did not.
    at_t2 = ledger.held_at(t2)
    assert at_t2[globex].owner == "r1" and current[globex].owner == "r3"
    for user in ("m1", "m2"):
        assert reports.rows(user, "pipeline_by_stage", as_of=t2) == oracle.pipeline_by_stage(
            at_t2, scopes[user], ledger
        ), user
    # The movement in each manager's window: the handed-over deal leaves one team and joins the other.
    for user, category in (("m1", "reassigned_out"), ("m2", "reassigned_in")):
        moved = [cells for kind, _, cells in runs[user]["pipeline_movement"] if kind == "detail"]
        assert ("Globex renewal", category) in {(cells[3], cells[0]) for cells in moved}, user

    # ---- An export of the top deals for m1 holds exactly m1's team's deals ---------------------------
    exported = reports.export_csv("m1", "top_open_deals", filters=close_year_ahead)
    expected_export = oracle.top_open_deals(current, scopes["m1"], org, year_ahead)
    assert [(r["Opportunity"], r["Owner id"]) for r in exported] == [
        (c[0], c[3]) for _, _, c in expected_export
    ]
    assert {r["Owner id"] for r in exported} <= m1_team
    assert [r["Amount (base)"] for r in exported] == [
        f"{c[6][1] // 100}.{c[6][1] % 100:02d}" for _, _, c in expected_export
    ]
    assert "Initech pilot" in {r["Opportunity"] for r in exported}  # pushed out, still within the year

    elapsed = time.monotonic() - started
    print(f"reporting caught up {caught_up_after:.1f} s after the start; story done in {elapsed:.1f} s")
