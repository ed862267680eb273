"""The seed's story through the web console, in Debian's Chromium driven by Playwright, on real
Kafka and PostgreSQL: every service and the gateway as processes, people signed in through the
development sign-in, each acting only through pages.

Every screen a person reaches is checked by axe-core (no serious or critical violation), must fit a
375-pixel-wide phone, must raise no page-policy (CSP) refusal, and is kept as a screenshot (desktop
and phone) in $SALESPLANE_TEST_ARTEFACTS/console, else the test's tmp dir."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from salesplane_platform.identity import issue_token
from salesplane_testing.chromium import CHROMIUM_ARGS, chromium_path
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def accessible(user: ConsoleUser, name: str) -> None:
    problems = user.check(name)
    assert problems == [], f"{name} as {user.user_id}: {problems}"


def usd(amount_minor: int) -> dict[str, object]:
    return {"currency_code": "USD", "amount_minor": amount_minor}


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def test_the_seeds_story_through_the_console(browser: Browser, services, gateway, tmp_path: Path) -> None:
    forecasting = services("forecasting")
    opportunities = services("opportunities")
    leads = services("leads", {"SALESPLANE_OPPORTUNITIES_TARGET": opportunities.target})
    services("reporting")
    base = gateway(
        {
            "SALESPLANE_OPPORTUNITIES_TARGET": opportunities.target,
            "SALESPLANE_FORECASTING_TARGET": forecasting.target,
            "SALESPLANE_ORG_TARGET": forecasting.target,
            "SALESPLANE_LEADS_TARGET": leads.target,
        }
    )
    api = HttpGateway(base, token)
    shots = artefacts_dir(tmp_path / "screens")
    today = date.today()
    period = quarter_of(today)
    close_date = today + timedelta(days=3) if quarter_of(today + timedelta(days=3)) == period else today

    # What is already there before the story: the organisation, the forecast ranges, deals.
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
    api.ok("PUT", "/v1/forecast-settings", "root", THREE_BUCKETS)
    hopeful = api.ok(
        "POST",
        "/v1/opportunities",
        "ann",
        {
            "name": "Kraków rollout",
            "account_name": "Wawel SA",
            "owner_user_id": "ann",
            "amount": usd(4_000_000),
            "expected_close_date": close_date.isoformat(),
            "sales_stage": "Id. Decision Makers",
        },
    )

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
        expect(page.locator("[data-figure=committed]")).to_contain_text("40,000")
        accessible(ann, "home-committed")
    del hopeful


def _figure_is(page: Page, name: str, text: str) -> None:
    assert page.locator(f"[data-figure={name}]").inner_text().strip() == text
