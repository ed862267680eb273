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
    uow: ForecastingUnitOfWork,
    period: Period,
    past: Sequence[Period],
    rows: Sequence[RowSpec],
    *,
    team_of: str | None = None,
) -> tuple[dict[str, RowData], TeamData | None]:
    """Every row's data by row user id, and the team's (quota and commits of team_of) when asked."""
    owners = sorted({owner for row in rows for owner in row.owners})
    row_of = {owner: row.user_id for row in rows for owner in row.owners}
    deals: dict[str, list[Deal]] = defaultdict(list)
    for deal in uow.rollups.deals_of(owners, period.period_id):
        deals[row_of[deal.owner_user_id]].append(deal)
    facts = _facts(uow, period, rows, row_of)
    wanted = [(row.user_id, kind) for row in rows if (kind := row.commit_kind) is not None]
    if team_of is not None:
        wanted.append((team_of, SnapshotKind.MANAGER))
    # The current period's latest commits, and the trailing periods' as they stood when each ended.
    commits = uow.snapshots.latest_commits_of_periods(
        wanted, {period.period_id: None} | {p.period_id: _end_of(p) for p in past}
    )
    quota_keys = [(row.user_id, row.quota_kind) for row in rows]
    if team_of is not None:
        quota_keys.append((team_of, QuotaKind.ASSIGNED))
    quotas = _quotas(uow, period.period_id, quota_keys)
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (owner, period_id), (won, lost) in uow.rollups.closed_sums(
        owners, [p.period_id for p in past]
    ).items():
        row_sums = sums[(row_of[owner], period_id)]
        row_sums[0] += won
        row_sums[1] += lost

    def likely(user_id: str, kind: SnapshotKind | None, period_id: str) -> int | None:
        snapshot = commits.get((user_id, kind, period_id)) if kind is not None else None
        return snapshot.figures.likely_minor if snapshot is not None else None

    found: dict[str, RowData] = {}
    for row in rows:
        kind = row.commit_kind
        history = tuple(
            PastPeriod(
                p.period_id,
                won_minor=sums[(row.user_id, p.period_id)][0],
                lost_minor=sums[(row.user_id, p.period_id)][1],
                committed_minor=likely(row.user_id, kind, p.period_id),
            )
            for p in past
        )
        found[row.user_id] = RowData(
            deals=tuple(deals[row.user_id]),
            facts=tuple(facts[row.user_id]),
            quota_minor=quotas.get((row.user_id, row.quota_kind)),
            commit=commits.get((row.user_id, kind, period.period_id)) if kind is not None else None,
            history=history,
        )
    if team_of is None:
        return found, None
    team = TeamData(
        quota_minor=quotas.get((team_of, QuotaKind.ASSIGNED)),
        commit=commits.get((team_of, SnapshotKind.MANAGER, period.period_id)),
        past_commits={p.period_id: likely(team_of, SnapshotKind.MANAGER, p.period_id) for p in past},
    )
    return found, team


def _facts(
    uow: ForecastingUnitOfWork, period: Period, rows: Sequence[RowSpec], row_of: Mapping[str, str]
) -> dict[str, list[DealFacts]]:
    """The open deals' facts each row needs: a rep's (or a manager's own) deals closing in the
    period or later, whose flags the row counts; a team row's deals closing after the period only,
    for what was pushed out of it (its flagged deals are counted in that manager's own inspection,
    which keeps the VP's view from judging every deal of the company)."""
    facts: dict[str, list[DealFacts]] = defaultdict(list)
    individual = sorted({owner for row in rows if not row.as_team for owner in row.owners})
    teams = sorted({owner for row in rows if row.as_team for owner in row.owners})
    after = period.end + timedelta(days=1)
    for owners, closing_from in ((individual, period.start), (teams, after)):
        if owners:
            for owner, fact in uow.deal_facts.facts_of_owners(owners, closing_from=closing_from):
                facts[row_of[owner]].append(fact)
    return facts


def _direct_report_above(user: User, by_id: Mapping[str, User], manager_user_id: str) -> str | None:
    """The manager's direct report whose team the user is in (the user themself when direct)."""
    current, seen = user, set()
    while current.manager_user_id != manager_user_id:
        if current.manager_user_id is None or current.manager_user_id not in by_id or current.user_id in seen:
            return None
        seen.add(current.user_id)
        current = by_id[current.manager_user_id]
    return current.user_id


def _end_of(period: Period) -> datetime:
    return datetime.combine(period.end + timedelta(days=1), time(), tzinfo=UTC)


def _quotas(
    uow: ForecastingUnitOfWork, period_id: str, wanted: Sequence[tuple[str, QuotaKind]]
) -> dict[tuple[str, QuotaKind], int]:
    found: dict[tuple[str, QuotaKind], int] = {}
    for kind in QuotaKind:
        users = [user_id for user_id, k in wanted if k is kind]
        if users:
            found |= {(u, kind): a for u, a in uow.quotas.committed_quotas(users, period_id, kind).items()}
    return found
