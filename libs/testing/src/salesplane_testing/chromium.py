"""Debian's headless Chromium for the browser tests, driven by Playwright (whose own browser
download is not used: the machine's package is kept current by apt, and CI installs it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, sync_playwright

# A quiet browser: nothing fetched that the test did not ask for.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def chromium_path() -> str:
    """The browser's executable; a failure in CI, where .ci/run installs it, else a skip."""
    found = shutil.which("chromium")
    if found is None:
        message = (
            "the browser tests need Debian's chromium (apt-get install --no-install-recommends "
            "chromium; .ci/run installs it)"
        )
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return found


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright; closed on leaving."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
