"""How a benchmark runs its body: with an exit stack for the servers it starts, which SIGTERM and
Ctrl-C unwind as well (a benchmark killed half-way must not leave a PostgreSQL running)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType


def development_environment() -> None:
    """The services a benchmark starts are a development deployment: they accept the development
    tokens the benchmark signs (processes inherit this)."""
    os.environ.setdefault("SALESPLANE_ENV", "development")


def run_cleanly(body: Callable[[contextlib.ExitStack], None]) -> None:
    """Run `body` with an exit stack; on SIGTERM or Ctrl-C unwind it and exit with 130."""
    development_environment()

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        with contextlib.ExitStack() as stack:
            body(stack)
    except KeyboardInterrupt:
        print("interrupted; the servers started were stopped and their directories removed", file=sys.stderr)
        sys.exit(130)
