"""Choose the event transport from settings: Kafka when configured, else the local log."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from salesplane_platform.event_transport import EventPublisher, EventSubscriber
from salesplane_platform.settings import ServiceSettings


def make_publisher(settings: ServiceSettings) -> EventPublisher:
    if settings.uses_kafka:
        from salesplane_platform.kafka_transport import KafkaPublisher

        return KafkaPublisher(
            settings.kafka_bootstrap_servers,
            client_id=f"{settings.service_name}-relay",
            delivery_timeout_ms=settings.kafka_delivery_timeout_ms,
        )
    from salesplane_platform.local_log import LocalLogPublisher

    return LocalLogPublisher(settings.event_log_path)


def make_subscriber(settings: ServiceSettings, topics: Sequence[str], *, member: int = 0) -> EventSubscriber:
    """The process's `member`-th consumer of its group (each Kafka member gets its own partitions
    and, with static membership, its own stable instance id)."""
    if settings.uses_kafka:
        from salesplane_platform.kafka_transport import KafkaSubscriber, ensure_topics

        ensure_topics(settings.kafka_bootstrap_servers, topics)
        return KafkaSubscriber(
            settings.kafka_bootstrap_servers,
            topics,
            group_id=settings.consumer_group,
            client_id=f"{settings.service_name}-consumer",
            instance_id=_member_id(settings.consumer_instance_id, member),
        )
    from salesplane_platform.local_log import LocalLogSubscriber

    return LocalLogSubscriber(settings.event_log_path, topics, group_id=settings.consumer_group)


def consumer_count(settings: ServiceSettings) -> int:
    """How many consumers the process runs: the local log has no partitions to share out."""
    return max(1, settings.consumer_threads) if settings.uses_kafka else 1


def _member_id(instance_id: str | None, member: int) -> str | None:
    if instance_id is None or member == 0:
        return instance_id
    return f"{instance_id}-{member}"


def prepare_topics(settings: ServiceSettings, topics: Sequence[str]) -> None:
    if settings.uses_kafka:
        from salesplane_platform.kafka_transport import ensure_topics

        ensure_topics(settings.kafka_bootstrap_servers, topics)


def make_transport_probe(settings: ServiceSettings) -> tuple[Callable[[], None], Callable[[], None]]:
    """A readiness check of the event transport and the function that releases it."""
    if settings.uses_kafka:
        from salesplane_platform.kafka_transport import KafkaProbe

        probe = KafkaProbe(settings.kafka_bootstrap_servers)
        return probe, probe.close
    from salesplane_platform.local_log import probe_local_log

    return lambda: probe_local_log(settings.event_log_path), lambda: None


def reset_consumer_group(settings: ServiceSettings, topics: Sequence[str]) -> int:
    """Move the service's consumer group back to the start of `topics` (with the service stopped)."""
    if settings.uses_kafka:
        from salesplane_platform.kafka_transport import reset_group_to_beginning

        return reset_group_to_beginning(settings.kafka_bootstrap_servers, settings.consumer_group, topics)
    from salesplane_platform.local_log import reset_group

    return reset_group(settings.event_log_path, settings.consumer_group, topics)
