"""schemathesis hooks of test_api_contract (loaded by its configuration's `hooks`)."""

from __future__ import annotations

import re
from typing import Any

import schemathesis

# `filter.<key>`, `param.<key>`: OpenAPI cannot name a family of query parameters, so the document
# names each family by its placeholder, which no client sends as such.
_PLACEHOLDER = re.compile(r"^\w+\.<key>$")


@schemathesis.hook
def map_query(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    if query is None:
        return None
    return {name: value for name, value in query.items() if not _PLACEHOLDER.match(name)}
