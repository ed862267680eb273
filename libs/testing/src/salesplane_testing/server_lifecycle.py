"""What the throw-away test servers (Kafka broker, PostgreSQL) share: a context-manager life,
no server left running when the test process exits, and a foreground mode for manual work."""

from __future__ import annotations

import atexit
import contextlib
import signal
import sys
import time
import weakref
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Self

from salesplane_testing._util import ServiceStartError


class ThrowAwayServer:
    """A server process a test starts and stops. Subclasses implement `_start` and `_stop`; every
    server started is stopped at interpreter exit if the test forgot to."""

    startup_seconds: float | None = None

    def start(self) -> Self:
        began = time.monotonic()
        self._start()
        self.startup_seconds = time.monotonic() - began
        _LIVE.add(self)
        return self

    def stop(self) -> None:
        _LIVE.discard(self)
        self._stop()

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def log_tail(self, lines: int = 60) -> str:
        raise NotImplementedError

    def _start(self) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


_LIVE: weakref.WeakSet[ThrowAwayServer] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop()


def serve_in_foreground(
    server: ThrowAwayServer, *, address: Callable[[], str], describe: Callable[[], str]
) -> int:
    """Start `server`, print its address on stdout and `describe()` on stderr, and run until
    Ctrl-C or SIGTERM; the exit code of a command-line entry point."""

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        server.start()
    except ServiceStartError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    try:
        print(address(), flush=True)
        print(f"{describe()}; Ctrl-C to stop", file=sys.stderr, flush=True)
        while server.running:
            time.sleep(0.5)
        print(f"exited unexpectedly; log tail:\n{server.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
