"""The aggregates one unit of work's repositories handed out or were given, so that its commit can
collect the events they raised without any use case publishing them by hand."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

A = TypeVar("A")


class SeenAggregates(Generic[A]):
    """An identity set that keeps the order aggregates were first seen in.

    Identity, not equality: two copies of one row are two aggregates, each with its own events.
    The order is the order their events reach the outbox; use cases change aggregates in the order
    they load them, so this is the order the events were raised in."""

    def __init__(self) -> None:
        # Holding the aggregate keeps its id() from being reused while it is in here.
        self._by_identity: dict[int, A] = {}

    def add(self, aggregate: A) -> None:
        """Note an aggregate; noting it again keeps its place."""
        self._by_identity.setdefault(id(aggregate), aggregate)

    def add_all(self, aggregates: Iterable[A]) -> None:
        for aggregate in aggregates:
            self.add(aggregate)

    def __iter__(self) -> Iterator[A]:
        # A snapshot: noting another aggregate while the events are collected cannot break it.
        return iter(list(self._by_identity.values()))
