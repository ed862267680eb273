"""The parameters of the attribution and campaign-performance sources: which model credits the
campaigns, how far back a touch counts, time decay's half-life, and which deals a period's
campaign performance counts.

Parsed once with the definition (a bad value is an INVALID_ARGUMENT naming `parameters.<name>`)
and kept as canonical text, which is also how a run passes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from salesplane_reporting.domain.attribution import Model

MODEL = "model"
LOOKBACK_DAYS = "lookback_days"
HALF_LIFE_DAYS = "half_life_days"
BASIS = "basis"
ATTRIBUTION_PARAMETERS = (MODEL, LOOKBACK_DAYS, HALF_LIFE_DAYS)
DEFAULT_MODEL = Model.LINEAR
DEFAULT_LOOKBACK_DAYS = 90
DEFAULT_HALF_LIFE_DAYS = 7
# Longer than any sales history, short enough that an instant minus it stays a valid date.
MAX_DAYS = 36_500


class Basis(StrEnum):
    # Each number by its own date in the window: costs incurred, leads created, deals created
    # (pipeline) and deals won (revenue).
    PERIOD = "period"
    # The leads created in the window, and the pipeline and revenue of their deals whenever those
    # closed; costs still by their date in the window.
    COHORT = "cohort"


@dataclass(frozen=True)
class AttributionSettings:
    model: Model = DEFAULT_MODEL
    lookback: timedelta = timedelta(days=DEFAULT_LOOKBACK_DAYS)
    half_life: timedelta = timedelta(days=DEFAULT_HALF_LIFE_DAYS)
    basis: Basis = Basis.PERIOD


def canonical_parameter(name: str, raw: object) -> tuple[str, str]:
    """(canonical text, "") for a good value of parameter `name`, else ("", what is wrong)."""
    if name == MODEL:
        choices = ", ".join(m.value for m in Model)
        if isinstance(raw, str) and raw in {m.value for m in Model}:
            return raw, ""
        return "", f"must be one of {choices}, got {raw!r}"
    if name == BASIS:
        if isinstance(raw, str) and raw in {b.value for b in Basis}:
            return raw, ""
        return "", f"must be period or cohort, got {raw!r}"
    if name == LOOKBACK_DAYS:
        days = _number(raw)
        if days is None or days != days.to_integral_value() or not 0 < days <= MAX_DAYS:
            return "", f"must be a whole number of days from 1 to {MAX_DAYS}, got {raw!r}"
        return str(int(days)), ""
    if name == HALF_LIFE_DAYS:
        days = _number(raw)
        if days is None or not 0 < days <= MAX_DAYS:
            return "", f"must be a positive number of days up to {MAX_DAYS}, got {raw!r}"
        return str(days.normalize()) if days != days.to_integral_value() else str(int(days)), ""
    raise ValueError(f"not an attribution parameter: {name}")


def _number(raw: object) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def attribution_settings(parameters: Mapping[str, object]) -> AttributionSettings:
    """The settings of a parsed definition's (canonical) parameters, defaults for those absent."""
    model = parameters.get(MODEL)
    lookback = parameters.get(LOOKBACK_DAYS)
    half_life = parameters.get(HALF_LIFE_DAYS)
    basis = parameters.get(BASIS)
    return AttributionSettings(
        model=Model(str(model)) if model else DEFAULT_MODEL,
        lookback=timedelta(days=int(str(lookback))) if lookback else timedelta(days=DEFAULT_LOOKBACK_DAYS),
        half_life=(
            timedelta(days=float(Decimal(str(half_life))))
            if half_life
            else timedelta(days=DEFAULT_HALF_LIFE_DAYS)
        ),
        basis=Basis(str(basis)) if basis else Basis.PERIOD,
    )
