"""QuotaService over a real gRPC channel to an in-process forecasting service on SQLite.

The organisation: the VP at the top; two managers, east and west, under the VP; two reps under east.
"""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import func, select

from salesplane.common.v1.common_pb2 import Money
from salesplane.forecasting.v1 import org_pb2, org_pb2_grpc, quotas_pb2, quotas_pb2_grpc
from salesplane_forecasting.adapters import tables
from salesplane_forecasting.domain.quotas import QuotaKind, quota_aggregate_id
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.identity import issue_token
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings
from salesplane_testing.in_process import running_service

Q4 = "2026-Q4"
ASSIGNED, DIRECT = quotas_pb2.QUOTA_KIND_ASSIGNED, quotas_pb2.QUOTA_KIND_DIRECT
ORG = [
    ("vp", "Vera", "", "manager"),
    ("east", "Eve", "vp", "manager"),
    ("west", "Walt", "vp", "manager"),
    ("rep-e1", "Rita", "east", "rep"),
    ("rep-e2", "Rolf", "east", "rep"),
]
ROLES = {user_id: role for user_id, _, _, role in ORG} | {"root": "admin", "nobody": "manager"}


def usd(amount_minor: int) -> Money:
    return Money(currency_code="USD", amount_minor=amount_minor)


def allocation(user_id: str, amount_minor: int, kind: int = ASSIGNED) -> quotas_pb2.DraftAllocation:
    return quotas_pb2.DraftAllocation(user_id=user_id, kind=kind, amount=usd(amount_minor))


class Running:
    def __init__(self, process: ServiceProcess, channel: grpc.Channel, settings: ServiceSettings) -> None:
        self.process = process
        self.quotas = quotas_pb2_grpc.QuotaServiceStub(channel)
        self.org = org_pb2_grpc.OrgServiceStub(channel)
        self._secret = settings.auth_secret

    def auth(self, subject: str) -> list[tuple[str, str]]:
        token = issue_token(self._secret, subject, [ROLES.get(subject, "rep")])
        return [("authorization", f"Bearer {token}")]

    def move(self, user_id: str, manager_user_id: str) -> None:
        name, role = next((n, r) for u, n, _, r in ORG if u == user_id)
        user = org_pb2.User(
            user_id=user_id, display_name=name, roles=[role], manager_user_id=manager_user_id, active=True
        )
        self.org.UpsertUser(org_pb2.UpsertUserRequest(user=user), metadata=self.auth("root"))

    def set_quota(self, user_id: str, amount_minor: int, period_id: str = Q4) -> quotas_pb2.Quota:
        request = quotas_pb2.SetQuotaRequest(user_id=user_id, period_id=period_id, amount=usd(amount_minor))
        return self.quotas.SetQuota(request, metadata=self.auth("root"))

    def quota(self, user_id: str, *, caller: str, kind: int = ASSIGNED) -> quotas_pb2.Quota:
        request = quotas_pb2.GetQuotaRequest(user_id=user_id, period_id=Q4, kind=kind)
        return self.quotas.GetQuota(request, metadata=self.auth(caller))

    def plan(self, manager: str, *, caller: str) -> quotas_pb2.QuotaPlan:
        request = quotas_pb2.GetQuotaPlanRequest(manager_user_id=manager, period_id=Q4)
        return self.quotas.GetQuotaPlan(request, metadata=self.auth(caller))

    def save(
        self, manager: str, *allocations: quotas_pb2.DraftAllocation, caller: str = ""
    ) -> quotas_pb2.QuotaPlan:
        request = quotas_pb2.SaveQuotaDraftRequest(
            manager_user_id=manager, period_id=Q4, allocations=allocations
        )
        return self.quotas.SaveQuotaDraft(request, metadata=self.auth(caller or manager))

    def commit(self, manager: str, *, caller: str = "") -> quotas_pb2.QuotaPlan:
        request = quotas_pb2.CommitQuotaPlanRequest(manager_user_id=manager, period_id=Q4)
        return self.quotas.CommitQuotaPlan(request, metadata=self.auth(caller or manager))

    def changes(self, user_id: str, *, caller: str, period_id: str = Q4) -> list[quotas_pb2.QuotaChange]:
        request = quotas_pb2.ListQuotaChangesRequest(user_id=user_id, period_id=period_id)
        return list(self.quotas.ListQuotaChanges(request, metadata=self.auth(caller)).changes)

    def quota_events(self) -> list[tuple[str, int, quotas_pb2.QuotaCommitted]]:
        outbox = tables.platform.outbox
        with self.process.context.engine.connect() as connection:
            rows = connection.execute(
                select(outbox.c.aggregate_id, outbox.c.aggregate_version, outbox.c.payload)
                .where(outbox.c.aggregate_type == "quota")
                .order_by(outbox.c.id)
            ).all()
        return [
            (
                row.aggregate_id,
                row.aggregate_version,
                unpack_payload(decode_envelope(row.payload), quotas_pb2.QuotaCommitted),
            )
            for row in rows
        ]

    def count(self, table: object) -> int:
        with self.process.context.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(table)).scalar_one()  # type: ignore[arg-type]


@pytest.fixture
def running(tmp_path):
    # API only: no relay emptying the outbox in the background.
    with running_service(DEFINITION, tmp_path) as service:
        running = Running(service.process, service.channel, service.settings)
        for user_id, _, manager, _ in ORG:
            running.move(user_id, manager)
        yield running


@pytest.fixture
def vp_with_target(running):
    running.set_quota("vp", 1_000_000)
    return running


def rows_of(plan: quotas_pb2.QuotaPlan) -> dict[tuple[str, int], tuple[int | None, int | None]]:
    """(user, kind) -> (committed, draft), None where absent."""
    return {
        (row.user_id, row.kind): (
            row.committed.amount_minor if row.HasField("committed") else None,
            row.draft.amount_minor if row.HasField("draft") else None,
        )
        for row in plan.allocations
    }


def gap_of(plan: quotas_pb2.QuotaPlan) -> tuple[int, int]:
    return plan.allocated.amount_minor, plan.unallocated.amount_minor


def failure(call: object, *args: object, **kwargs: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(*args, **kwargs)  # type: ignore[operator]
    return raised.value


def violated_fields(error: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(error)
    bad_request = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad_request) for detail in status.details)
    return [v.field for v in bad_request.field_violations]


def test_an_admin_sets_the_vps_target_and_the_vp_reads_it(running):
    set_quota = running.set_quota("vp", 1_000_000)

    read = running.quota("vp", caller="vp")
    assert read == set_quota
    assert (read.kind, read.amount, read.committed_by, read.version) == (ASSIGNED, usd(1_000_000), "root", 1)
    assert running.plan("vp", caller="vp").quota == usd(1_000_000)


def test_setting_the_same_target_again_records_nothing_new(running):
    running.set_quota("vp", 1_000_000)

    again = running.set_quota("vp", 1_000_000)

    assert again.version == 1
    assert len(running.changes("vp", caller="root")) == 1
    assert len(running.quota_events()) == 1


def test_the_vps_split_is_a_draft_that_only_the_vp_sees(vp_with_target):
    running = vp_with_target

    saved = running.save(
        "vp", allocation("east", 400_000), allocation("west", 400_000), allocation("vp", 100_000, DIRECT)
    )

    assert saved.has_draft
    assert saved.quota == usd(1_000_000)
    assert rows_of(saved) == {
        ("east", ASSIGNED): (None, 400_000),
        ("west", ASSIGNED): (None, 400_000),
        ("vp", DIRECT): (None, 100_000),
    }
    assert [row.display_name for row in saved.allocations] == ["Eve", "Walt", "Vera"]
    assert gap_of(saved) == (900_000, 100_000)
    assert saved.HasField("draft_update_time")
    assert running.plan("vp", caller="vp") == saved

    # The managers under the VP get no quota from a draft, nor may they read their manager's plan.
    assert failure(running.quota, "east", caller="east").code() == grpc.StatusCode.NOT_FOUND
    assert running.plan("east", caller="east").HasField("quota") is False
    assert failure(running.plan, "vp", caller="east").code() == grpc.StatusCode.PERMISSION_DENIED
    # Anyone else allowed to read the plan sees what is committed: nothing allocated yet.
    seen_by_admin = running.plan("vp", caller="root")
    assert not seen_by_admin.has_draft
    assert not seen_by_admin.HasField("draft_update_time")
    assert set(rows_of(seen_by_admin).values()) == {(None, None)}
    assert gap_of(seen_by_admin) == (0, 1_000_000)


def test_after_the_commit_each_manager_sees_their_quota(vp_with_target):
    running = vp_with_target
    running.save(
        "vp", allocation("east", 400_000), allocation("west", 400_000), allocation("vp", 100_000, DIRECT)
    )

    committed = running.commit("vp")

    assert not committed.has_draft
    assert rows_of(committed) == {
        ("east", ASSIGNED): (400_000, None),
        ("west", ASSIGNED): (400_000, None),
        ("vp", DIRECT): (100_000, None),
    }
    assert gap_of(committed) == (900_000, 100_000)
    assert committed.HasField("last_commit_time")
    east = running.quota("east", caller="east")
    assert (east.amount, east.committed_by, east.version) == (usd(400_000), "vp", 1)
    assert running.quota("vp", caller="vp", kind=DIRECT).amount == usd(100_000)
    east_plan = running.plan("east", caller="east")
    assert east_plan.quota == usd(400_000)
    assert gap_of(east_plan) == (0, 400_000)
    assert running.plan("vp", caller="root") == committed


def test_an_over_allocated_plan_shows_a_negative_gap_and_may_still_be_committed(vp_with_target):
    running = vp_with_target

    saved = running.save(
        "vp", allocation("east", 600_000), allocation("west", 500_000), allocation("vp", 0, DIRECT)
    )

    assert gap_of(saved) == (1_100_000, -100_000)
    committed = running.commit("vp")
    assert gap_of(committed) == (1_100_000, -100_000)
    assert running.quota("west", caller="west").amount == usd(500_000)


def test_a_draft_that_leaves_a_committed_row_unchanged_commits_only_the_rest(vp_with_target):
    running = vp_with_target
    running.save("vp", allocation("east", 400_000), allocation("west", 400_000))
    running.commit("vp")

    saved = running.save("vp", allocation("east", 400_000), allocation("west", 450_000))

    assert rows_of(saved)["east", ASSIGNED] == (400_000, None)
    assert rows_of(saved)["west", ASSIGNED] == (400_000, 450_000)
    assert gap_of(saved) == (850_000, 150_000)
    running.commit("vp")
    assert running.quota("east", caller="east").version == 1
    assert running.quota("west", caller="west").version == 2


def test_a_manager_then_splits_their_quota_among_their_reps(vp_with_target):
    running = vp_with_target
    running.save("vp", allocation("east", 400_000))
    running.commit("vp")

    saved = running.save("east", allocation("rep-e1", 250_000), allocation("rep-e2", 150_000))

    assert gap_of(saved) == (400_000, 0)
    running.commit("east")
    rita = running.quota("rep-e1", caller="rep-e1")
    assert (rita.amount, rita.committed_by) == (usd(250_000), "east")
    # The VP, above east, reads the reps' quotas too; one rep not the other's.
    assert running.quota("rep-e2", caller="vp").amount == usd(150_000)
    assert failure(running.quota, "rep-e2", caller="rep-e1").code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_history_says_who_changed_a_quota_from_what_to_what_newest_first(vp_with_target):
    running = vp_with_target
    running.save("vp", allocation("east", 400_000))
    running.commit("vp")
    running.save("vp", allocation("east", 450_000))
    running.commit("vp")

    changes = running.changes("east", caller="east")

    assert [(c.changed_by, c.HasField("from_amount"), c.from_amount, c.to_amount) for c in changes] == [
        ("vp", True, usd(400_000), usd(450_000)),
        ("vp", False, Money(), usd(400_000)),
    ]
    assert all((c.user_id, c.period_id, c.kind) == ("east", Q4, ASSIGNED) for c in changes)
    assert changes[0].change_time.ToDatetime() >= changes[1].change_time.ToDatetime()
    assert running.changes("east", caller="vp", period_id="") == changes
    assert running.changes("east", caller="east", period_id="2027-Q1") == []


def test_every_committed_allocation_publishes_a_quota_committed_event(vp_with_target):
    running = vp_with_target
    running.save(
        "vp", allocation("east", 400_000), allocation("west", 400_000), allocation("vp", 100_000, DIRECT)
    )
    running.commit("vp")
    running.save("vp", allocation("east", 300_000), allocation("west", 400_000))
    running.commit("vp")

    events = running.quota_events()

    # The aggregate id is derived from user, period and kind; the payload names them.
    named = {
        quota_aggregate_id(u, "2026-Q4", k): f"{u}/2026-Q4/{k.value}"
        for u in ("vp", "east", "west")
        for k in (QuotaKind.ASSIGNED, QuotaKind.DIRECT)
    }
    published = [(named[aggregate_id], version) for aggregate_id, version, _ in events]
    assert published[0] == ("vp/2026-Q4/assigned", 1)
    assert sorted(published[1:4]) == [
        ("east/2026-Q4/assigned", 1),
        ("vp/2026-Q4/direct", 1),
        ("west/2026-Q4/assigned", 1),
    ]
    # West was left as committed: only east changed the second time.
    assert published[4:] == [("east/2026-Q4/assigned", 2)]
    last = events[-1][2]
    assert (last.quota.user_id, last.quota.amount, last.quota.version, last.quota.committed_by) == (
        "east",
        usd(300_000),
        2,
        "vp",
    )
    assert (last.change.from_amount, last.change.to_amount, last.change.changed_by) == (
        usd(400_000),
        usd(300_000),
        "vp",
    )


def test_a_commit_drops_the_draft_so_committing_again_needs_a_new_one(vp_with_target):
    running = vp_with_target
    running.save("vp", allocation("east", 400_000))
    running.commit("vp")

    error = failure(running.commit, "vp")

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert running.count(tables.quota_drafts) == 0


def test_saving_an_empty_draft_discards_it(vp_with_target):
    running = vp_with_target
    running.save("vp", allocation("east", 400_000))

    emptied = running.save("vp")

    assert not emptied.has_draft
    assert failure(running.commit, "vp").code() == grpc.StatusCode.FAILED_PRECONDITION


def test_only_the_manager_writes_their_draft_not_a_rep_nor_an_admin(vp_with_target):
    running = vp_with_target

    by_rep = failure(running.save, "east", allocation("rep-e1", 1), caller="rep-e1")
    by_admin = failure(running.save, "vp", allocation("east", 1), caller="root")
    by_other_manager = failure(running.save, "east", allocation("rep-e1", 1), caller="west")
    commit_by_admin = failure(running.commit, "vp", caller="root")

    codes = {e.code() for e in (by_rep, by_admin, by_other_manager, commit_by_admin)}
    assert codes == {grpc.StatusCode.PERMISSION_DENIED}
    assert running.count(tables.quota_drafts) == 0


def test_only_an_admin_sets_a_quota_directly(running):
    request = quotas_pb2.SetQuotaRequest(user_id="east", period_id=Q4, amount=usd(1))

    error = failure(running.quotas.SetQuota, request, metadata=running.auth("vp"))

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_user_outside_the_managers_direct_reports_is_refused_by_field(vp_with_target):
    running = vp_with_target
    running.save("vp", allocation("east", 400_000))

    # rep-e1 is under the VP, but not directly.
    error = failure(running.save, "vp", allocation("west", 1), allocation("rep-e1", 2))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "allocations[1].user_id" in error.details()
    # The earlier draft stands.
    assert rows_of(running.plan("vp", caller="vp"))["east", ASSIGNED] == (None, 400_000)


def test_a_report_who_moved_away_after_the_draft_is_not_committed(vp_with_target):
    running = vp_with_target
    running.save("vp", allocation("east", 400_000), allocation("west", 400_000))
    running.move("west", "east")

    error = failure(running.commit, "vp")

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "west" in error.details()
    assert failure(running.quota, "east", caller="east").code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("allocations", "field"),
    [
        ([allocation("east", -1)], "allocations[0].amount.amount_minor"),
        ([quotas_pb2.DraftAllocation(user_id="east", kind=ASSIGNED)], "allocations[0].amount"),
        ([allocation("east", 1), allocation("east", 2)], "allocations[1].user_id"),
        ([allocation("east", 1, DIRECT)], "allocations[0].user_id"),
        ([allocation("vp", 1, ASSIGNED)], "allocations[0].user_id"),
        ([allocation("east", 1, quotas_pb2.QUOTA_KIND_UNSPECIFIED)], "allocations[0].kind"),
    ],
    ids=[
        "negative",
        "no amount",
        "duplicate",
        "direct for a report",
        "assigned to self",
        "no kind",
    ],
)
def test_a_malformed_draft_is_an_invalid_argument_naming_the_field(vp_with_target, allocations, field):
    error = failure(vp_with_target.save, "vp", *allocations)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == [field]


def test_a_target_in_another_currency_than_the_base_one_is_a_failed_precondition_naming_the_field(running):
    request = quotas_pb2.SetQuotaRequest(
        user_id="vp", period_id=Q4, amount=Money(currency_code="EUR", amount_minor=1)
    )

    error = failure(running.quotas.SetQuota, request, metadata=running.auth("root"))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert violated_fields(error) == ["amount.currency_code"]


def test_a_draft_in_another_currency_than_the_base_one_is_a_failed_precondition(vp_with_target):
    wrong = quotas_pb2.DraftAllocation(
        user_id="east", kind=ASSIGNED, amount=Money(currency_code="EUR", amount_minor=1)
    )

    error = failure(vp_with_target.save, "vp", wrong)

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert violated_fields(error) == ["allocations[0].amount.currency_code"]


@pytest.mark.parametrize("period_id", ["2026-Q5", "Q4", "2026-13", ""])
def test_a_bad_period_is_an_invalid_argument(running, period_id):
    set_error = failure(running.set_quota, "vp", 1, period_id=period_id)
    request = quotas_pb2.GetQuotaPlanRequest(manager_user_id="vp", period_id=period_id)
    plan_error = failure(running.quotas.GetQuotaPlan, request, metadata=running.auth("vp"))

    for error in (set_error, plan_error):
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(error) == ["period_id"]


def test_committing_without_a_draft_is_a_failed_precondition(vp_with_target):
    error = failure(vp_with_target.commit, "east")

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_an_unknown_user_is_not_found(running):
    assert failure(running.set_quota, "nobody", 1).code() == grpc.StatusCode.NOT_FOUND
    assert failure(running.plan, "nobody", caller="root").code() == grpc.StatusCode.NOT_FOUND
    # A manager the organisation does not know (yet), saving their own draft.
    assert failure(running.save, "nobody", caller="nobody").code() == grpc.StatusCode.NOT_FOUND
