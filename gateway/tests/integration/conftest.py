"""The browser every browser test of the gateway drives: the session's one headless Chromium
(the `chromium` fixture of salesplane_testing's pytest plugin)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser


@pytest.fixture(scope="session")  # as Keycloak's: each test names it first, so it is checked first
def browser(chromium: Browser) -> Browser:
    return chromium
