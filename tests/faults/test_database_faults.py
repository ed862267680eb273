"""PostgreSQL restarts (fast and immediate) and terminated backends under a steady load of deal
writes: clients see UNAVAILABLE at worst, nothing acknowledged is lost (the server runs with
fsync, synchronous commit and full-page writes on), and every loop carries on by itself."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.faults.conftest import LOAD_SECONDS, FaultStack
from tests.faults.load import SteadyLoad
from tests.faults.test_broker_faults import check_and_report

pytestmark = pytest.mark.e2e


def restart_fast(stack: FaultStack) -> None:
    stack.postgres.restart("fast")


def restart_immediate(stack: FaultStack) -> None:
    stack.postgres.restart("immediate")


def terminate_backends(stack: FaultStack) -> None:
    for name in ("opportunities", "forecasting"):
        database = stack.database(name).rsplit("/", 1)[1]
        stack.postgres.terminate_backends(database)


FAULTS: dict[str, Callable[[FaultStack], None]] = {
    "PostgreSQL restart -m fast": restart_fast,
    "PostgreSQL restart -m immediate (crash recovery)": restart_immediate,
    "every backend of both databases terminated": terminate_backends,
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_the_database_failing_under_load_loses_nothing_and_stops_nothing(
    stack: FaultStack, fault: str
) -> None:
    with SteadyLoad(stack.services["opportunities"].target) as load:
        load.wait_for_writes(40)
        time.sleep(LOAD_SECONDS)
        FAULTS[fault](stack)
        ended = time.monotonic()
        time.sleep(1.0)  # writes go on while the services reconnect
    check_and_report(stack, fault, load.ledger, ended)
