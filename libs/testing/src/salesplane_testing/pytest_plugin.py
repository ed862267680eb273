"""pytest plugin (entry point ``salesplane``): real Kafka and PostgreSQL fixtures for integration tests.

Fixtures (all lazy: nothing starts unless a test asks for it):

* ``kafka_broker`` (session) - a started :class:`~salesplane_testing.kafka_broker.KafkaBroker`, or an
  :class:`~salesplane_testing.kafka_broker.ExternalKafka` when ``SALESPLANE_TEST_KAFKA_BOOTSTRAP`` is set.
* ``postgres_server`` (session) - a started :class:`~salesplane_testing.postgres_server.PostgresServer`, or an
  :class:`~salesplane_testing.postgres_server.ExternalPostgres` when ``SALESPLANE_TEST_POSTGRES_URL`` is set
  (URL of an existing server's maintenance database).
* ``keycloak`` (session) - a started :class:`~salesplane_testing.keycloak_server.KeycloakServer`: a real
  OpenID Connect provider with the test realm.
* ``chromium`` (session) - Debian's headless Chromium driven by Playwright: one for the whole session,
  since Playwright's sync API allows one driver per process (a second, module-scoped one fails).
* ``postgres_database_url`` (function) - URL of a fresh database created for the test, dropped afterwards.
* ``unique_topic`` (function) - a factory ``unique_topic(prefix="test", *, create=False, partitions=3)``
  returning a fresh topic name.

Nothing here ever skips: if a server cannot be started the fixture raises with its log tail. With
``CI`` set, any test that skips anyway (e.g. ``pytest.skip`` in its body, a missing tool) is
reported as a failure.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Protocol

import pytest

from salesplane_testing._util import is_ci, slug

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from salesplane_testing.kafka_broker import KafkaEndpoint
    from salesplane_testing.keycloak_server import KeycloakServer
    from salesplane_testing.postgres_server import PostgresEndpoint

KAFKA_BOOTSTRAP_ENV = "SALESPLANE_TEST_KAFKA_BOOTSTRAP"
POSTGRES_URL_ENV = "SALESPLANE_TEST_POSTGRES_URL"
INTEGRATION_MARKER = "integration"


class TopicFactory(Protocol):
    def __call__(self, prefix: str = "test", *, create: bool = False, partitions: int = 3) -> str: ...


def pytest_configure(config: pytest.Config) -> None:
    # A test run is a development environment: its services (started here or as processes, which
    # inherit this) accept development tokens. Tests of the production settings pass their own
    # environment; a deployment never runs this.
    os.environ.setdefault("SALESPLANE_ENV", "development")
    config.addinivalue_line(
        "markers",
        f"{INTEGRATION_MARKER}: talks to a real PostgreSQL and/or Kafka broker (never skipped in CI)",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    kafka = os.environ.get(KAFKA_BOOTSTRAP_ENV, "").strip() or "started on demand"
    postgres = "external" if os.environ.get(POSTGRES_URL_ENV, "").strip() else "started on demand"
    return [f"salesplane-testing: kafka={kafka}, postgres={postgres}, ci={is_ci()}"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # In CI every test runs: a skip there (a missing tool, broker or database) would hide a gap.
    if report.skipped and is_ci() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"test skipped under CI, which is not allowed: {reason}"
    return report


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaEndpoint]:
    """A real Kafka broker for the whole session (started on first use, stopped at the end)."""
    from salesplane_testing.kafka_broker import ExternalKafka, KafkaBroker

    external = os.environ.get(KAFKA_BOOTSTRAP_ENV, "").strip()
    if external:
        yield ExternalKafka(external)
        return
    broker = KafkaBroker()
    broker.start()  # raises ServiceStartError with the broker's log tail
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresEndpoint]:
    """A real PostgreSQL server for the whole session (started on first use, stopped at the end)."""
    from salesplane_testing.postgres_server import ExternalPostgres, PostgresServer

    external = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if external:
        yield ExternalPostgres(external)
        return
    server = PostgresServer()
    server.start()  # raises ServiceStartError with the server's log tail
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def keycloak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeycloakServer]:
    """A real OpenID Connect provider (Keycloak) with the test realm, for the whole session."""
    from salesplane_testing.keycloak_server import KeycloakServer

    server = KeycloakServer(tmp_path_factory.mktemp("keycloak")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for every browser test of the session (see the module's docstring)."""
    from salesplane_testing.chromium import launched_chromium

    with launched_chromium() as launched:
        yield launched


@pytest.fixture
def postgres_database_url(postgres_server: PostgresEndpoint, request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLAlchemy URL (``postgresql+psycopg://...``) of a brand-new empty database, dropped after the test."""
    from salesplane_testing.postgres_server import unique_database_name

    name = unique_database_name(request.node.name)
    url = postgres_server.create_database(name)
    yield url
    try:
        postgres_server.drop_database(name)
    except Exception as exc:  # a leftover database must not turn a passing test into an error
        warnings.warn(f"could not drop test database {name}: {exc!r}", stacklevel=1)


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> TopicFactory:
    """Factory for fresh topic names: ``unique_topic("orders")`` -> ``orders-test_x-3f2a9c1d0b``.

    With ``create=True`` the topic is created (``partitions`` partitions) on the ``kafka_broker``.
    """

    def make(prefix: str = "test", *, create: bool = False, partitions: int = 3) -> str:
        name = f"{prefix}-{slug(request.node.name, 80)}-{uuid.uuid4().hex[:10]}"
        if create:
            broker: KafkaEndpoint = request.getfixturevalue("kafka_broker")
            broker.create_topic(name, partitions)
        return name

    return make
