"""The soak runs on the whole system of the fault suite (tests/faults/full_stack.py); its figures
are printed at the end of the session, after the fault table."""

from __future__ import annotations

from typing import Any

# The fault suite's conftest first: full_stack builds on it (importing full_stack alone would
# meet the conftest's own import of it half-way).
import tests.faults.conftest  # noqa: F401
from tests.faults.full_stack import full_stack  # noqa: F401
from tests.soak.soak_samples import FINISHED, summary_lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for run in FINISHED:
        terminalreporter.write_line("")
        for line in summary_lines(run):
            terminalreporter.write_line(line)
