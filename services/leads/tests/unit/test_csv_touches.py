"""The `touches` column of an import: entries "campaign|kind|time" separated by ";", and a row
with a bad entry rejected with a reason naming the entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from salesplane_leads.domain.csv_rows import ImportRow, RejectedRow, parse_chunk
from salesplane_leads.domain.csv_touches import parse_touches
from salesplane_leads.domain.touches import TouchKind


def test_entries_are_campaign_kind_and_time_with_an_offset() -> None:
    entries, reasons = parse_touches(
        "Spring webinar|event|2026-03-04T15:00:00Z; Search ads | AD | 2026-03-10T09:12:00+01:00 ;"
    )

    assert reasons == ()
    assert [(e.number, e.campaign, e.kind, e.touch_time) for e in entries] == [
        (1, "Spring webinar", TouchKind.EVENT, datetime(2026, 3, 4, 15, 0, tzinfo=UTC)),
        (2, "Search ads", TouchKind.AD, datetime(2026, 3, 10, 9, 12, tzinfo=timezone(timedelta(hours=1)))),
    ]
    assert parse_touches("") == ((), ())
    assert parse_touches(" ; ") == ((), ())


def test_every_bad_entry_is_named_with_its_number_text_and_fault() -> None:
    entries, reasons = parse_touches(
        "Spring|form|2026-03-04T15:00:00Z;"
        "Spring|form;"
        "Spring|letter|2026-03-04T15:00:00Z;"
        "Spring|form|2026-03-04T15:00:00;"
        "|email_click|yesterday"
    )

    assert [e.number for e in entries] == [1]
    assert reasons == (
        'touches: entry 2 (\'Spring|form\'): must be "campaign|kind|time", three parts separated by "|"',
        "touches: entry 3 ('Spring|letter|2026-03-04T15:00:00Z'): the kind 'letter' is not one of"
        " form, email_click, event, ad, call, other",
        "touches: entry 4 ('Spring|form|2026-03-04T15:00:00'): the time '2026-03-04T15:00:00' needs an"
        " offset, such as Z or +01:00",
        "touches: entry 5 ('|email_click|yesterday'): the campaign (id or name) is missing; the time"
        " 'yesterday' is not ISO 8601, such as 2026-03-10T09:12:00+01:00",
    )


def test_more_than_a_hundred_entries_in_one_cell_are_refused() -> None:
    entries, reasons = parse_touches(";".join(["Spring|form|2026-03-04T15:00:00Z"] * 101))
    assert entries == () and reasons == ("touches: has 101 entries; at most 100 per row",)


def test_the_touches_column_goes_into_the_row_and_a_bad_entry_rejects_it() -> None:
    parsed = parse_chunk(
        "last_name,Touches\n"
        'Lovelace,"Spring|form|2026-03-04T15:00:00Z; Ads|ad|2026-03-05T10:00:00+02:00"\n'
        "Hopper,Spring|form|March\n"
        "Turing,\n",
        first_line_number=2,
    )

    first, second, third = parsed
    assert isinstance(first, ImportRow) and [e.campaign for e in first.touches] == ["Spring", "Ads"]
    assert isinstance(second, RejectedRow) and second.line_number == 3
    assert second.reasons == (
        "touches: entry 1 ('Spring|form|March'): the time 'March' is not ISO 8601, such as"
        " 2026-03-10T09:12:00+01:00",
    )
    assert isinstance(third, ImportRow) and third.touches == ()
