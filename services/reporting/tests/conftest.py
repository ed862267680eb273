"""A small marketing world written straight into the read models, shared by the SQLite unit tests
and the PostgreSQL integration tests of the attribution and campaign-performance sources.

Organisation m1 -> r1, m2 -> r3; base currency EUR; "now" is 2026-11-20 12:00 UTC.

Campaign A (EUR, budget 1,000.00) and campaign B (USD, budget 500.00); USD is worth 0.9 EUR from
2026-01-01 and 0.8 EUR from 2026-11-10. Costs: A 100.00 EUR on 09-01 (before the window) and
300.00 EUR on 11-02; B 100.00 USD on 11-05 (= 90.00 EUR) and 50.01 USD on 11-12 (= 40.008, half
up 40.01 EUR).

Leads: L1 (campaign A, created 11-01, qualified), L2 (campaign A, created 11-02, merged into L1),
L3 (campaign A, created 11-03), L4 (no campaign, created 11-04), L5 (campaign B, created 10-01).
Touches: L1: A on 11-01, B on 11-06; L2: A on 11-10 (counts for L1); L3: A on 11-05;
L5: B on 10-02.

Deals (all EUR):
- d1 r1, lead L1, campaign B, 100.00, created 11-11, won 11-15: the worked example, touches A, B,
  A on days 0, 5 and 9 before its creation on day 10;
- d2 r1, lead L3, 200.00, created 11-12, won 11-16: A's second won deal;
- d3 m1, no lead and no campaign, 50.00, created 11-13, open: unattributed;
- d4 r3, lead L5, 400.00, created 10-05, won 11-14: won in the window, created before it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from salesplane_reporting.adapters import tables

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 9, 0, tzinfo=UTC)


def _deal(
    deal_id: str,
    owner: str,
    amount: int,
    created: datetime,
    *,
    lead: str = "",
    campaign: str = "",
    status: str = "open",
    closed: datetime | None = None,
) -> dict[str, Any]:
    return {
        "opportunity_id": deal_id,
        "version": 1,
        "owner_user_id": owner,
        "name": deal_id.upper(),
        "account_name": "Acme",
        "sales_stage": "Closed Won" if status == "won" else "Prospecting",
        "stage_order": 8 if status == "won" else 0,
        "probability": 100 if status == "won" else 10,
        "status": status,
        "amount_minor": amount,
        "currency": "EUR",
        "amount_base_minor": amount,
        "weighted_base_minor": amount,
        "best_base_minor": amount,
        "worst_base_minor": amount,
        "base_currency": "EUR",
        "expected_close_date": (closed or created + timedelta(days=30)).date(),
        "lead_source_id": "",
        "campaign_id": campaign,
        "lead_id": lead,
        "close_reason": "",
        "next_step": "",
        "create_time": created,
        "update_time": closed or created,
        "close_time": closed,
        "stage_entered_at": created,
        "push_count": 0,
        "max_stage_order": 0,
    }


def _lead(
    lead_id: str, campaign: str, created: datetime, *, qualified: bool = False, merged_into: str = ""
) -> dict[str, Any]:
    return {
        "id": lead_id,
        "status": "new",
        "lead_source_id": "",
        "campaign_id": campaign,
        "assigned_user_id": "r1",
        "company": "Acme",
        "score": 0,
        "qualified": qualified,
        "converted_opportunity_id": "",
        "create_time": created,
        "convert_time": None,
        "version": 1,
        "merged_into_lead_id": merged_into,
    }


def _campaign(campaign_id: str, channel: str, currency: str, budget: int) -> dict[str, Any]:
    return {
        "id": campaign_id,
        "name": f"Campaign {campaign_id}",
        "lead_source_id": f"src-{campaign_id}",
        "channel": channel,
        "currency": currency,
        "budget_minor": budget,
        "expected_cost_minor": budget,
        "expected_revenue_minor": 2 * budget,
        "actual_cost_minor": 0,
        "start_date": date(2026, 1, 1),
        "end_date": None,
        "version": 1,
    }


def load_marketing_world(engine: Engine) -> None:
    tables.metadata.create_all(engine)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    users = {"m1": None, "r1": "m1", "m2": None, "r3": "m2"}
    closure = [(u, u, 0) for u in users] + [("m1", "r1", 1), ("m2", "r3", 1)]
    with engine.begin() as connection:
        connection.execute(
            tables.fiscal_settings.insert(),
            [{"id": 1, "fiscal_year_start_month": 1, "currency_code": "EUR", "ranges": "", "version": 1}],
        )
        connection.execute(
            tables.org_users.insert(),
            [
                {
                    "user_id": u,
                    "display_name": u.upper(),
                    "manager_user_id": m,
                    "roles": "manager" if u.startswith("m") else "rep",
                    "active": True,
                    "version": 1,
                    "update_time": since,
                }
                for u, m in users.items()
            ],
        )
        connection.execute(
            tables.org_closure.insert(),
            [
                {"ancestor_user_id": a, "descendant_user_id": d, "distance": n, "valid_from": since}
                for a, d, n in closure
            ],
        )
        connection.execute(
            tables.campaign_view.insert(),
            [_campaign("A", "email", "EUR", 100_000), _campaign("B", "paid_search", "USD", 50_000)],
        )
        connection.execute(
            tables.exchange_rate_view.insert(),
            [
                {
                    "currency": "USD",
                    "effective_from": date(2026, 1, 1),
                    "rate": "0.9",
                    "base_currency": "EUR",
                },
                {
                    "currency": "USD",
                    "effective_from": date(2026, 11, 10),
                    "rate": "0.8",
                    "base_currency": "EUR",
                },
            ],
        )
        costs = [
            ("A", "a0", date(2026, 9, 1), 10_000, "EUR"),
            ("A", "a1", date(2026, 11, 2), 30_000, "EUR"),
            ("B", "b1", date(2026, 11, 5), 10_000, "USD"),
            ("B", "b2", date(2026, 11, 12), 5_001, "USD"),
        ]
        connection.execute(
            tables.campaign_costs.insert(),
            [
                {"campaign_id": c, "cost_id": i, "incurred_on": d, "amount_minor": m, "currency": cur}
                for c, i, d, m, cur in costs
            ],
        )
        connection.execute(
            tables.lead_view.insert(),
            [
                _lead("L1", "A", at(11, 1), qualified=True),
                _lead("L2", "A", at(11, 2), merged_into="L1"),
                _lead("L3", "A", at(11, 3)),
                _lead("L4", "", at(11, 4)),
                _lead("L5", "B", at(10, 1)),
            ],
        )
        touches = [
            ("t1", "L1", "A", at(11, 1)),
            ("t2", "L1", "B", at(11, 6)),
            ("t3", "L2", "A", at(11, 10)),
            ("t4", "L3", "A", at(11, 5)),
            ("t5", "L5", "B", at(10, 2)),
        ]
        connection.execute(
            tables.lead_touch_view.insert(),
            [
                {"touch_id": t, "lead_id": lead, "campaign_id": c, "kind": "form", "touch_time": moment}
                for t, lead, c, moment in touches
            ],
        )
        connection.execute(
            tables.opportunity_current.insert(),
            [
                _deal("d1", "r1", 10_000, at(11, 11), lead="L1", campaign="B", status="won", closed=at(11, 15)),  # noqa: E501
                _deal("d2", "r1", 20_000, at(11, 12), lead="L3", status="won", closed=at(11, 16)),
                _deal("d3", "m1", 5_000, at(11, 13)),
                _deal("d4", "r3", 40_000, at(10, 5), lead="L5", status="won", closed=at(11, 14)),
            ],
        )  # fmt: skip


@pytest.fixture
def marketing_world_loader() -> Callable[[Engine], None]:
    return load_marketing_world
