"""Use cases on leads, on the embedded database: capture with duplicate detection and idempotency,
reach by role and reporting line, listing, editing, the workflow, qualification and merging."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.domain.duplicates import DuplicatePolicy, DuplicateReason
from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.lead_fields import LeadFields
from salesplane_leads.domain.lead_status import LeadStatus
from salesplane_leads.domain.marketing import CampaignPlan, Channel
from salesplane_leads.domain.qualification import Authority, Need, QualificationInput
from salesplane_leads.service_layer import leads, marketing
from salesplane_leads.service_layer.leads import CreateOutcome
from salesplane_leads.service_layer.unit_of_work import LeadFilter
from salesplane_platform.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from salesplane_platform.identity import Identity
from salesplane_platform.money import MoneyInput

MISSING_ID = "0b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a"
Who = Callable[..., Identity]


@pytest.fixture
def create(store: Any, admin: Identity) -> Callable[..., leads.CreateResult]:
    def create_lead(
        by: Identity | None = None,
        assignee: str = "",
        policy: DuplicatePolicy = DuplicatePolicy.REJECT,
        request_id: str = "",
        **values: Any,
    ) -> leads.CreateResult:
        return leads.create_lead(
            fields=LeadFields(**{"last_name": "Lovelace", **values}),
            assigned_user_id=assignee,
            policy=policy,
            request_id=request_id,
            caller=by or admin,
            uow=store.uow(),
        )

    return create_lead


def created(result: leads.CreateResult) -> Lead:
    assert result.outcome is CreateOutcome.CREATED and result.lead is not None
    return result.lead


# Capture


def test_creating_a_lead_stores_it_and_publishes_lead_changed_created(
    store: Any, create: Any, who: Who
) -> None:
    lead = created(create(who("bob", "rep"), assignee="bob", first_name="Ada", email="ada@example.com"))

    assert leads.get_lead(lead_id=lead.id, caller=who("bob", "rep"), uow=store.uow()) == lead
    [event] = store.events("lead")
    assert (event.aggregate_id, event.version, event.actor) == (lead.id, 1, "bob")
    assert event.payload.kind == events_pb2.LEAD_CHANGE_KIND_CREATED
    assert event.payload.lead.email == "ada@example.com"
    assert event.payload.lead.status == leads_pb2.LEAD_STATUS_ASSIGNED
    assert event.payload.lead.score == lead.score.value


def test_invalid_fields_are_reported_with_the_lead_prefix_even_to_a_caller_without_rights(
    create: Any, who: Who
) -> None:
    with pytest.raises(InvalidArgument) as error:
        create(who("nobody"), last_name="", email="nope")

    assert [v.field for v in error.value.violations] == ["lead.last_name", "lead.email"]


def test_a_caller_without_a_role_may_not_create_leads(store: Any, create: Any, who: Who) -> None:
    with pytest.raises(PermissionDenied):
        create(who("nobody"))
    assert store.count("leads") == 0


def test_a_rep_creates_leads_only_for_themselves_or_unassigned(create: Any, who: Who) -> None:
    rep = who("bob", "rep")
    created(create(rep, assignee="bob", email="a@example.com"))
    created(create(rep, email="b@example.com"))

    with pytest.raises(PermissionDenied, match="only to themselves"):
        create(rep, assignee="carol", email="c@example.com")


def test_a_manager_assigns_new_leads_only_within_their_subtree(store: Any, create: Any, who: Who) -> None:
    store.reports_to("bob", "mia")
    store.reports_to("dan", "bob")
    mia = who("mia", "manager")

    assert created(create(mia, assignee="dan", email="a@example.com")).assigned_user_id == "dan"
    with pytest.raises(PermissionDenied):
        create(mia, assignee="zed", email="b@example.com")


def test_a_retry_with_the_same_request_id_returns_the_first_lead_and_publishes_once(
    store: Any, create: Any, who: Who
) -> None:
    rep = who("bob", "rep")
    first = created(create(rep, assignee="bob", request_id="form-42", email="ada@example.com"))

    again = create(rep, assignee="bob", request_id="form-42", email="someone.else@example.com")

    assert again.outcome is CreateOutcome.CREATED and again.lead == first
    assert store.count("leads") == 1
    assert len(store.events("lead")) == 1


def test_request_ids_belong_to_their_caller(store: Any, create: Any, who: Who) -> None:
    first = created(create(who("bob", "rep"), request_id="r1", email="a@example.com"))
    second = created(create(who("carol", "rep"), request_id="r1", email="b@example.com"))

    assert first.id != second.id


def test_a_request_id_is_bounded(create: Any) -> None:
    with pytest.raises(InvalidArgument) as error:
        create(request_id="r" * 129)
    assert [v.field for v in error.value.violations] == ["request_id"]


def test_a_lead_source_and_campaign_must_exist_and_fit_together(
    store: Any, create: Any, marketer: Identity
) -> None:
    web = marketing.create_lead_source(name="Web", channel=Channel.WEB, caller=marketer, uow=store.uow())
    fair = marketing.create_lead_source(name="Fair", channel=Channel.EVENT, caller=marketer, uow=store.uow())
    spring = _campaign(store, marketer, web.id, "Spring")

    # Well-formed ids the stored data refuses: FAILED_PRECONDITION, still naming every field.
    with pytest.raises(FailedPrecondition) as unknown:
        create(lead_source_id=MISSING_ID, campaign_id=MISSING_ID)
    assert [v.field for v in unknown.value.violations] == ["lead.lead_source_id", "lead.campaign_id"]
    with pytest.raises(FailedPrecondition, match=f"belongs to lead source {web.id}"):
        create(lead_source_id=fair.id, campaign_id=spring.id)

    lead = created(create(campaign_id=spring.id))
    assert (lead.fields.lead_source_id, lead.fields.campaign_id) == (web.id, spring.id)


def _campaign(store: Any, by: Identity, source_id: str, name: str) -> Any:
    plan = CampaignPlan(
        given=frozenset({"name", "budget", "start_date", "end_date"}),
        name=name,
        budget=MoneyInput("EUR", 1_000_00),
        start_date=date(2031, 3, 1),
        end_date=date(2031, 3, 31),
    )
    return marketing.create_campaign(
        plan=plan, lead_source_id=source_id, channel=None, caller=by, uow=store.uow()
    )


# Duplicates


def test_a_duplicate_is_rejected_by_default_with_the_candidates(store: Any, create: Any) -> None:
    original = created(
        create(first_name="Ada", company="Acme Inc", email="ada@example.com", phone="+44 20 7946 0018")
    )

    result = create(first_name="ADA", company="ACME", phone="0044 20 7946 0018")

    assert (result.outcome, result.lead) == (CreateOutcome.DUPLICATES_FOUND, None)
    assert [(c.lead.id, c.reasons) for c in result.duplicates] == [
        (original.id, (DuplicateReason.SAME_PHONE, DuplicateReason.SAME_PERSON_AT_COMPANY))
    ]
    assert store.count("leads") == 1


def test_insisting_creates_the_duplicate_anyway(store: Any, create: Any) -> None:
    created(create(email="ada@example.com"))

    result = create(policy=DuplicatePolicy.INSIST, email="ada@example.com")

    assert result.outcome is CreateOutcome.CREATED and len(result.duplicates) == 1
    assert store.count("leads") == 2


def test_merging_fills_the_empty_fields_of_the_best_candidate_instead(store: Any, create: Any) -> None:
    original = created(create(first_name="Ada", email="ada@example.com"))

    result = create(
        policy=DuplicatePolicy.MERGE,
        first_name="Augusta",
        email="ada@example.com",
        phone="123456",
        title="Countess",
    )

    assert result.outcome is CreateOutcome.MERGED and result.lead is not None
    assert result.lead.id == original.id
    assert (result.lead.fields.first_name, result.lead.fields.phone, result.lead.fields.title) == (
        "Ada",
        "123456",
        "Countess",
    )
    assert store.count("leads") == 1
    assert [(e.version, e.payload.kind) for e in store.events("lead")][-1] == (
        2,
        events_pb2.LEAD_CHANGE_KIND_MERGED,
    )


def test_a_rep_cannot_merge_into_someone_elses_lead_so_nothing_is_created(create: Any, who: Who) -> None:
    created(create(assignee="carol", email="ada@example.com"))

    result = create(who("bob", "rep"), policy=DuplicatePolicy.MERGE, email="ada@example.com", phone="123456")

    assert result.outcome is CreateOutcome.DUPLICATES_FOUND


def test_a_retried_merge_returns_the_merged_lead(store: Any, create: Any) -> None:
    original = created(create(email="ada@example.com"))
    create(policy=DuplicatePolicy.MERGE, request_id="m1", email="ada@example.com", phone="123456")

    again = create(policy=DuplicatePolicy.MERGE, request_id="m1", email="ada@example.com", phone="123456")

    assert again.outcome is CreateOutcome.MERGED and again.lead is not None and again.lead.id == original.id
    assert len(store.events("lead")) == 2


# Reach


def test_reps_reach_their_own_leads_managers_their_subtree_and_unassigned_marketing_all(
    store: Any, create: Any, who: Who
) -> None:
    store.reports_to("bob", "mia")
    bobs = created(create(assignee="bob", email="1@example.com"))
    zeds = created(create(assignee="zed", email="2@example.com"))
    nobodys = created(create(email="3@example.com"))

    def reaches(caller: Identity, lead: Lead) -> bool:
        try:
            leads.get_lead(lead_id=lead.id, caller=caller, uow=store.uow())
        except PermissionDenied:
            return False
        return True

    bob, mia, mo = who("bob", "rep"), who("mia", "manager"), who("mo", "marketing")
    assert [reaches(bob, lead) for lead in (bobs, zeds, nobodys)] == [True, False, False]
    assert [reaches(mia, lead) for lead in (bobs, zeds, nobodys)] == [True, False, True]
    assert [reaches(mo, lead) for lead in (bobs, zeds, nobodys)] == [True, True, True]


def test_reading_a_malformed_or_unknown_lead(store: Any, admin: Identity) -> None:
    with pytest.raises(InvalidArgument):
        leads.get_lead(lead_id=MISSING_ID.upper(), caller=admin, uow=store.uow())
    with pytest.raises(NotFound) as missing:
        leads.get_lead(lead_id=MISSING_ID, caller=admin, uow=store.uow())
    assert (missing.value.resource_type, missing.value.resource_id) == ("lead", MISSING_ID)


# Listing


def list_ids(
    store: Any, caller: Identity, lead_filter: LeadFilter | None = None, page_size: int = 0
) -> list[str]:
    ids, token = [], ""
    while True:
        page = leads.list_leads(
            lead_filter=lead_filter or LeadFilter(),
            page_size=page_size,
            page_token=token,
            caller=caller,
            uow=store.uow(),
        )
        ids += [lead.id for lead in page.leads]
        if not page.next_page_token:
            return ids
        token = page.next_page_token


def test_pages_walk_every_visible_lead_newest_first_without_gaps_or_repeats(
    store: Any, create: Any, admin: Identity
) -> None:
    made = [created(create(email=f"{n}@example.com")).id for n in range(7)]

    assert list_ids(store, admin, page_size=3) == list(reversed(made))


def test_a_list_shows_only_what_the_caller_reaches(store: Any, create: Any, who: Who) -> None:
    store.reports_to("bob", "mia")
    bobs = created(create(assignee="bob", email="1@example.com")).id
    created(create(assignee="zed", email="2@example.com"))
    nobodys = created(create(email="3@example.com")).id

    assert list_ids(store, who("bob", "rep")) == [bobs]
    assert list_ids(store, who("mia", "manager")) == [nobodys, bobs]


def test_filters_narrow_the_list(store: Any, create: Any, admin: Identity, marketer: Identity) -> None:
    web = marketing.create_lead_source(name="Web", channel=Channel.WEB, caller=marketer, uow=store.uow())
    ada = created(
        create(
            assignee="bob",
            first_name="Ada",
            company="Analytical Engines",
            email="ada@example.com",
            lead_source_id=web.id,
        )
    )
    alan = created(create(first_name="Alan", last_name="Turing", company="Bletchley 100%", phone="123456"))
    grace = created(
        create(assignee="carol", first_name="Grace", last_name="Hopper", email="grace@navy.example")
    )
    leads.change_lead_status(
        lead_id=grace.id,
        status=LeadStatus.DEAD,
        reason="retired",
        expected_version=None,
        caller=admin,
        uow=store.uow(),
    )

    def ids(**values: Any) -> set[str]:
        return set(list_ids(store, admin, LeadFilter(**values)))

    assert ids(statuses=frozenset({LeadStatus.DEAD})) == {grace.id}
    assert ids(assigned_user_ids=frozenset({"bob", ""})) == {ada.id, alan.id}
    assert ids(lead_source_id=web.id) == {ada.id}
    assert ids(text="ENGINES") == {ada.id}
    assert ids(text="ada lovelace") == {ada.id}
    assert ids(text="navy.example") == {grace.id}
    assert ids(text="100%") == {alan.id}
    assert ids(text="10_%") == set()
    assert ids(min_score=5) == {ada.id, alan.id, grace.id}


def test_list_filters_are_validated(store: Any, admin: Identity) -> None:
    with pytest.raises(InvalidArgument) as error:
        leads.list_leads(
            lead_filter=LeadFilter(
                assigned_user_ids=frozenset({"a b"}),
                lead_source_id="web",
                campaign_id="x",
                text="t" * 201,
                min_score=101,
            ),
            page_size=0,
            page_token="",
            caller=admin,
            uow=store.uow(),
        )
    assert [v.field for v in error.value.violations] == [
        "assigned_user_ids",
        "lead_source_id",
        "campaign_id",
        "text",
        "min_score",
    ]


# Editing, assigning, workflow, qualification


def test_updating_changes_the_given_fields_rescores_and_publishes_updated(
    store: Any, create: Any, admin: Identity
) -> None:
    lead = created(create(first_name="Ada"))

    updated = leads.update_lead(
        lead_id=lead.id,
        changes={"email": "Ada@Example.com", "address.city": "London"},
        expected_version=1,
        caller=admin,
        uow=store.uow(),
    )

    assert (
        updated.fields.email,
        updated.fields.address.city,
        updated.fields.first_name,
        updated.version,
    ) == (
        "ada@example.com",
        "London",
        "Ada",
        2,
    )
    assert updated.score.value > lead.score.value
    assert store.events("lead")[-1].payload.kind == events_pb2.LEAD_CHANGE_KIND_UPDATED


def test_a_stale_expected_version_is_aborted_and_changes_nothing(
    store: Any, create: Any, admin: Identity
) -> None:
    lead = created(create())
    leads.update_lead(
        lead_id=lead.id, changes={"company": "A"}, expected_version=1, caller=admin, uow=store.uow()
    )

    for change in (
        lambda: leads.update_lead(
            lead_id=lead.id, changes={"company": "B"}, expected_version=1, caller=admin, uow=store.uow()
        ),
        lambda: leads.assign_lead(
            lead_id=lead.id, assigned_user_id="bob", expected_version=1, caller=admin, uow=store.uow()
        ),
        lambda: leads.change_lead_status(
            lead_id=lead.id,
            status=LeadStatus.DEAD,
            reason="x",
            expected_version=1,
            caller=admin,
            uow=store.uow(),
        ),
        lambda: leads.qualify_lead(
            lead_id=lead.id,
            qualification=QualificationInput(),
            expected_version=1,
            caller=admin,
            uow=store.uow(),
        ),
    ):
        with pytest.raises(Conflict):
            change()
    assert leads.get_lead(lead_id=lead.id, caller=admin, uow=store.uow()).fields.company == "A"


def test_an_update_naming_a_campaign_takes_its_lead_source(
    store: Any, create: Any, admin: Identity, marketer: Identity
) -> None:
    web = marketing.create_lead_source(name="Web", channel=Channel.WEB, caller=marketer, uow=store.uow())
    spring = _campaign(store, marketer, web.id, "Spring")
    lead = created(create())

    updated = leads.update_lead(
        lead_id=lead.id,
        changes={"campaign_id": spring.id},
        expected_version=None,
        caller=admin,
        uow=store.uow(),
    )

    assert (updated.fields.lead_source_id, updated.fields.campaign_id) == (web.id, spring.id)


def test_assignment_and_status_changes_publish_their_kind_and_previous_status(
    store: Any, create: Any, who: Who
) -> None:
    store.reports_to("bob", "mia")
    mia = who("mia", "manager")
    lead = created(create(mia))

    leads.assign_lead(
        lead_id=lead.id, assigned_user_id="bob", expected_version=1, caller=mia, uow=store.uow()
    )
    leads.change_lead_status(
        lead_id=lead.id,
        status=LeadStatus.IN_PROCESS,
        reason="",
        expected_version=2,
        caller=who("bob", "rep"),
        uow=store.uow(),
    )
    leads.change_lead_status(
        lead_id=lead.id,
        status=LeadStatus.RECYCLED,
        reason="no budget",
        expected_version=3,
        caller=mia,
        uow=store.uow(),
    )

    assert [
        (e.version, e.payload.kind, e.payload.previous_status, e.payload.lead.status)
        for e in store.events("lead")
    ] == [
        (1, events_pb2.LEAD_CHANGE_KIND_CREATED, 0, leads_pb2.LEAD_STATUS_NEW),
        (2, events_pb2.LEAD_CHANGE_KIND_ASSIGNED, leads_pb2.LEAD_STATUS_NEW, leads_pb2.LEAD_STATUS_ASSIGNED),
        (
            3,
            events_pb2.LEAD_CHANGE_KIND_STATUS_CHANGED,
            leads_pb2.LEAD_STATUS_ASSIGNED,
            leads_pb2.LEAD_STATUS_IN_PROCESS,
        ),
        (
            4,
            events_pb2.LEAD_CHANGE_KIND_STATUS_CHANGED,
            leads_pb2.LEAD_STATUS_IN_PROCESS,
            leads_pb2.LEAD_STATUS_RECYCLED,
        ),
    ]
    assert store.events("lead")[-1].payload.lead.status_reason == "no budget"


def test_a_rep_may_not_hand_their_lead_to_someone_else(store: Any, create: Any, who: Who) -> None:
    lead = created(create(assignee="bob"))

    with pytest.raises(PermissionDenied):
        leads.assign_lead(
            lead_id=lead.id,
            assigned_user_id="carol",
            expected_version=None,
            caller=who("bob", "rep"),
            uow=store.uow(),
        )


def test_an_illegal_transition_is_a_failed_precondition_naming_the_way_forward(
    store: Any, create: Any, admin: Identity
) -> None:
    lead = created(create())

    with pytest.raises(
        FailedPrecondition, match="from New to In Process; from New it can go to Assigned, Dead"
    ):
        leads.change_lead_status(
            lead_id=lead.id,
            status=LeadStatus.IN_PROCESS,
            reason="",
            expected_version=None,
            caller=admin,
            uow=store.uow(),
        )


def test_a_status_must_be_given_and_dead_needs_a_reason_before_anything_is_loaded(
    store: Any, admin: Identity
) -> None:
    with pytest.raises(InvalidArgument, match="status"):
        leads.change_lead_status(
            lead_id=MISSING_ID, status=None, reason="", expected_version=None, caller=admin, uow=store.uow()
        )
    with pytest.raises(InvalidArgument, match="reason"):
        leads.change_lead_status(
            lead_id=MISSING_ID,
            status=LeadStatus.DEAD,
            reason="",
            expected_version=None,
            caller=admin,
            uow=store.uow(),
        )


def test_qualifying_scores_the_lead_with_the_seeded_rules(store: Any, create: Any, admin: Identity) -> None:
    lead = created(create(assignee="bob", email="ada@example.com"))

    qualified = leads.qualify_lead(
        lead_id=lead.id,
        qualification=QualificationInput(
            budget=MoneyInput("USD", 50_000_00), authority=Authority.DECISION_MAKER, need=Need.HIGH
        ),
        expected_version=1,
        caller=admin,
        uow=store.uow(),
    )

    matched = {c.rule_id for c in qualified.score.breakdown if c.matched}
    assert matched == {
        "budget-10k-usd",
        "decision-maker",
        "influencer",
        "need-high",
        "need-medium",
        "has-email",
    }
    assert qualified.score.value == 20 + 25 + 10 + 15 + 10 + 5
    assert len(qualified.score.breakdown) == 9
    assert store.events("lead")[-1].payload.kind == events_pb2.LEAD_CHANGE_KIND_QUALIFIED


def test_an_invalid_qualification_is_rejected_with_field_paths(store: Any, admin: Identity) -> None:
    with pytest.raises(InvalidArgument) as error:
        leads.qualify_lead(
            lead_id=MISSING_ID,
            qualification=QualificationInput(
                budget=MoneyInput("EURO", -5), timeline_given=True, notes="x" * 2001
            ),
            expected_version=None,
            caller=admin,
            uow=store.uow(),
        )
    assert [v.field for v in error.value.violations] == [
        "qualification.budget.currency_code",
        "qualification.budget.amount_minor",
        "qualification.timeline",
        "qualification.notes",
    ]


# Merging


def test_merging_fills_the_primary_and_kills_the_duplicates_pointing_at_it(
    store: Any, create: Any, admin: Identity
) -> None:
    primary = created(create(first_name="Ada", email="ada@example.com"))
    first = created(create(policy=DuplicatePolicy.INSIST, email="ada@example.com", phone="123456"))
    second = created(
        create(assignee="bob", policy=DuplicatePolicy.INSIST, email="ada@example.com", title="Countess")
    )

    merged = leads.merge_leads(
        primary_lead_id=primary.id, duplicate_lead_ids=[first.id, second.id], caller=admin, uow=store.uow()
    )

    assert (merged.fields.phone, merged.fields.title, merged.version) == ("123456", "Countess", 2)
    for duplicate_id in (first.id, second.id):
        duplicate = leads.get_lead(lead_id=duplicate_id, caller=admin, uow=store.uow())
        assert (duplicate.status, duplicate.merged_into_lead_id) == (LeadStatus.DEAD, primary.id)
    kinds = [(e.aggregate_id, e.payload.kind) for e in store.events("lead")[-3:]]
    assert kinds == [
        (lead_id, events_pb2.LEAD_CHANGE_KIND_MERGED) for lead_id in (primary.id, first.id, second.id)
    ]


def test_a_merged_lead_cannot_be_merged_again_or_changed(store: Any, create: Any, admin: Identity) -> None:
    primary = created(create(email="a@example.com"))
    duplicate = created(create(email="b@example.com"))
    leads.merge_leads(
        primary_lead_id=primary.id, duplicate_lead_ids=[duplicate.id], caller=admin, uow=store.uow()
    )

    with pytest.raises(FailedPrecondition, match="merged into"):
        leads.merge_leads(
            primary_lead_id=primary.id, duplicate_lead_ids=[duplicate.id], caller=admin, uow=store.uow()
        )
    with pytest.raises(FailedPrecondition, match="merged into"):
        leads.update_lead(
            lead_id=duplicate.id,
            changes={"company": "X"},
            expected_version=None,
            caller=admin,
            uow=store.uow(),
        )


def test_a_merge_request_is_validated(store: Any, admin: Identity) -> None:
    with pytest.raises(InvalidArgument) as error:
        leads.merge_leads(
            primary_lead_id=MISSING_ID,
            duplicate_lead_ids=[MISSING_ID, "x", "", "x"],
            caller=admin,
            uow=store.uow(),
        )
    assert [v.field for v in error.value.violations] == [
        "duplicate_lead_ids[0]",
        "duplicate_lead_ids[1]",
        "duplicate_lead_ids[2]",
        "duplicate_lead_ids[3]",
    ]
    with pytest.raises(InvalidArgument, match="at least one"):
        leads.merge_leads(primary_lead_id=MISSING_ID, duplicate_lead_ids=[], caller=admin, uow=store.uow())


def test_a_rep_merges_only_leads_they_reach(store: Any, create: Any, who: Who) -> None:
    mine = created(create(assignee="bob", email="a@example.com"))
    theirs = created(create(assignee="carol", email="b@example.com"))

    with pytest.raises(PermissionDenied):
        leads.merge_leads(
            primary_lead_id=mine.id, duplicate_lead_ids=[theirs.id], caller=who("bob", "rep"), uow=store.uow()
        )


# Ownership follows the organisation


@pytest.mark.parametrize(
    ("assignee", "says"), [("ghost", "not a user of the organisation"), ("gone", "deactivated")]
)
def test_a_lead_goes_only_to_an_active_user_of_the_organisation(
    store: Any, create: Any, admin: Identity, assignee: str, says: str
) -> None:
    store.reports_to("gone", None, active=False)
    with pytest.raises(FailedPrecondition, match=says) as refused:
        create(assignee=assignee)
    assert refused.value.reason == "OWNER_NOT_ACTIVE"
    assert store.count("leads") == 0 and store.events() == []

    lead = created(create(email="ada@example.com"))
    with pytest.raises(FailedPrecondition, match=says):
        leads.assign_lead(
            lead_id=lead.id, assigned_user_id=assignee, expected_version=None, caller=admin, uow=store.uow()
        )
    assert (
        leads.assign_lead(
            lead_id=lead.id, assigned_user_id="bob", expected_version=None, caller=admin, uow=store.uow()
        ).assigned_user_id
        == "bob"
    )
