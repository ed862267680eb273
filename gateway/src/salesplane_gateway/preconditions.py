"""Optimistic concurrency over HTTP: a resource's version (or a configuration's revision) is its
ETag, `"7"`; If-Match sends it back to make a change conditional."""

from __future__ import annotations

import re

from flask import request

from salesplane_gateway.problems import validation_problem
from salesplane_platform.errors import FieldViolation

IF_MATCH = "If-Match"
_ENTITY_TAG = re.compile(r'^(?:"(\d{1,19})"|(\d{1,19}))$')
_MAX_VERSION = 2**63 - 1


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_version() -> int | None:
    """The version an If-Match header demands: `"7"` (or a bare 7); None when absent or `*`."""
    raw = request.headers.get(IF_MATCH)
    if raw is None or raw.strip() == "*":
        return None
    match = _ENTITY_TAG.match(raw.strip())
    version = int(match.group(1) or match.group(2)) if match else 0
    if not 1 <= version <= _MAX_VERSION:
        raise validation_problem(
            [FieldViolation(IF_MATCH, 'must be one entity tag holding a version, e.g. "3"')],
            "The If-Match header is not a version.",
        )
    return version
