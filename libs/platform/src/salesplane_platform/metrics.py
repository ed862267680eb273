"""Prometheus metrics shared by every service; served on the service's own metrics port."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

# The gRPC server's series are in grpc_metrics.py.
OUTBOX_PUBLISHED = Counter(
    "outbox_events_published_total", "Outbox rows published to the transport.", ["topic"]
)
OUTBOX_PENDING = Gauge("outbox_pending_events", "Outbox rows waiting at the last relay pass.")
# When the oldest unpublished row was written (0: none); the age is computed when scraped.
OUTBOX_OLDEST_CREATED = Gauge(
    "outbox_oldest_event_created_timestamp_seconds",
    "Unix time the oldest unpublished outbox row was written, at the last relay pass (0: none).",
)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_event_age_seconds", "Age of the oldest unpublished outbox row (0: none waiting)."
)
_oldest_outbox_row = 0.0


def set_outbox_oldest(created_epoch_seconds: float) -> None:
    """The relay's reading of its oldest unpublished row (0: none)."""
    global _oldest_outbox_row
    _oldest_outbox_row = created_epoch_seconds
    OUTBOX_OLDEST_CREATED.set(created_epoch_seconds)


OUTBOX_OLDEST_AGE.set_function(
    lambda: max(0.0, time.time() - _oldest_outbox_row) if _oldest_outbox_row else 0.0
)
OUTBOX_PUBLISH_SECONDS = Histogram(
    "outbox_publish_seconds",
    "Time for the transport to acknowledge one relay batch (acks=all).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OUTBOX_FAILURES = Counter("outbox_publish_failures_total", "Relay batches that failed to publish.")
EVENTS_CONSUMED = Counter(
    "consumer_events_total", "Events read by the consumer, by topic and outcome.", ["topic", "outcome"]
)
CONSUMER_BATCH_SECONDS = Histogram(
    "consumer_batch_seconds",
    "Time to apply and commit one consumed batch.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CONSUMER_LAG = Gauge(
    "consumer_lag_records",
    "Records on a partition not yet applied by this consumer: the high-water mark less the "
    "committed position.",
    ["consumer_group", "topic", "partition"],
)
CONSUMER_FAILURES = Counter(
    "consumer_batch_failures_total", "Consumed batches whose apply failed and were retried."
)
READY = Gauge(
    "service_ready",
    '1 when the database, the event transport and every worker loop answer (health "events"), else 0.',
)
WORKER_UP = Gauge(
    "worker_up", "1 while a worker loop (consumer, relay, job) runs and beats, else 0.", ["worker"]
)
WORKER_HEARTBEAT_AGE = Gauge(
    "worker_heartbeat_age_seconds", "Seconds since a worker loop last made its rounds.", ["worker"]
)
WORKER_RESTARTS = Counter(
    "worker_restarts_total", "Worker loops restarted by the supervisor after they crashed.", ["worker"]
)
LIVE = Gauge("service_live", "1 while no worker loop is stuck or crash-looping, else 0.")
OUTBOX_PRODUCER_REPLACED = Counter(
    "outbox_producer_replacements_total",
    "Kafka producers the relay closed and replaced after a failed delivery.",
)
CONSUMER_COMMIT_FAILURES = Counter(
    "consumer_offset_commit_failures_total",
    "Offset commits that failed after the database commit (retried; redelivery is harmless).",
)
DB_POOL_CONNECTIONS = Gauge(
    "db_pool_connections",
    "The database connection pool: connections checked out (in use), idle in the pool, and its "
    "steady size (as many again may overflow under load).",
    ["state"],
)
