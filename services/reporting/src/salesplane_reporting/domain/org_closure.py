"""Who is under whom: the closure of the reporting lines, computed from each user's manager."""

from __future__ import annotations

from collections.abc import Mapping

# Deeper than any real organisation; bounds the walk should the data ever hold a cycle.
MAX_DEPTH = 64


def closure_of(managers: Mapping[str, str | None]) -> set[tuple[str, str, int]]:
    """Every (ancestor, descendant, distance) pair, distance 0 pairing each user with themselves.
    A manager that is not a known user still heads their reports' chains."""
    pairs: set[tuple[str, str, int]] = set()
    for user in managers:
        pairs.add((user, user, 0))
        seen = {user}
        ancestor = managers.get(user)
        distance = 1
        while ancestor is not None and ancestor not in seen and distance <= MAX_DEPTH:
            pairs.add((ancestor, user, distance))
            seen.add(ancestor)
            ancestor = managers.get(ancestor)
            distance += 1
    return pairs
