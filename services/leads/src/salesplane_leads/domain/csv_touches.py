"""The `touches` column of a lead import: entries separated by ";", each "campaign|kind|time" (the
campaign by id or name, the kind as in TouchKind in lower case, the time in ISO 8601 with an
offset), e.g. "Spring webinar|event|2026-03-04T15:00:00Z; Search ads|ad|2026-03-10T09:12:00+01:00".

Only the form of each entry is checked here; the campaign is looked up, and the touch checked like
any other (not in the future...), once the row is imported. A campaign whose name has a "|" or ";"
is named by its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from salesplane_leads.domain.touches import MAX_TOUCHES_PER_REQUEST, TouchKind

ENTRY_SEPARATOR = ";"
PART_SEPARATOR = "|"
MAX_CAMPAIGN_REFERENCE_LENGTH = 100
_KIND_NAMES = ", ".join(kind.value for kind in TouchKind)


@dataclass(frozen=True)
class TouchEntry:
    """One entry of the column: its number (from 1) and text name it in error reports."""

    number: int
    text: str
    campaign: str
    kind: TouchKind
    touch_time: datetime

    @property
    def label(self) -> str:
        return entry_label(self.number, self.text)


def entry_label(number: int, text: str) -> str:
    return f"touches: entry {number} ({text!r})"


def parse_touches(cell: str) -> tuple[tuple[TouchEntry, ...], tuple[str, ...]]:
    """The entries of a `touches` cell and the reasons the bad ones are bad (empty entries, as
    after a trailing ";", are skipped)."""
    texts = [text.strip() for text in cell.split(ENTRY_SEPARATOR)]
    texts = [text for text in texts if text]
    if len(texts) > MAX_TOUCHES_PER_REQUEST:
        return (), (f"touches: has {len(texts)} entries; at most {MAX_TOUCHES_PER_REQUEST} per row",)
    entries: list[TouchEntry] = []
    reasons: list[str] = []
    for number, text in enumerate(texts, start=1):
        entry = _entry(number, text)
        if isinstance(entry, str):
            reasons.append(f"{entry_label(number, text)}: {entry}")
        else:
            entries.append(entry)
    return tuple(entries), tuple(reasons)


def _entry(number: int, text: str) -> TouchEntry | str:
    """The entry, or why it is not one."""
    parts = [part.strip() for part in text.split(PART_SEPARATOR)]
    if len(parts) != 3:
        return 'must be "campaign|kind|time", three parts separated by "|"'
    campaign, kind_name, time_text = parts
    problems = []
    if not campaign:
        problems.append("the campaign (id or name) is missing")
    elif len(campaign) > MAX_CAMPAIGN_REFERENCE_LENGTH:
        problems.append(f"the campaign must be at most {MAX_CAMPAIGN_REFERENCE_LENGTH} characters")
    kind = _kind(kind_name)
    if kind is None:
        problems.append(f"the kind {kind_name!r} is not one of {_KIND_NAMES}")
    touch_time = _time(time_text)
    if isinstance(touch_time, str):
        problems.append(touch_time)
    if problems or kind is None or isinstance(touch_time, str):
        return "; ".join(problems)
    return TouchEntry(number, text, campaign, kind, touch_time)


def _kind(name: str) -> TouchKind | None:
    try:
        return TouchKind(name.casefold())
    except ValueError:
        return None


def _time(text: str) -> datetime | str:
    """The time, or why it is not one."""
    if not text:
        return "the time is missing"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return f"the time {text!r} is not ISO 8601, such as 2026-03-10T09:12:00+01:00"
    if value.utcoffset() is None:
        return f"the time {text!r} needs an offset, such as Z or +01:00"
    return value
