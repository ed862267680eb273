"""Issue 4's acceptance story, through the HTTP gateway on real Kafka and PostgreSQL.

A VP's target is split into managers' and reps' quotas (invisible as a draft, visible once
committed); reps' deals at various probabilities count under a 70 % include threshold, and a rep
includes a 40 % deal by hand; every level's live rollup equals a computation made here from the
deals alone; the reps commit; a manager sees their commits, adjusts one and commits upward; the
history shows both of a rep's commits and what changed."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import pytest

from salesplane_platform.identity import issue_token
from tests.e2e.conftest import SECRET
from tests.e2e.story_helpers import THREE_BUCKETS, HttpGateway, await_organisation

pytestmark = pytest.mark.e2e

PERIOD = "2026-Q4"
ORG = {"vp": None, "east": "vp", "west": "vp", "ann": "east", "bob": "east", "cat": "west"}
MANAGERS = {"vp", "east", "west"}


def token(user: str) -> str:
    roles = ["admin"] if user == "root" else ["manager"] if user in MANAGERS else ["rep"]
    return issue_token(SECRET, user, roles)


def usd(amount_minor: int) -> dict:
    return {"currency_code": "USD", "amount_minor": amount_minor}


def minor(money: dict | None) -> int:
    return int((money or {}).get("amount_minor", 0))


@dataclass
class Deal:
    owner: str
    name: str
    amount_minor: int  # base currency
    probability: int
    outcome: str = "open"  # open, won, lost
    currency: str = "USD"
    amount_in_currency: int = 0
    stage: str = ""  # include / upside / exclude when open

    def __post_init__(self) -> None:
        if self.outcome == "open" and not self.stage:
            self.stage = (
                "include" if self.probability >= 70 else "upside" if self.probability >= 40 else "exclude"
            )


def expected_totals(deals: list[Deal]) -> dict[tuple[str, str], dict[str, int]]:
    """(user, scope) -> totals, computed from the deals and the org chart alone."""
    totals: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def chain(user: str | None):
        while user is not None:
            yield user
            user = ORG[user]

    for deal in deals:
        keys = [(deal.owner, "own")] + [(user, "team") for user in chain(deal.owner)]
        for key in keys:
            t = totals[key]
            if deal.outcome == "won":
                t["won"] += deal.amount_minor
            elif deal.outcome == "open":
                t["pipeline"] += deal.amount_minor
                t["weighted_percent"] += deal.amount_minor * deal.probability
                t["open_count"] += 1
                if deal.stage == "include":
                    t["included"] += deal.amount_minor
                elif deal.stage == "upside":
                    t["upside"] += deal.amount_minor
    return totals


def observed(totals: dict) -> dict[str, int]:
    return {
        "won": minor(totals.get("closed_won")),
        "pipeline": minor(totals.get("pipeline")),
        "weighted_percent": minor(totals.get("weighted_pipeline")),
        "open_count": int(totals.get("open_count", 0)),
        "included": minor(totals.get("included_likely")),
        "upside": minor(totals.get("upside_likely")),
    }


def rounded(expected: dict[str, int]) -> dict[str, int]:
    values = {name: expected.get(name, 0) for name in ("won", "pipeline", "open_count", "included", "upside")}
    # The weighted pipeline is kept exact and rounded half-up once, when read.
    values["weighted_percent"] = (expected.get("weighted_percent", 0) + 50) // 100
    return values


def eventually(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_sales_plan_goes_down_and_the_forecast_comes_up_the_hierarchy(services, gateway):
    forecasting = services("forecasting")
    opportunities = services("opportunities")
    api = HttpGateway(
        gateway(
            {
                "SALESPLANE_OPPORTUNITIES_TARGET": opportunities.target,
                "SALESPLANE_FORECASTING_TARGET": forecasting.target,
                "SALESPLANE_ORG_TARGET": forecasting.target,
            }
        ),
        token,
    )

    # The organisation and the forecast settings: include from 70 %, upside from 40 %.
    for user, manager in ORG.items():
        roles = ["manager"] if user in MANAGERS else ["rep"]
        api.ok(
            "PUT",
            f"/v1/users/{user}",
            "root",
            {"display_name": user.title(), "roles": roles, "manager_user_id": manager or "", "active": True},
        )
    # The users reach the other services by event: wait for them before giving them deals.
    await_organisation(opportunities.env["SALESPLANE_DATABASE_URL"], ORG)
    settings = api.ok("GET", "/v1/forecast-settings", "ann")
    assert settings["currency_code"] == "USD"
    # A rep may not change them (a whole, valid body: one the gateway itself would refuse is a 400).
    status, _ = api.call("PUT", "/v1/forecast-settings", "ann", THREE_BUCKETS)
    assert status == 403
    changed_settings = api.ok("PUT", "/v1/forecast-settings", "root", THREE_BUCKETS)
    # The same settings again change nothing, and leave nothing in the audit log.
    settings_changes = ["root"] if changed_settings.get("version") != settings.get("version") else []

    # The plan, top-down: drafts are seen only by their author; commits by the reportees.
    api.ok("PUT", f"/v1/quotas/vp/{PERIOD}", "root", {"amount": usd(100_000_000)})
    api.ok(
        "PUT",
        f"/v1/quota-plans/vp/{PERIOD}/draft",
        "vp",
        {
            "allocations": [
                {"user_id": "east", "kind": "assigned", "amount": usd(60_000_000)},
                {"user_id": "west", "kind": "assigned", "amount": usd(35_000_000)},
                {"user_id": "vp", "kind": "direct", "amount": usd(10_000_000)},
            ]
        },
    )
    plan = api.ok("GET", f"/v1/quota-plans/vp/{PERIOD}", "vp")
    assert plan["has_draft"] and minor(plan["unallocated"]) == -5_000_000  # over-allocated by 50,000.00
    status, _ = api.call("GET", f"/v1/quotas/east/{PERIOD}", "east")
    assert status == 404
    east_before = api.ok("GET", f"/v1/quota-plans/east/{PERIOD}", "east")
    assert east_before.get("quota") is None  # the VP's draft gives east nothing to split yet
    assert api.call("GET", f"/v1/quota-plans/vp/{PERIOD}", "east")[0] == 403
    api.ok(
        "PUT",
        f"/v1/quota-plans/vp/{PERIOD}/draft",
        "vp",
        {
            "allocations": [
                {"user_id": "east", "kind": "assigned", "amount": usd(60_000_000)},
                {"user_id": "west", "kind": "assigned", "amount": usd(35_000_000)},
                {"user_id": "vp", "kind": "direct", "amount": usd(5_000_000)},
            ]
        },
    )
    committed = api.ok("POST", f"/v1/quota-plans/vp/{PERIOD}:commit", "vp", {})
    assert minor(committed["unallocated"]) == 0
    assert minor(api.ok("GET", f"/v1/quotas/east/{PERIOD}", "east")["amount"]) == 60_000_000
    for manager, split in {
        "east": {"ann": 30_000_000, "bob": 25_000_000},
        "west": {"cat": 35_000_000},
    }.items():
        allocations = [{"user_id": u, "kind": "assigned", "amount": usd(a)} for u, a in split.items()]
        api.ok("PUT", f"/v1/quota-plans/{manager}/{PERIOD}/draft", manager, {"allocations": allocations})
        status, _ = api.call("GET", f"/v1/quotas/{next(iter(split))}/{PERIOD}", next(iter(split)))
        assert status == 404
        api.ok("POST", f"/v1/quota-plans/{manager}/{PERIOD}:commit", manager, {})
    assert minor(api.ok("GET", f"/v1/quotas/ann/{PERIOD}", "ann")["amount"]) == 30_000_000
    east_plan = api.ok("GET", f"/v1/quota-plans/east/{PERIOD}", "east")
    assert minor(east_plan["unallocated"]) == 5_000_000  # east kept no direct quota: under-allocated
    changes = api.ok("GET", f"/v1/quotas/vp/changes?period={PERIOD}", "vp")["changes"]
    who = {(c["kind"], c["changed_by"], minor(c.get("from_amount")), minor(c["to_amount"])) for c in changes}
    assert who == {("assigned", "root", 0, 100_000_000), ("direct", "vp", 0, 5_000_000)}

    # The deals, at various probabilities (one in euros), some won, one lost.
    api.ok("PUT", "/v1/exchange-rates/EUR/2026-01-01", "root", {"rate": "1.1"})
    deals = [
        Deal("ann", "Ann big", 10_000_000, 80),
        Deal("ann", "Ann maybe", 5_000_000, 40),
        Deal("ann", "Ann won", 3_000_000, 100, outcome="won"),
        Deal("ann", "Ann long shot", 2_000_000, 10),
        Deal("bob", "Bob solid", 20_000_000, 90),
        Deal("bob", "Bob upside", 8_000_000, 60),
        Deal("cat", "Cat threshold", 15_000_000, 70),
        Deal("cat", "Cat lost", 4_000_000, 30, outcome="lost"),
        Deal("cat", "Cat euro", 1_100_000, 75, currency="EUR", amount_in_currency=1_000_000),
        Deal("east", "East own", 6_000_000, 50),
    ]
    ids: dict[str, str] = {}
    for deal in deals:
        created = api.ok(
            "POST",
            "/v1/opportunities",
            deal.owner,
            {
                "name": deal.name,
                "owner_user_id": deal.owner,
                "amount": {
                    "currency_code": deal.currency,
                    "amount_minor": deal.amount_in_currency or deal.amount_minor,
                },
                "expected_close_date": "2026-12-15",
                "sales_stage": "Proposal/Price Quote",
                "probability": deal.probability if deal.outcome == "open" else 50,
            },
        )
        ids[deal.name] = created["id"]
        if deal.outcome != "open":
            body = {"outcome": deal.outcome, "reason": "" if deal.outcome == "won" else "no budget"}
            api.ok("POST", f"/v1/opportunities/{created['id']}:close", deal.owner, body)

    def forecasting_has_anns_deals() -> None:
        sheet = api.ok("GET", f"/v1/worksheets/ann/{PERIOD}", "ann")
        assert len(sheet.get("deals", [])) == 4, sheet

    eventually(forecasting_has_anns_deals)

    # Ann believes in her 40 % deal: she includes it by hand. Her manager may look but not touch.
    status, _ = api.call(
        "PUT", f"/v1/opportunities/{ids['Ann maybe']}/commit-stage", "east", {"commit_stage": "include"}
    )
    assert status == 403
    api.ok("PUT", f"/v1/opportunities/{ids['Ann maybe']}/commit-stage", "ann", {"commit_stage": "include"})
    deals[1].stage = "include"

    expected = expected_totals(deals)

    def every_level_matches() -> None:
        for user in ORG:
            rollup = api.ok("GET", f"/v1/rollups/{user}?period={PERIOD}", user)
            for scope in ("own", "team"):
                assert observed(rollup.get(scope, {})) == rounded(expected[(user, scope)]), (user, scope)

    eventually(every_level_matches)
    ann_rollup = api.ok("GET", f"/v1/rollups/ann?period={PERIOD}", "ann")
    assert minor(ann_rollup["quota"]) == 30_000_000
    assert int(ann_rollup["attainment_basis_points"]) == 1_000  # 30,000.00 won of 300,000.00
    month = api.ok("GET", "/v1/rollups/vp?period=2026-12", "vp")
    assert observed(month["team"]) == rounded(expected[("vp", "team")])

    # Visibility: a rep sees only their own; a manager their subtree.
    assert api.call("GET", f"/v1/rollups/ann?period={PERIOD}", "bob")[0] == 403
    assert api.call("GET", f"/v1/worksheets/ann/{PERIOD}", "cat")[0] == 403
    assert api.call("GET", f"/v1/rollups/east?period={PERIOD}", "west")[0] == 403
    assert api.call("GET", f"/v1/worksheets/ann/{PERIOD}", "east")[0] == 200

    # The reps' worksheets and commits.
    worksheet = api.ok("GET", f"/v1/worksheets/ann/{PERIOD}", "ann")
    stages = {
        d["name"]: (d.get("commit_stage"), bool(d.get("commit_stage_manual"))) for d in worksheet["deals"]
    }
    assert stages["Ann maybe"] == ("include", True) and stages["Ann big"] == ("include", False)
    assert stages["Ann long shot"] == ("exclude", False)
    for rep in ("ann", "bob", "cat"):
        assert api.call("POST", f"/v1/worksheets/{rep}/{PERIOD}:commit", "east", {"kind": "rep"})[0] == 403
        api.ok("POST", f"/v1/worksheets/{rep}/{PERIOD}:commit", rep, {"kind": "rep", "note": "first call"})
    ann_first_likely = 3_000_000 + 10_000_000 + 5_000_000

    # The manager sees the reports' commits, adjusts Bob's and commits the team upward.
    east = api.ok("GET", f"/v1/manager-worksheets/east/{PERIOD}", "east")
    rows = {row["user_id"]: row for row in east["rows"]}
    assert minor(rows["ann"]["likely"]) == ann_first_likely
    assert minor(rows["bob"]["likely"]) == 20_000_000
    assert rows["east"].get("own")
    api.ok("PUT", f"/v1/manager-worksheets/east/{PERIOD}/rows/bob", "east", {"likely_minor": 15_000_000})
    api.ok(
        "POST",
        f"/v1/worksheets/east/{PERIOD}:commit",
        "east",
        {"kind": "manager", "note": "bob is optimistic"},
    )
    vp_sheet = api.ok("GET", f"/v1/manager-worksheets/vp/{PERIOD}", "vp")
    east_row = next(row for row in vp_sheet["rows"] if row["user_id"] == "east")
    assert minor(east_row["likely"]) == ann_first_likely + 15_000_000  # east has no own commit

    # Ann's big deal grows; her worksheet notices, she commits again, and the history says what changed.
    status, deal = api.call("GET", f"/v1/opportunities/{ids['Ann big']}", "ann")
    assert status == 200
    api.ok(
        "PATCH",
        f"/v1/opportunities/{ids['Ann big']}",
        "ann",
        {"amount": usd(12_000_000)},
    )

    def worksheet_notices() -> None:
        sheet = api.ok("GET", f"/v1/worksheets/ann/{PERIOD}", "ann")
        assert sheet["changed_since_commit"], sheet

    eventually(worksheet_notices)
    api.ok("POST", f"/v1/worksheets/ann/{PERIOD}:commit", "ann", {"kind": "rep", "note": "bigger"})
    history = api.ok("GET", f"/v1/forecast-commits/ann/{PERIOD}?kind=rep", "east")["commits"]
    assert [int(c["sequence"]) for c in history] == [2, 1]
    assert any("likely up from" in change and "200,000.00" in change for change in history[0]["changes"])
    # The manager's adjustment of Bob survives Bob's next commit.
    api.ok("POST", f"/v1/worksheets/bob/{PERIOD}:commit", "bob", {"kind": "rep"})
    rows = {
        row["user_id"]: row for row in api.ok("GET", f"/v1/manager-worksheets/east/{PERIOD}", "east")["rows"]
    }
    assert minor(rows["bob"]["likely"]) == 15_000_000 and rows["bob"].get("committed_after_adjustment")

    # The probabilistic view of the VP's team.
    forecast = api.ok("GET", f"/v1/forecasts/vp/distribution?period={PERIOD}&scope=team", "vp")
    open_deals = [d for d in deals if d.outcome == "open"]
    open_deals[0] = Deal("ann", "Ann big", 12_000_000, 80)
    exact_expected = 3_000_000 * 100 + sum(d.amount_minor * d.probability for d in open_deals)
    assert minor(forecast["expected"]) == (exact_expected + 50) // 100
    assert minor(forecast["p10"]) <= minor(forecast["p50"]) <= minor(forecast["p90"])
    assert 0.0 <= float(forecast.get("probability_of_reaching_quota", 0.0)) <= 1.0

    # The audit log holds every change above, each by whom it was made, through its request.
    audit = audit_entries(api, "forecasting") + audit_entries(api, "opportunities")
    # (Risk states are the alert job's, made on its own clock: no request.)
    by_people = [entry for entry in audit if entry["action"] != "RiskStateChanged"]
    assert all(entry.get("request_id") for entry in by_people), [
        e for e in by_people if not e.get("request_id")
    ]
    made = defaultdict(list)
    for entry in audit:
        made[entry["action"]].append(entry["actor"])
    assert sorted(made["UserChanged"]) == ["root"] * len(ORG)
    assert made["ForecastSettingsChanged"] == settings_changes
    assert sorted(made["QuotaCommitted"]) == sorted(["root", "vp", "vp", "vp", "east", "east", "west"])
    assert sorted(made["QuotaDraftSaved"]) == ["east", "vp", "vp", "west"]
    assert made["CommitStageSet"] == ["ann"]
    assert made["ForecastAdjusted"] == ["east"]
    assert sorted(made["ForecastCommitted"]) == ["ann", "ann", "bob", "bob", "cat", "east"]
    assert made["ExchangeRateChanged"] == ["root"]
    # Ten deals created, three of them closed, one changed: each change by the deal's owner.
    owners = [deal.owner for deal in deals]
    closers = [deal.owner for deal in deals if deal.outcome != "open"]
    assert sorted(made["OpportunityChanged"]) == sorted([*owners, *closers, "ann"])
    # From what, to what: the VP's second draft moved 50,000.00 off their direct quota.
    second_draft = next(e for e in audit if e["action"] == "QuotaDraftSaved" and e["actor"] == "vp")
    assert second_draft["has_previous"]
    (allocations,) = [c for c in second_draft["changes"] if c["path"] == "allocations"]
    direct = [a for a in allocations["to"] if a["kind"] == "direct"]
    assert direct == [{"user_id": "vp", "kind": "direct", "amount_minor": 5_000_000}]
    # Only administrators read it.
    assert api.call("GET", "/v1/audit-entries?service=forecasting", "vp")[0] == 403


def audit_entries(api: HttpGateway, service: str) -> list[dict]:
    """One service's whole audit log, newest first, read page by page with the cursor."""
    entries: list[dict] = []
    query = f"/v1/audit-entries?service={service}&page_size=20"
    while True:
        page = api.ok("GET", query, "root")
        entries.extend(page.get("entries", []))
        if not page.get("more"):
            return entries
        last = entries[-1]
        query = (
            f"/v1/audit-entries?service={service}&page_size=20"
            f"&before_time={last['occurred_at']}&before_entry_id={last['entry_id']}"
        )
