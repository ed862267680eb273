"""The gateway's hot reads under load: requests per second and p50 / p99 latency, measured with wrk,
beside a hello-world Flask route served the same way in the same run.

    python bench/gateway_reads.py                      # PostgreSQL + real Kafka (started here)
    python bench/gateway_reads.py --seconds 3          # a short run

Everything runs as separate OS processes on this machine: PostgreSQL and a Kafka broker, the four
services (each on its own database), the gateway in front of them and, as the ceiling, a
hello-world Flask app served by waitress with the gateway's own server settings (threads, ident,
proxy headers, read from the same environment through GatewayConfig). The organisation (an
administrator, a first-line manager and their reps) and the reps' deals are loaded through the
gateway's public HTTP API with development tokens.

Then wrk (`--threads` threads, `--connections` keep-alive connections, `--seconds` per route, every
request with a valid bearer token) drives, one after the other:
  * ceiling: GET / of the hello-world app: the most any Flask route served this way can do here;
  * GET /healthz of the gateway: its own cost with no upstream call;
  * GET /v1/rollups/<manager>?period=<this quarter>: one gRPC call to forecasting;
  * GET /v1/opportunities?page_size=50 as the manager: a page of 50 deals from opportunities;
  * GET /v1/sales-stages.
Each route is read once before its run and must answer 200 with the expected content; a run whose
wrk output reports non-2xx answers or socket errors fails. The gateway's per-caller rate limit is
off (one token drives thousands of requests a second; the limit is tested elsewhere).

Targets: the rollup read >= 2,000 req/s, p99 <= 25 ms and >= 0.7 x hello-world; the 50-deal list
>= 1,000 req/s and >= 0.7 x hello-world. The gateway's resident memory is printed idle (after the
load, before the first run) and after the runs, and the load average before and after: anything
else running on the machine skews these figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from salesplane_platform.identity import issue_token  # noqa: E402
from salesplane_platform.settings import DEV_AUTH_SECRET  # noqa: E402
from salesplane_testing import bench_results  # noqa: E402
from salesplane_testing.bench_harness import run_cleanly  # noqa: E402
from salesplane_testing.bench_results import Figure, Target  # noqa: E402
from salesplane_testing.processes import GatewayHandle, ServiceHandle, free_port, wait_answering  # noqa: E402
from scripts.load_demo import Gateway, segment  # noqa: E402

WRK = "/usr/bin/wrk"
# Forecasting first: it owns the organisation the others replicate.
SERVICES = ("forecasting", "opportunities", "leads", "reporting")
ADMIN, MANAGER = "admin", "bench.manager"
LIST_PAGE_SIZE = 50
ROLLUP_TARGET = Target(at_least=2000.0, min_ratio=0.7)
ROLLUP_P99_TARGET_MS = 25.0
LIST_TARGET = Target(at_least=1000.0, min_ratio=0.7)
REFERENCE = Target()  # a figure printed and recorded for reference, with no target
# How long the deals may take to reach forecasting's rollups by event.
REPLICATION_WAIT_SECONDS = 60.0
HELLO_WORLD_FLAG = "--serve-hello-world"


@dataclass(frozen=True)
class Organisation:
    reps: tuple[str, ...]

    def roles_of(self, user: str) -> tuple[str, ...]:
        if user == ADMIN:
            return ("admin",)
        return ("manager",) if user == MANAGER else ("rep",)


@dataclass(frozen=True)
class Loaded:
    period_id: str
    deals: int


@dataclass(frozen=True)
class WrkRun:
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Measured:
    label: str
    run: WrkRun


# ----------------------------------------------------------------------------- the ceiling


def serve_hello_world() -> None:
    """The ceiling's process: one Flask route behind waitress, created exactly as the gateway's
    main() creates its server, from the same environment."""
    from flask import Flask

    from salesplane_gateway.config import GatewayConfig
    from salesplane_gateway.main import http_server
    from salesplane_platform.json_logging import configure_logging

    config = GatewayConfig.from_env()
    configure_logging("gateway", config.log_level)
    app = Flask("hello_world")
    app.add_url_rule("/", "hello", lambda: "hello, world")
    http_server(app, config).run()


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=15)


def start_hello_world(stack: contextlib.ExitStack, gateway_env: dict[str, str], log_dir: Path) -> str:
    port = free_port()
    env = {
        **os.environ,
        **gateway_env,
        "SALESPLANE_GATEWAY_HOST": "127.0.0.1",
        "SALESPLANE_GATEWAY_PORT": str(port),
        "SALESPLANE_GATEWAY_METRICS_PORT": "0",
    }
    log = (log_dir / "hello-world.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), HELLO_WORLD_FLAG],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(stop_process, process)
    base = f"http://127.0.0.1:{port}"
    wait_answering(process, f"{base}/", 30, "hello-world server")
    return base


# ----------------------------------------------------------------------------- the system


def server_threads(gateway_env: dict[str, str]) -> int:
    from salesplane_gateway.config import GatewayConfig

    return GatewayConfig.from_env({**os.environ, **gateway_env}).threads


def start_system(stack: contextlib.ExitStack, scratch: Path) -> tuple[GatewayHandle, dict[str, str]]:
    """PostgreSQL, Kafka, the four services each on its own database, and the gateway; returns the
    gateway and the environment it was given (the ceiling gets the same)."""
    from salesplane_testing.kafka_broker import KafkaBroker
    from salesplane_testing.postgres_server import PostgresServer

    postgres = stack.enter_context(PostgresServer())
    broker = stack.enter_context(KafkaBroker())
    ports = {name: free_port() for name in SERVICES}
    targets = {f"SALESPLANE_{name.upper()}_TARGET": f"127.0.0.1:{port}" for name, port in ports.items()}
    for name in SERVICES:
        (scratch / name).mkdir()
        handle = ServiceHandle(
            name=name,
            grpc_port=ports[name],
            env={
                **targets,
                "SALESPLANE_DATABASE_URL": postgres.create_database(f"bench_{name}"),
                "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                "SALESPLANE_DATA_DIR": str(scratch / name),
                "SALESPLANE_LOG_LEVEL": "WARNING",
                "SALESPLANE_SHUTDOWN_GRACE_SECONDS": "5",
            },
            log_dir=scratch,
        )
        stack.callback(handle.stop)
        handle.start()
    gateway_env = {
        **targets,
        "SALESPLANE_AUTH_SECRET": DEV_AUTH_SECRET,
        "SALESPLANE_LOG_LEVEL": "WARNING",
        "SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
    }
    gateway = GatewayHandle(env=gateway_env, log_dir=scratch)
    stack.callback(gateway.stop)
    gateway.start()
    return gateway, gateway_env


def load_organisation(api: Gateway, org: Organisation) -> None:
    people = [(ADMIN, ""), (MANAGER, ""), *((rep, MANAGER) for rep in org.reps)]
    for user, manager in people:
        body = {
            "display_name": user,
            "email": f"{user}@example.com",
            "roles": list(org.roles_of(user)),
            "manager_user_id": manager,
            "active": True,
        }
        api.call("PUT", f"/v1/users/{segment(user)}", ADMIN, body)


def first_open_stage(api: Gateway) -> str:
    stages = api.call("GET", "/v1/sales-stages", ADMIN).get("sales_stages") or []
    ordered = sorted(stages, key=lambda s: s.get("order", 0))
    return next(str(s["name"]) for s in ordered if not (s.get("is_won") or s.get("is_lost")))


def load_deals(api: Gateway, org: Organisation, deals_per_rep: int) -> Loaded:
    """The reps' deals, open and closing this quarter, in the base currency; waits until the
    manager's rollup counts them all (they reach forecasting by event)."""
    today = datetime.now(UTC).date().isoformat()
    quarter = api.call("GET", f"/v1/periods:of-date?date={today}", ADMIN)["quarter"]
    stage = first_open_stage(api)
    currency = str(api.call("GET", "/v1/forecast-settings", ADMIN).get("currency_code") or "USD")
    for rep in org.reps:
        for number in range(deals_per_rep):
            body = {
                "name": f"{rep} deal {number}",
                "account_name": f"Account {number}",
                "owner_user_id": rep,
                "amount": {"currency_code": currency, "amount_minor": 1_000_000 + 10_000 * number},
                "expected_close_date": quarter["end_date"],
                "sales_stage": stage,
            }
            # The rep may be a moment old: opportunities learns of them by event.
            api.call("POST", "/v1/opportunities", rep, body, replicated=True)
    loaded = Loaded(quarter["period_id"], len(org.reps) * deals_per_rep)
    await_rollup(api, loaded)
    return loaded


def await_rollup(api: Gateway, loaded: Loaded) -> None:
    path = f"/v1/rollups/{segment(MANAGER)}?period={loaded.period_id}"
    deadline = time.monotonic() + REPLICATION_WAIT_SECONDS
    counted = 0
    while time.monotonic() < deadline:
        team = api.call("GET", path, MANAGER).get("team") or {}
        counted = int(team.get("open_count") or 0)
        if counted == loaded.deals:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the manager's rollup counts {counted} of {loaded.deals} deals after the wait")


# ----------------------------------------------------------------------------- measuring


def token_of(org: Organisation, user: str) -> str:
    return issue_token(DEV_AUTH_SECRET, user, org.roles_of(user))


def check_answer(url: str, token: str, check: Callable[[requests.Response], str | None]) -> None:
    """One plain GET before the load: a 200 with the expected content, else the run stops here."""
    answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: {answer.status_code} {answer.text[:300]}")
    problem = check(answer)
    if problem:
        raise RuntimeError(f"GET {url}: {problem}")


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def latency_ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not found:
        raise ValueError(f"not a wrk latency: {text!r}")
    return float(found.group(1)) * UNITS_MS[found.group(2)]


def parse_wrk(output: str) -> WrkRun:
    """wrk's report; fails on any answer other than 2xx/3xx and any socket error, which would
    leave the figures describing something other than the route's answers."""
    if "Non-2xx or 3xx responses" in output:
        raise RuntimeError(f"wrk saw answers other than 2xx/3xx:\n{output}")
    if "Socket errors" in output:
        raise RuntimeError(f"wrk saw socket errors (connect, read, write or timeout):\n{output}")
    percentile = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", output, re.MULTILINE)
    if rate is None or total is None or set(percentile) != {"50", "99"}:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return WrkRun(
        int(total.group(1)), float(rate.group(1)), latency_ms(percentile["50"]), latency_ms(percentile["99"])
    )


def run_wrk(url: str, token: str, options: argparse.Namespace) -> WrkRun:
    command = [
        WRK,
        f"--threads={options.threads}",
        f"--connections={options.connections}",
        f"--duration={options.seconds}s",
        "--timeout=10s",
        "--latency",
        "--header",
        f"Authorization: Bearer {token}",
        url,
    ]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=options.seconds + 60, check=False
    )
    if finished.returncode != 0:
        raise RuntimeError(f"wrk exited with {finished.returncode}:\n{finished.stdout}{finished.stderr}")
    return parse_wrk(finished.stdout)


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no VmRSS for process {pid}")
    return int(found.group(1)) / 1024


def listed(expected: int) -> Callable[[requests.Response], str | None]:
    def check(answer: requests.Response) -> str | None:
        count = len(answer.json().get("opportunities") or [])
        return None if count == expected else f"{count} deals listed, {expected} expected"

    return check


def rollup_counts(expected: int) -> Callable[[requests.Response], str | None]:
    def check(answer: requests.Response) -> str | None:
        counted = int((answer.json().get("team") or {}).get("open_count") or 0)
        return None if counted == expected else f"the rollup counts {counted} deals, {expected} expected"

    return check


def has_key(key: str) -> Callable[[requests.Response], str | None]:
    def check(answer: requests.Response) -> str | None:
        body: Any = answer.json()
        return None if isinstance(body, dict) and body.get(key) else f"no {key!r} in the answer"

    return check


def says_hello(answer: requests.Response) -> str | None:
    return None if answer.text == "hello, world" else f"unexpected body {answer.text[:80]!r}"


# ----------------------------------------------------------------------------- the report


def print_report(measured: list[Measured], ceiling: WrkRun) -> None:
    print(f"\n{'route':<46} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x hello':>8} {'requests':>9}")
    for item in measured:
        ratio = item.run.requests_per_second / ceiling.requests_per_second
        print(
            f"{item.label:<46} {item.run.requests_per_second:9,.0f} {item.run.p50_ms:8.2f} "
            f"{item.run.p99_ms:8.2f} {ratio:8.2f} {item.run.requests:9,}"
        )


def figures_of(measured: dict[str, WrkRun], rss_idle: float, rss_after: float) -> list[Figure]:
    hello = measured["hello"].requests_per_second

    def rate(key: str, name: str, target: Target = REFERENCE) -> Figure:
        return Figure(name, measured[key].requests_per_second, "req/s", target, "hello-world Flask", hello)

    return [
        rate("healthz", "GET /healthz"),
        rate("rollup", "rollup read", ROLLUP_TARGET),
        Figure(
            "rollup read p99",
            measured["rollup"].p99_ms,
            "ms",
            Target(at_most=ROLLUP_P99_TARGET_MS),
            "hello-world Flask p99",
            measured["hello"].p99_ms,
            lower_is_better=True,
        ),
        rate("list", "50-deal list", LIST_TARGET),
        Figure(
            "50-deal list p99",
            measured["list"].p99_ms,
            "ms",
            ceiling_name="hello-world Flask p99",
            ceiling=measured["hello"].p99_ms,
            lower_is_better=True,
        ),
        rate("stages", "GET /v1/sales-stages"),
        Figure("gateway RSS idle", rss_idle, "MiB", lower_is_better=True),
        Figure("gateway RSS after the runs", rss_after, "MiB", lower_is_better=True),
    ]


def print_targets(figures: list[Figure]) -> None:
    print("\ntargets:")
    for figure in figures:
        if figure.met is None:
            continue
        ratio = f", {figure.ratio:.2f} x {figure.ceiling_name}" if figure.ratio is not None else ""
        verdict = "met" if figure.met else "NOT MET"
        print(
            f"  {figure.name:<18} {figure.value:9,.2f} {figure.unit}{ratio}; "
            f"target {figure.target.describe(figure.unit)}: {verdict}"
        )


# ----------------------------------------------------------------------------- main


def run(stack: contextlib.ExitStack, options: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gateway-bench-")))
    print("starting PostgreSQL, Kafka, the four services and the gateway", flush=True)
    gateway, gateway_env = start_system(stack, scratch)
    hello_base = start_hello_world(stack, gateway_env, scratch)
    org = Organisation(tuple(f"bench.rep{n}" for n in range(options.reps)))
    api = Gateway(gateway.base_url, lambda user, _roles: token_of(org, user))
    started = time.monotonic()
    load_organisation(api, org)
    loaded = load_deals(api, org, options.deals_per_rep)
    print(
        f"loaded in {time.monotonic() - started:.1f} s: 1 manager, {len(org.reps)} reps, "
        f"{loaded.deals} open deals closing in {loaded.period_id}"
    )

    manager = token_of(org, MANAGER)
    base = gateway.base_url
    routes = [
        ("hello", "ceiling: hello-world Flask (same waitress)", f"{hello_base}/", says_hello),
        ("healthz", "GET /healthz", f"{base}/healthz", has_key("status")),
        (
            "rollup",
            f"GET /v1/rollups/{MANAGER}?period={loaded.period_id}",
            f"{base}/v1/rollups/{urllib.parse.quote(MANAGER)}?period={loaded.period_id}",
            rollup_counts(loaded.deals),
        ),
        (
            "list",
            f"GET /v1/opportunities?page_size={LIST_PAGE_SIZE}",
            f"{base}/v1/opportunities?page_size={LIST_PAGE_SIZE}",
            listed(LIST_PAGE_SIZE),
        ),
        ("stages", "GET /v1/sales-stages", f"{base}/v1/sales-stages", has_key("sales_stages")),
    ]
    for _key, _label, url, check in routes:
        check_answer(url, manager, check)
    assert gateway.process is not None
    rss_idle = rss_mib(gateway.process.pid)
    measured: dict[str, WrkRun] = {}
    for key, label, url, _check in routes:
        print(f"wrk {options.seconds} s: {label}", flush=True)
        measured[key] = run_wrk(url, manager, options)
    rss_after = rss_mib(gateway.process.pid)
    load_after = os.getloadavg()

    print(
        f"\nwrk: {options.threads} threads, {options.connections} connections, {options.seconds} s per "
        f"route, every request as {MANAGER} (a bearer token); the gateway and the ceiling: waitress "
        f"with {server_threads(gateway_env)} threads, the gateway's rate limit off"
    )
    print_report([Measured(label, measured[key]) for key, label, _url, _check in routes], measured["hello"])
    print(f"\ngateway RSS: {rss_idle:.1f} MiB idle (loaded, before the runs), {rss_after:.1f} MiB after")
    print(
        f"machine: {os.cpu_count()} CPUs; load average (1, 5, 15 min) "
        f"{' '.join(f'{v:.2f}' for v in load_before)} before, "
        f"{' '.join(f'{v:.2f}' for v in load_after)} after (anything else running skews these figures)"
    )
    figures = figures_of(measured, rss_idle, rss_after)
    print_targets(figures)
    path = bench_results.record(
        "gateway",
        figures,
        notes=[
            f"wrk {options.threads} threads, {options.connections} connections, "
            f"{options.seconds} s per route",
            f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after",
        ],
    )
    print(f"recorded in {path}")


def main() -> None:
    if sys.argv[1:] == [HELLO_WORLD_FLAG]:
        serve_hello_world()
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--deals-per-rep", type=int, default=16)
    options = parser.parse_args()
    if options.reps * options.deals_per_rep < LIST_PAGE_SIZE:
        parser.error(f"the manager must see at least {LIST_PAGE_SIZE} deals (--reps x --deals-per-rep)")
    run_cleanly(lambda stack: run(stack, options))


if __name__ == "__main__":
    main()
