"""BANT qualification: budget, authority, need and timeline, as the rep recorded them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum

from salesplane_leads.domain.money_and_dates import check_date, check_money
from salesplane_platform.errors import Validator
from salesplane_platform.money import Money, MoneyInput
from salesplane_platform.text_rules import check_text

MAX_NOTES_LENGTH = 2000


class Authority(Enum):
    """Ordered by value: a decision maker is also at least an influencer; UNKNOWN is below all."""

    UNKNOWN = 0
    NONE = 1
    INFLUENCER = 2
    DECISION_MAKER = 3


class Need(Enum):
    UNKNOWN = 0
    NONE = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4


@dataclass(frozen=True)
class Qualification:
    budget: Money | None = None
    authority: Authority = Authority.UNKNOWN
    need: Need = Need.UNKNOWN
    timeline: date | None = None
    notes: str = ""


@dataclass(frozen=True)
class QualificationInput:
    """Qualification as a caller sent it. `timeline_given` tells an impossible date (timeline None
    but given: a violation) from an absent one (unknown)."""

    budget: MoneyInput | None = None
    authority: Authority = Authority.UNKNOWN
    need: Need = Need.UNKNOWN
    timeline: date | None = None
    timeline_given: bool = False
    notes: str = ""


def validated_qualification(given: QualificationInput, check: Validator) -> Qualification:
    """Collect violations into `check`; the result is only meaningful when there are none."""
    budget = check_money(check, "qualification.budget", given.budget) if given.budget is not None else None
    if given.timeline_given:
        check_date(check, "qualification.timeline", given.timeline)
    notes = given.notes.strip()
    check_text(check, "qualification.notes", notes, MAX_NOTES_LENGTH, multiline=True)
    return Qualification(
        budget=budget, authority=given.authority, need=given.need, timeline=given.timeline, notes=notes
    )
