"""Test rings by folder, so where a test lives says what it needs:

* `*/tests/unit/` and `gateway/tests/`: the unit ring (`make test-unit`): no external server;
* `*/tests/integration/`: real PostgreSQL and/or Kafka (marker `integration`);
* `tests/e2e/` and `tests/faults/`: services as processes (marker `e2e`).

A test may carry its marker itself too; the folder adds it where it is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

RINGS = {"integration": "integration", "e2e": "e2e", "faults": "e2e"}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.path)).parts
        for folder, marker in RINGS.items():
            if folder in parts and item.get_closest_marker(marker) is None:
                item.add_marker(getattr(pytest.mark, marker))
