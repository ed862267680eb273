"""Strict reading of JSON request bodies: a body that is not a JSON object becomes a 415/400 problem,
never a 500. What the members may hold is json_to_proto's business."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from flask import Request

from salesplane_gateway.json_values import json_type
from salesplane_gateway.problems import Problem, problem_type, validation_problem
from salesplane_platform.errors import FieldViolation


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def unsupported_media_type(detail: str) -> Problem:
    return Problem(415, "Unsupported media type", detail, problem_type("unsupported-media-type"))


def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 415/400 problem."""
    if not request.is_json:
        raise unsupported_media_type("The request body must be JSON (Content-Type: application/json).")
    raw = request.get_data(cache=True)
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        description = error.msg if isinstance(error, json.JSONDecodeError) else "could not be decoded"
        raise validation_problem(
            [FieldViolation("body", f"is not valid JSON: {description}")],
            "The request body is not valid JSON.",
        ) from None
    if not isinstance(value, dict):
        raise validation_problem([FieldViolation("body", f"must be a JSON object, not {json_type(value)}")])
    return value
