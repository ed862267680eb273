"""Small helpers shared by the Kafka and PostgreSQL launchers."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

LOOPBACK = "127.0.0.1"


class ServiceStartError(RuntimeError):
    """A test server (Kafka, PostgreSQL) could not be prepared, started or reached.

    The message always carries the diagnostics needed to fix it (command, exit code, log tail).
    """

    __module__ = "salesplane_testing"


def is_ci() -> bool:
    """True when running under CI (env ``CI`` set to a truthy value)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct free ports (all sockets are held open together so they differ)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def tail(path: Path | None, lines: int = 60) -> str:
    """The last ``lines`` lines of a text file, or a note saying why there are none."""
    if path is None:
        return "(no log file)"
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return f"(log file {path} does not exist)"
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    text = "\n".join(data.splitlines()[-lines:])
    return text if text.strip() else f"(log file {path} is empty)"


def matching_lines(path: Path | None, needles: tuple[str, ...], limit: int = 20) -> str:
    """The last ``limit`` lines of ``path`` containing any of ``needles`` (e.g. the ERROR lines of a log)."""
    if path is None:
        return "(no log file)"
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    hits = [line for line in text.splitlines() if any(n in line for n in needles)]
    return "\n".join(hits[-limit:]) if hits else "(none)"


def format_diagnostics(title: str, sections: dict[str, str]) -> str:
    parts = [title]
    for name, body in sections.items():
        parts.append(f"----- {name} -----\n{body.rstrip()}")
    return "\n".join(parts)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) on ``path``, e.g. to serialise cache fills across xdist workers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def parent_death_signal(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to send ``sig`` to the child when its parent dies.

    Keeps a broker from outliving a test run that was killed with SIGKILL. ``None`` elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def _preexec() -> None:
        prctl(pr_set_pdeathsig, int(sig), 0, 0, 0)

    return _preexec


def terminate_process_group(proc: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM the child's process group, SIGKILL it after ``grace`` seconds; returns the exit code."""
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=30)


_SLUG_RE = re.compile(r"[^a-z0-9]+")


def slug(text: str, max_len: int) -> str:
    """Lower-case ``text`` reduced to ``[a-z0-9_]``, trimmed to ``max_len`` characters."""
    return _SLUG_RE.sub("_", text.lower()).strip("_")[:max_len].strip("_") or "x"
