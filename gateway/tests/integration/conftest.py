"""The browser every browser test of the gateway drives: one headless Chromium per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from salesplane_testing.chromium import launched_chromium


@pytest.fixture(scope="session")  # as Keycloak's: each test names it first, so it is checked first
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched
