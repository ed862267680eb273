"""One run's size and seed, from the environment, and the figures of each API's run (printed by
the package's conftest at the end of the session).

SALESPLANE_FUZZ_REQUESTS: generated requests per API (default DEFAULT_REQUESTS; `make fuzz`, and
`make chaos` through it, run FULL_REQUESTS). SALESPLANE_FUZZ_SEED: the generators' seed; the
figures name it, so a failing run can be repeated request for request.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from tests.fuzz.refusal_batches import Tally

FULL_REQUESTS = 10_000
DEFAULT_REQUESTS = 2_000
DEFAULT_SEED = 17
FIGURES: list[Tally] = []


def fuzz_requests() -> int:
    return int(os.environ.get("SALESPLANE_FUZZ_REQUESTS", DEFAULT_REQUESTS))


def fuzz_seed() -> int:
    return int(os.environ.get("SALESPLANE_FUZZ_SEED", DEFAULT_SEED))


def record(tally: Tally) -> None:
    FIGURES.append(tally)
    print("\n" + tally.summary())


def write_figures(write: Callable[[str], None]) -> None:
    if not FIGURES:
        return
    write("")
    write(f"malformed requests (seed {fuzz_seed()}, {fuzz_requests()} generated per API)")
    write("| API | generated | replayed | sent | seconds | requests/s | accepted | by status |")
    write("|---|---|---|---|---|---|---|---|")
    for tally in FIGURES:
        accepted = sum(tally.accepted_by_target.values())
        statuses = ", ".join(f"{status} {count}" for status, count in tally.by_status.most_common())
        write(
            f"| {tally.api} | {tally.generated} | {tally.replayed} | {tally.sent} | {tally.seconds:.1f}"
            f" | {tally.per_second:.0f} | {accepted} | {statuses} |"
        )
