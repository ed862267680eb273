"""Touches: a lead's contacts with a campaign (a form filled in, an e-mail clicked, an event
attended...) at a time. They are facts: recorded once, never changed, and unique per lead by their
touch key, which makes recording them idempotent. Reporting attributes leads to campaigns from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum

from salesplane_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument, Validator
from salesplane_platform.identifiers import is_uuid, new_id
from salesplane_platform.text_rules import check_text

MAX_TOUCH_KEY_LENGTH = 128
MAX_TOUCH_NOTE_LENGTH = 500
MAX_TOUCHES_PER_REQUEST = 100
# Clients' clocks run a little ahead of ours; more than this is a touch that has not happened yet.
ALLOWED_CLOCK_SKEW = timedelta(minutes=5)
EARLIEST_TOUCH_TIME = datetime(1970, 1, 1, tzinfo=UTC)
# A touch is one fact, so it changes only by being recorded: its version is always this.
TOUCH_VERSION = 1


class TouchKind(Enum):
    FORM = "form"
    EMAIL_CLICK = "email_click"
    EVENT = "event"
    AD = "ad"
    CALL = "call"
    OTHER = "other"


@dataclass(frozen=True)
class TouchInput:
    """A touch as a caller sent it, unchecked. `kind` None is an unspecified kind, `touch_time`
    None a missing time (or one the contract could not express)."""

    campaign_id: str
    kind: TouchKind | None
    touch_time: datetime | None
    touch_key: str = ""
    note: str = ""


@dataclass(frozen=True)
class CheckedTouch:
    """A valid touch input, its key filled in (derived when none was given)."""

    campaign_id: str
    kind: TouchKind
    touch_time: datetime
    touch_key: str
    note: str


def derived_touch_key(campaign_id: str, kind: TouchKind, touch_time: datetime) -> str:
    """The key of a touch sent without one: the same contact sent twice (or imported twice) has the
    same key, whatever offset its time was written with. Microseconds always, so that one instant
    has one spelling."""
    instant = touch_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{campaign_id}|{kind.value}|{instant}"


def check_touch(
    check: Validator, given: TouchInput, *, now: datetime, prefix: str = ""
) -> CheckedTouch | None:
    """Record every violation of `given` (field names after `prefix`, e.g. "touch."); the checked
    touch when there was none. Whether the campaign exists is for the caller to look up."""
    before = len(check.violations)
    campaign_id = given.campaign_id.strip()
    if not campaign_id:
        check.fail(f"{prefix}campaign_id", "must be set")
    else:
        check.require(
            is_uuid(campaign_id), f"{prefix}campaign_id", "must be a UUID (lower-case, canonical form)"
        )
    check.require(given.kind is not None, f"{prefix}kind", "must be set")
    touch_time = given.touch_time
    if touch_time is None:
        check.fail(f"{prefix}touch_time", "must be set")
    elif touch_time.tzinfo is None or touch_time.utcoffset() is None:
        check.fail(f"{prefix}touch_time", "must have a time zone offset")
    elif touch_time > now + ALLOWED_CLOCK_SKEW:
        minutes = int(ALLOWED_CLOCK_SKEW.total_seconds() // 60)
        check.fail(f"{prefix}touch_time", f"must not be in the future (more than {minutes} minutes ahead)")
    elif touch_time < EARLIEST_TOUCH_TIME:
        check.fail(f"{prefix}touch_time", f"must not be before {EARLIEST_TOUCH_TIME.date()}")
    touch_key, note = given.touch_key.strip(), given.note.strip()
    check_text(check, f"{prefix}touch_key", touch_key, MAX_TOUCH_KEY_LENGTH)
    check_text(check, f"{prefix}note", note, MAX_TOUCH_NOTE_LENGTH, multiline=True)
    if len(check.violations) > before:
        return None
    assert given.kind is not None and touch_time is not None
    touch_time = touch_time.astimezone(UTC)
    return CheckedTouch(
        campaign_id,
        given.kind,
        touch_time,
        touch_key or derived_touch_key(campaign_id, given.kind, touch_time),
        note,
    )


def checked_touches(
    touches: list[TouchInput], *, now: datetime, prefix: str = "touches"
) -> list[CheckedTouch]:
    """Several touches of one lead, each checked (as `touches[i].`); at most
    MAX_TOUCHES_PER_REQUEST, and no key twice (a repeated key is one touch sent twice, or two
    touches the caller meant to tell apart: either way a mistake to point out)."""
    check = Validator()
    if len(touches) > MAX_TOUCHES_PER_REQUEST:
        raise InvalidArgument(FieldViolation(prefix, f"must have at most {MAX_TOUCHES_PER_REQUEST} touches"))
    checked: list[CheckedTouch] = []
    first_with_key: dict[str, int] = {}
    for index, given in enumerate(touches):
        touch = check_touch(check, given, now=now, prefix=f"{prefix}[{index}].")
        if touch is None:
            continue
        if (earlier := first_with_key.setdefault(touch.touch_key, index)) != index:
            check.fail(f"{prefix}[{index}].touch_key", f"is the key of {prefix}[{earlier}] too")
            continue
        checked.append(touch)
    check.raise_if_invalid()
    return checked


@dataclass(frozen=True)
class LeadTouched:
    """Domain event: a touch was recorded."""

    touch: Touch


@dataclass(frozen=True)
class Touch:
    id: str
    lead_id: str
    campaign_id: str
    kind: TouchKind
    # When the contact happened, in UTC.
    touch_time: datetime
    touch_key: str
    note: str
    recorded_at: datetime
    # Frozen, but the list itself is the aggregate's outbox queue: the unit of work empties it.
    events: list[LeadTouched] = field(default_factory=list, compare=False, repr=False)

    @property
    def version(self) -> int:
        return TOUCH_VERSION

    @classmethod
    def record(cls, *, lead_id: str, touch: CheckedTouch, now: datetime) -> Touch:
        """A new touch of a lead, raising LeadTouched."""
        recorded = cls(
            id=new_id(),
            lead_id=lead_id,
            campaign_id=touch.campaign_id,
            kind=touch.kind,
            touch_time=touch.touch_time,
            touch_key=touch.touch_key,
            note=touch.note,
            recorded_at=now,
        )
        recorded.events.append(LeadTouched(recorded.snapshot()))
        return recorded

    def snapshot(self) -> Touch:
        return replace(self, events=[])


@dataclass(frozen=True)
class TouchHistory:
    """A lead's touches, oldest first (by touch time, then by when they were recorded)."""

    touches: tuple[Touch, ...]

    @classmethod
    def of(cls, touches: list[Touch]) -> TouchHistory:
        return cls(tuple(sorted(touches, key=lambda t: (t.touch_time, t.recorded_at, t.id))))

    @property
    def first(self) -> Touch | None:
        return self.touches[0] if self.touches else None

    @property
    def last(self) -> Touch | None:
        return self.touches[-1] if self.touches else None


def ensure_lead_takes_touches(lead_id: str, merged_into_lead_id: str) -> None:
    """A merged lead's contacts are the lead's it was merged into. (A converted lead still takes
    touches: a contact from before the conversion may be reported late, and it is a fact about the
    past, not a change of the lead.)"""
    if merged_into_lead_id:
        raise FailedPrecondition(
            f"lead {lead_id} was merged into lead {merged_into_lead_id}; record its touches there",
            reason="LEAD_MERGED",
        )
