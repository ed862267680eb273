"""The seed's story through the web console, in Debian's Chromium driven by Playwright, on real
Kafka and PostgreSQL: every service and the gateway as processes, people signed in through the
development sign-in, each acting only through pages.

Every screen a person reaches is checked by axe-core (no serious or critical violation), must fit a
375-pixel-wide phone, must raise no page-policy (CSP) refusal, and is kept as a screenshot (desktop
and phone) in build/test-artefacts/console (or $SALESPLANE_TEST_ARTEFACTS/console)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from salesplane_platform.identity import issue_token
from salesplane_testing.console_browser import ConsoleUser, artefacts_dir, console_user
from tests.e2e.conftest import SECRET
from tests.e2e.story_helpers import THREE_BUCKETS, HttpGateway, await_organisation, eventually

pytestmark = pytest.mark.e2e

NOTHING = "\u2013"  # the en dash a card shows when there is no figure

ORG = {"root": None, "vp": None, "east": "vp", "ann": "east", "bob": "east", "mia": "vp"}
ROLES = {
    "root": ["admin"],
    "vp": ["manager"],
    "east": ["manager"],
    "ann": ["rep"],
    "bob": ["rep"],
    "mia": ["marketing"],
}
NAMES = {
    "root": "Root Admin",
    "vp": "Vera Vice",
    "east": "Edward East",
    "ann": "Anna Nowak",
    "bob": "Bob Brown",
    "mia": "Mia Market",
}


def token(user: str) -> str:
    return issue_token(SECRET, user, ROLES.get(user, ["rep"]))


def accessible(user: ConsoleUser, name: str) -> None:
    problems = user.check(name)
    assert problems == [], f"{name} as {user.user_id}: {problems}"


def usd(amount_minor: int) -> dict[str, object]:
    return {"currency_code": "USD", "amount_minor": amount_minor}


def next_quarter(period: str) -> str:
    year, quarter = int(period[:4]), int(period[-1])
    return f"{year + 1}-Q1" if quarter == 4 else f"{year}-Q{quarter + 1}"


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def test_the_seeds_story_through_the_console(chromium: Browser, services, gateway) -> None:
    browser = chromium
    forecasting = services("forecasting")
    opportunities = services("opportunities")
    leads = services("leads", {"SALESPLANE_OPPORTUNITIES_TARGET": opportunities.target})
    reporting = services("reporting")
    base = gateway(
        {
            "SALESPLANE_OPPORTUNITIES_TARGET": opportunities.target,
            "SALESPLANE_FORECASTING_TARGET": forecasting.target,
            "SALESPLANE_ORG_TARGET": forecasting.target,
            "SALESPLANE_LEADS_TARGET": leads.target,
            "SALESPLANE_REPORTING_TARGET": reporting.target,
        }
    )
    api = HttpGateway(base, token)
    shots = artefacts_dir()
    today = date.today()
    period = quarter_of(today)
    close_date = today + timedelta(days=3) if quarter_of(today + timedelta(days=3)) == period else today

    scene = _set_the_scene(api, leads.env["SALESPLANE_DATABASE_URL"], opportunities, period, close_date)

    # Anyone's first page: the development sign-in lists the organisation.
    stranger_context = browser.new_context()
    stranger = ConsoleUser("stranger", stranger_context, stranger_context.new_page(), base, shots)
    stranger.go("/")  # sent to sign in, and brought back after
    expect(stranger.page.get_by_role("button", name=re.compile("Anna Nowak"))).to_be_visible()
    accessible(stranger, "sign-in")
    stranger_context.close()

    # A rep includes a 40 % deal by hand and commits.
    with console_user(browser, base, "ann", shots) as ann:
        page = ann.go("/")
        expect(page.get_by_role("heading", name=re.compile("My forecast"))).to_be_visible()
        accessible(ann, "home")
        row = page.locator("tr", has_text="Kraków rollout")
        row.get_by_label(re.compile("Commit stage of")).select_option("include")
        row.get_by_role("button", name="Set").click()
        expect(page.get_by_role("status")).to_contain_text("Commit stage saved")
        eventually(lambda: _figure_is(page, "committed", NOTHING))
        page.get_by_label("Note for your manager").fill("Kraków signs this week")
        page.get_by_role("button", name="Commit forecast").click()
        expect(page.get_by_role("status")).to_contain_text("Forecast committed")
        # Won 30,000 + Łódź at 80 % 90,000 + Kraków at 40 %, included by hand, 40,000.
        expect(page.locator("[data-figure=committed]")).to_contain_text("160,000")
        accessible(ann, "home-committed")

        # Her pipeline, and a deal of hers; a bad filter is refused beside its field.
        ann.go("/pipeline")
        expect(page.get_by_role("link", name="Kraków rollout")).to_be_visible()
        accessible(ann, "pipeline")
        page.get_by_role("link", name="Kraków rollout").click()
        expect(page.get_by_role("heading", name=re.compile("Kraków rollout"))).to_be_visible()
        accessible(ann, "deal")

        # Another rep's deal by its URL: the service refuses, the page says so, nothing leaks.
        response = page.goto(f"{base}/deals/{scene['bob_deal']}")
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", name="This is not yours to see")).to_be_visible()
        assert "Gdańsk" not in page.content()
        accessible(ann, "not-yours")

        # A deal form with bad input: each error beside its field, nothing created.
        ann.go("/deals/new")
        page.get_by_label("Deal name").fill("Bad deal")
        page.get_by_label("Amount", exact=True).fill("12,34,5")
        page.get_by_label("Probability (%)").fill("140")
        page.get_by_role("button", name="Create deal").click()
        expect(page.locator("#f-amount[aria-invalid=true]")).to_be_visible()
        expect(page.locator("#e-amount")).to_be_visible()
        expect(page.locator("#e-probability")).to_be_visible()
        accessible(ann, "deal-form-errors")
        status, listed = api.call("GET", "/v1/opportunities?owner_user_id=ann", "ann")
        assert status == 200 and all(deal["name"] != "Bad deal" for deal in listed.get("opportunities", []))

    # An admin sets the VP's target for next quarter; the VP drafts a split the manager cannot
    # see, then commits it, and the manager sees it.
    upcoming = next_quarter(period)
    with console_user(browser, base, "root", shots) as root:
        page = root.go(f"/quota-plan?period={upcoming}")
        page.locator("#f-set_user").select_option("vp")
        page.locator("#f-set_period").fill(upcoming)
        page.locator("#f-set_amount").fill("1000000")
        page.locator("#f-set_currency").fill("USD")
        page.get_by_role("button", name="Set and commit the quota").click()
        expect(page.get_by_role("status")).to_be_visible()
        accessible(root, "quota-set")
    with console_user(browser, base, "vp", shots) as vp, console_user(browser, base, "east", shots) as east:
        page = vp.go(f"/quota-plan?period={upcoming}")
        expect(page.locator("#main")).to_contain_text("1,000,000")
        page.locator("#plan-q-east").fill("700000")
        expect(page.locator("#plan-sums")).to_contain_text("700,000")  # as typed, before any save
        page.locator("#plan-q-east").fill("1200000")
        expect(page.locator("#plan-sums")).to_contain_text(re.compile("Over-allocated", re.IGNORECASE))
        page.locator("#plan-q-east").fill("700000")
        page.get_by_role("button", name="Save draft (only I see it)").click()
        expect(page.get_by_role("status")).to_be_visible()
        accessible(vp, "quota-draft")
        east.go(f"/quota-plan?period={upcoming}")
        assert "700,000" not in east.page.locator("#main").inner_text()
        accessible(east, "quota-before-commit")
        vp.go(f"/quota-plan?period={upcoming}")
        page.get_by_role("button", name="Commit (they see it)").click()
        expect(page.get_by_role("status")).to_be_visible()
        east.go(f"/quota-plan?period={upcoming}")
        expect(east.page.locator("#main")).to_contain_text("700,000")
        accessible(east, "quota-after-commit")

        # The manager sees the rep's commit, adjusts it, commits upward; sees the at-risk rep
        # flagged with its reason; and drills into a rep's worksheet.
        page = east.go(f"/team?period={period}")
        ann_row = page.locator("tr[data-user=ann]")
        expect(ann_row).to_contain_text("160,000")
        bob_row = page.locator("tr[data-user=bob]")
        expect(bob_row).to_contain_text("At risk")
        expect(bob_row).to_have_class(re.compile("flagged"))
        accessible(east, "team")
        page.locator("#adj-ann-likely").fill("150000")
        ann_row.get_by_role("button", name="Save adjustment").click()
        expect(page.get_by_role("status")).to_be_visible()
        expect(page.locator("#adj-ann-likely")).to_have_value(re.compile(r"^150000(\.00)?$"))
        page.get_by_label("Note for your manager").fill("Anna's Kraków deal is a stretch")
        page.get_by_role("button", name="Commit team forecast").click()
        expect(page.get_by_role("status")).to_be_visible()
        accessible(east, "team-committed")
        east.go(f"/team/ann?period={period}")
        expect(east.page.locator("#main")).to_contain_text("Kraków rollout")
        accessible(east, "team-member")

        # The VP sees the manager's commit come up.
        page = vp.go(f"/team?period={period}")
        expect(page.locator("tr[data-user=east]")).to_contain_text("Edward East")
        accessible(vp, "team-vp")

    # A rep cannot reach another rep's worksheet by URL either.
    with console_user(browser, base, "ann", shots) as ann:
        response = ann.page.goto(f"{base}/team/bob?period={period}")
        assert response is not None and response.status == 403
        assert "Gdańsk" not in ann.page.content()

    # Marketing reads ROI per channel.
    with console_user(browser, base, "mia", shots) as mia:
        page = mia.go("/marketing")
        expect(page.get_by_role("heading", name="Marketing", exact=True)).to_be_visible()
        returns = page.locator("#returns-results")
        eventually(lambda: _contains(returns, "Spring webinar"), timeout=60)
        # The web channel: cost 5,000, won 30,000: ROI (30,000 - 5,000) / 5,000.
        channel_row = returns.locator("section", has_text="Per channel").locator("tr", has_text="web").first
        expect(channel_row).to_contain_text("US$5,000.00")
        expect(channel_row).to_contain_text("500%")
        accessible(mia, "marketing")

    # A manager builds a report, sees its chart and exports it as CSV.
    with console_user(browser, base, "east", shots) as east:
        page = east.go("/reports")
        accessible(east, "reports")
        east.go("/reports/new")
        page.locator("#pick-source").select_option("opportunities")
        page.get_by_role("button", name=re.compile("Use this source")).click()
        page.locator("#f-d0_field").select_option("sales_stage")
        page.locator("#f-m0_aggregate").select_option("sum")
        page.locator("#f-m0_field").select_option("amount_base")
        page.locator("#f-m0_name").fill("amount")
        page.locator("#f-chart_kind").select_option("bar")
        page.locator("#f-title").fill("Team pipeline by stage")
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("figure.report-chart svg")).to_be_visible()
        accessible(east, "report-builder-preview")
        page.locator("#main").get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("heading", name="Team pipeline by stage")).to_be_visible()
        expect(page.locator("figure.report-chart svg")).to_be_visible()
        expect(page.locator("table")).to_contain_text("Id. Decision Makers")
        accessible(east, "report")
        with page.expect_download() as downloaded:
            page.get_by_role("link", name="Download CSV").click()
        exported = Path(downloaded.value.path()).read_text(encoding="utf-8")
        assert "Id. Decision Makers" in exported and "Gdańsk" not in exported.splitlines()[0]

    _tour(browser, base, shots, scene)


# Every other screen, as the person who uses it opens it: each must pass the same checks.
TOUR = {
    "ann": [
        "/leads",
        "/leads/new",
        "/leads/import",
        "/leads/{lead}",
        "/reports",
        "/reports/pipeline_by_stage",
    ],
    "mia": ["/marketing/campaigns/new", "/marketing/campaigns/{campaign}"],
    "root": [
        "/admin",
        "/admin/users",
        "/admin/users/ann",
        "/admin/users/new",
        "/admin/stages",
        "/admin/rates",
        "/admin/forecast-settings",
        "/admin/scoring",
        "/admin/inspection",
        "/admin/audit",
    ],
}


def _tour(browser: Browser, base: str, shots: Path, scene: dict) -> None:
    for user_id, paths in TOUR.items():
        with console_user(browser, base, user_id, shots) as user:
            for path in paths:
                response = user.page.goto(base + path.format(**scene))
                assert response is not None and response.status == 200, (
                    user_id,
                    path,
                    response and response.status,
                )
                accessible(user, path.strip("/").replace("/", "-") or "home")
    # One screen in Polish, as a Polish browser asks for it.
    with console_user(browser, base, "ann", shots, locale="pl-PL") as ann:
        ann.go("/")
        expect(ann.page.get_by_role("heading", name=re.compile("Moja prognoza"))).to_be_visible()
        expect(ann.page.locator("html")).to_have_attribute("lang", "pl")
        accessible(ann, "home-pl")


def _set_the_scene(
    api: HttpGateway, leads_database: str, opportunities, period: str, close_date: date
) -> dict:
    """What is already there before the story: the organisation, the forecast ranges, this quarter's
    quotas, deals, and a campaign whose lead became a won deal."""
    for user, manager in ORG.items():
        api.ok(
            "PUT",
            f"/v1/users/{user}",
            "root",
            {
                "display_name": NAMES[user],
                "roles": ROLES[user],
                "manager_user_id": manager or "",
                "active": True,
            },
        )
    await_organisation(opportunities.env["SALESPLANE_DATABASE_URL"], ORG)
    await_organisation(leads_database, ORG)
    api.ok("PUT", "/v1/forecast-settings", "root", THREE_BUCKETS)
    # This quarter's plan, committed top-down (the console's quota act plans the next one).
    api.ok("PUT", f"/v1/quotas/vp/{period}", "root", {"amount": usd(100_000_000)})
    _split(api, "vp", period, {"east": 80_000_000, "vp": 20_000_000})
    _split(api, "east", period, {"ann": 30_000_000, "bob": 50_000_000})

    def deal(owner: str, name: str, amount: int, stage: str) -> str:
        body = {
            "name": name,
            "account_name": f"{name} SA",
            "owner_user_id": owner,
            "amount": usd(amount),
            "expected_close_date": close_date.isoformat(),
            "sales_stage": stage,
        }
        return str(api.ok("POST", "/v1/opportunities", owner, body)["id"])

    deal("ann", "Kraków rollout", 4_000_000, "Id. Decision Makers")
    deal("ann", "Łódź renewal", 9_000_000, "Negotiation/Review")
    # Bob: half the team's quota and almost no pipeline, the rep the inspection flags.
    bob_deal = deal("bob", "Gdańsk pilot", 500_000, "Prospecting")

    # Marketing: a web campaign with its cost, whose lead became a deal that was won.
    source = api.ok("POST", "/v1/lead-sources", "mia", {"name": "Webinars", "channel": "web"})
    campaign = api.ok(
        "POST",
        "/v1/campaigns",
        "mia",
        {
            "name": "Spring webinar",
            "lead_source_id": source["id"],
            "budget": usd(2_000_000),
            "start_date": (close_date - timedelta(days=60)).isoformat(),
            "end_date": (close_date + timedelta(days=30)).isoformat(),
        },
    )
    api.ok(
        "POST",
        f"/v1/campaigns/{campaign['id']}:record-cost",
        "mia",
        {"incurred_on": date.today().isoformat(), "amount": usd(500_000), "request_id": "story-cost"},
    )
    lead = api.ok(
        "POST",
        "/v1/leads",
        "mia",
        {
            "lead": {
                "first_name": "Zofia",
                "last_name": "Wiśniewska",
                "company": "Vistula Labs",
                "email": "zofia@vistula.example",
                "lead_source_id": source["id"],
                "campaign_id": campaign["id"],
            },
            "assigned_user_id": "ann",
        },
    )
    lead_id = lead.get("lead", lead).get("id")
    converted = api.ok(
        "POST",
        f"/v1/leads/{lead_id}:convert",
        "ann",
        {
            "opportunity_name": "Vistula Labs platform",
            "owner_user_id": "ann",
            "amount": usd(3_000_000),
            "expected_close_date": close_date.isoformat(),
            "sales_stage": "Proposal/Price Quote",
        },
    )
    api.ok("POST", f"/v1/opportunities/{converted['opportunity_id']}:close", "ann", {"outcome": "won"})
    return {"bob_deal": bob_deal, "lead": str(lead_id), "campaign": str(campaign["id"])}


def _split(api: HttpGateway, manager: str, period: str, amounts: dict[str, int]) -> None:
    allocations = [
        {"user_id": user, "kind": "direct" if user == manager else "assigned", "amount": usd(amount)}
        for user, amount in amounts.items()
    ]
    api.ok("PUT", f"/v1/quota-plans/{manager}/{period}/draft", manager, {"allocations": allocations})
    api.ok("POST", f"/v1/quota-plans/{manager}/{period}:commit", manager, {})


def _contains(locator, text: str) -> None:
    found = locator.inner_text()
    assert text in found, found


def _figure_is(page: Page, name: str, text: str) -> None:
    assert page.locator(f"[data-figure={name}]").inner_text().strip() == text
