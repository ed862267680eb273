"""Under CI a skipped test is a failed test, so a missing broker or tool can never pass unseen."""

import pytest

pytest_plugins = ["pytester"]

SKIPPING_TEST = """
import pytest

def test_needs_something_missing():
    pytest.skip("no broker here")

@pytest.mark.xfail(reason="known gap")
def test_known_gap():
    assert False
"""


def test_a_skip_fails_the_run_under_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(SKIPPING_TEST)
    result = pytester.runpytest("-p", "salesplane")
    result.assert_outcomes(failed=1, xfailed=1)
    result.stdout.fnmatch_lines(["*skipped under CI, which is not allowed*no broker here*"])


def test_a_skip_stays_a_skip_outside_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(SKIPPING_TEST)
    pytester.runpytest("-p", "salesplane").assert_outcomes(skipped=1, xfailed=1)
