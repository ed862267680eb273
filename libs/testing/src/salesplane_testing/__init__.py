"""Salesplane test tooling: a real Kafka broker and a real PostgreSQL server for integration tests.

Heavy modules (kafka-python, psycopg) are imported lazily so that loading the pytest plugin
costs nothing for pure unit-test runs.
"""

from salesplane_testing._util import ServiceStartError

__all__ = ["ServiceStartError"]
