"""The network between each service and the broker, and between each service and its database,
goes bad under a steady load of deal writes and of leads created, qualified and converted: nothing
acknowledged is lost, clients only ever see retryable codes, and once the network is healthy again
every loop catches up by itself and every derived state (rollups, reporting's read models, the
replicas of the reporting lines) equals its oracle.

Each of the four services reaches the broker and its PostgreSQL through proxies of its own on a
real Toxiproxy (eight proxies). The broker has a listener per service that advertises that
service's proxy, so a client bootstrapped through the proxy stays on it; the test's own clients
(oracle, lag, outbox) use the direct addresses. On each link in turn a toxic is held for the
fault's duration and removed: added latency, a bandwidth limit, connection resets and a blackhole
(data dropped, connections held; Toxiproxy closes them when the toxic goes).

`SALESPLANE_FAULT_LONG=1` (make test-faults) holds each toxic 30 s on every link: all thirty-two.
The short form (make test) holds it 5 s (a broker blackhole 12 s: past the delivery and session
timeouts), puts a blackhole on every link (the fault that holds calls and loops longest) and each
of the other three toxics on a few links, so that an API's database, a relay's broker, a
consumer's broker and a consumer's database each get one. One stack serves the whole module: each
test starts on a stack that has recovered from the one before (it is rebuilt when a test left it
broken)."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from sqlalchemy.engine import make_url

from salesplane_testing.kafka_broker import KafkaBroker
from salesplane_testing.postgres_server import DURABLE_SETTINGS, PostgresServer
from salesplane_testing.processes import ServiceHandle
from salesplane_testing.toxiproxy import Proxy, Stream, ToxiproxyServer, require_toxiproxy
from tests.e2e.story_helpers import await_organisation
from tests.e2e.test_rollups_survive_kills import ORG
from tests.faults import state_oracles
from tests.faults.conftest import (
    DELIVERY_TIMEOUT_S,
    LONG,
    OPPORTUNITIES_TOPIC,
    REPORT,
    FaultStack,
    set_organisation,
)
from tests.faults.full_stack import CONSUMED
from tests.faults.load import SteadyLoad
from tests.faults.mixed_load import LeadFlow
from tests.faults.test_broker_faults import check_and_report

pytestmark = pytest.mark.e2e

SERVICES = ("opportunities", "forecasting", "leads", "reporting")
LINKS = ("broker", "database")
FAULT_S = 30.0 if LONG else 5.0
# The consumers' group session timeout (session_timeout_ms of kafka_transport.KafkaSubscriber).
SESSION_TIMEOUT_S = 10.0
# A blackholed broker link is held past the delivery timeout (8 s in the short form) and the
# consumers' session timeout (10 s): the relay's batches expire and its producer is replaced, and
# the broker drops the consumers from their group, as in the long form.
BROKER_BLACKHOLE_S = 30.0 if LONG else max(DELIVERY_TIMEOUT_S, SESSION_TIMEOUT_S) + 2
# Writes before the fault: the system is busy (relay publishing, consumers applying) when it hits.
LOAD_BEFORE_S = 3.0 if LONG else 1.0
# Long enough for anything already past the proxy when a blackhole starts to have arrived.
IN_FLIGHT_S = 1.0


@dataclass(frozen=True)
class Toxic:
    kind: str
    attributes: dict[str, int]
    streams: tuple[Stream, ...]
    described: str


TOXICS = {
    "latency": Toxic(
        "latency", {"latency": 300, "jitter": 100}, ("upstream", "downstream"), "300 +- 100 ms each way"
    ),
    "bandwidth": Toxic("bandwidth", {"rate": 8}, ("upstream", "downstream"), "8 KB/s each way"),
    # Each connection is reset (RST) a second after it carries data, reconnections too: the link
    # works in bursts and every connection dies mid-conversation.
    "reset_peer": Toxic("reset_peer", {"timeout": 1000}, ("downstream",), "every connection reset 1 s in"),
    # Both ways: requests vanish, and so do the answers to those already sent.
    "blackhole": Toxic("timeout", {"timeout": 0}, ("upstream", "downstream"), "blackhole"),
}
ALL_CASES = [(s, link, t) for s in SERVICES for link in LINKS for t in TOXICS]
SHORT_CASES = [
    *[(s, link, "blackhole") for s in SERVICES for link in LINKS],
    ("leads", "database", "reset_peer"),
    ("reporting", "broker", "latency"),
    ("opportunities", "database", "reset_peer"),
    ("opportunities", "broker", "bandwidth"),
    ("forecasting", "broker", "reset_peer"),
    ("forecasting", "database", "latency"),
]
CASES = ALL_CASES if LONG else SHORT_CASES


def listener(service: str) -> str:
    """The broker listener that advertises `service`'s proxy."""
    return f"VIA_{service.upper()}_PROXY"


@dataclass
class NetworkFaultStack(FaultStack):
    """A FaultStack whose services reach the broker and their databases only through proxies;
    `database()` (what the oracles read) stays the direct address."""

    toxiproxy: ToxiproxyServer = field(kw_only=True)
    proxies: dict[tuple[str, str], Proxy] = field(kw_only=True)
    direct_databases: dict[str, str] = field(default_factory=dict, kw_only=True)

    def start(self, name: str, env: dict[str, str] | None = None) -> ServiceHandle:
        # The base class creates a database of its own for the service; this one, made first,
        # is the one the service is pointed at (through its proxy), so the other stays empty.
        direct = self.postgres.create_database(f"{name}_{uuid.uuid4().hex[:8]}")
        self.direct_databases[name] = direct
        through = make_url(direct).set(port=self.proxies[(name, "database")].port)
        return super().start(
            name,
            {
                "SALESPLANE_DATABASE_URL": through.render_as_string(hide_password=False),
                "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS": self.proxies[(name, "broker")].listen,
                **(env or {}),
            },
        )

    def database(self, name: str) -> str:
        return self.direct_databases[name]

    def _lag(self) -> list[str]:
        lags = {group: self.consumer_lag(group, *read) for group, read in CONSUMED.items()}
        return [f"{group} consumer lag {lag}" for group, lag in lags.items() if lag]

    def problems(self) -> list[str]:
        """Also: reporting's read models and both replicas of the reporting lines equal their
        oracles (the leads and reporting services are behind proxies too)."""
        found = super().problems()
        db = self.database
        try:
            found += state_oracles.replica_problems(
                db("forecasting"), {"leads": db("leads"), "opportunities": db("opportunities")}
            )
            found += state_oracles.reporting_problems(
                db("reporting"), db("opportunities"), db("leads"), db("forecasting")
            )
            found += state_oracles.conversion_problems(db("leads"), db("opportunities"))
        except Exception as error:  # a database still unreachable
            found.append(f"derived state check failed: {error!r}")
        return found

    def bypasses(self) -> list[str]:
        """Connections a service holds to the broker or PostgreSQL directly, and proxies a
        service does not use: either would make a fault on its link miss it."""
        found = []
        direct = {self.postgres.port, self.broker.port, *(self._listener_port(s) for s in SERVICES)}
        for name, handle in self.services.items():
            assert handle.process is not None
            ports = remote_ports(handle.process.pid)
            if ports & direct:
                found.append(f"{name} talks to ports {sorted(ports & direct)} directly")
            for link in LINKS:
                if self.proxies[(name, link)].port not in ports:
                    found.append(f"{name} has no connection to its {link} proxy")
        return found

    def _listener_port(self, service: str) -> int:
        return int(self.broker.listener_address(listener(service)).rpartition(":")[2])


def remote_ports(pid: int) -> set[int]:
    """The remote ports of a process's established TCP connections (Linux: its socket
    descriptors matched against the kernel's connection tables)."""
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(descriptor)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            columns = line.split()
            remote, state, inode = columns[2], columns[3], columns[9]
            if inode in inodes and state == "01":  # ESTABLISHED
                ports.add(int(remote.rpartition(":")[2], 16))
    return ports


class Stacks:
    """The module's one stack, rebuilt only when a test left it broken."""

    def __init__(self, log_root: Path) -> None:
        self._log_root = log_root
        self._exits: contextlib.ExitStack | None = None
        self._stack: NetworkFaultStack | None = None

    def healthy(self) -> NetworkFaultStack:
        if self._stack is not None:
            self._stack.toxiproxy.reset()  # a failed test may have left a toxic behind
            if not self._damaged(self._stack):
                return self._stack
            self.close()
        self._stack = self._build()
        return self._stack

    def close(self) -> None:
        exits, self._exits, self._stack = self._exits, None, None
        if exits is not None:
            exits.close()

    @staticmethod
    def _damaged(stack: NetworkFaultStack) -> bool:
        # check_and_report counts every restart since the start, so one would fail every later test.
        for handle in stack.services.values():
            if handle.process is None or handle.process.poll() is not None or handle.starts != 1:
                return True
            if any(stack.worker_metrics(handle.name)["worker_restarts_total"].values()):
                return True
        deadline = time.monotonic() + 30
        while stack.problems():
            if time.monotonic() > deadline:
                return True
            time.sleep(1.0)
        return False

    def _build(self) -> NetworkFaultStack:
        require_toxiproxy()
        exits = self._exits = contextlib.ExitStack()
        log_dir = self._log_root / uuid.uuid4().hex[:8]
        log_dir.mkdir(parents=True)
        toxiproxy = exits.enter_context(ToxiproxyServer())
        postgres = exits.enter_context(PostgresServer(settings=DURABLE_SETTINGS))
        proxies: dict[tuple[str, str], Proxy] = {}
        for service in SERVICES:
            proxies[(service, "database")] = toxiproxy.create_proxy(
                f"{service}-database", upstream=f"{postgres.host}:{postgres.port}"
            )
            # The broker must advertise this proxy's port, so the proxy exists first; its
            # upstream is set once the broker has its listener.
            proxies[(service, "broker")] = toxiproxy.create_proxy(
                f"{service}-broker", upstream="broker-not-started-yet:9092"
            )
        broker = exits.enter_context(
            KafkaBroker(advertised_listeners={listener(s): proxies[(s, "broker")].port for s in SERVICES})
        )
        for service in SERVICES:
            proxies[(service, "broker")] = proxies[(service, "broker")].retarget(
                broker.listener_address(listener(service))
            )
        stack = NetworkFaultStack(
            broker,
            postgres,
            f"faults-{uuid.uuid4().hex[:8]}.",
            log_dir,
            toxiproxy=toxiproxy,
            proxies=proxies,
        )
        exits.callback(stack.stop_all)
        forecasting = stack.start("forecasting")
        opportunities = stack.start("opportunities")
        set_organisation(forecasting, opportunities)
        stack.start("leads")
        await_organisation(stack.database("leads"), [user for user, _ in ORG])
        stack.start("reporting")
        # Wait out the start-up traffic, then prove every service talks through its proxies only.
        stack.wait_recovered(time.monotonic())
        assert not stack.bypasses(), stack.bypasses()
        return stack


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stacks]:
    kept = Stacks(tmp_path_factory.mktemp("network-faults"))
    try:
        yield kept
    finally:
        kept.close()


@pytest.fixture
def network(stacks: Stacks) -> NetworkFaultStack:
    return stacks.healthy()


def felt(
    stack: NetworkFaultStack,
    service: str,
    link: str,
    load: SteadyLoad,
    acknowledged: int,
    leads: LeadFlow,
    leads_acknowledged: int,
) -> str:
    """Why the blackhole on this link is visibly in force (empty when it is not): the part of the
    system behind it has stopped while the load goes on."""
    if (service, link) == ("opportunities", "database"):
        moved = load.ledger.acknowledged_writes - acknowledged
        return "" if moved == 0 else f"{moved} writes were acknowledged through a blackholed database"
    if (service, link) == ("opportunities", "broker"):
        return (
            "" if stack.outbox_rows("opportunities") else "the outbox was emptied through a blackholed broker"
        )
    if (service, link) == ("leads", "database"):
        moved = leads.outcomes.acknowledged.total() - leads_acknowledged
        return "" if moved == 0 else f"{moved} lead calls were acknowledged through a blackholed database"
    if (service, link) == ("leads", "broker"):
        return (
            "" if stack.outbox_rows("leads") else "the leads outbox was emptied through a blackholed broker"
        )
    # The forecasting or reporting consumer can neither fetch nor commit (broker), or apply
    # (database).
    lag = stack.consumer_lag(service, OPPORTUNITIES_TOPIC)
    return "" if lag else f"{service} kept up through a blackholed {link}"


def test_each_service_reaches_the_broker_and_its_database_only_through_its_own_proxies(
    network: NetworkFaultStack,
) -> None:
    """A client bootstrapped through a service's broker proxy is told, in the cluster metadata,
    that the broker is at that proxy (not at its real address, which would bypass the proxy);
    and each service process holds connections to its two proxies and none to the broker or
    PostgreSQL directly."""
    for service in SERVICES:
        proxy = network.proxies[(service, "broker")]
        admin = KafkaAdminClient(bootstrap_servers=proxy.listen, request_timeout_ms=10000)
        try:
            advertised = {(b["host"], b["port"]) for b in admin.describe_cluster()["brokers"]}
        finally:
            admin.close()
        assert advertised == {("127.0.0.1", proxy.port)}, f"{service}: {advertised}"
    direct = KafkaAdminClient(bootstrap_servers=network.broker.bootstrap_servers, request_timeout_ms=10000)
    try:
        assert {b["port"] for b in direct.describe_cluster()["brokers"]} == {network.broker.port}
    finally:
        direct.close()
    assert not network.bypasses(), network.bypasses()


@pytest.mark.parametrize(("service", "link", "toxic"), CASES, ids=["-".join(case) for case in CASES])
def test_a_bad_network_under_load_loses_nothing_and_recovers_by_itself(
    network: NetworkFaultStack, service: str, link: str, toxic: str
) -> None:
    proxy, spec = network.proxies[(service, link)], TOXICS[toxic]
    held_s = BROKER_BLACKHOLE_S if (link, toxic) == ("broker", "blackhole") else FAULT_S
    # Deals, and leads created, qualified and converted (the leads service's own writes and
    # its calls to opportunities).
    leads = LeadFlow(network.services["leads"].target, rate=4.0)
    leads.start()
    with SteadyLoad(network.services["opportunities"].target) as load:
        load.wait_for_writes(40)
        time.sleep(LOAD_BEFORE_S)
        with contextlib.ExitStack() as held:
            for stream in spec.streams:
                held.enter_context(
                    proxy.toxic(spec.kind, stream=stream, name=f"{toxic}-{stream}", **spec.attributes)
                )
            time.sleep(IN_FLIGHT_S)
            acknowledged = load.ledger.acknowledged_writes
            leads_acknowledged = leads.outcomes.acknowledged.total()
            time.sleep(held_s - IN_FLIGHT_S)
            # Read while the toxic is in force; asserted after it is gone.
            missed = (
                felt(network, service, link, load, acknowledged, leads, leads_acknowledged)
                if toxic == "blackhole"
                else ""
            )
        ended = time.monotonic()
        time.sleep(1.0)  # writes go on while the services reconnect
    leads.stop()
    load.ledger.acknowledged.update(leads.outcomes.acknowledged)
    load.ledger.refused.update(leads.outcomes.refused)
    assert not missed, f"the blackhole on {proxy.name} did not bite: {missed}"
    check_and_report(
        network,
        f"{service} to {link}: {spec.described} for {held_s:.0f} s (Toxiproxy)",
        load.ledger,
        ended,
    )
    # Recovered means every derived state equals its oracle here, not only the rollups.
    REPORT[-1].update(load="deals, and leads qualified and converted", oracle="all equal")
