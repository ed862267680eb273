"""Fixtures of the malformed-request runs: one stack for the whole package (fuzz_stack.py), and the
per-API figures (fuzz_run.py) printed at the end of the session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from salesplane_testing.postgres_server import PostgresEndpoint
from tests.fuzz.fuzz_run import write_figures
from tests.fuzz.fuzz_stack import FuzzStack, fuzz_stack


@pytest.fixture(scope="package")
def stack(postgres_server: PostgresEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzStack]:
    with fuzz_stack(postgres_server, tmp_path_factory.mktemp("fuzz")) as started:
        yield started


def pytest_terminal_summary(terminalreporter: Any) -> None:
    write_figures(terminalreporter.write_line)
