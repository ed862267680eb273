"""The web console in a real browser, for the browser tests: one signed-in browser context per
user, an accessibility check (axe-core, vendored) of every page they see, a screenshot of each
kept as a test artefact, and every message the page policy (CSP) refused collected as a failure.

axe-core is injected through the DevTools protocol (`page.evaluate`), which the page's policy
does not govern: the policy stays on, so an inline script or style that slipped into a template
shows up as a refusal here."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, ViewportSize

from salesplane_testing.artefacts import artefacts_dir as shared_artefacts_dir

_SHOTS = itertools.count(1)
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
# What the acceptance asks for: no serious or critical violation of WCAG 2.1 A and AA.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
PHONE = ViewportSize(width=375, height=812)
DESKTOP = ViewportSize(width=1280, height=900)


def artefacts_dir() -> Path:
    """Where screenshots go (artefacts.artefacts_dir)."""
    return shared_artefacts_dir("console")


# The innermost elements that stick out to the right of a phone's screen, to name in a failure.
_WIDE_ELEMENTS = """() => {
  const wide = [...document.querySelectorAll('body *')].filter(
    (e) => e.getBoundingClientRect().right > window.innerWidth + 1
      && !(e.parentElement && e.parentElement.closest('.table-wrap')));
  return wide.filter((e) => !wide.some((o) => o !== e && e.contains(o))).slice(0, 5).map(
    (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '')
      + ' ' + (e.textContent || '').trim().slice(0, 40));
}"""


@cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


@dataclass
class ConsoleUser:
    """One user's browser: their own cookies, their own pages."""

    user_id: str
    context: BrowserContext
    page: Page
    base_url: str
    artefacts: Path
    refused: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def go(self, path: str) -> Page:
        response = self.page.goto(self.base_url + path)
        assert response is not None
        return self.page

    def check(self, name: str) -> list[dict[str, object]]:
        """axe-core on the page as it is now, a full-page screenshot (desktop and phone width), and
        no policy refusal so far. Returns the blocking violations (the caller asserts none)."""
        page = self.page
        page.wait_for_load_state("networkidle")
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(_axe_source())
        result = page.evaluate(
            "async (tags) => await window.axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
        )
        blocking = [
            {
                "id": violation["id"],
                "impact": violation["impact"],
                "help": violation["help"],
                "targets": [node["target"] for node in violation["nodes"]][:5],
            }
            for violation in result["violations"]
            if violation.get("impact") in BLOCKING_IMPACTS
        ]
        # Numbered in the order taken, across users, so the files read as the story.
        slug = re.sub(r"[^a-z0-9]+", "-", f"{next(_SHOTS):02d}-{self.user_id}-{name}".lower())
        page.screenshot(path=str(self.artefacts / f"{slug}.png"), full_page=True)
        page.set_viewport_size(PHONE)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        culprits = page.evaluate(_WIDE_ELEMENTS) if overflow > 0 else []
        page.screenshot(path=str(self.artefacts / f"{slug}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        self.checked.append(name)
        if overflow > 0:
            wider = f"{overflow}px wider than 375px: {culprits}"
            blocking.append({"id": "phone-width", "impact": "serious", "help": wider})
        if self.refused:
            blocking.append({"id": "csp", "impact": "critical", "help": "; ".join(self.refused)})
        return blocking


@contextmanager
def console_user(
    browser: Browser, base_url: str, user_id: str, artefacts: Path, *, locale: str = "en-GB"
) -> Iterator[ConsoleUser]:
    """A browser context signed in as `user_id` through the development sign-in page."""
    context = browser.new_context(viewport=DESKTOP, locale=locale, timezone_id="Europe/Warsaw")
    context.set_default_timeout(20_000)
    page = context.new_page()
    user = ConsoleUser(user_id, context, page, base_url, artefacts)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            user.refused.append(message.text)

    page.on("console", on_console)
    try:
        page.goto(f"{base_url}/sign-in")
        page.click(f"button[name='user_id'][value='{user_id}']")
        page.wait_for_url(f"{base_url}/**")
        yield user
    finally:
        context.close()
