"""WorksheetService over a real gRPC channel to an in-process forecasting service on SQLite, with
the relay and the event consumer running on the local event log: deals arrive as OpportunityChanged
events, commits leave as ForecastCommitted events.

The organisation: Vera (VP) at the top, Mia (manager) under her, Ann and Bob (reps) under Mia.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, date, datetime

import grpc
import pytest
from sqlalchemy import insert, select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import (
    forecasting_pb2,
    forecasting_pb2_grpc,
    org_pb2,
    org_pb2_grpc,
    settings_pb2,
    worksheets_pb2,
    worksheets_pb2_grpc,
)
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters import rollup_store, snapshot_store, tables
from salesplane_forecasting.domain.worksheets import SnapshotKind
from salesplane_forecasting.entrypoints.main import DEFINITION, TOPIC
from salesplane_forecasting.entrypoints.opportunity_consumer import OPPORTUNITIES_TOPIC
from salesplane_platform.errors import Conflict
from salesplane_platform.event_transport import OutgoingRecord
from salesplane_platform.events import build_envelope, decode_envelope, unpack_payload
from salesplane_platform.identifiers import derived_aggregate_id
from salesplane_platform.identity import issue_token
from salesplane_platform.local_log import LocalLogPublisher, LocalLogSubscriber
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings
from salesplane_testing.in_process import running_service

Q4 = "2026-Q4"
INCLUDE = settings_pb2.COMMIT_STAGE_INCLUDE
UPSIDE = settings_pb2.COMMIT_STAGE_UPSIDE
EXCLUDE = settings_pb2.COMMIT_STAGE_EXCLUDE
UNSPECIFIED = settings_pb2.COMMIT_STAGE_UNSPECIFIED
REP, MANAGER = worksheets_pb2.SNAPSHOT_KIND_REP, worksheets_pb2.SNAPSHOT_KIND_MANAGER
OPEN = opportunities_pb2.OPPORTUNITY_STATUS_OPEN
WON = opportunities_pb2.OPPORTUNITY_STATUS_WON
LOST = opportunities_pb2.OPPORTUNITY_STATUS_LOST
ORG = [
    ("vp", "Vera", "", "manager"),
    ("mgr", "Mia", "vp", "manager"),
    ("ann", "Ann", "mgr", "rep"),
    ("bob", "Bob", "mgr", "rep"),
]
ROLES = {user_id: role for user_id, _, _, role in ORG} | {"root": "admin"}
# (id, owner, name, amount in minor units, probability, status): best is amount + 20 %, worst - 20 %.
DEALS = [
    ("a-acme", "ann", "Acme renewal", 100_000_00, 80, OPEN),
    ("a-globex", "ann", "Globex", 50_000_00, 40, OPEN),
    ("a-initech", "ann", "Initech", 20_000_00, 20, OPEN),
    ("a-umbrella", "ann", "Umbrella", 30_000_00, 100, WON),
    ("a-hooli", "ann", "Hooli", 5_000_00, 0, LOST),
    ("b-stark", "bob", "Stark", 40_000_00, 90, OPEN),
    ("b-wonka", "bob", "Wonka", 10_000_00, 100, WON),
    ("m-wayne", "mgr", "Wayne", 25_000_00, 75, OPEN),
]


def usd(amount_minor: int) -> Money:
    return Money(currency_code="USD", amount_minor=amount_minor)


class Running:
    def __init__(self, process: ServiceProcess, channel: grpc.Channel, settings: ServiceSettings) -> None:
        self.process = process
        self.settings = settings
        self.worksheets = worksheets_pb2_grpc.WorksheetServiceStub(channel)
        self.forecasting = forecasting_pb2_grpc.ForecastingServiceStub(channel)
        self.org = org_pb2_grpc.OrgServiceStub(channel)
        self.versions: dict[str, int] = {}
        self._publisher = LocalLogPublisher(settings.event_log_path)

    def auth(self, subject: str) -> list[tuple[str, str]]:
        token = issue_token(self.settings.auth_secret, subject, [ROLES.get(subject, "rep")])
        return [("authorization", f"Bearer {token}")]

    def add_user(self, user_id: str, name: str, manager: str, role: str) -> None:
        user = org_pb2.User(
            user_id=user_id, display_name=name, roles=[role], manager_user_id=manager, active=True
        )
        self.org.UpsertUser(org_pb2.UpsertUserRequest(user=user), metadata=self.auth("root"))

    def publish(
        self,
        deal_id: str,
        owner: str,
        name: str,
        amount: int,
        probability: int,
        status: int = OPEN,
        *,
        close: date = date(2026, 11, 15),
    ) -> None:
        """An OpportunityChanged event for the next version of the deal, as opportunities sends it."""
        version = self.versions.get(deal_id, 0) + 1
        self.versions[deal_id] = version
        opportunity = opportunities_pb2.Opportunity(
            id=deal_id,
            name=name,
            owner_user_id=owner,
            account_name=f"{name} Inc",
            sales_stage="Closed Won" if status == WON else "Proposal",
            amount=usd(amount),
            amount_base=usd(amount),
            best_case_base=usd(amount * 12 // 10),
            worst_case_base=usd(amount * 8 // 10),
            probability=probability,
            status=status,
            expected_close_date=Date(year=close.year, month=close.month, day=close.day),
            version=version,
        )
        kind = events_pb2.CHANGE_KIND_CREATED if version == 1 else events_pb2.CHANGE_KIND_UPDATED
        envelope = build_envelope(
            payload=events_pb2.OpportunityChanged(opportunity=opportunity, kind=kind),
            aggregate_type="opportunity",
            aggregate_id=deal_id,
            aggregate_version=version,
            producer="opportunities",
            actor=owner,
        )
        topic = self.settings.topic(OPPORTUNITIES_TOPIC)
        self._publisher.publish([OutgoingRecord(topic, deal_id.encode(), envelope.SerializeToString())])

    def wait_applied(self) -> None:
        """Until the consumer has applied every version published so far."""
        c = tables.tracked_opportunities.c
        deadline = time.monotonic() + 30
        while True:
            with self.process.context.session_factory() as session:
                applied = dict(session.execute(select(c.opportunity_id, c.version)).all())
            if all(applied.get(deal) == version for deal, version in self.versions.items()):
                return
            assert time.monotonic() < deadline, f"events not applied: {applied} vs {self.versions}"
            time.sleep(0.05)

    def set_quota(self, user_id: str, amount_minor: int, kind: str = "assigned") -> None:
        # Straight into the table: quotas have their own service and tests; here they are only read.
        with self.process.context.engine.begin() as connection:
            connection.execute(
                insert(tables.quotas).values(
                    user_id=user_id,
                    period_id=Q4,
                    kind=kind,
                    amount_minor=amount_minor,
                    currency="USD",
                    committed_by="root",
                    committed_at=datetime.now(UTC),
                    version=1,
                )
            )

    def rep_sheet(
        self, user_id: str, *, caller: str = "", period_id: str = Q4
    ) -> worksheets_pb2.RepWorksheet:
        request = worksheets_pb2.GetWorksheetRequest(user_id=user_id, period_id=period_id)
        return self.worksheets.GetRepWorksheet(request, metadata=self.auth(caller or user_id))

    def manager_sheet(self, user_id: str, *, caller: str = "") -> worksheets_pb2.ManagerWorksheet:
        request = worksheets_pb2.GetWorksheetRequest(user_id=user_id, period_id=Q4)
        return self.worksheets.GetManagerWorksheet(request, metadata=self.auth(caller or user_id))

    def set_stage(self, deal_id: str, stage: int, *, caller: str) -> worksheets_pb2.WorksheetDeal:
        request = worksheets_pb2.SetCommitStageRequest(opportunity_id=deal_id, commit_stage=stage)
        return self.worksheets.SetCommitStage(request, metadata=self.auth(caller))

    def commit(
        self, user_id: str, kind: int = REP, *, caller: str = "", note: str = ""
    ) -> worksheets_pb2.ForecastSnapshot:
        request = worksheets_pb2.CommitForecastRequest(user_id=user_id, period_id=Q4, kind=kind, note=note)
        return self.worksheets.CommitForecast(request, metadata=self.auth(caller or user_id))

    def save_draft(
        self, user_id: str, kind: int = REP, *, caller: str = "", note: str = ""
    ) -> worksheets_pb2.ForecastSnapshot:
        request = worksheets_pb2.SaveWorksheetDraftRequest(
            user_id=user_id, period_id=Q4, kind=kind, note=note
        )
        return self.worksheets.SaveWorksheetDraft(request, metadata=self.auth(caller or user_id))

    def adjust(
        self, manager: str, user_id: str, *, caller: str = "", **amounts: int
    ) -> worksheets_pb2.ManagerWorksheet:
        request = worksheets_pb2.AdjustManagerRowRequest(
            manager_user_id=manager, period_id=Q4, user_id=user_id, **amounts
        )
        return self.worksheets.AdjustManagerRow(request, metadata=self.auth(caller or manager))

    def commits(
        self, user_id: str, kind: int = 0, *, caller: str = ""
    ) -> list[worksheets_pb2.ForecastSnapshot]:
        request = worksheets_pb2.ListForecastCommitsRequest(user_id=user_id, period_id=Q4, kind=kind)
        return list(
            self.worksheets.ListForecastCommits(request, metadata=self.auth(caller or user_id)).commits
        )

    def accuracy(
        self, user_id: str, *, caller: str = "", period_id: str = Q4
    ) -> worksheets_pb2.ForecastAccuracy:
        request = worksheets_pb2.GetForecastAccuracyRequest(user_id=user_id, period_id=period_id)
        return self.worksheets.GetForecastAccuracy(request, metadata=self.auth(caller or user_id))

    def rollup(self, user_id: str) -> forecasting_pb2.Rollup:
        request = forecasting_pb2.GetRollupRequest(user_id=user_id, period_id=Q4)
        return self.forecasting.GetRollup(request, metadata=self.auth(user_id))

    def committed_events(self, count: int) -> list[tuple[str, int, worksheets_pb2.ForecastCommitted]]:
        """The ForecastCommitted events the relay published, once there are `count` of them, each
        as ("<user>/<period>/<kind>", version, payload) after checking the aggregate id names that."""
        subscriber = LocalLogSubscriber(
            self.settings.event_log_path, [self.settings.topic(TOPIC)], group_id="t"
        )
        found: list[tuple[str, int, worksheets_pb2.ForecastCommitted]] = []
        deadline = time.monotonic() + 30
        try:
            while len(found) < count and time.monotonic() < deadline:
                for record in subscriber.poll(100, 0.2):
                    envelope = decode_envelope(record.value)
                    if envelope.aggregate_type == "forecast":
                        payload = unpack_payload(envelope, worksheets_pb2.ForecastCommitted)
                        commit = payload.commit
                        kind = {REP: "rep", MANAGER: "manager"}[commit.kind]
                        # The contract: a UUID derived from "forecast/<user_id>/<period_id>/<kind>".
                        derived = derived_aggregate_id("forecast", commit.user_id, commit.period_id, kind)
                        assert envelope.aggregate_id == derived
                        named = f"{commit.user_id}/{commit.period_id}/{kind}"
                        found.append((named, envelope.aggregate_version, payload))
        finally:
            subscriber.close()
        return found

    def close(self) -> None:
        self._publisher.close()


@pytest.fixture
def running(tmp_path):
    # Every role: the consumer applies opportunity events, the relay publishes commits.
    with running_service(DEFINITION, tmp_path, roles="api,relay,consumer") as service:
        running = Running(service.process, service.channel, service.settings)
        for user in ORG:
            running.add_user(*user)
        for deal in DEALS:
            running.publish(*deal)
        running.wait_applied()
        yield running
        running.close()


def failure(call: object, *args: object, **kwargs: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        call(*args, **kwargs)  # type: ignore[operator]
    return raised.value.code()


def deals_by_id(sheet: worksheets_pb2.RepWorksheet) -> dict[str, worksheets_pb2.WorksheetDeal]:
    return {deal.opportunity_id: deal for deal in sheet.deals}


def summed_by_stage(sheet: worksheets_pb2.RepWorksheet) -> dict[str, int]:
    """The worksheet's rows added up the way the rollup counts them."""
    open_deals = [d for d in sheet.deals if d.status == "open"]
    included = [d for d in open_deals if d.commit_stage == INCLUDE]
    upside = [d for d in open_deals if d.commit_stage == UPSIDE]
    return {
        "closed_won": sum(d.likely.amount_minor for d in sheet.deals if d.status == "won"),
        "included_likely": sum(d.likely.amount_minor for d in included),
        "included_best": sum(d.best.amount_minor for d in included),
        "included_worst": sum(d.worst.amount_minor for d in included),
        "upside_likely": sum(d.likely.amount_minor for d in upside),
        "upside_best": sum(d.best.amount_minor for d in upside),
        "upside_worst": sum(d.worst.amount_minor for d in upside),
        "pipeline": sum(d.likely.amount_minor for d in open_deals),
        "open_count": len(open_deals),
        "included_count": len(included),
        "upside_count": len(upside),
    }


def totals_of(totals: forecasting_pb2.ForecastTotals) -> dict[str, int]:
    return {
        "closed_won": totals.closed_won.amount_minor,
        "included_likely": totals.included_likely.amount_minor,
        "included_best": totals.included_best.amount_minor,
        "included_worst": totals.included_worst.amount_minor,
        "upside_likely": totals.upside_likely.amount_minor,
        "upside_best": totals.upside_best.amount_minor,
        "upside_worst": totals.upside_worst.amount_minor,
        "pipeline": totals.pipeline.amount_minor,
        "open_count": totals.open_count,
        "included_count": totals.included_count,
        "upside_count": totals.upside_count,
    }


def test_a_rep_worksheet_lists_the_deals_in_their_stages_under_the_default_ranges(running):
    running.set_quota("ann", 200_000_00)

    sheet = running.rep_sheet("ann")

    assert (sheet.user_id, sheet.period_id, sheet.currency_code) == ("ann", Q4, "USD")
    deals = deals_by_id(sheet)
    assert sorted(deals) == ["a-acme", "a-globex", "a-hooli", "a-initech", "a-umbrella"]
    # Include from 70 %, upside 40-69 %, exclude below; closed deals have no stage.
    assert {i: (d.commit_stage, d.commit_stage_manual, d.status) for i, d in deals.items()} == {
        "a-acme": (INCLUDE, False, "open"),
        "a-globex": (UPSIDE, False, "open"),
        "a-initech": (EXCLUDE, False, "open"),
        "a-umbrella": (UNSPECIFIED, False, "won"),
        "a-hooli": (UNSPECIFIED, False, "lost"),
    }
    acme = deals["a-acme"]
    assert (acme.name, acme.account_name, acme.sales_stage, acme.probability) == (
        "Acme renewal",
        "Acme renewal Inc",
        "Proposal",
        80,
    )
    assert (acme.amount, acme.likely, acme.best, acme.worst) == (
        usd(100_000_00),
        usd(100_000_00),
        usd(120_000_00),
        usd(80_000_00),
    )
    assert acme.expected_close_date == Date(year=2026, month=11, day=15)
    assert acme.opportunity_version == 1
    assert sheet.totals.forecast_likely == usd(130_000_00)
    assert (sheet.quota, sheet.attainment_basis_points) == (usd(200_000_00), 1_500)
    assert (sheet.show_likely, sheet.show_best, sheet.show_worst) == (True, True, True)
    # Nothing committed yet, and there are deals.
    assert sheet.changed_since_commit and not sheet.HasField("last_commit")
    # Months work as well as quarters.
    assert [d.opportunity_id for d in running.rep_sheet("ann", period_id="2026-11").deals] == [
        d.opportunity_id for d in sheet.deals
    ]
    assert running.rep_sheet("ann", period_id="2026-10").deals == []


def test_the_worksheet_totals_are_the_live_own_rollup_and_equal_its_rows_summed(running):
    for user_id in ("ann", "bob", "mgr"):
        sheet = running.rep_sheet(user_id)
        assert sheet.totals == running.rollup(user_id).own
        assert totals_of(sheet.totals) == summed_by_stage(sheet)


def test_including_a_deal_by_hand_moves_the_totals_up_the_chain_and_survives_its_next_change(running):
    before_ann, before_mgr, before_vp = (running.rollup(u) for u in ("ann", "mgr", "vp"))

    deal = running.set_stage("a-globex", INCLUDE, caller="ann")

    assert (deal.opportunity_id, deal.commit_stage, deal.commit_stage_manual) == ("a-globex", INCLUDE, True)
    sheet = running.rep_sheet("ann")
    assert deals_by_id(sheet)["a-globex"].commit_stage_manual
    added = 50_000_00
    assert sheet.totals.included_likely.amount_minor == before_ann.own.included_likely.amount_minor + added
    assert sheet.totals.upside_likely.amount_minor == before_ann.own.upside_likely.amount_minor - added
    assert totals_of(sheet.totals) == summed_by_stage(sheet)
    for user_id, before in (("mgr", before_mgr), ("vp", before_vp)):
        team = running.rollup(user_id).team
        assert team.included_likely.amount_minor == before.team.included_likely.amount_minor + added
        assert team.included_best.amount_minor == before.team.included_best.amount_minor + 60_000_00

    # The opportunity changes (amount and probability): the rep's choice stays.
    running.publish("a-globex", "ann", "Globex", 60_000_00, 45)
    running.wait_applied()
    globex = deals_by_id(running.rep_sheet("ann"))["a-globex"]
    assert (globex.commit_stage, globex.commit_stage_manual, globex.likely) == (INCLUDE, True, usd(60_000_00))
    assert running.rollup("mgr").team.included_likely.amount_minor == (
        before_mgr.team.included_likely.amount_minor + 60_000_00
    )

    # Unspecified: the ranges decide again.
    back = running.set_stage("a-globex", UNSPECIFIED, caller="ann")
    assert (back.commit_stage, back.commit_stage_manual) == (UPSIDE, False)
    assert running.rollup("vp").team.included_likely == before_vp.team.included_likely
    # Excluding an include deal by hand takes it out of the forecast.
    excluded = running.set_stage("a-acme", EXCLUDE, caller="ann")
    assert excluded.commit_stage == EXCLUDE
    assert running.rep_sheet("ann").totals.forecast_likely == usd(30_000_00)


def test_a_manager_views_a_reports_worksheet_but_cannot_edit_it(running):
    running.save_draft("ann", note="wip")

    seen = running.rep_sheet("ann", caller="mgr")
    assert len(seen.deals) == 5
    assert not seen.HasField("draft")
    assert running.rep_sheet("ann", caller="ann").HasField("draft")
    assert running.rep_sheet("ann", caller="vp").deals == seen.deals
    assert running.rep_sheet("ann", caller="root").deals == seen.deals
    denied = grpc.StatusCode.PERMISSION_DENIED
    assert failure(running.set_stage, "a-globex", INCLUDE, caller="mgr") == denied
    assert failure(running.set_stage, "a-globex", INCLUDE, caller="root") == denied
    assert failure(running.commit, "ann", caller="mgr") == denied
    assert failure(running.save_draft, "ann", caller="mgr") == denied
    # Peers and reports see nothing of each other.
    assert failure(running.rep_sheet, "ann", caller="bob") == denied
    assert failure(running.rep_sheet, "mgr", caller="ann") == denied
    assert failure(running.commits, "ann", caller="bob") == denied
    assert failure(running.accuracy, "mgr", caller="ann") == denied


def test_drafts_then_commits_with_what_changed(running):
    draft = running.save_draft("ann", note="first pass")
    assert (draft.committed, draft.sequence, draft.note, draft.author) == (False, 0, "first pass", "ann")
    assert (draft.kind, draft.likely, draft.best, draft.worst, draft.closed_won) == (
        REP,
        usd(130_000_00),
        usd(150_000_00),
        usd(110_000_00),
        usd(30_000_00),
    )
    assert [(row.key, row.label, row.commit_stage) for row in draft.rows] == [
        (d.opportunity_id, d.name, d.commit_stage) for d in running.rep_sheet("ann").deals
    ]
    again = running.save_draft("ann", note="second pass")
    assert running.rep_sheet("ann").draft == again
    assert again.snapshot_id != draft.snapshot_id

    first = running.commit("ann", note="Q4 call")
    assert (first.committed, first.sequence, list(first.changes), first.note) == (
        True,
        1,
        ["first commit"],
        "Q4 call",
    )
    assert first.likely == usd(130_000_00)
    sheet = running.rep_sheet("ann")
    assert not sheet.HasField("draft")
    assert sheet.last_commit == first
    assert (sheet.changed_since_commit, list(sheet.changes_since_commit)) == (False, [])

    running.publish("a-acme", "ann", "Acme renewal", 120_000_00, 80)
    running.publish("a-new", "ann", "Soylent", 1_000_00, 10)
    running.wait_applied()
    sheet = running.rep_sheet("ann")
    assert sheet.changed_since_commit
    assert list(sheet.changes_since_commit)[:1] == ["likely up from 130,000.00 to 150,000.00"]
    assert "deal Soylent added" in sheet.changes_since_commit

    second = running.commit("ann")
    assert second.sequence == 2
    assert list(second.changes) == [
        "likely up from 130,000.00 to 150,000.00",
        "best up from 150,000.00 to 174,000.00",
        "worst up from 110,000.00 to 126,000.00",
        "deal Acme renewal likely up from 100,000.00 to 120,000.00",
        "deal Acme renewal best up from 120,000.00 to 144,000.00",
        "deal Acme renewal worst up from 80,000.00 to 96,000.00",
        "deal Soylent added",
    ]
    assert running.commits("ann") == [second, first]
    assert running.commits("ann", caller="mgr") == [second, first]
    assert running.commits("ann", MANAGER) == []
    # Drafts never show in the history.
    running.save_draft("ann")
    assert [c.sequence for c in running.commits("ann", REP)] == [2, 1]

    events = running.committed_events(2)
    assert [(aggregate_id, version) for aggregate_id, version, _ in events] == [
        ("ann/2026-Q4/rep", 1),
        ("ann/2026-Q4/rep", 2),
    ]
    assert [payload.commit for _, _, payload in events] == [first, second]


def test_manager_rows_come_from_the_reports_commits_and_keep_the_managers_adjustments(running):
    running.set_quota("mgr", 300_000_00)
    running.set_quota("mgr", 50_000_00, kind="direct")
    running.set_quota("ann", 200_000_00)
    running.set_quota("bob", 100_000_00)
    ann_commit = running.commit("ann")
    bob_commit = running.commit("bob")
    own_commit = running.commit("mgr")  # Mia's own deals, a rep commit

    sheet = running.manager_sheet("mgr")

    rows = {row.user_id: row for row in sheet.rows}
    assert [(row.user_id, row.display_name, row.own) for row in sheet.rows] == [
        ("mgr", "Mia", True),
        ("ann", "Ann", False),
        ("bob", "Bob", False),
    ]
    assert rows["ann"].latest_commit == ann_commit
    assert rows["bob"].latest_commit == bob_commit
    assert rows["mgr"].latest_commit == own_commit
    assert (rows["ann"].likely, rows["ann"].best, rows["ann"].worst) == (
        ann_commit.likely,
        ann_commit.best,
        ann_commit.worst,
    )
    assert (rows["ann"].quota, rows["bob"].quota, rows["mgr"].quota) == (
        usd(200_000_00),
        usd(100_000_00),
        usd(50_000_00),
    )
    assert (rows["ann"].closed_won, rows["bob"].closed_won, rows["mgr"].closed_won) == (
        usd(30_000_00),
        usd(10_000_00),
        usd(0),
    )
    assert sheet.likely.amount_minor == sum(row.likely.amount_minor for row in sheet.rows)
    assert sheet.likely == usd(130_000_00 + 50_000_00 + 25_000_00)
    assert sheet.quota == usd(300_000_00)
    assert sheet.team == running.rollup("mgr").team
    assert sheet.changed_since_commit and not sheet.HasField("last_commit")

    adjusted = running.adjust("mgr", "ann", likely_minor=100_000_00)
    ann_row = next(row for row in adjusted.rows if row.user_id == "ann")
    assert (ann_row.likely, ann_row.best) == (usd(100_000_00), ann_commit.best)
    assert ann_row.adjusted_likely == usd(100_000_00)
    assert not ann_row.HasField("adjusted_best")
    assert not ann_row.committed_after_adjustment
    assert adjusted.likely.amount_minor == sheet.likely.amount_minor - 30_000_00

    # Ann commits again: the adjustment stays, and the row says she re-committed.
    running.publish("a-acme", "ann", "Acme renewal", 110_000_00, 80)
    running.wait_applied()
    ann_again = running.commit("ann")
    ann_row = next(row for row in running.manager_sheet("mgr").rows if row.user_id == "ann")
    assert ann_row.latest_commit == ann_again
    assert (ann_row.likely, ann_row.committed_after_adjustment) == (usd(100_000_00), True)

    # Mia commits her team upward; Vera sees it as Mia's row.
    team_commit = running.commit("mgr", MANAGER, note="team call")
    assert (team_commit.kind, team_commit.sequence, list(team_commit.changes)) == (
        MANAGER,
        1,
        ["first commit"],
    )
    assert team_commit.likely == usd(100_000_00 + 50_000_00 + 25_000_00)
    assert team_commit.closed_won == usd(40_000_00)
    assert team_commit.quota == usd(300_000_00)
    assert [(row.key, row.label, row.adjusted) for row in team_commit.rows] == [
        ("mgr", "Mia", False),
        ("ann", "Ann", True),
        ("bob", "Bob", False),
    ]
    vp_sheet = running.manager_sheet("vp")
    assert [(row.user_id, row.own) for row in vp_sheet.rows] == [("vp", True), ("mgr", False)]
    mia_row = vp_sheet.rows[1]
    assert mia_row.latest_commit == team_commit
    assert (mia_row.likely, mia_row.closed_won) == (team_commit.likely, usd(40_000_00))
    assert vp_sheet.likely == team_commit.likely
    # A manager views the worksheet of a manager below, but no draft of theirs.
    running.save_draft("mgr", MANAGER)
    assert running.manager_sheet("mgr").HasField("draft")
    assert not running.manager_sheet("mgr", caller="vp").HasField("draft")

    # Clearing every amount removes the adjustment.
    cleared = running.adjust("mgr", "ann")
    ann_row = next(row for row in cleared.rows if row.user_id == "ann")
    assert (ann_row.likely, ann_row.HasField("adjusted_likely")) == (ann_again.likely, False)
    second_team = running.commit("mgr", MANAGER)
    assert second_team.sequence == 2
    assert (
        f"row Ann likely up from 100,000.00 to {ann_again.likely.amount_minor // 100:,}.00"
        in second_team.changes
    )
    assert [c.kind for c in running.commits("mgr")] == [MANAGER, MANAGER, REP]
    assert [c.sequence for c in running.commits("mgr", MANAGER, caller="vp")] == [2, 1]
    events = running.committed_events(6)
    assert sorted((aggregate_id, version) for aggregate_id, version, _ in events) == [
        ("ann/2026-Q4/rep", 1),
        ("ann/2026-Q4/rep", 2),
        ("bob/2026-Q4/rep", 1),
        ("mgr/2026-Q4/manager", 1),
        ("mgr/2026-Q4/manager", 2),
        ("mgr/2026-Q4/rep", 1),
    ]


def test_forecast_accuracy_compares_commits_with_closed_won(running):
    running.set_quota("ann", 200_000_00)
    running.commit("ann")
    running.commit("mgr")
    running.commit("mgr", MANAGER)

    accuracy = running.accuracy("mgr")

    end_of_q4 = date(2026, 12, 31)
    assert accuracy.period_closed == (datetime.now(UTC).date() > end_of_q4)
    assert accuracy.currency_code == "USD"
    rows = {row.user_id: row for row in accuracy.rows}
    assert sorted(rows) == ["ann", "bob"]
    ann = rows["ann"]
    assert (ann.display_name, ann.committed_likely, ann.actual_closed_won) == (
        "Ann",
        usd(130_000_00),
        usd(30_000_00),
    )
    assert (ann.difference, ann.accuracy_basis_points, ann.quota) == (
        usd(-100_000_00),
        2_308,
        usd(200_000_00),
    )
    bob = rows["bob"]
    assert not bob.HasField("committed_likely")
    assert (bob.actual_closed_won, bob.difference, bob.accuracy_basis_points) == (
        usd(10_000_00),
        usd(10_000_00),
        0,
    )
    # Mia's own deals against her rep commit; her team against her team commit.
    assert (accuracy.own.committed_likely, accuracy.own.actual_closed_won) == (usd(25_000_00), usd(0))
    assert accuracy.team.committed_likely == usd(130_000_00 + 25_000_00)
    assert accuracy.team.actual_closed_won == usd(40_000_00)

    # Vera's row for Mia is Mia's team commit against her team's closed won.
    vera = running.accuracy("vp")
    assert [(row.user_id, row.committed_likely, row.actual_closed_won) for row in vera.rows] == [
        ("mgr", usd(155_000_00), usd(40_000_00))
    ]
    assert not vera.team.HasField("committed_likely")
    # A rep's team is themselves.
    ann_view = running.accuracy("ann")
    assert list(ann_view.rows) == []
    assert ann_view.own == ann_view.team
    # A period that is over.
    assert running.accuracy("mgr", period_id="2026-Q1").period_closed


def test_error_cases_answer_with_the_right_status(running):
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    ws = running.worksheets
    auth = running.auth("ann")
    assert failure(running.rep_sheet, "ann", period_id="Q4") == invalid
    bad_user = worksheets_pb2.GetWorksheetRequest(user_id="bad user", period_id=Q4)
    assert failure(ws.GetRepWorksheet, bad_user, metadata=running.auth("root")) == invalid
    assert failure(ws.GetRepWorksheet, worksheets_pb2.GetWorksheetRequest(period_id=Q4)) == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    assert failure(running.set_stage, "a-globex", 9, caller="ann") == invalid
    assert failure(running.set_stage, "", INCLUDE, caller="ann") == invalid
    assert failure(running.set_stage, "no-such-deal", INCLUDE, caller="ann") == grpc.StatusCode.NOT_FOUND
    precondition = grpc.StatusCode.FAILED_PRECONDITION
    assert failure(running.set_stage, "a-umbrella", INCLUDE, caller="ann") == precondition
    assert failure(running.set_stage, "a-hooli", INCLUDE, caller="ann") == precondition
    assert failure(running.commit, "ann", 7) == invalid
    assert failure(running.commit, "ann", note="bad\x00note") == invalid
    assert failure(running.commit, "ann", MANAGER) == precondition
    assert failure(running.save_draft, "ann", MANAGER) == precondition
    assert failure(running.manager_sheet, "ann") == precondition
    assert failure(running.adjust, "mgr", "ann", caller="ann") == grpc.StatusCode.PERMISSION_DENIED
    assert failure(running.adjust, "mgr", "vp") == precondition
    assert failure(running.adjust, "mgr", "nobody") == grpc.StatusCode.NOT_FOUND
    assert failure(running.adjust, "mgr", "ann", likely_minor=-1) == invalid
    assert failure(running.adjust, "ann", "ann") == precondition
    assert failure(running.accuracy, "ann", period_id="2026-Q5") == invalid
    list_request = worksheets_pb2.ListForecastCommitsRequest(user_id="ann", period_id=Q4, kind=5)
    assert failure(ws.ListForecastCommits, list_request, metadata=auth) == invalid
    # Nothing of the failures was written.
    with running.process.context.session_factory() as session:
        assert session.execute(select(tables.forecast_snapshots)).first() is None
        assert session.execute(select(tables.manager_adjustments)).first() is None
        assert session.execute(select(tables.commit_stage_overrides)).first() is None
        assert rollup_store.read_rollup(session, "ann", Q4).own.included_likely_minor == 100_000_00


def test_a_second_commit_with_the_same_sequence_is_a_conflict(running):
    """What a concurrent double commit comes to: both read the same previous sequence, and the
    unique index lets only the first insert in."""
    first = running.commit("ann")
    with running.process.context.session_factory() as session:
        stored = snapshot_store.latest_commit(session, "ann", Q4, SnapshotKind.REP)
        assert stored is not None and stored.sequence == first.sequence
        twin = dataclasses.replace(stored, snapshot_id="00000000-0000-4000-8000-000000000000")
        with pytest.raises(Conflict):
            snapshot_store.insert_commit(session, twin)
        # The savepoint kept the transaction usable.
        assert snapshot_store.latest_commit(session, "ann", Q4, SnapshotKind.REP) == stored
        session.rollback()
