"""What one inspection reads, in a fixed number of queries however large the team: the period's
tracked deals and deal facts of every owner in scope, the rows' committed quotas and latest commits,
and the trailing periods' won and lost sums and commits. Each row then takes its owners' share.

A row is a user's own deals, or a direct report's whole team; the team row of an inspection is the
sum of its rows. Loading per row instead (as this did first) costs a dozen queries per direct report
and per past period; for the VP's five rows over 5,000 users it was the difference between one
round of queries and hundreds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.domain.inspection.deal_history import DealFacts
from salesplane_forecasting.domain.inspection.rep_figures import PastPeriod
from salesplane_forecasting.domain.org import User
from salesplane_forecasting.domain.periods import Period
from salesplane_forecasting.domain.quotas import QuotaKind
from salesplane_forecasting.domain.worksheets import Snapshot, SnapshotKind
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork


@dataclass(frozen=True)
class RowSpec:
    """Whose figures a row holds, and against which quota and commit."""

    user_id: str
    display_name: str
    # A direct report's whole team (their reports' deals and their own).
    as_team: bool
    # A manager's own deals in their own inspection: the direct quota, and no commit of its own
    # (a manager's commit is the team's).
    own_of_manager: bool
    owners: tuple[str, ...]

    @property
    def quota_kind(self) -> QuotaKind:
        return QuotaKind.DIRECT if self.own_of_manager else QuotaKind.ASSIGNED

    @property
    def commit_kind(self) -> SnapshotKind | None:
        if self.own_of_manager:
            return None
        return SnapshotKind.MANAGER if self.as_team else SnapshotKind.REP


@dataclass(frozen=True)
class RowData:
    deals: tuple[Deal, ...]
    # Open deals closing in the period or after it (the ones pushed out of it).
    facts: tuple[DealFacts, ...]
    quota_minor: int | None
    commit: Snapshot | None
    # Trailing periods, oldest first, with the row's commit for each.
    history: tuple[PastPeriod, ...]


@dataclass(frozen=True)
class TeamData:
    quota_minor: int | None
    commit: Snapshot | None
    # The manager's commit for each trailing period.
    past_commits: Mapping[str, int | None]


def team_rows(manager: User, subtree: Sequence[User]) -> list[RowSpec]:
    """A row per direct report (their team when they have reports) and the manager's own row.

    subtree is everyone below the manager; each is assigned to the direct report above them by
    walking up the reporting line."""
    by_id = {user.user_id: user for user in subtree}
    owners: dict[str, list[str]] = defaultdict(list)
    for user in subtree:
        top = _direct_report_above(user, by_id, manager.user_id)
        if top is not None:
            owners[top].append(user.user_id)
    managers = {user.manager_user_id for user in subtree}
    rows = [
        RowSpec(
            user.user_id,
            user.display_name,
            as_team=user.user_id in managers,
            own_of_manager=False,
            owners=tuple(sorted(owners[user.user_id])),
        )
        for user in subtree
        if user.manager_user_id == manager.user_id
    ]
    rows.append(
        RowSpec(
            manager.user_id,
            manager.display_name,
            as_team=False,
            own_of_manager=True,
            owners=(manager.user_id,),
        )
    )
    return rows


def load_rows(
    uow: ForecastingUnitOfWork, period: Period, past: Sequence[Period], rows: Sequence[RowSpec]
) -> dict[str, RowData]:
    """Every row's data, by row user id."""
    owners = sorted({owner for row in rows for owner in row.owners})
    row_of = {owner: row.user_id for row in rows for owner in row.owners}
    deals: dict[str, list[Deal]] = defaultdict(list)
    for deal in uow.rollups.deals_of(owners, period.period_id):
        deals[row_of[deal.owner_user_id]].append(deal)
    facts: dict[str, list[DealFacts]] = defaultdict(list)
    for owner, fact in uow.deal_facts.facts_of_owners(owners, closing_from=period.start):
        if owner in row_of:
            facts[row_of[owner]].append(fact)
    quotas = _quotas(uow, period.period_id, [(row.user_id, row.quota_kind) for row in rows])
    wanted = [(row.user_id, kind) for row in rows if (kind := row.commit_kind) is not None]
    commits = uow.snapshots.latest_commits(wanted, period.period_id)
    past_ids = [p.period_id for p in past]
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (owner, period_id), (won, lost) in uow.rollups.closed_sums(owners, past_ids).items():
        row_sums = sums[(row_of[owner], period_id)]
        row_sums[0] += won
        row_sums[1] += lost
    past_commits = {p.period_id: _commits_as_it_ended(uow, wanted, p) for p in past}
    found: dict[str, RowData] = {}
    for row in rows:
        kind = row.commit_kind
        history = tuple(
            PastPeriod(
                p.period_id,
                won_minor=sums[(row.user_id, p.period_id)][0],
                lost_minor=sums[(row.user_id, p.period_id)][1],
                committed_minor=_likely(past_commits[p.period_id].get((row.user_id, kind))) if kind else None,
            )
            for p in past
        )
        found[row.user_id] = RowData(
            deals=tuple(deals[row.user_id]),
            facts=tuple(facts[row.user_id]),
            quota_minor=quotas.get((row.user_id, row.quota_kind)),
            commit=commits.get((row.user_id, kind)) if kind else None,
            history=history,
        )
    return found


def load_team(
    uow: ForecastingUnitOfWork, manager_user_id: str, period: Period, past: Sequence[Period]
) -> TeamData:
    wanted = [(manager_user_id, SnapshotKind.MANAGER)]
    commit = uow.snapshots.latest_commits(wanted, period.period_id).get(wanted[0])
    return TeamData(
        quota_minor=uow.quotas.committed_quota(manager_user_id, period.period_id, QuotaKind.ASSIGNED),
        commit=commit,
        past_commits={
            p.period_id: _likely(_commits_as_it_ended(uow, wanted, p).get(wanted[0])) for p in past
        },
    )


def _direct_report_above(user: User, by_id: Mapping[str, User], manager_user_id: str) -> str | None:
    """The manager's direct report whose team the user is in (the user themself when direct)."""
    current, seen = user, set()
    while current.manager_user_id != manager_user_id:
        if current.manager_user_id is None or current.manager_user_id not in by_id or current.user_id in seen:
            return None
        seen.add(current.user_id)
        current = by_id[current.manager_user_id]
    return current.user_id


def _quotas(
    uow: ForecastingUnitOfWork, period_id: str, wanted: Sequence[tuple[str, QuotaKind]]
) -> dict[tuple[str, QuotaKind], int]:
    found: dict[tuple[str, QuotaKind], int] = {}
    for kind in QuotaKind:
        users = [user_id for user_id, k in wanted if k is kind]
        if users:
            found |= {(u, kind): a for u, a in uow.quotas.committed_quotas(users, period_id, kind).items()}
    return found


def _commits_as_it_ended(
    uow: ForecastingUnitOfWork, wanted: Sequence[tuple[str, SnapshotKind]], period: Period
) -> Mapping[tuple[str, SnapshotKind], Snapshot]:
    """The latest commits made before the period ended: what was forecast for it, not a correction
    made once the result was known."""
    end = datetime.combine(period.end + timedelta(days=1), time(), tzinfo=UTC)
    return uow.snapshots.latest_commits(wanted, period.period_id, made_before=end)


def _likely(snapshot: Snapshot | None) -> int | None:
    return snapshot.figures.likely_minor if snapshot is not None else None
