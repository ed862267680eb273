"""Recording and listing lead touches on the embedded database: idempotent by key, one LeadTouched
per new touch, the lead's access rules, and touches that come with CreateLead and the CSV import."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from salesplane_leads.domain.duplicates import DuplicatePolicy
from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.lead_fields import LeadFields
from salesplane_leads.domain.marketing import Campaign, CampaignPlan, Channel
from salesplane_leads.domain.touches import TouchInput, TouchKind
from salesplane_leads.service_layer import imports, leads, marketing, touches
from salesplane_leads.service_layer.imports import RowOutcome
from salesplane_leads.service_layer.leads import CreateOutcome
from salesplane_platform.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.money import MoneyInput

MISSING_ID = "0b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a"
Who = Callable[..., Identity]
EARLIER = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture
def campaign(store: Any, marketer: Identity) -> Campaign:
    return new_campaign(store, marketer, "Spring webinar")


def new_campaign(store: Any, marketer: Identity, name: str) -> Campaign:
    sources = marketing.list_lead_sources(uow=store.uow())
    source = (
        sources[0]
        if sources
        else marketing.create_lead_source(name="Web", channel=Channel.WEB, caller=marketer, uow=store.uow())
    )
    plan = CampaignPlan(
        given=frozenset({"name", "budget", "start_date", "end_date"}),
        name=name,
        budget=MoneyInput("EUR", 100),
        start_date=date(2030, 3, 1),
        end_date=date(2030, 3, 31),
    )
    return marketing.create_campaign(
        plan=plan, lead_source_id=source.id, channel=None, caller=marketer, uow=store.uow()
    )


def new_lead(store: Any, by: Identity, assignee: str = "", **values: Any) -> Lead:
    result = leads.create_lead(
        fields=LeadFields(**{"last_name": "Lovelace", **values}),
        assigned_user_id=assignee,
        policy=DuplicatePolicy.INSIST,
        request_id="",
        caller=by,
        uow=store.uow(),
    )
    assert result.lead is not None
    return result.lead


def touch(campaign: Campaign, **values: Any) -> TouchInput:
    return TouchInput(**{"campaign_id": campaign.id, "kind": TouchKind.FORM, "touch_time": EARLIER, **values})


def record(store: Any, lead_id: str, given: TouchInput, by: Identity) -> touches.RecordedTouch:
    return touches.record_touch(lead_id=lead_id, touch=given, caller=by, uow=store.uow())


# Recording


def test_a_recorded_touch_is_stored_and_published_as_lead_touched(
    store: Any, campaign: Campaign, who: Who
) -> None:
    bob = who("bob", "rep")
    lead = new_lead(store, bob, assignee="bob")

    recorded = record(store, lead.id, touch(campaign, note="asked for a demo"), bob)

    assert recorded.created
    stored = recorded.touch
    assert (stored.lead_id, stored.campaign_id, stored.kind, stored.touch_time, stored.note) == (
        lead.id,
        campaign.id,
        TouchKind.FORM,
        EARLIER,
        "asked for a demo",
    )
    assert stored.touch_key == f"{campaign.id}|form|2025-03-04T15:00:00.000000Z"
    [event] = store.events("lead_touch")
    assert (event.aggregate_id, event.version, event.actor) == (stored.id, 1, "bob")
    assert event.payload.touch.id == stored.id
    assert event.payload.touch.touch_key == stored.touch_key
    assert event.payload.touch.touch_time.ToDatetime(tzinfo=UTC) == EARLIER
    assert event.payload.touch.note == "asked for a demo"


def test_recording_the_same_key_again_returns_the_first_touch_and_publishes_nothing(
    store: Any, campaign: Campaign, admin: Identity
) -> None:
    lead = new_lead(store, admin)
    first = record(store, lead.id, touch(campaign, touch_key="crm-1", note="first"), admin)

    again = record(
        store, lead.id, touch(campaign, touch_key="crm-1", note="second", kind=TouchKind.CALL), admin
    )
    derived_twice = [record(store, lead.id, touch(campaign), admin) for _ in range(2)]

    assert not again.created and again.touch == first.touch
    assert [r.created for r in derived_twice] == [True, False]
    assert derived_twice[0].touch == derived_twice[1].touch
    assert store.count("lead_touches") == 2
    assert len(store.events("lead_touch")) == 2


def test_the_same_key_on_another_lead_is_another_touch(
    store: Any, campaign: Campaign, admin: Identity
) -> None:
    one, two = new_lead(store, admin), new_lead(store, admin, first_name="Other")
    assert record(store, one.id, touch(campaign), admin).created
    assert record(store, two.id, touch(campaign), admin).created


def test_an_unknown_lead_is_not_found_and_an_unknown_campaign_a_failed_precondition(
    store: Any, campaign: Campaign, admin: Identity
) -> None:
    with pytest.raises(NotFound):
        record(store, MISSING_ID, touch(campaign), admin)
    lead = new_lead(store, admin)
    with pytest.raises(FailedPrecondition) as error:
        record(store, lead.id, TouchInput(MISSING_ID, TouchKind.AD, EARLIER), admin)
    assert [(v.field, v.description) for v in error.value.violations] == [
        ("touch.campaign_id", "no campaign has this id")
    ]
    assert store.count("lead_touches") == 0


def test_a_future_touch_or_a_missing_kind_is_invalid_before_anything_is_read(
    store: Any, campaign: Campaign, admin: Identity
) -> None:
    future = datetime.now(UTC) + timedelta(minutes=10)
    with pytest.raises(InvalidArgument) as error:
        record(store, MISSING_ID, touch(campaign, touch_time=future, kind=None), admin)
    assert [v.field for v in error.value.violations] == ["touch.kind", "touch.touch_time"]
    with pytest.raises(InvalidArgument) as bad_id:
        record(store, "not-a-uuid", touch(campaign), admin)
    assert [v.field for v in bad_id.value.violations] == ["lead_id"]


def test_whoever_may_change_the_lead_records_its_touches_and_nobody_else(
    store: Any, campaign: Campaign, admin: Identity, who: Who
) -> None:
    store.reports_to("bob", "mia")
    lead = new_lead(store, admin, assignee="bob")

    with pytest.raises(PermissionDenied):
        record(store, lead.id, touch(campaign), who("carol", "rep"))
    assert record(store, lead.id, touch(campaign, touch_key="bob"), who("bob", "rep")).created
    assert record(store, lead.id, touch(campaign, touch_key="mia"), who("mia", "manager")).created
    assert record(store, lead.id, touch(campaign, touch_key="mo"), who("mo", "marketing")).created
    with pytest.raises(PermissionDenied):
        touches.list_touches(lead_id=lead.id, caller=who("carol", "rep"), uow=store.uow())


def test_a_merged_lead_refuses_new_touches_but_a_retry_still_gets_the_first(
    store: Any, campaign: Campaign, admin: Identity
) -> None:
    primary, duplicate = new_lead(store, admin), new_lead(store, admin, first_name="Dup")
    first = record(store, duplicate.id, touch(campaign, touch_key="k"), admin)
    leads.merge_leads(
        primary_lead_id=primary.id, duplicate_lead_ids=[duplicate.id], caller=admin, uow=store.uow()
    )

    with pytest.raises(FailedPrecondition) as error:
        record(store, duplicate.id, touch(campaign, touch_key="new"), admin)
    assert error.value.reason == "LEAD_MERGED" and primary.id in error.value.message
    assert record(store, duplicate.id, touch(campaign, touch_key="k"), admin).touch == first.touch


def test_a_converted_lead_still_takes_touches(store: Any, campaign: Campaign, admin: Identity) -> None:
    # A contact from before the conversion may be reported late; it changes nothing on the lead.
    lead = new_lead(store, admin)
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE leads SET status = 'converted', converted_opportunity_id = ? WHERE id = ?",
            (MISSING_ID, lead.id),
        )
    assert record(store, lead.id, touch(campaign), admin).created


# Listing


def test_touches_are_listed_oldest_first_with_the_first_and_last(
    store: Any, campaign: Campaign, admin: Identity, who: Who
) -> None:
    lead = new_lead(store, admin, assignee="bob")
    for hours, key in [(5, "middle"), (9, "oldest"), (1, "newest")]:
        record(
            store, lead.id, touch(campaign, touch_key=key, touch_time=EARLIER - timedelta(hours=hours)), admin
        )

    history = touches.list_touches(lead_id=lead.id, caller=who("bob", "rep"), uow=store.uow())

    assert [t.touch_key for t in history.touches] == ["oldest", "middle", "newest"]
    assert history.first is not None and history.first.touch_key == "oldest"
    assert history.last is not None and history.last.touch_key == "newest"
    empty = touches.list_touches(
        lead_id=new_lead(store, admin, first_name="X").id, caller=admin, uow=store.uow()
    )
    assert empty.touches == () and empty.first is None
    with pytest.raises(NotFound):
        touches.list_touches(lead_id=MISSING_ID, caller=admin, uow=store.uow())


# With CreateLead


def create(store: Any, by: Identity, given: list[TouchInput], **options: Any) -> leads.CreateResult:
    return leads.create_lead(
        fields=LeadFields(last_name="Hopper", email=options.pop("email", "grace@example.com")),
        assigned_user_id="",
        policy=options.pop("policy", DuplicatePolicy.REJECT),
        request_id=options.pop("request_id", ""),
        caller=by,
        uow=store.uow(),
        touches=given,
    )


def test_touches_given_with_a_new_lead_are_recorded_and_published_after_it(
    store: Any, campaign: Campaign, admin: Identity
) -> None:
    later = EARLIER + timedelta(hours=1)
    result = create(store, admin, [touch(campaign, kind=TouchKind.EVENT, touch_time=later), touch(campaign)])

    assert result.outcome is CreateOutcome.CREATED and result.lead is not None
    history = touches.list_touches(lead_id=result.lead.id, caller=admin, uow=store.uow())
    assert [t.kind for t in history.touches] == [TouchKind.FORM, TouchKind.EVENT]
    lead_events = [e for e in store.events() if e.aggregate_type in ("lead", "lead_touch")]
    assert [e.aggregate_type for e in lead_events] == ["lead", "lead_touch", "lead_touch"]


def test_a_bad_touch_on_create_stores_nothing_and_names_the_touch(
    store: Any, campaign: Campaign, admin: Identity
) -> None:
    with pytest.raises(FailedPrecondition) as error:
        create(store, admin, [touch(campaign), TouchInput(MISSING_ID, TouchKind.AD, EARLIER)])
    assert [v.field for v in error.value.violations] == ["touches[1].campaign_id"]
    future = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(InvalidArgument) as future_error:
        create(store, admin, [touch(campaign, touch_time=future)])
    assert [v.field for v in future_error.value.violations] == ["touches[0].touch_time"]
    assert (store.count("leads"), store.count("lead_touches")) == (0, 0)


def test_under_merge_the_touches_go_to_the_lead_merged_into_without_repeating_its_keys(
    store: Any, campaign: Campaign, admin: Identity
) -> None:
    first = create(store, admin, [touch(campaign)])
    assert first.lead is not None

    merged = create(
        store, admin, [touch(campaign), touch(campaign, kind=TouchKind.CALL)], policy=DuplicatePolicy.MERGE
    )

    assert merged.outcome is CreateOutcome.MERGED and merged.lead is not None
    assert merged.lead.id == first.lead.id
    history = touches.list_touches(lead_id=first.lead.id, caller=admin, uow=store.uow())
    assert [t.kind for t in history.touches] == [TouchKind.FORM, TouchKind.CALL]
    assert len(store.events("lead_touch")) == 2


def test_duplicates_found_or_a_retried_request_record_no_touch(
    store: Any, campaign: Campaign, admin: Identity
) -> None:
    first = create(store, admin, [touch(campaign)], request_id="r1", email="a@example.com")
    retried = create(
        store, admin, [touch(campaign, touch_key="other")], request_id="r1", email="a@example.com"
    )
    rejected = create(store, admin, [touch(campaign, touch_key="dup")], email="a@example.com")

    assert retried.lead == first.lead
    assert rejected.outcome is CreateOutcome.DUPLICATES_FOUND
    assert store.count("lead_touches") == 1


# With the CSV import


def run_import(store: Any, by: Identity, text: str, policy: DuplicatePolicy = DuplicatePolicy.REJECT) -> Any:
    return imports.import_leads(
        csv_text=text, first_line_number=0, policy=policy, file_name="leads.csv", caller=by, uow=store.uow()
    )


def test_imported_touches_name_their_campaign_by_name_or_id(
    store: Any, campaign: Campaign, marketer: Identity, admin: Identity
) -> None:
    ads = new_campaign(store, marketer, "Search ads")
    text = (
        "last_name,email,touches\n"
        'Lovelace,ada@example.com,"spring WEBINAR|event|2025-03-04T15:00:00Z;'
        f' {ads.id}|ad|2025-03-01T09:00:00+01:00"\n'
    )

    report = run_import(store, admin, text)

    [row] = report.rows
    assert row.outcome is RowOutcome.IMPORTED
    history = touches.list_touches(lead_id=row.lead_id, caller=admin, uow=store.uow())
    assert [(t.campaign_id, t.kind, t.touch_time) for t in history.touches] == [
        (ads.id, TouchKind.AD, datetime(2025, 3, 1, 8, 0, tzinfo=UTC)),
        (campaign.id, TouchKind.EVENT, EARLIER),
    ]
    assert len(store.events("lead_touch")) == 2


def test_a_row_with_an_unknown_campaign_or_a_future_touch_is_invalid_and_names_the_entry(
    store: Any, campaign: Campaign, admin: Identity
) -> None:
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    text = (
        "last_name,touches\n"
        "Lovelace,Autumn|form|2025-03-04T15:00:00Z\n"
        f"Hopper,Spring webinar|form|{future}\n"
        '"Turing","Spring webinar|form|2025-03-04T15:00:00Z;Spring webinar|form|2025-03-04T16:00:00+01:00"\n'
    )

    report = run_import(store, admin, text)

    assert [(r.outcome, r.reasons) for r in report.rows] == [
        (
            RowOutcome.INVALID,
            (
                "touches: entry 1 ('Autumn|form|2025-03-04T15:00:00Z'): no campaign has the id or"
                " name 'Autumn'",
            ),
        ),
        (
            RowOutcome.INVALID,
            (
                f"touches: entry 1 ('Spring webinar|form|{future}'): touch_time must not be in the future"
                " (more than 5 minutes ahead)",
            ),
        ),
        (
            RowOutcome.INVALID,
            (
                "touches: entry 2 ('Spring webinar|form|2025-03-04T16:00:00+01:00'): repeats entry 1"
                " (same campaign, kind and time)",
            ),
        ),
    ]
    assert (store.count("leads"), store.count("lead_touches")) == (0, 0)


def test_importing_the_file_again_records_no_touch_twice(
    store: Any, campaign: Campaign, admin: Identity
) -> None:
    text = "last_name,email,touches\nLovelace,ada@example.com,Spring webinar|form|2025-03-04T15:00:00Z\n"
    first = run_import(store, admin, text)

    again = run_import(store, admin, text)
    # The same person with changed data and the same touch, merged into the imported lead.
    changed = (
        "last_name,email,company,touches\n"
        "Lovelace,ada@example.com,Engines,Spring webinar|form|2025-03-04T15:00:00Z\n"
        "Lovelace,ada@example.com,Engines Ltd,Spring webinar|form|2025-03-04T15:00:00Z\n"
    )
    merged = run_import(store, admin, changed, DuplicatePolicy.MERGE)

    assert [r.outcome for r in again.rows] == [RowOutcome.ALREADY_IMPORTED]
    assert [r.outcome for r in merged.rows] == [RowOutcome.MERGED, RowOutcome.MERGED]
    assert {r.lead_id for r in merged.rows} == {first.rows[0].lead_id}
    assert store.count("lead_touches") == 1
    assert len(store.events("lead_touch")) == 1
