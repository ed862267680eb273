"""The web console: every page rendered server-side, timed with the demo organisation loaded, beside
the ceilings measured in the same run; and the JavaScript the pages ship, compressed.

    python bench/console_pages.py                 # embedded mode (SQLite + local event log), as `make run`
    python bench/console_pages.py --runs 100

Starts the four services and the gateway as processes on a fresh data directory (what `make run`
starts, on other ports), loads the demo organisation through the public API (scripts/load_demo.py),
signs in through the development sign-in as a rep, a first-line manager, the VP, a marketer and the
administrator, and GETs each of their pages `--runs` times after a warm-up, one keep-alive
connection per user, one request at a time: what one person clicking sees.

Printed per page: p50, p95 and max in ms, the target (p95 <= 100 ms) and the ratio of the page's
p95 to the ceiling's. The ceilings, for the same user in the same run:
  * "hop": GET /healthz, the gateway with no upstream call: the floor of any page;
  * "api": GET /v1/rollups/<user>?period=..., one JSON read through one gRPC call: what a page
    costs at least per service call it makes.
Then the JavaScript: every <script src> of every page fetched, gzip -9 sizes summed (target
<= 50 KB compressed).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from salesplane_platform.identity import issue_token  # noqa: E402
from salesplane_testing import bench_results  # noqa: E402
from salesplane_testing.bench_harness import run_cleanly  # noqa: E402
from salesplane_testing.processes import ServiceHandle, free_port  # noqa: E402
from scripts.load_demo import load_demo  # noqa: E402

SECRET = "console-bench-secret-of-at-least-32-bytes"
TARGET_P95_MS = 100.0
TARGET_JS_BYTES = 50 * 1024
PEERS = ("leads", "opportunities", "forecasting", "reporting")


@dataclass(frozen=True)
class Timing:
    p50: float
    p95: float
    worst: float


def timed(get: Callable[[], requests.Response], runs: int) -> Timing:
    for _ in range(3):  # warm-up: templates compiled, channels open, caches filled
        get().raise_for_status()
    samples: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = get()
        samples.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    samples.sort()
    return Timing(statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)], samples[-1])


def start_system(stack: contextlib.ExitStack, data_dir: Path) -> str:
    ports = {name: free_port() for name in PEERS}
    targets = {f"SALESPLANE_{name.upper()}_TARGET": f"127.0.0.1:{port}" for name, port in ports.items()}
    common = {
        "SALESPLANE_ENV": "development",
        "SALESPLANE_AUTH_SECRET": SECRET,
        "SALESPLANE_DATA_DIR": str(data_dir),
        "SALESPLANE_LOG_LEVEL": "WARNING",
        **targets,
    }
    for name in PEERS:
        handle = ServiceHandle(name=name, env=common, log_dir=data_dir, grpc_port=ports[name])
        handle.start()
        stack.callback(handle.stop)
    port = free_port()
    log = (data_dir / "gateway.log").open("wb")
    gateway = subprocess.Popen(
        [str(Path(sys.executable).parent / "salesplane-gateway")],
        env={
            **os.environ,
            **common,
            "SALESPLANE_GATEWAY_PORT": str(port),
            "SALESPLANE_GATEWAY_HOST": "127.0.0.1",
            "SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
            "SALESPLANE_GATEWAY_METRICS_PORT": str(free_port()),
        },
        stdout=log,
        stderr=log,
    )
    stack.callback(lambda: (gateway.terminate(), gateway.wait(timeout=15)))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{base}/healthz", timeout=1).ok:
                return base
        time.sleep(0.1)
    raise TimeoutError("the gateway did not answer /healthz within 30 s")


def signed_in(base: str, user_id: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/sign-in", timeout=10)
    page.raise_for_status()
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token, "no sign-in form"
    answer = session.post(
        f"{base}/sign-in",
        data={"form_token": token.group(1), "user_id": user_id, "next": "/"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text[:300]
    return session


# The demo's people (scripts/load_demo.py): a rep, their manager, the VP, and the administrator,
# who also reads the marketing screen (the demo has no marketing-only user).
REP, MANAGER, VP, ADMIN = "anna.nowak", "marek.kowalski", "vp", "admin"


FRAGMENTS = frozenset({"/team-numbers", "/marketing/returns"})


def pages_of() -> list[tuple[str, str]]:
    """(user, path) of every screen, as the demo's people would open them."""
    rep, manager, vp, marketer, admin = REP, MANAGER, VP, ADMIN, ADMIN
    return [
        (rep, "/"),
        (rep, "/pipeline"),
        (rep, "/leads"),
        (rep, "/reports"),
        (manager, "/"),
        (manager, "/team"),
        (manager, f"/team/{rep}"),
        (manager, "/quota-plan"),
        (vp, "/team"),
        # The parts a page renders without when they are slow, fetched by htmx right after it.
        (vp, "/team-numbers"),
        (vp, "/quota-plan"),
        (marketer, "/marketing"),
        (marketer, "/marketing/returns"),
        (manager, "/reports/forecast_vs_quota"),
        (manager, "/reports/pipeline_by_stage"),
        (admin, "/admin"),
        (admin, "/admin/users"),
        (admin, "/admin/audit"),
    ]


def run(stack: contextlib.ExitStack, options: argparse.Namespace) -> None:
    data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="console-bench-")))
    base = start_system(stack, data_dir)
    started = time.monotonic()
    summary = load_demo(base, lambda user, roles: issue_token(SECRET, user, roles))
    print(
        f"demo organisation loaded in {time.monotonic() - started:.1f} s: {summary.deals} deals, "
        f"{summary.leads} leads, {len(summary.users)} users"
    )
    time.sleep(3)  # the last events reach forecasting's rollups and reporting's read models

    sessions: dict[str, requests.Session] = {}
    print(f"\n{'user':<14} {'page':<34} {'p50':>7} {'p95':>7} {'max':>7}  {'p95/100ms':>9}  {'p95/api':>7}")
    period = summary.current_period
    ceilings: dict[str, tuple[Timing, Timing]] = {}
    script_urls: set[str] = set()
    worst_ratio = 0.0
    figures: list[bench_results.Figure] = []
    for user, path in pages_of():
        session = sessions.setdefault(user, signed_in(base, user))
        if user not in ceilings:
            token = issue_token(SECRET, user, ("admin",) if user == ADMIN else ("manager", "rep"))
            hop = timed(lambda s=session: s.get(f"{base}/healthz", timeout=10), options.runs)
            api = timed(
                lambda s=session, u=user, t=token: s.get(
                    f"{base}/v1/rollups/{urllib.parse.quote(u)}?period={period}",
                    headers={"Authorization": f"Bearer {t}"},
                    timeout=10,
                ),
                options.runs,
            )
            ceilings[user] = (hop, api)
            print(f"{user:<14} {'(hop: /healthz)':<34} {hop.p50:7.1f} {hop.p95:7.1f} {hop.worst:7.1f}")
            print(f"{user:<14} {'(api: /v1/rollups)':<34} {api.p50:7.1f} {api.p95:7.1f} {api.worst:7.1f}")
        # A fragment is fetched as htmx fetches it.
        headers = {"HX-Request": "true"} if path in FRAGMENTS else {}
        page = session.get(base + path, timeout=10, headers=headers)
        page.raise_for_status()
        script_urls.update(re.findall(r'<script[^>]+src="([^"]+)"', page.text))
        timing = timed(
            lambda s=session, p=path, h=headers: s.get(base + p, timeout=10, headers=h), options.runs
        )
        ratio = timing.p95 / TARGET_P95_MS
        if path not in FRAGMENTS:
            worst_ratio = max(worst_ratio, ratio)
        figures.append(page_figure(user, path, timing, ceilings[user][1]))
        print(
            f"{user:<14} {path:<34} {timing.p50:7.1f} {timing.p95:7.1f} {timing.worst:7.1f}  {ratio:9.2f}"
            f"  {timing.p95 / ceilings[user][1].p95:7.1f}"
        )
    total = 0
    print("\nJavaScript shipped (gzip -9):")
    for url in sorted(script_urls):
        body = requests.get(base + url, timeout=10).content
        packed = len(gzip.compress(body, compresslevel=9))
        total += packed
        print(f"  {url.split('?')[0]:<40} {len(body):>8} B  {packed:>7} B compressed")
    print(f"  total {total} B compressed = {total / TARGET_JS_BYTES:.2f} of the 50 KB target")
    print(
        f"\nslowest page p95 = {worst_ratio:.2f} of the 100 ms target"
        " (fragments not counted: they follow their page)"
    )
    figures.append(
        bench_results.Figure(
            name="JavaScript shipped, gzip -9",
            value=total / 1024,
            unit="KB",
            target=bench_results.Target(at_most=TARGET_JS_BYTES / 1024),
            lower_is_better=True,
        )
    )
    bench_results.record(
        "console",
        figures,
        notes=[
            f"embedded mode, demo organisation; {options.runs} runs per page after a warm-up",
            "fragments are printed without the target: they follow their page",
        ],
    )


def page_figure(user: str, path: str, timing: Timing, api: Timing) -> bench_results.Figure:
    """A page's p95 beside its user's one-JSON-read p95; a fragment for reference, as printed."""
    target = bench_results.Target() if path in FRAGMENTS else bench_results.Target(at_most=TARGET_P95_MS)
    return bench_results.Figure(
        name=f"{path} p95 ({user})",
        value=timing.p95,
        unit="ms",
        target=target,
        ceiling_name="api p95 (/v1/rollups)",
        ceiling=api.p95,
        lower_is_better=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=50)
    options = parser.parse_args()
    run_cleanly(lambda stack: run(stack, options))


if __name__ == "__main__":
    main()
