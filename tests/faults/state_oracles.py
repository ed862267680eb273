"""Oracles for the state other services derive from events, each rebuilt from the database of the
service that owns the data (never from the events themselves, which are what is under test).

- every replica of the reporting lines (leads, opportunities) and reporting's copy of the users
  equal forecasting's users table, version for version;
- reporting's current deals and leads equal the opportunities and leads tables, and it holds every
  version of every deal exactly once (a version applied twice or skipped shows as a count that
  differs from the deal's version);
- no lead was converted into two deals, and every conversion's deal exists and names its lead;
- a built-in report (pipeline by stage) equals the same sums taken over the opportunities table,
  for the whole company and for one manager's subtree (a report is a read: it stays in scope).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from sqlalchemy import create_engine, text

from tests.e2e.reporting_oracle import half_even

Rows = dict[str, tuple[Any, ...]]


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql)).all()]
    finally:
        engine.dispose()


def _keyed(rows: Iterable[tuple[Any, ...]]) -> Rows:
    return {str(row[0]): tuple(row[1:]) for row in rows}


def _differences(what: str, expected: Rows, actual: Rows, shown: int = 3) -> list[str]:
    if expected == actual:
        return []
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing {missing[:shown]}")
    if extra:
        parts.append(f"{len(extra)} extra {extra[:shown]}")
    if changed:
        parts.append(
            f"{len(changed)} differ "
            + ", ".join(f"{k}: {expected[k]} != {actual[k]}" for k in changed[:shown])
        )
    return [f"{what}: " + "; ".join(parts)]


def users(forecasting_db: str) -> Rows:
    """The organisation as its owner holds it: manager, active, version per user."""
    rows = _query(forecasting_db, "SELECT user_id, manager_user_id, active, version FROM users")
    return _keyed((u, m or "", bool(a), int(v)) for u, m, a, v in rows)


def replica_problems(forecasting_db: str, replicas: Mapping[str, str]) -> list[str]:
    """`replicas`: service name -> database URL holding org_reporting_lines."""
    expected = users(forecasting_db)
    found: list[str] = []
    for name, url in replicas.items():
        rows = _query(url, "SELECT user_id, manager_user_id, active, version FROM org_reporting_lines")
        actual = _keyed((u, m or "", bool(a), int(v)) for u, m, a, v in rows)
        found += _differences(f"{name}'s reporting lines", expected, actual)
    return found


def reporting_problems(
    reporting_db: str, opportunities_db: str, leads_db: str, forecasting_db: str
) -> list[str]:
    found: list[str] = []
    rows = _query(reporting_db, "SELECT user_id, manager_user_id, active, version FROM org_users")
    found += _differences(
        "reporting's users",
        users(forecasting_db),
        _keyed((u, m or "", bool(a), int(v)) for u, m, a, v in rows),
    )
    columns = "version, owner_user_id, amount_minor, currency, sales_stage, status"
    deals = _keyed(_query(opportunities_db, f"SELECT id, {columns} FROM opportunities"))
    current = _keyed(_query(reporting_db, f"SELECT opportunity_id, {columns} FROM opportunity_current"))
    found += _differences("reporting's current deals", deals, current)
    # Every version of every deal, once: the count of versions held equals the newest version.
    held = _keyed(
        _query(
            reporting_db,
            "SELECT opportunity_id, count(*), max(version) FROM opportunity_versions"
            " WHERE NOT deleted GROUP BY opportunity_id",
        )
    )
    every_version = {deal: (row[0], row[0]) for deal, row in deals.items()}
    found += _differences("reporting's deal versions (count, newest)", every_version, held)
    leads = _keyed(
        (i, int(v), str(s).lower(), c or "")
        for i, v, s, c in _query(leads_db, "SELECT id, version, status, converted_opportunity_id FROM leads")
    )
    lead_view = _keyed(
        (i, int(v), str(s).lower(), c or "")
        for i, v, s, c in _query(
            reporting_db, "SELECT id, version, status, converted_opportunity_id FROM lead_view"
        )
    )
    found += _differences("reporting's leads", leads, lead_view)
    return found


def conversion_problems(leads_db: str, opportunities_db: str) -> list[str]:
    """A lead converted into two deals, or a conversion whose deal is missing or names another
    lead."""
    found: list[str] = []
    doubled = _query(
        opportunities_db,
        "SELECT lead_id, count(*) FROM opportunities WHERE lead_id IS NOT NULL AND lead_id <> ''"
        " GROUP BY lead_id HAVING count(*) > 1",
    )
    if doubled:
        found.append(f"{len(doubled)} leads converted into more than one deal: {doubled[:3]}")
    deal_lead = dict(_query(opportunities_db, "SELECT id, lead_id FROM opportunities"))
    converted = _query(
        leads_db, "SELECT id, converted_opportunity_id FROM leads WHERE converted_opportunity_id IS NOT NULL"
    )
    wrong = [(lead, deal) for lead, deal in converted if deal_lead.get(deal) != lead]
    if wrong:
        found.append(f"{len(wrong)} conversions name a deal that is missing or not theirs: {wrong[:3]}")
    return found


def converted_deals(opportunities_db: str) -> dict[str, int]:
    """Deals per converted lead (the ledger's acknowledged conversions are checked against it)."""
    return {
        str(lead): int(n)
        for lead, n in _query(
            opportunities_db,
            "SELECT lead_id, count(*) FROM opportunities WHERE lead_id IS NOT NULL GROUP BY lead_id",
        )
    }


def subtree(forecasting_db: str, root: str) -> frozenset[str]:
    managers = {user: row[0] for user, row in users(forecasting_db).items() if row[1]}
    inside = {root}
    changed = True
    while changed:
        changed = False
        for user, manager in managers.items():
            if manager in inside and user not in inside:
                inside.add(user)
                changed = True
    return frozenset(inside)


def pipeline_by_stage(opportunities_db: str, scope: frozenset[str] | None) -> list[tuple[object, ...]]:
    """The built-in report pipeline_by_stage over the opportunities table: open deals per stage
    in catalogue order with count, amount and weighted amount in the base currency, then the total.
    Deals here are all in the base currency (USD), so no rate enters."""
    rows = _query(
        opportunities_db,
        "SELECT o.owner_user_id, o.sales_stage, o.amount_base_minor, o.probability, s.position"
        " FROM opportunities o JOIN sales_stages s ON s.name = o.sales_stage WHERE o.status = 'open'",
    )
    groups: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    for owner, stage, amount, probability, position in rows:
        if scope is None or owner in scope:
            groups[(int(position), str(stage))].append((int(amount), int(probability)))

    def measures(deals: list[tuple[int, int]]) -> tuple[object, ...]:
        amount = sum(a for a, _ in deals)
        weighted = sum(half_even(Fraction(a * p, 100)) for a, p in deals)
        return (len(deals), ("USD", amount), ("USD", weighted))

    table: list[tuple[object, ...]] = [
        ("group", stage, *measures(groups[key])) for key in sorted(groups) for stage in [key[1]]
    ]
    every = [deal for deals in groups.values() for deal in deals]
    if every:
        table.append(("total", "Total", *measures(every)))
    return table
