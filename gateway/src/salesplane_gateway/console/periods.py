"""Which fiscal quarter a page shows: the `period` query parameter when it names one, else the
quarter of today in the user's time zone (the fiscal calendar is the forecasting service's)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date

from flask import request

from salesplane.common.v1.common_pb2 import Date
from salesplane.forecasting.v1 import settings_pb2
from salesplane_gateway.console.localisation import current_locale
from salesplane_gateway.console.pages import call
from salesplane_gateway.routes_forecasting import SETTINGS

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_REMEMBER_SECONDS = 60.0
# day -> (its quarter's id, when it was asked); a few entries: the days of the users' time zones.
_QUARTERS: dict[date, tuple[str, float]] = {}


@dataclass(frozen=True)
class PeriodChoice:
    current: str
    # The quarter before, this one and the two after: what a picker offers.
    nearby: tuple[str, ...]


def chosen_period() -> PeriodChoice:
    asked = request.args.get("period", "") or request.form.get("period", "")
    if not _QUARTER.match(asked):
        asked = _quarter_of(current_locale().today())
    return PeriodChoice(asked, _nearby(asked))


def _quarter_of(today: date) -> str:
    """The fiscal quarter of a day, as the forecasting service says; remembered for a minute per
    day, so that a page does not wait for this call before asking for its own data (a change of
    the fiscal year's first month shows within a minute)."""
    now = time.monotonic()
    remembered = _QUARTERS.get(today)
    if remembered is not None and now - remembered[1] < _REMEMBER_SECONDS:
        return remembered[0]
    answer = call(
        SETTINGS.rpc("GetPeriodOfDate"),
        settings_pb2.GetPeriodOfDateRequest(date=Date(year=today.year, month=today.month, day=today.day)),
    )
    period_id = str(answer.quarter.period_id)
    if len(_QUARTERS) > 64:
        _QUARTERS.clear()
    _QUARTERS[today] = (period_id, now)
    return period_id


def _nearby(period_id: str) -> tuple[str, ...]:
    matched = _QUARTER.match(period_id)
    if matched is None:  # a fiscal calendar that names its quarters otherwise: offer just this one
        return (period_id,)
    index = int(matched.group(1)) * 4 + int(matched.group(2)) - 1
    return tuple(f"{i // 4}-Q{i % 4 + 1}" for i in range(index - 1, index + 3))
