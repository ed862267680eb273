"""Strict reading of JSON request bodies: every type error becomes a 400 problem naming the field,
never a 500. Value rules (lengths, ranges, known stages, currencies) stay with the services; this
module only makes sure a value can be carried in the protobuf field it is meant for."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, NoReturn

from flask import Request

from salesplane.common.v1 import common_pb2
from salesplane_gateway.problems import FieldError, Problem, problem_type, validation_problem

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MISSING = object()


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 415/400 problem."""
    if not request.is_json:
        raise Problem(
            415,
            "Unsupported media type",
            "The request body must be JSON (Content-Type: application/json).",
            problem_type("unsupported-media-type"),
        )
    raw = request.get_data(cache=True)
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        description = error.msg if isinstance(error, json.JSONDecodeError) else "could not be decoded"
        raise validation_problem(
            [FieldError("body", f"is not valid JSON: {description}")], "The request body is not valid JSON."
        ) from None
    if not isinstance(value, dict):
        raise validation_problem([FieldError("body", f"must be a JSON object, not {_json_type(value)}")])
    return value


class Fields:
    """Typed access to the members of one JSON object; violations collect in a shared list so the
    caller learns all of them at once."""

    def __init__(
        self, data: Mapping[str, Any], prefix: str = "", errors: list[FieldError] | None = None
    ) -> None:
        self._data = data
        self._prefix = prefix
        self.errors: list[FieldError] = [] if errors is None else errors

    def path(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def has(self, key: str) -> bool:
        return key in self._data

    def fail(self, key: str, description: str) -> None:
        self.errors.append(FieldError(self.path(key), description))

    def reject_unknown(self, allowed: Iterable[str]) -> None:
        known = set(allowed)
        for key in self._data:
            if key not in known:
                self.fail(key, f"is not a known field; expected some of {sorted(known)}")

    def _get(self, key: str, required: bool, nullable: bool) -> Any:
        """The raw value, or _MISSING when absent, null-and-allowed or already reported."""
        if key not in self._data:
            if required:
                self.fail(key, "is required")
            return _MISSING
        value = self._data[key]
        if value is None:
            if not nullable:
                self.fail(key, "must not be null" if not required else "is required and must not be null")
            return _MISSING
        return value

    def string(self, key: str, *, required: bool = False, nullable: bool = False) -> str | None:
        value = self._get(key, required, nullable)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail(key, f"must be a string, not {_json_type(value)}")
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail(key, "must be valid Unicode text (no lone surrogates)")
            return None
        return value

    def integer(
        self,
        key: str,
        *,
        required: bool = False,
        nullable: bool = False,
        minimum: int = INT64_MIN,
        maximum: int = INT64_MAX,
    ) -> int | None:
        value = self._get(key, required, nullable)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"must be an integer, not {_json_type(value)}")
            return None
        if not minimum <= value <= maximum:
            self.fail(key, f"must be between {minimum} and {maximum}")
            return None
        return value

    def date(self, key: str, *, required: bool = False) -> common_pb2.Date | None:
        value = self.string(key, required=required)
        if value is None:
            return None
        if not _DATE.match(value):
            self.fail(key, "must be a date formatted YYYY-MM-DD")
            return None
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            self.fail(key, "is not a valid calendar date")
            return None
        return common_pb2.Date(year=parsed.year, month=parsed.month, day=parsed.day)

    def object(self, key: str, *, required: bool = False) -> Fields | None:
        value = self._get(key, required, False)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.fail(key, f"must be an object, not {_json_type(value)}")
            return None
        return Fields(value, prefix=f"{self.path(key)}.", errors=self.errors)

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise validation_problem(self.errors)
