"""The browser every browser test of the gateway drives: one headless Chromium per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from salesplane_testing.chromium import CHROMIUM_ARGS, chromium_path


@pytest.fixture(scope="session")  # as Keycloak's: each test names it first, so it is checked first
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
