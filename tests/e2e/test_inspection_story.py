"""The pipeline inspection's acceptance story, through the HTTP gateway on real Kafka and PostgreSQL.

A manager leads four reps in the current quarter, each with a quota of 1,000,000.00 USD:
* ann is behind pace: she has closed half of what the elapsed share of the quarter asks for, on a
  rich pipeline, and has not committed;
* bob has pushed and stalled deals: one pushed twice within the quarter, one pushed out of it (a
  third of his pipeline, so he is slipping), one sitting in a stage longer than won deals stayed;
* cat sandbags: she excludes her two likely deals by hand and commits only what she has closed;
* dan is healthy: on pace, three times what is left in pipeline, a commit the deals back.
Won deals of another team give the stalled rule its yardstick. Every flag, every figure behind it
and every figure of the rows and the team row is compared with inspection_oracle, computed here
from the deals, quotas and commits alone; the healthy rep has no flag at all. Then who may see
what, the errors for bad input, and the alerts the job recorded (and published on Kafka).

Time-bound figures (the elapsed share, seconds in a stage) are bracketed by the instants before
and after the call; everything else is exact. The amounts follow the elapsed share measured at the
start, so the story holds on any day of a quarter.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from kafka import KafkaConsumer

from salesplane.forecasting.v1 import inspection_pb2
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.identity import issue_token
from tests.e2e import inspection_oracle as oracle
from tests.e2e.conftest import SECRET
from tests.e2e.story_helpers import THREE_BUCKETS, HttpGateway, await_organisation, eventually

pytestmark = pytest.mark.e2e

ORG = {
    "vp": "",
    "lead": "vp",
    "other": "vp",
    "ann": "lead",
    "bob": "lead",
    "cat": "lead",
    "dan": "lead",
    "eve": "other",
}
MANAGERS = {"vp", "lead", "other"}
REPS = ("ann", "bob", "cat", "dan")
K = 1_000_00  # 1,000.00 USD in minor units
QUOTA = 1_000 * K
OPEN_STAGE = "Proposal/Price Quote"
STALL_STAGE = "Needs Analysis"
WON_STAGE = "Negotiation/Review"


def token(user: str) -> str:
    roles = ["admin"] if user == "root" else ["manager"] if user in MANAGERS else ["rep"]
    return issue_token(SECRET, user, roles)


def usd(amount_minor: int) -> dict:
    return {"currency_code": "USD", "amount_minor": amount_minor}


def minor(money: dict | None) -> int:
    return int((money or {}).get("amount_minor", 0))


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def ceil_to(value: Fraction, step: int) -> int:
    return -(-value.numerator // (value.denominator * step)) * step


class Story:
    def __init__(self, api: HttpGateway) -> None:
        self.api = api
        self.open: dict[str, list[oracle.OpenDeal]] = defaultdict(list)
        self.won: dict[str, int] = defaultdict(int)

    def deal(self, owner: str, name: str, amount: int, probability: int, close: date, **extra: Any) -> dict:
        body = {
            "name": name,
            "owner_user_id": owner,
            "amount": usd(amount),
            "expected_close_date": close.isoformat(),
            "sales_stage": extra.pop("stage", OPEN_STAGE),
            "probability": probability,
            "next_step": "call the buyer",
            **extra,
        }
        return self.api.ok("POST", "/v1/opportunities", owner, body)

    def won_deal(self, owner: str, name: str, amount: int, stage: str = WON_STAGE) -> dict:
        created = self.deal(owner, name, amount, 80, date.today(), stage=stage)
        self.api.ok("POST", f"/v1/opportunities/{created['id']}:close", owner, {"outcome": "won"})
        self.won[owner] += amount
        return created

    def open_deal(
        self, owner: str, name: str, amount: int, probability: int, close: date, **extra: Any
    ) -> dict:
        created = self.deal(owner, name, amount, probability, close, **extra)
        self.open[owner].append(oracle.OpenDeal(amount, probability))
        return created

    def move_close_date(self, owner: str, deal: dict, close: date) -> None:
        self.api.ok(
            "PATCH", f"/v1/opportunities/{deal['id']}", owner, {"expected_close_date": close.isoformat()}
        )


def test_the_inspection_flags_each_risky_rep_for_what_was_seeded_and_the_healthy_rep_not_at_all(
    services, gateway, kafka_broker, topic_prefix
):
    forecasting = services("forecasting", {"SALESPLANE_INSPECTION_ALERT_INTERVAL_SECONDS": "1"})
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
    period, start, last = oracle.quarter_of(datetime.now(UTC).date())
    after_period = last + timedelta(days=10)

    for user, manager in ORG.items():
        roles = ["manager"] if user in MANAGERS else ["rep"]
        body = {"display_name": user.title(), "roles": roles, "manager_user_id": manager, "active": True}
        api.ok("PUT", f"/v1/users/{user}", "root", body)
    # The users reach the other services by event: wait for them before giving them deals.
    await_organisation(opportunities.env["SALESPLANE_DATABASE_URL"], ORG)
    api.ok(
        "PUT",
        "/v1/forecast-settings",
        "root",
        THREE_BUCKETS,
    )

    # Thresholds: the defaults, but pacing without tolerance and the stalled rule from 3 won stays.
    thresholds = api.ok("GET", "/v1/inspection-settings", "ann")["thresholds"]
    assert int(thresholds["stalled_percentile"]) == 75 and int(thresholds["commit_shortfall_bp"]) == 2_000
    status, refused = api.call(
        "PUT",
        "/v1/inspection-settings",
        "root",
        {"thresholds": {**thresholds, "stalled_percentile": 0, "pushes_to_flag": 101}},
    )
    assert status == 400, refused
    assert "stalled_percentile" in str(refused) and "pushes_to_flag" in str(refused)
    assert api.call("PUT", "/v1/inspection-settings", "lead", {"thresholds": thresholds})[0] == 403
    thresholds = {**thresholds, "pacing_tolerance_bp": 0, "stalled_min_samples": 3}
    api.ok("PUT", "/v1/inspection-settings", "root", {"thresholds": thresholds})

    # The plan: the VP gives the lead 4,000,000.00, split evenly among the four reps.
    api.ok("PUT", f"/v1/quotas/vp/{period}", "root", {"amount": usd(10 * QUOTA)})
    plans = {
        "vp": [("lead", 4 * QUOTA), ("other", QUOTA)],
        "lead": [(rep, QUOTA) for rep in REPS],
    }
    for manager, split in plans.items():
        allocations = [{"user_id": u, "kind": "assigned", "amount": usd(a)} for u, a in split]
        api.ok("PUT", f"/v1/quota-plans/{manager}/{period}/draft", manager, {"allocations": allocations})
        api.ok("POST", f"/v1/quota-plans/{manager}/{period}:commit", manager, {})

    # Closed won so far: ann half of the elapsed share's due, the others a little ahead of it.
    share0 = oracle.elapsed(start, last, datetime.now(UTC))
    ahead = min(QUOTA, ceil_to((share0 + Fraction(1, 100)) * QUOTA, K))
    story = Story(api)
    behind = ceil_to(share0 / 2 * QUOTA, K) if share0 > Fraction(1, 50) else 0
    for rep, amount in {"ann": behind, "bob": ahead, "cat": ahead, "dan": max(ahead, 800 * K)}.items():
        if amount:
            story.won_deal(rep, f"{rep} won", amount)
    # Another team's won deals, each a moment in the stall stage: the stalled rule's yardstick.
    yardstick = [story.won_deal("eve", f"eve won {n}", 50 * K, stage=STALL_STAGE) for n in range(3)]

    for n in range(3):
        story.open_deal("ann", f"ann likely {n}", QUOTA, 90, last)
    pushed_twice = story.open_deal("bob", "bob pushed twice", 1_500 * K, 90, start)
    story.move_close_date("bob", pushed_twice, start + timedelta(days=1))
    story.move_close_date("bob", pushed_twice, last)
    pushed_out = story.deal("bob", "bob pushed out", QUOTA, 80, last)
    story.move_close_date("bob", pushed_out, after_period)
    stalled = story.open_deal("bob", "bob stalled", 1_500 * K, 60, last, stage=STALL_STAGE)
    hidden = [
        story.open_deal("cat", "cat big", 2_000 * K, 90, last),
        story.open_deal("cat", "cat solid", QUOTA, 80, last),
    ]
    for deal in hidden:
        # Forecasting keeps the commit stage: the deal must have reached it first.
        path = f"/v1/opportunities/{deal['id']}/commit-stage"
        eventually(lambda path=path: api.ok("PUT", path, "cat", {"commit_stage": "exclude"}))
    for n, probability in enumerate((90, 80, 60)):
        story.open_deal("dan", f"dan {n}", 200 * K, probability, last)

    def forecasting_caught_up() -> None:
        for rep in (*REPS, "eve"):
            own = api.ok("GET", f"/v1/rollups/{rep}?period={period}", rep).get("own", {})
            assert minor(own.get("closed_won")) == story.won[rep], rep
            assert minor(own.get("pipeline")) == sum(d.amount_minor for d in story.open[rep]), rep
        cat_sheet = api.ok("GET", f"/v1/worksheets/cat/{period}", "cat")
        hidden_names = {"cat big", "cat solid"}
        assert {d.get("commit_stage") for d in cat_sheet["deals"] if d["name"] in hidden_names} == {
            "exclude"
        }, cat_sheet

    eventually(forecasting_caught_up, timeout=60)
    commits = {
        rep: minor(api.ok("POST", f"/v1/worksheets/{rep}/{period}:commit", rep, {"kind": "rep"})["likely"])
        for rep in ("cat", "dan")
    }
    assert commits == {"cat": story.won["cat"], "dan": story.won["dan"] + 400 * K}

    # The stalled rule's yardstick, from the opportunities service's own stage history.
    stays = []
    for deal in yardstick:
        [entry, *_] = api.ok("GET", f"/v1/opportunities/{deal['id']}/stage-history", "eve")["entries"]
        assert entry["sales_stage"] == STALL_STAGE
        stays.append(max(0, int((moment(entry["leave_time"]) - moment(entry["enter_time"])).total_seconds())))
    percentile_seconds = sorted(stays)[-(-75 * len(stays) // 100) - 1]
    stalled_since = moment(api.ok("GET", f"/v1/opportunities/{stalled['id']}", "bob")["create_time"])
    while datetime.now(UTC) - stalled_since < timedelta(seconds=percentile_seconds + 2):
        time.sleep(0.2)

    before = datetime.now(UTC)
    team = api.ok("GET", f"/v1/inspections/lead/{period}", "lead")
    after = datetime.now(UTC)
    share_before, share_after = oracle.elapsed(start, last, before), oracle.elapsed(start, last, after)
    assert team["period_id"] == period and team["manager_user_id"] == "lead"
    rows = {row["user_id"]: row for row in team["rows"]}
    assert set(rows) == {*REPS, "lead"}

    pushed_out_minor = {"bob": QUOTA}
    expected_kinds: dict[str, set[str]] = {}
    for rep in REPS:
        row, deals, won = rows[rep], story.open[rep], story.won[rep]
        pipeline = sum(d.amount_minor for d in deals)
        expected = oracle.expected_minor(won, deals)
        assert not row.get("team")
        assert (minor(row["quota"]), minor(row["closed_won"]), minor(row["pipeline"])) == (
            QUOTA,
            won,
            pipeline,
        )
        assert minor(row["expected"]) == expected, rep
        # Unset figures are null in the JSON.
        assert (row.get("committed") is not None) is (rep in commits)
        assert minor(row.get("committed")) == commits.get(rep, 0)
        assert int(row["pacing_bp"]) == oracle.bp(Fraction(won, QUOTA))
        assert int(row["coverage_needed_bp"]) == 30_000  # no past periods: the default 3x
        assert int(row["coverage_bp"]) == oracle.bp(Fraction(pipeline, QUOTA - won))
        assert abs(int(row["p_quota_bp"]) - oracle.bp(oracle.p_reaching(QUOTA, won, deals))) <= 1, rep
        assert minor(row["pushed_out"]) == pushed_out_minor.get(rep, 0)
        assert oracle.bp(share_before) <= int(row["elapsed_bp"]) <= oracle.bp(share_after)
        kinds = {
            oracle_kind
            for share in (share_before, share_after)
            for oracle_kind in oracle.rep_kinds(
                quota_minor=QUOTA,
                won_minor=won,
                deals=deals,
                committed_minor=commits.get(rep),
                pushed_out_minor=pushed_out_minor.get(rep, 0),
                share=share,
            )
        }
        expected_kinds[rep] = kinds
        assert {flag["kind"] for flag in row.get("flags", [])} == kinds, (rep, row.get("flags"))
        # Nothing was recorded a week ago in this fresh system.
        assert row.get("since_lookback") is None

    # Each risky rep is flagged for exactly what was seeded; the healthy rep for nothing.
    assert expected_kinds == {
        "ann": {"pacing_behind"},
        "bob": {"slipping"},
        "cat": {"commit_below_pipeline"},
        "dan": set(),
    }
    [pace] = rows["ann"]["flags"]
    assert (int(pace["numbers"]["pacing_bp"]), int(pace["numbers"]["tolerance_bp"])) == (
        oracle.bp(Fraction(behind, QUOTA)),
        0,
    )
    assert oracle.bp(share_before) <= int(pace["numbers"]["elapsed_bp"]) <= oracle.bp(share_after)
    assert (
        oracle.half_up(QUOTA * share_before) - behind
        <= minor(pace["money_at_risk"])
        <= oracle.half_up(QUOTA * share_after) - behind
    )
    [slip] = rows["bob"]["flags"]
    assert {k: int(v) for k, v in slip["numbers"].items()} == {
        "pushed_out_minor": QUOTA,
        "slipping_bp": 2_500,  # 1,000,000.00 of the 4,000,000.00 the quarter had
        "threshold_bp": 2_000,
    }
    assert minor(slip["money_at_risk"]) == QUOTA
    [sandbag] = rows["cat"]["flags"]
    cat_expected = oracle.expected_minor(story.won["cat"], story.open["cat"])
    assert cat_expected == story.won["cat"] + 2_600 * K
    assert {k: int(v) for k, v in sandbag["numbers"].items()} == {
        "committed_minor": story.won["cat"],
        "expected_minor": cat_expected,
        "threshold_bp": 2_000,
    }
    assert minor(sandbag["money_at_risk"]) == 2_600 * K
    assert "is below the" in sandbag["reason"]
    assert not rows["dan"].get("flags") and not rows["lead"].get("flags")
    assert {rep: int(rows[rep].get("flagged_deal_count", 0)) for rep in rows} == {
        "ann": 0,
        "bob": 3,
        "cat": 2,
        "dan": 0,
        "lead": 0,
    }
    # Most money at risk first: cat 2,600,000.00, bob 1,000,000.00, ann's pace, then the rest by id.
    assert [row["user_id"] for row in team["rows"]] == ["cat", "bob", "ann", "dan", "lead"]
    for rep in commits:
        since = rows[rep]["since_commit"]
        assert minor(since.get("closed_won")) == 0 and minor(since.get("live_forecast_vs_committed")) == 0

    # The team row: the reps' figures summed against the lead's quota, judged on its own.
    all_open = [d for rep in REPS for d in story.open[rep]]
    team_won = sum(story.won[rep] for rep in REPS)
    team_row = team["team"]
    assert team_row["team"] and minor(team_row["quota"]) == 4 * QUOTA
    assert (minor(team_row["closed_won"]), minor(team_row["pipeline"])) == (
        team_won,
        sum(d.amount_minor for d in all_open),
    )
    assert abs(int(team_row["p_quota_bp"]) - oracle.bp(oracle.p_reaching(4 * QUOTA, team_won, all_open))) <= 1
    team_kinds = {
        kind
        for share in (share_before, share_after)
        for kind in oracle.rep_kinds(
            quota_minor=4 * QUOTA,
            won_minor=team_won,
            deals=all_open,
            committed_minor=None,
            pushed_out_minor=QUOTA,
            share=share,
        )
    }
    assert {flag["kind"] for flag in team_row.get("flags", [])} == team_kinds

    # Drill down: bob's deals, each with its reason and numbers.
    bob = api.ok("GET", f"/v1/rep-inspections/bob/{period}", "lead")
    flagged = {deal["name"]: deal for deal in bob["deals"]}
    assert set(flagged) == {"bob pushed twice", "bob pushed out", "bob stalled"}

    def numbers(name: str) -> dict[str, dict[str, int]]:
        return {
            f["kind"]: {k: int(v) for k, v in f.get("numbers", {}).items()} for f in flagged[name]["flags"]
        }

    assert numbers("bob pushed twice") == {"pushed": {"push_count": 2, "pushed_out_of_period": 0}}
    assert flagged["bob pushed twice"]["flags"][0]["reason"] == "close date pushed 2 times"
    assert numbers("bob pushed out") == {"pushed": {"push_count": 1, "pushed_out_of_period": 1}}
    assert f"out of {period} on " in flagged["bob pushed out"]["flags"][0]["reason"]
    assert (
        f"({last.isoformat()} to {after_period.isoformat()})"
        in flagged["bob pushed out"]["flags"][0]["reason"]
    )
    stall = numbers("bob stalled")["stalled"]
    assert (stall["percentile_seconds"], stall["percentile"]) == (percentile_seconds, 75)
    lower = int((before - stalled_since).total_seconds()) - 1
    upper = int((datetime.now(UTC) - stalled_since).total_seconds()) + 1
    assert lower <= stall["seconds_in_stage"] <= upper
    assert [minor(d["money_at_stake"]) for d in bob["deals"]] == sorted(
        (minor(d["money_at_stake"]) for d in bob["deals"]), reverse=True
    )

    cat = api.ok("GET", f"/v1/rep-inspections/cat/{period}", "cat")
    large = {deal["name"]: deal for deal in cat["deals"]}
    assert set(large) == {"cat big", "cat solid"}
    for name, amount in {"cat big": 2_000 * K, "cat solid": QUOTA}.items():
        [flag] = large[name]["flags"]
        assert flag["kind"] == "large"
        assert {k: int(v) for k, v in flag["numbers"].items()} == {
            "share_of_commit_bp": oracle.bp(Fraction(amount, commits["cat"])),
            "commit_minor": commits["cat"],
        }
    for rep in ("ann", "dan"):
        assert not api.ok("GET", f"/v1/rep-inspections/{rep}/{period}", rep).get("deals")

    # Who may see what: a rep their own row, a manager their subtree, no one else's.
    assert api.call("GET", f"/v1/inspections/lead/{period}", "ann")[0] == 403
    assert api.call("GET", f"/v1/rep-inspections/ann/{period}", "bob")[0] == 403
    assert api.call("GET", f"/v1/inspections/lead/{period}", "other")[0] == 403
    assert api.call("GET", f"/v1/rep-inspections/bob/{period}", "other")[0] == 403
    vp = api.ok("GET", f"/v1/inspections/vp/{period}", "vp")
    vp_rows = {row["user_id"]: row for row in vp["rows"]}
    assert vp_rows["lead"]["team"] and minor(vp_rows["lead"]["closed_won"]) == team_won
    assert minor(vp_rows["other"]["closed_won"]) == story.won["eve"]

    # Bad input: a clear 400 on the period, 404 for an unknown user (to an admin), 403 to others.
    status, problem = api.call("GET", "/v1/inspections/lead/2026-Q9", "lead")
    assert status == 400 and "period_id" in str(problem)
    assert api.call("GET", f"/v1/inspections/nobody/{period}", "root")[0] == 404
    assert api.call("GET", f"/v1/inspections/nobody/{period}", "lead")[0] == 403

    # The alert job saw the same: each subject's newest alert holds the flags in force now.
    subjects = {("rep", rep): expected_kinds[rep] for rep in REPS} | {("team", "lead"): team_kinds}

    def alerts_settled() -> list[dict]:
        alerts = api.ok("GET", f"/v1/risk-alerts?user_id=lead&period_id={period}&page_size=200", "lead")
        listed = alerts.get("alerts", [])
        newest: dict[tuple[str, str], dict] = {}
        for alert in listed:
            key = (alert["subject_kind"], alert["user_id"])
            if key not in newest or int(alert["sequence"]) > int(newest[key]["sequence"]):
                newest[key] = alert
        for key, kinds in subjects.items():
            current = {flag["kind"] for flag in newest[key].get("current", [])} if key in newest else set()
            assert current == kinds, (key, newest.get(key))
        return listed

    listed = eventually(alerts_settled, timeout=30)

    # The outbox relay publishes a moment after the record is committed: wait for each one, then
    # it must be there exactly once.
    def each_alert_published_once() -> None:
        published = read_risk_alerts(
            kafka_broker.bootstrap_servers, f"{topic_prefix}salesplane.forecasting.v1"
        )
        for alert in listed:
            key = (alert["subject_kind"], alert["user_id"], alert["period_id"], int(alert["sequence"]))
            assert published.count(key) == 1, (alert, published)

    eventually(each_alert_published_once, timeout=30)


def read_risk_alerts(bootstrap: str, topic: str) -> list[tuple[str, str, str, int]]:
    """(subject kind, user, period, sequence) of every RiskStateChanged on the topic."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000
    )
    try:
        envelopes = [decode_envelope(record.value) for record in consumer]
    finally:
        consumer.close()
    found = []
    for envelope in envelopes:
        if envelope.aggregate_type == "risk_state":
            alert = unpack_payload(envelope, inspection_pb2.RiskStateChanged).alert
            found.append((alert.subject_kind, alert.user_id, alert.period_id, alert.sequence))
    return found
