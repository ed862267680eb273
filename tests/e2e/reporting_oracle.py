"""The reporting story's oracle: what each built-in report should say, computed from the deal
states the story recorded after every change and from the organisation, by the rules the reports
document, and independently of the reporting service's code (nothing here imports it).

A report is compared as rows of (kind, level, cells): kind is "detail", "group", "subtotal" or
"total"; money cells are (currency, minor units), dates `date`, instants `datetime` (UTC), exact
decimals and percentages their text with the column's scale ("0.5000"), empty cells None."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from fractions import Fraction

Money = tuple[str, int]
Row = tuple[str, int, tuple[object, ...]]

# The movement categories in the order the waterfall shows them (the catalogue's order).
MOVEMENT_ORDER = (
    "start",
    "new",
    "reassigned_in",
    "pulled_in",
    "reopened",
    "pushed_in",
    "increased",
    "decreased",
    "pushed_out",
    "moved_earlier",
    "reassigned_out",
    "won",
    "lost",
    "removed",
    "end",
)
STATUS_ORDER = ("open", "won", "lost")
SECONDS_PER_DAY = 86_400


# -- arithmetic -------------------------------------------------------------------------------------


def half_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        floor += 1
    return floor


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero (denominator > 0)."""
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return -magnitude if numerator < 0 else magnitude


def fixed(value: Fraction, scale: int) -> str:
    """The value rounded half-even to `scale` digits, written with exactly that many."""
    scaled = half_even(value * 10**scale)
    whole, fraction = divmod(abs(scaled), 10**scale)
    sign = "-" if scaled < 0 else ""
    return f"{sign}{whole}.{fraction:0{scale}d}" if scale else f"{sign}{whole}"


def weighted(amount_minor: int, probability: int) -> int:
    """A deal's weighted amount: amount x probability %, rounded half-even once per deal."""
    return half_even(Fraction(amount_minor * probability, 100))


def usd(amount_minor: int, currency: str = "USD") -> Money:
    return (currency, amount_minor)


def days(seconds: Fraction) -> str:
    return fixed(seconds / SECONDS_PER_DAY, 2)


def mean(values: Sequence[int]) -> Fraction | None:
    return Fraction(sum(values), len(values)) if values else None


def ratio(numerator: int, denominator: int) -> str | None:
    return None if denominator == 0 else fixed(Fraction(numerator, denominator), 4)


# -- the fiscal calendar ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    id: str
    first: date
    last: date

    def holds(self, day: date) -> bool:
        return self.first <= day <= self.last


def _month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class FiscalCalendar:
    """Fiscal years start on the 1st of `start_month` and are named by the calendar year they
    start in; quarters are "YYYY-Qn", months calendar months."""

    start_month: int

    def quarter(self, day: date) -> Period:
        months_in = (day.month - self.start_month) % 12
        index = day.year * 12 + day.month - 1 - months_in % 3
        first = _month_start(index)
        last = _month_start(index + 3) - timedelta(days=1)
        fiscal_year = day.year if day.month >= self.start_month else day.year - 1
        return Period(f"{fiscal_year}-Q{months_in // 3 + 1}", first, last)

    def next_quarter(self, period: Period) -> Period:
        return self.quarter(period.last + timedelta(days=1))

    def previous_quarter(self, period: Period) -> Period:
        return self.quarter(period.first - timedelta(days=1))


def next_days(today: date, count: int) -> Period:
    return Period(f"next_{count}_days", today, today + timedelta(days=count - 1))


def month_label(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


# -- the organisation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Org:
    managers: Mapping[str, str | None]
    names: Mapping[str, str]

    def chain(self, user: str) -> Iterator[str]:
        current: str | None = user
        while current is not None:
            yield current
            current = self.managers.get(current)

    def subtree(self, user: str) -> frozenset[str]:
        return frozenset(u for u in self.managers if user in self.chain(u))

    def has_reports(self, user: str) -> bool:
        return any(manager == user for manager in self.managers.values())

    def visible(self, user: str, *, manager: bool) -> frozenset[str]:
        """A manager reads their subtree (themselves included), a rep their own records."""
        return self.subtree(user) if manager else frozenset({user})

    def team(self, owner: str, viewpoint: str) -> str:
        """The viewpoint's direct report above the owner, or the owner themselves."""
        return next((u for u in self.chain(owner) if self.managers.get(u) == viewpoint), owner)

    def label(self, user: str) -> str:
        return self.names.get(user, user)

    def key(self, user: str) -> str:
        return self.label(user).lower()


# -- the deals as recorded --------------------------------------------------------------------------


@dataclass(frozen=True)
class DealState:
    """A deal as one version left it (what the opportunities service answered)."""

    deal_id: str
    version: int
    valid_from: datetime
    name: str
    account: str
    owner: str
    stage: str
    probability: int
    status: str
    amount_base: int
    currency: str
    close_date: date
    lead_source: str
    close_reason: str
    create_time: datetime
    update_time: datetime
    close_time: datetime | None
    deleted: bool = False

    @property
    def weighted(self) -> int:
        return weighted(self.amount_base, self.probability)


@dataclass(frozen=True)
class Facts:
    """What a version's place in its deal's history says about it."""

    stage_entry: bool
    stage_entered_at: datetime
    push_count: int
    max_stage_order: int
    cycle_seconds: int | None


@dataclass(frozen=True)
class Stay:
    stage: str
    owner: str
    seconds: int


@dataclass(frozen=True)
class Commit:
    user: str
    period_id: str
    kind: str
    sequence: int
    likely: int
    best: int
    worst: int
    currency: str


class Ledger:
    """Every version of every deal, in order, as the story recorded them."""

    def __init__(self, stage_order: Mapping[str, int]) -> None:
        self.stage_order = dict(stage_order)
        self.versions: dict[str, list[DealState]] = defaultdict(list)

    def record(self, state: DealState) -> DealState:
        held = self.versions[state.deal_id]
        expected = held[-1].version + 1 if held else 1
        assert state.version == expected, f"{state.name}: version {state.version}, expected {expected}"
        held.append(state)
        return state

    def record_deletion(self, deal_id: str, at: datetime) -> None:
        last = self.versions[deal_id][-1]
        self.versions[deal_id].append(replace(last, version=last.version + 1, valid_from=at, deleted=True))

    @property
    def version_count(self) -> int:
        return sum(len(v) for v in self.versions.values())

    def latest(self, deal_id: str) -> DealState:
        return self.versions[deal_id][-1]

    def held_at(self, instant: datetime) -> dict[str, DealState]:
        """The version each deal had at `instant` (deleted deals have none)."""
        held: dict[str, DealState] = {}
        for deal_id, versions in self.versions.items():
            for index, version in enumerate(versions):
                following = versions[index + 1] if index + 1 < len(versions) else None
                if version.valid_from <= instant and (following is None or instant < following.valid_from):
                    if not version.deleted:
                        held[deal_id] = version
                    break
        return held

    def current(self) -> dict[str, DealState]:
        return {i: v[-1] for i, v in self.versions.items() if not v[-1].deleted}

    def facts(self, deal_id: str) -> list[Facts]:
        result: list[Facts] = []
        previous: DealState | None = None
        entered_at: datetime | None = None
        pushes, reached = 0, -1
        for version in self.versions[deal_id]:
            entry = previous is None or previous.deleted or previous.stage != version.stage
            if entry or entered_at is None:
                entered_at = version.valid_from
            if previous is not None and not previous.deleted and version.close_date > previous.close_date:
                pushes += 1
            # A lost version reaches nothing: a lost deal counts up to the stage it was lost in.
            reached = max(reached, -1 if version.status == "lost" else self.stage_order[version.stage])
            cycle = None
            if version.status != "open" and version.close_time is not None:
                cycle = max(0, (version.close_time - version.create_time) // timedelta(seconds=1))
            result.append(Facts(entry, entered_at, pushes, reached, cycle))
            previous = version
        return result

    def current_facts(self, deal_id: str) -> Facts:
        return self.facts(deal_id)[-1]

    def stays(self) -> list[Stay]:
        """Every completed stay in a stage: from entering it until the next stage entry (or the
        deletion), attributed to the owner of the version that entered it."""
        stays: list[Stay] = []
        for deal_id, versions in self.versions.items():
            facts = self.facts(deal_id)
            entered: int | None = None
            for index, (version, fact) in enumerate(zip(versions, facts, strict=True)):
                if (fact.stage_entry or version.deleted) and entered is not None and index != entered:
                    start = versions[entered]
                    seconds = (version.valid_from - facts[entered].stage_entered_at) // timedelta(seconds=1)
                    stays.append(Stay(start.stage, start.owner, max(0, seconds)))
                    entered = None
                if fact.stage_entry and not version.deleted:
                    entered = index
        return stays


# -- the reports ------------------------------------------------------------------------------------


def _in_scope(deals: Mapping[str, DealState], scope: frozenset[str]) -> list[DealState]:
    return [d for d in deals.values() if d.owner in scope]


def _sum(deals: Iterable[DealState], value: Callable[[DealState], int]) -> int:
    return sum(value(d) for d in deals)


def pipeline_by_stage(deals: Mapping[str, DealState], scope: frozenset[str], ledger: Ledger) -> list[Row]:
    """Open deals per stage (stages in pipeline order): count, amount and weighted amount, then the
    total."""
    open_deals = [d for d in _in_scope(deals, scope) if d.status == "open"]
    by_stage: dict[str, list[DealState]] = defaultdict(list)
    for deal in open_deals:
        by_stage[deal.stage].append(deal)
    rows: list[Row] = []
    for stage in sorted(by_stage, key=lambda s: ledger.stage_order[s]):
        group = by_stage[stage]
        measures = (
            len(group),
            usd(_sum(group, lambda d: d.amount_base)),
            usd(_sum(group, lambda d: d.weighted)),
        )
        rows.append(("group", 0, (stage, *measures)))
    if open_deals:
        totals = (
            len(open_deals),
            usd(_sum(open_deals, lambda d: d.amount_base)),
            usd(_sum(open_deals, lambda d: d.weighted)),
        )
        rows.append(("total", 0, ("Total", *totals)))
    return rows


def pipeline_by_stage_team_month(
    deals: Mapping[str, DealState],
    scope: frozenset[str],
    org: Org,
    viewpoint: str,
    window: Period,
    ledger: Ledger,
) -> list[Row]:
    """Open deals closing in the window by stage, team (the viewpoint's direct report above the
    owner) and close month, with a subtotal after each (stage, team) and each stage, then the total."""
    chosen = [d for d in _in_scope(deals, scope) if d.status == "open" and window.holds(d.close_date)]

    def measures(group: Sequence[DealState]) -> tuple[object, ...]:
        return (
            len(group),
            usd(_sum(group, lambda d: d.amount_base)),
            usd(_sum(group, lambda d: d.weighted)),
        )

    groups: dict[tuple[str, str, str], list[DealState]] = defaultdict(list)
    for deal in chosen:
        groups[(deal.stage, org.team(deal.owner, viewpoint), month_label(deal.close_date))].append(deal)
    ordered = sorted(groups, key=lambda k: (ledger.stage_order[k[0]], org.key(k[1]), k[2]))
    rows: list[Row] = []
    for index, (stage, team, month) in enumerate(ordered):
        rows.append(
            ("group", 0, (stage, org.label(team), team, month, *measures(groups[(stage, team, month)])))
        )
        following = ordered[index + 1] if index + 1 < len(ordered) else None
        if following is None or following[:2] != (stage, team):
            members = [d for k, g in groups.items() if k[:2] == (stage, team) for d in g]
            rows.append(("subtotal", 2, (stage, org.label(team), team, None, *measures(members))))
        if following is None or following[0] != stage:
            members = [d for k, g in groups.items() if k[0] == stage for d in g]
            rows.append(("subtotal", 1, (stage, None, None, None, *measures(members))))
    if chosen:
        rows.append(("total", 0, ("Total", None, None, None, *measures(chosen))))
    return rows


def pipeline_matrix_owner_month(
    deals: Mapping[str, DealState], scope: frozenset[str], org: Org, window: Period
) -> tuple[list[str], list[Row]]:
    """Column titles after the owner's two, and the rows: open amount per owner (by name) and close
    month (in order), each row with its total, then a total row."""
    chosen = [d for d in _in_scope(deals, scope) if d.status == "open" and window.holds(d.close_date)]
    months = sorted({month_label(d.close_date) for d in chosen})
    owners = sorted({d.owner for d in chosen}, key=org.key)

    def amount(members: Sequence[DealState]) -> Money | None:
        return usd(_sum(members, lambda d: d.amount_base)) if members else None

    rows: list[Row] = []
    for owner in owners:
        mine = [d for d in chosen if d.owner == owner]
        cells = [amount([d for d in mine if month_label(d.close_date) == m]) for m in months]
        rows.append(("group", 0, (org.label(owner), owner, *cells, amount(mine))))
    if chosen:
        cells = [amount([d for d in chosen if month_label(d.close_date) == m]) for m in months]
        rows.append(("total", 0, ("Total", None, *cells, amount(chosen))))
    return [*months, "Total - Amount"], rows


def forecast_vs_quota(
    deals: Mapping[str, DealState],
    scope: frozenset[str],
    org: Org,
    period: Period,
    quotas: Mapping[str, int],
    commits: Sequence[Commit],
) -> list[Row]:
    """Per user in scope (by name): assigned quota, the latest commit (a manager's team commit, a
    rep's own), and what their subtree's deals closing in the period are worth now."""
    rows: list[Row] = []
    for user in sorted(scope, key=org.key):
        kind = "manager" if org.has_reports(user) else "rep"
        mine = [c for c in commits if (c.user, c.period_id, c.kind) == (user, period.id, kind)]
        latest = max(mine, key=lambda c: c.sequence) if mine else None
        team = org.subtree(user)
        counted = [d for d in deals.values() if d.owner in team and period.holds(d.close_date)]
        won = _sum([d for d in counted if d.status == "won"], lambda d: d.amount_base)
        open_deals = [d for d in counted if d.status == "open"]
        quota = quotas.get(user)
        rows.append(
            (
                "group",
                0,
                (
                    org.label(user),
                    user,
                    None if quota is None else usd(quota),
                    None if latest is None else usd(latest.likely, latest.currency),
                    None if latest is None else usd(latest.best, latest.currency),
                    None if latest is None else usd(latest.worst, latest.currency),
                    usd(won + _sum(open_deals, lambda d: d.weighted)),
                    usd(_sum(open_deals, lambda d: d.amount_base)),
                    usd(won),
                    None if not quota else fixed(Fraction(won, quota), 4),
                    None if quota is None else usd(quota - won),
                ),
            )
        )
    return rows


@dataclass(frozen=True)
class Movement:
    category: str
    change: int
    name: str
    owner: str
    start: DealState | None
    end: DealState | None


def movements(
    ledger: Ledger, scope: frozenset[str], start_at: datetime, end_at: datetime, window: Period
) -> list[Movement]:
    """Per deal in the window's pipeline at either instant (open, closing in the window, owner in
    scope): a start entry (if it was in), one movement whose change is end minus start (unless it
    stayed in at the same amount), and an end entry (if it is in)."""
    before, after = ledger.held_at(start_at), ledger.held_at(end_at)

    def inside(state: DealState | None) -> bool:
        return (
            state is not None
            and state.status == "open"
            and window.holds(state.close_date)
            and state.owner in scope
        )

    found: list[Movement] = []
    for deal_id in sorted(
        {i for i, s in before.items() if inside(s)} | {i for i, s in after.items() if inside(s)}
    ):
        a, b = before.get(deal_id), after.get(deal_id)
        was_in, is_in = inside(a), inside(b)
        amount_from = a.amount_base if was_in and a else 0
        amount_to = b.amount_base if is_in and b else 0
        name = (b or a).name  # type: ignore[union-attr]
        owner = (b or a).owner  # type: ignore[union-attr]
        if was_in:
            found.append(Movement("start", amount_from, name, owner, a, b))
        if was_in and is_in:
            category = "increased" if amount_to > amount_from else "decreased"
        elif was_in:
            assert a is not None
            if b is None:
                category = "removed"
            elif b.status in ("won", "lost"):
                category = b.status
            elif b.owner not in scope:
                category = "reassigned_out"
            elif b.close_date > window.last:
                category = "pushed_out"
            else:
                category = "moved_earlier"
        else:
            assert b is not None
            if a is None:
                category = "new"
            elif a.status != "open":
                category = "reopened"
            elif a.owner not in scope:
                category = "reassigned_in"
            elif a.close_date > window.last:
                category = "pulled_in"
            else:
                category = "pushed_in"
        if not (was_in and is_in) or amount_from != amount_to:
            found.append(Movement(category, amount_to - amount_from, name, owner, a, b))
        if is_in:
            found.append(Movement("end", amount_to, name, owner, a, b))
    return found


def pipeline_movement(
    ledger: Ledger, scope: frozenset[str], org: Org, start_at: datetime, end_at: datetime, window: Period
) -> list[Row]:
    """A bar per category (deals, change), each followed by its deals (by name)."""
    found = movements(ledger, scope, start_at, end_at, window)
    rows: list[Row] = []
    for category in MOVEMENT_ORDER:
        members = sorted((m for m in found if m.category == category), key=lambda m: m.name)
        if not members:
            continue
        rows.append(("group", 0, (category, len(members), usd(sum(m.change for m in members)), *[None] * 9)))
        for m in members:
            a, b = m.start, m.end
            detail = (
                m.name,
                org.label(m.owner),
                m.owner,
                usd(a.amount_base) if a else None,
                usd(b.amount_base) if b else None,
                a.stage if a else None,
                b.stage if b else None,
                a.close_date if a else None,
                b.close_date if b else None,
            )
            rows.append(("detail", 1, (category, None, None, *detail)))
    return rows


def _closed_measures(
    group: Sequence[DealState], ledger: Ledger, measures: Sequence[str]
) -> tuple[object, ...]:
    """The named measures of a win-rate report over closed deals."""
    won = [d for d in group if d.status == "won"]
    lost = [d for d in group if d.status == "lost"]
    won_amount = _sum(won, lambda d: d.amount_base)
    lost_amount = _sum(lost, lambda d: d.amount_base)
    average = mean([d.amount_base for d in won])
    cycle = mean([c for d in group if (c := ledger.current_facts(d.deal_id).cycle_seconds) is not None])
    values: dict[str, object] = {
        "won": len(won),
        "lost": len(lost),
        "won_amount": usd(won_amount),
        "lost_amount": usd(lost_amount),
        "win_rate": ratio(len(won), len(won) + len(lost)),
        "amount_win_rate": ratio(won_amount, won_amount + lost_amount),
        "average_deal": None if average is None else usd(half_even(average)),
        "cycle_days": None if cycle is None else days(cycle),
    }
    return tuple(values[name] for name in measures)


def win_rate_by(
    deals: Mapping[str, DealState],
    scope: frozenset[str],
    ledger: Ledger,
    key: Callable[[DealState], str],
    label: Callable[[str], str],
    measures: Sequence[str],
) -> list[Row]:
    """Closed deals per key (by its label) with the named measures (won, lost, won_amount,
    lost_amount, win_rate, amount_win_rate, average_deal, cycle_days); then the total."""
    closed = [d for d in _in_scope(deals, scope) if d.status in ("won", "lost")]
    groups: dict[str, list[DealState]] = defaultdict(list)
    for deal in closed:
        groups[key(deal)].append(deal)
    rows: list[Row] = [
        ("group", 0, (label(k), k, *_closed_measures(groups[k], ledger, measures)))
        for k in sorted(groups, key=lambda k: label(k).lower())
    ]
    if closed:
        rows.append(("total", 0, ("Total", None, *_closed_measures(closed, ledger, measures))))
    return rows


def days_in_stage(ledger: Ledger, scope: frozenset[str]) -> list[Row]:
    """Completed stays per stage (pipeline order): how many, average and longest in days."""
    stays = [s for s in ledger.stays() if s.owner in scope]

    def measures(group: Sequence[Stay]) -> tuple[object, ...]:
        seconds = [s.seconds for s in group]
        return (len(group), days(Fraction(sum(seconds), len(group))), days(Fraction(max(seconds))))

    by_stage: dict[str, list[Stay]] = defaultdict(list)
    for stay in stays:
        by_stage[stay.stage].append(stay)
    rows: list[Row] = [
        ("group", 0, (stage, *measures(by_stage[stage])))
        for stage in sorted(by_stage, key=lambda s: ledger.stage_order[s])
    ]
    if stays:
        rows.append(("total", 0, ("Total", *measures(stays))))
    return rows


def stage_funnel(
    deals: Mapping[str, DealState], scope: frozenset[str], ledger: Ledger
) -> tuple[list[Row], set[str]]:
    """Every stage from the first up to the furthest any deal reached, with how many deals reached
    it or a later one (a lost deal counts up to the stage it was lost in); and the stages some deal
    stopped at (its furthest), which the funnel cannot leave out."""
    reached = [ledger.current_facts(d.deal_id).max_stage_order for d in _in_scope(deals, scope)]
    names = {order: stage for stage, order in ledger.stage_order.items()}
    rows: list[Row] = [
        ("group", 0, (names[order], sum(1 for r in reached if r >= order)))
        for order in range(0, max(reached, default=-1) + 1)
    ]
    return rows, {names[r] for r in reached if r >= 0}


def won_lost_reasons(deals: Mapping[str, DealState], scope: frozenset[str]) -> list[Row]:
    """Closed deals by outcome (won, then lost) and reason, a subtotal per outcome, the total."""
    closed = [d for d in _in_scope(deals, scope) if d.status in ("won", "lost")]

    def measures(group: Sequence[DealState]) -> tuple[object, ...]:
        return (len(group), usd(_sum(group, lambda d: d.amount_base)))

    groups: dict[tuple[str, str], list[DealState]] = defaultdict(list)
    for deal in closed:
        groups[(deal.status, deal.close_reason)].append(deal)
    ordered = sorted(groups, key=lambda k: (STATUS_ORDER.index(k[0]), k[1].lower()))
    rows: list[Row] = []
    for index, (status, reason) in enumerate(ordered):
        rows.append(("group", 0, (status, reason, *measures(groups[(status, reason)]))))
        following = ordered[index + 1] if index + 1 < len(ordered) else None
        if following is None or following[0] != status:
            rows.append(("subtotal", 1, (status, None, *measures([d for d in closed if d.status == status]))))
    if closed:
        rows.append(("total", 0, ("Total", None, *measures(closed))))
    return rows


def top_open_deals(
    deals: Mapping[str, DealState], scope: frozenset[str], org: Org, window: Period, limit: int = 20
) -> list[Row]:
    """The largest open deals closing in the window (ties by name)."""
    chosen = [d for d in _in_scope(deals, scope) if d.status == "open" and window.holds(d.close_date)]
    chosen.sort(key=lambda d: (-d.amount_base, d.name))
    return [
        (
            "detail",
            0,
            (
                d.name,
                d.account,
                org.label(d.owner),
                d.owner,
                d.stage,
                d.probability,
                usd(d.amount_base),
                usd(d.weighted),
                d.close_date,
            ),
        )
        for d in chosen[:limit]
    ]


def past_due_and_stale_deals(
    deals: Mapping[str, DealState],
    scope: frozenset[str],
    org: Org,
    ledger: Ledger,
    today: date,
    stale_before: datetime,
) -> list[Row]:
    """Open deals past their close date or not updated since `stale_before`, by close date."""
    chosen = [
        d
        for d in _in_scope(deals, scope)
        if d.status == "open" and (d.close_date < today or d.update_time < stale_before)
    ]
    chosen.sort(key=lambda d: (d.close_date, d.name))
    rows: list[Row] = []
    for d in chosen:
        facts = ledger.current_facts(d.deal_id)
        rows.append(
            (
                "detail",
                0,
                (
                    d.name,
                    org.label(d.owner),
                    d.owner,
                    d.stage,
                    usd(d.amount_base),
                    d.close_date,
                    d.update_time,
                    facts.push_count,
                    facts.stage_entered_at,
                ),
            )
        )
    return rows


def forecast_accuracy(
    deals: Mapping[str, DealState],
    scope: frozenset[str],
    org: Org,
    commits: Sequence[Commit],
    periods: Mapping[str, Period],
    today: date,
) -> list[Row]:
    """Per user and commit kind, over the ended periods they committed for: the latest commit's
    likely against what closed won in the period (their own deals for a rep commit, the subtree's
    for a manager commit); APE and bias in basis points rounded half away from zero per period."""
    latest: dict[tuple[str, str, str], Commit] = {}
    for commit in commits:
        key = (commit.user, commit.period_id, commit.kind)
        if key not in latest or latest[key].sequence < commit.sequence:
            latest[key] = commit
    details: dict[tuple[str, str], list[tuple[str, int, int, str, int | None, int | None]]] = defaultdict(
        list
    )
    for (user, period_id, kind), commit in latest.items():
        period = periods[period_id]
        if user not in scope or not period.last < today:
            continue
        owners = org.subtree(user) if kind == "manager" else {user}
        actual = sum(
            d.amount_base
            for d in deals.values()
            if d.status == "won" and d.owner in owners and period.holds(d.close_date)
        )
        ape = None if actual <= 0 else half_up(abs(actual - commit.likely) * 10_000, actual)
        bias = None if actual <= 0 else half_up((commit.likely - actual) * 10_000, actual)
        details[(user, kind)].append((period_id, commit.likely, actual, commit.currency, ape, bias))
    rows: list[Row] = []
    for user, kind in sorted(details, key=lambda k: (org.key(k[0]), k[1])):
        entries = sorted(details[(user, kind)])
        committed = sum(e[1] for e in entries)
        actual_total = sum(e[2] for e in entries)
        currency = entries[0][3]
        apes = [e[4] for e in entries if e[4] is not None]
        biases = [e[5] for e in entries if e[5] is not None]
        absolute = sum(abs(e[2] - e[1]) for e in entries)
        rows.append(
            (
                "group",
                0,
                (
                    org.label(user),
                    user,
                    kind,
                    len(entries),
                    usd(committed, currency),
                    usd(actual_total, currency),
                    None if not apes else fixed(Fraction(sum(apes), len(apes)) / 10_000, 4),
                    None if not biases else fixed(Fraction(sum(biases), len(biases)) / 10_000, 4),
                    usd(absolute, currency),
                    ratio(absolute, actual_total),
                    *[None] * 6,
                ),
            )
        )
        for period_id, likely, actual, _, ape, bias in entries:
            rows.append(
                (
                    "detail",
                    2,
                    (
                        org.label(user),
                        user,
                        kind,
                        *[None] * 7,
                        period_id,
                        usd(likely, currency),
                        usd(actual, currency),
                        usd(actual - likely, currency),
                        None if ape is None else fixed(Fraction(ape, 10_000), 4),
                        None if bias is None else fixed(Fraction(bias, 10_000), 4),
                    ),
                )
            )
    return rows


def deals_by_owner_and_status(deals: Mapping[str, DealState], scope: frozenset[str], org: Org) -> list[Row]:
    """The story's user-defined report: every deal in scope by owner (by name) and status."""
    chosen = _in_scope(deals, scope)
    groups: dict[tuple[str, str], list[DealState]] = defaultdict(list)
    for deal in chosen:
        groups[(deal.owner, deal.status)].append(deal)
    rows: list[Row] = [
        ("group", 0, (org.label(owner), owner, status, len(g), usd(_sum(g, lambda d: d.amount_base))))
        for (owner, status), g in sorted(
            groups.items(), key=lambda item: (org.key(item[0][0]), STATUS_ORDER.index(item[0][1]))
        )
    ]
    if chosen:
        rows.append(
            ("total", 0, ("Total", None, None, len(chosen), usd(_sum(chosen, lambda d: d.amount_base))))
        )
    return rows
