"""The shared contract types (salesplane.common.v1 Date and Money) to and from Python values."""

from __future__ import annotations

from datetime import date

from salesplane.common.v1.common_pb2 import Date
from salesplane.common.v1.common_pb2 import Money as MoneyMessage
from salesplane_platform.money import Money, MoneyInput


def date_to_proto(value: date) -> Date:
    return Date(year=value.year, month=value.month, day=value.day)


def date_from_proto(value: Date) -> date | None:
    """None for an unset or impossible date; callers report it as a field violation."""
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        return None


def money_to_proto(value: Money) -> MoneyMessage:
    return MoneyMessage(currency_code=value.currency, amount_minor=value.amount_minor)


def money_message(amount_minor: int, currency: str) -> MoneyMessage:
    return MoneyMessage(currency_code=currency, amount_minor=amount_minor)


def money_input_from_proto(value: MoneyMessage) -> MoneyInput:
    """What the caller sent, unchecked (a domain rule turns it into Money or a violation)."""
    return MoneyInput(value.currency_code, value.amount_minor)
