"""Importing CSV chunks: valid rows imported, invalid ones reported by line, duplicates against the
database and within the file, nothing imported twice, and a chunk all or nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from salesplane.leads.v1 import events_pb2
from salesplane_leads.adapters.sql_unit_of_work import SqlLeadsUnitOfWork
from salesplane_leads.domain.duplicates import DuplicatePolicy
from salesplane_leads.domain.lead_fields import LeadFields
from salesplane_leads.domain.marketing import CampaignPlan, Channel
from salesplane_leads.service_layer import imports, leads, marketing
from salesplane_leads.service_layer.imports import RowOutcome
from salesplane_leads.service_layer.unit_of_work import LeadFilter
from salesplane_platform.errors import InvalidArgument, PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.money import MoneyInput

FILE = """first_name,last_name,company,email,phone,country_code
Ada,Lovelace,Analytical Engines,ada@example.com,+44 20 7946 0018,GB
Alan,,Bletchley,alan@example,,UK
Grace,Hopper,US Navy,grace@example.com,,US
ADA,LOVELACE,Analytical Engines Ltd,,,GB
Katherine,Johnson,NASA,kj@example.com,0044 20 7946 0018,US
Grace,Hopper,US Navy,grace@example.com,,US
"""


def run(
    store: Any,
    caller: Identity,
    text: str = FILE,
    policy: DuplicatePolicy = DuplicatePolicy.REJECT,
    first_line: int = 0,
) -> imports.ImportReport:
    return imports.import_leads(
        csv_text=text,
        first_line_number=first_line,
        policy=policy,
        file_name="leads.csv",
        caller=caller,
        uow=store.uow(),
    )


def outcomes(report: imports.ImportReport) -> list[tuple[int, RowOutcome]]:
    return [(row.line_number, row.outcome) for row in report.rows]


def test_valid_rows_are_imported_and_every_other_row_is_reported_with_its_line(
    store: Any, admin: Identity
) -> None:
    report = run(store, admin)

    assert outcomes(report) == [
        (2, RowOutcome.IMPORTED),
        (3, RowOutcome.INVALID),
        (4, RowOutcome.IMPORTED),
        (5, RowOutcome.DUPLICATE),
        (6, RowOutcome.DUPLICATE),
        (7, RowOutcome.ALREADY_IMPORTED),
    ]
    rows = {row.line_number: row for row in report.rows}
    assert rows[3].reasons == (
        "last_name: must not be empty",
        "email: must be an e-mail address like name@example.com (at most 254 characters)",
        "country_code: must be an ISO 3166-1 alpha-2 country code like DE or US",
    )
    assert rows[5].reasons == (
        f"same person at the same company as lead {rows[2].lead_id} (line 2 of this import)",
    )
    assert rows[5].lead_id == rows[2].lead_id
    assert rows[6].reasons == (f"same phone number as lead {rows[2].lead_id} (line 2 of this import)",)
    assert rows[7].reasons == ("repeats line 4 of this import",)
    assert (
        report.count(RowOutcome.IMPORTED),
        report.count(RowOutcome.INVALID),
        report.count(RowOutcome.DUPLICATE),
    ) == (2, 1, 2)
    assert store.count("leads") == 2 and store.count("import_rows") == 2
    assert {e.payload.kind for e in store.events("lead")} == {events_pb2.LEAD_CHANGE_KIND_IMPORTED}


def test_importing_the_same_file_again_imports_nothing(store: Any, admin: Identity) -> None:
    first = run(store, admin)

    again = run(store, admin)

    imported = {row.line_number: row.lead_id for row in first.rows if row.outcome is RowOutcome.IMPORTED}
    assert [(r.line_number, r.outcome, r.lead_id) for r in again.rows if r.line_number in imported] == [
        (line, RowOutcome.ALREADY_IMPORTED, lead_id) for line, lead_id in imported.items()
    ]
    assert again.rows[0].reasons == ("imported before from line 2 of leads.csv",)
    assert again.count(RowOutcome.IMPORTED) == 0
    assert store.count("leads") == 2 and len(store.events("lead")) == 2


def test_duplicates_of_leads_already_in_the_database_are_found(store: Any, admin: Identity) -> None:
    existing = leads.create_lead(
        fields=LeadFields(last_name="Hopper", email="grace@example.com"),
        assigned_user_id="",
        policy=DuplicatePolicy.REJECT,
        request_id="",
        caller=admin,
        uow=store.uow(),
    ).lead
    assert existing is not None

    report = run(store, admin, "last_name,email\nHopper,GRACE@example.com\n")

    assert [(r.outcome, r.lead_id, r.reasons) for r in report.rows] == [
        (RowOutcome.DUPLICATE, existing.id, (f"same e-mail address as lead {existing.id}",))
    ]


def test_insisting_imports_duplicates_too_but_still_not_the_same_row_twice(
    store: Any, admin: Identity
) -> None:
    report = run(store, admin, policy=DuplicatePolicy.INSIST)

    assert [o for _, o in outcomes(report)] == [
        RowOutcome.IMPORTED,
        RowOutcome.INVALID,
        RowOutcome.IMPORTED,
        RowOutcome.IMPORTED,
        RowOutcome.IMPORTED,
        RowOutcome.ALREADY_IMPORTED,
    ]
    assert store.count("leads") == 4


def test_merging_fills_the_lead_a_duplicate_row_repeats(store: Any, admin: Identity) -> None:
    run(store, admin, "first_name,last_name,email\nAda,Lovelace,ada@example.com\n")

    report = run(
        store,
        admin,
        "last_name,email,phone,title\nLovelace,ada@example.com,123456,Countess\n",
        policy=DuplicatePolicy.MERGE,
    )

    [row] = report.rows
    assert row.outcome is RowOutcome.MERGED
    merged = leads.get_lead(lead_id=row.lead_id, caller=admin, uow=store.uow())
    assert (merged.fields.first_name, merged.fields.phone, merged.fields.title) == (
        "Ada",
        "123456",
        "Countess",
    )
    assert (
        run(
            store,
            admin,
            "last_name,email,phone,title\nLovelace,ada@example.com,123456,Countess\n",
            policy=DuplicatePolicy.MERGE,
        )
        .rows[0]
        .outcome
        is RowOutcome.ALREADY_IMPORTED
    )


def test_lead_sources_and_campaigns_are_named_by_id_or_name(
    store: Any, admin: Identity, marketer: Identity
) -> None:
    web = marketing.create_lead_source(name="Web", channel=Channel.WEB, caller=marketer, uow=store.uow())
    fair = marketing.create_lead_source(
        name="Trade fair", channel=Channel.EVENT, caller=marketer, uow=store.uow()
    )
    plan = CampaignPlan(
        given=frozenset({"name", "budget", "start_date", "end_date"}),
        name="Spring",
        budget=MoneyInput("EUR", 1),
        start_date=date(2031, 3, 1),
        end_date=date(2031, 3, 2),
    )
    spring = marketing.create_campaign(
        plan=plan, lead_source_id=web.id, channel=None, caller=marketer, uow=store.uow()
    )

    report = run(
        store,
        admin,
        "last_name,lead_source,campaign\n"
        f"A,{web.id},\n"
        "B,web,SPRING\n"
        "C,,Spring\n"
        "D,Trade Fair,Spring\n"
        "E,Radio,\n"
        "F,,Autumn\n",
    )

    assert [o for _, o in outcomes(report)] == [RowOutcome.IMPORTED] * 3 + [RowOutcome.INVALID] * 3
    imported = [leads.get_lead(lead_id=r.lead_id, caller=admin, uow=store.uow()) for r in report.rows[:3]]
    assert [(lead.fields.lead_source_id, lead.fields.campaign_id) for lead in imported] == [
        (web.id, ""),
        (web.id, spring.id),
        (web.id, spring.id),
    ]
    assert [r.reasons for r in report.rows[3:]] == [
        ("campaign: 'Spring' belongs to another lead source",),
        ("lead_source: no lead source has the id or name 'Radio'",),
        ("campaign: no campaign has the id or name 'Autumn'",),
    ]
    assert fair.id not in {lead.fields.lead_source_id for lead in imported}


def test_a_rep_imports_rows_only_for_themselves_or_unassigned(store: Any, who: Any) -> None:
    report = run(store, who("bob", "rep"), "last_name,assigned_user_id\nA,bob\nB,\nC,carol\n")

    assert [o for _, o in outcomes(report)] == [RowOutcome.IMPORTED, RowOutcome.IMPORTED, RowOutcome.INVALID]
    assert report.rows[2].reasons == ("assigned_user_id: bob may assign leads only to themselves",)


def test_line_numbers_continue_from_the_chunks_place_in_the_file(store: Any, admin: Identity) -> None:
    report = run(store, admin, "last_name,email\nA,a@example.com\nB,nope\n", first_line=1201)

    assert outcomes(report) == [(1201, RowOutcome.IMPORTED), (1202, RowOutcome.INVALID)]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"first_line_number": 1}, "first_line_number"),
        ({"file_name": "x" * 256}, "file_name"),
        ({"csv_text": "nope\n"}, "csv_text"),
    ],
)
def test_a_request_that_cannot_be_imported_is_an_invalid_argument(
    store: Any, admin: Identity, values: dict[str, Any], field: str
) -> None:
    request: dict[str, Any] = {
        "csv_text": "last_name\nA\n",
        "first_line_number": 0,
        "file_name": "f.csv",
        **values,
    }
    with pytest.raises(InvalidArgument) as error:
        imports.import_leads(policy=DuplicatePolicy.REJECT, caller=admin, uow=store.uow(), **request)
    assert [v.field for v in error.value.violations] == [field]


def test_a_caller_without_a_role_imports_nothing(store: Any, who: Any) -> None:
    with pytest.raises(PermissionDenied):
        run(store, who("nobody"))


class CrashingUnitOfWork(SqlLeadsUnitOfWork):
    """The process dies at the commit of a chunk: its transaction never completes."""

    def commit(self) -> None:
        raise SystemExit("killed before the commit")


def test_a_chunk_that_does_not_commit_leaves_nothing_and_its_rerun_imports_it_whole(
    store: Any, admin: Identity
) -> None:
    first_chunk = "last_name,email\nA,a@example.com\nB,b@example.com\n"
    second_chunk = "last_name,email\nC,c@example.com\nD,d@example.com\n"
    run(store, admin, first_chunk)

    crashing = CrashingUnitOfWork(store._session_factory, store._outbox)
    with pytest.raises(SystemExit):
        imports.import_leads(
            csv_text=second_chunk,
            first_line_number=4,
            policy=DuplicatePolicy.REJECT,
            file_name="f",
            caller=admin,
            uow=crashing,
        )
    assert (store.count("leads"), store.count("import_rows"), len(store.events())) == (2, 2, 2)

    rerun = [run(store, admin, first_chunk), run(store, admin, second_chunk, first_line=4)]

    assert [[o for _, o in outcomes(r)] for r in rerun] == [
        [RowOutcome.ALREADY_IMPORTED] * 2,
        [RowOutcome.IMPORTED] * 2,
    ]
    listed = leads.list_leads(
        lead_filter=LeadFilter(), page_size=0, page_token="", caller=admin, uow=store.uow()
    ).leads
    assert sorted(lead.fields.last_name for lead in listed) == ["A", "B", "C", "D"]


def test_rows_for_users_the_organisation_does_not_know_or_has_deactivated_are_reported(
    store: Any, admin: Identity
) -> None:
    store.reports_to("gone", None, active=False)
    report = run(store, admin, "last_name,assigned_user_id\nA,bob\nB,ghost\nC,gone\n")

    assert [o for _, o in outcomes(report)] == [RowOutcome.IMPORTED, RowOutcome.INVALID, RowOutcome.INVALID]
    assert "'ghost' is not a user of the organisation" in report.rows[1].reasons[0]
    assert report.rows[2].reasons == ("assigned_user_id: user 'gone' is deactivated",)
