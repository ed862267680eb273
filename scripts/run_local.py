"""`make run`: every service and the gateway as local processes on SQLite and the local event log.

Logs of all processes go to this terminal, prefixed by service; Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

SERVICES = [
    (
        "leads",
        "salesplane-leads",
        {
            "SALESPLANE_GRPC_PORT": "50051",
            "SALESPLANE_METRICS_PORT": "9101",
            "SALESPLANE_OPPORTUNITIES_TARGET": "127.0.0.1:50052",
        },
    ),
    (
        "opportunities",
        "salesplane-opportunities",
        {"SALESPLANE_GRPC_PORT": "50052", "SALESPLANE_METRICS_PORT": "9102"},
    ),
    (
        "forecasting",
        "salesplane-forecasting",
        {
            "SALESPLANE_GRPC_PORT": "50053",
            "SALESPLANE_METRICS_PORT": "9103",
            # A leaving user's open leads and deals (counted, or handed to their manager).
            "SALESPLANE_LEADS_TARGET": "127.0.0.1:50051",
            "SALESPLANE_OPPORTUNITIES_TARGET": "127.0.0.1:50052",
        },
    ),
    (
        "reporting",
        "salesplane-reporting",
        {"SALESPLANE_GRPC_PORT": "50054", "SALESPLANE_METRICS_PORT": "9104"},
    ),
    ("gateway", "salesplane-gateway", {"SALESPLANE_GATEWAY_PORT": "8080"}),
]
COLOURS = ["36", "32", "35", "33", "34"]


def _die_with_parent() -> None:
    # Linux: if this launcher dies (even by SIGKILL), each service gets SIGTERM and stops cleanly.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _say(message: str) -> None:
    with contextlib.suppress(OSError):  # the terminal may already be gone
        print(message, flush=True)


def _pump(name: str, colour: str, stream: object) -> None:
    prefix = f"\033[{colour}m{name:>13}\033[0m | " if sys.stdout.isatty() else f"{name:>13} | "
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        with contextlib.suppress(OSError):
            sys.stdout.write(prefix + line)
            sys.stdout.flush()


def main() -> int:
    env = {**os.environ, "SALESPLANE_ENV": os.environ.get("SALESPLANE_ENV", "dev")}
    env.setdefault("SALESPLANE_DATA_DIR", str(ROOT / "var"))
    processes: list[tuple[str, subprocess.Popen[str]]] = []
    for (name, command, ports), colour in zip(SERVICES, COLOURS, strict=True):
        process = subprocess.Popen(
            [str(BIN / command)],
            env={**env, **ports},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
            preexec_fn=_die_with_parent,
        )
        threading.Thread(target=_pump, args=(name, colour, process.stdout), daemon=True).start()
        processes.append((name, process))

    print(
        "\nSalesplane is starting (embedded mode: SQLite + local event log under "
        f"{env['SALESPLANE_DATA_DIR']}):\n"
        "  console       http://127.0.0.1:8080/  (sign in as anyone; `make demo` loads a demo org)\n"
        "  gateway       http://127.0.0.1:8080   (OpenAPI: http://127.0.0.1:8080/openapi.json)\n"
        "  leads         grpc 127.0.0.1:50051    metrics http://127.0.0.1:9101/metrics\n"
        "  opportunities grpc 127.0.0.1:50052    metrics http://127.0.0.1:9102/metrics\n"
        "  forecasting   grpc 127.0.0.1:50053    metrics http://127.0.0.1:9103/metrics\n"
        "  reporting     grpc 127.0.0.1:50054    metrics http://127.0.0.1:9104/metrics\n"
        "  a token:      make token SUB=alice ROLES=rep\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    exit_code = 0
    while not stop.is_set():
        for name, process in processes:
            if process.poll() is not None:
                _say(f"{name} exited with status {process.returncode}; stopping everything")
                exit_code = 1
                stop.set()
        stop.wait(0.5)

    for _, process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for name, process in reversed(processes):
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"{name} did not stop in time; killing it")
            process.kill()
    _say("all stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
