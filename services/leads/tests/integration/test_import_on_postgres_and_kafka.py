"""Bulk import on PostgreSQL and Kafka, through the gRPC API and the salesplane-leads-import tool:
bad rows and duplicates reported by line, nothing imported twice, and crashes between and inside
chunks recovered by running the import again."""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.adapters import tables
from salesplane_leads.adapters.sql_unit_of_work import SqlLeadsUnitOfWork
from salesplane_leads.domain.duplicates import DuplicatePolicy
from salesplane_leads.entrypoints import import_cli
from salesplane_leads.entrypoints.main import DEFINITION, TOPIC
from salesplane_leads.service_layer import imports
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.events import unpack_payload
from salesplane_platform.identity import Identity
from salesplane_platform.unit_of_work import OutboxContext

pytestmark = pytest.mark.integration

# Line 3 is invalid, 5 spans two lines, 7 is blank, 8 repeats line 2's e-mail, 9 repeats line 4
# word for word, 10 is the same person as a lead created before the import (in the first test), 11 is
# invalid.
FILE = """first_name,last_name,company,email,phone,description,country_code
Ada,Lovelace,Analytical Engines,ada@example.com,+44 20 7946 0018,,GB
Alan,,Bletchley Park,alan@example,,,UK
Grace,Hopper,US Navy,grace@example.com,,,US
Katherine,Johnson,NASA,katherine@example.com,,"computes
trajectories",US

Augusta,King,Analytical Engines Ltd,ADA@example.com,,,GB
Grace,Hopper,US Navy,grace@example.com,,,US
Margaret,Hamilton,MIT Inc.,,,,US
Dorothy,Vaughan,NASA,dorothy@example,,,US
"""


@pytest.fixture
def service(
    create_database: Any, kafka_broker: Any, topic_prefix: str, tmp_path: Path, it: SimpleNamespace
) -> Iterator[SimpleNamespace]:
    url = create_database()
    settings = it.settings_for("leads", url, kafka_broker, topic_prefix, tmp_path / "data")
    with it.running(DEFINITION, settings) as process, it.channel_to(process) as channel:
        yield SimpleNamespace(
            client=it.leads_client(channel, settings),
            settings=settings,
            kafka=kafka_broker,
            address=f"127.0.0.1:{process.grpc_port}",
            database_url=url,
        )


def import_file(service: SimpleNamespace, path: Path, *options: str) -> int:
    token = service.client.token("ann", "admin")
    return import_cli.main([str(path), "--address", service.address, "--token", token, *options])


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as report:
        return list(csv.DictReader(report))


def all_leads(service: SimpleNamespace) -> list[leads_pb2.Lead]:
    return list(service.client.call("ListLeads", leads_pb2.ListLeadsRequest(page_size=500)).leads)


def test_the_tool_imports_valid_rows_and_reports_bad_rows_and_duplicates_by_line(
    service: SimpleNamespace, it: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = service.client.call(
        "CreateLead",
        leads_pb2.CreateLeadRequest(
            lead=leads_pb2.LeadFields(first_name="margaret", last_name="HAMILTON", company="MIT")
        ),
    ).lead
    source = tmp_path / "leads.csv"
    source.write_text(FILE, encoding="utf-8")
    report = tmp_path / "report.csv"

    status = import_file(service, source, "--chunk-size", "2", "--report", str(report))

    out, err = capsys.readouterr()
    assert status == import_cli.EXIT_ROWS_NEED_ATTENTION
    assert "8 rows: 3 imported, 2 invalid, 2 duplicate, 1 already imported, 0 merged" in out
    assert "8/8 rows 100%" in err
    rows = read_report(report)
    assert [(r["line_number"], r["outcome"]) for r in rows] == [
        ("2", "imported"),
        ("3", "invalid"),
        ("4", "imported"),
        ("5", "imported"),
        ("8", "duplicate"),
        ("9", "already imported"),
        ("10", "duplicate"),
        ("11", "invalid"),
    ]
    by_line = {int(r["line_number"]): r for r in rows}
    assert by_line[3]["reasons"].startswith("last_name: must not be empty; email:")
    assert by_line[8]["reasons"] == f"same e-mail address as lead {by_line[2]['lead_id']}"
    assert by_line[9]["lead_id"] == by_line[4]["lead_id"]
    assert by_line[10]["reasons"] == f"same person at the same company as lead {existing.id}"
    imported = {r["lead_id"] for r in rows if r["outcome"] == "imported"}
    stored = {lead.id: lead for lead in all_leads(service)}
    assert imported | {existing.id} == set(stored)
    assert stored[by_line[5]["lead_id"]].description == "computes\ntrajectories"
    envelopes = it.read_envelopes(
        service.kafka,
        service.settings.topic(TOPIC),
        lambda found: {e.aggregate_id for e in found} >= imported,
    )
    kinds = {e.aggregate_id: unpack_payload(e, events_pb2.LeadChanged).kind for e in envelopes}
    assert {kinds[lead_id] for lead_id in imported} == {events_pb2.LEAD_CHANGE_KIND_IMPORTED}


def test_running_the_same_import_again_imports_nothing_twice(
    service: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "clean.csv"
    source.write_text(
        "first_name,last_name,email\nAda,Lovelace,ada@example.com\nAlan,Turing,alan@example.com\n",
        encoding="utf-8",
    )

    first = import_file(service, source)
    again = import_file(service, source, "--chunk-size", "1")

    out = capsys.readouterr().out
    assert (first, again) == (import_cli.EXIT_OK, import_cli.EXIT_OK)
    assert (
        "2 rows: 2 imported" in out
        and "2 rows: 0 imported, 0 invalid, 0 duplicate, 2 already imported" in out
    )
    assert len(all_leads(service)) == 2


def test_a_crash_between_chunks_is_finished_by_running_the_import_again(
    service: SimpleNamespace, tmp_path: Path
) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(FILE, encoding="utf-8")
    records = import_cli.csv_records(source.read_text(encoding="utf-8").splitlines(keepends=True))
    first_chunk = next(import_cli.chunks(records, size=3))
    # The tool sent the first chunk, then died before the second.
    service.client.call(
        "ImportLeads",
        leads_pb2.ImportLeadsRequest(
            csv_text=first_chunk.csv_text,
            first_line_number=first_chunk.first_line_number,
            file_name="leads.csv",
        ),
    )
    report = tmp_path / "report.csv"

    status = import_file(service, source, "--chunk-size", "3", "--report", str(report))

    assert status == import_cli.EXIT_ROWS_NEED_ATTENTION
    outcomes = {int(r["line_number"]): r["outcome"] for r in read_report(report)}
    assert (outcomes[2], outcomes[3], outcomes[4]) == ("already imported", "invalid", "already imported")
    assert (outcomes[5], outcomes[8], outcomes[9], outcomes[10], outcomes[11]) == (
        "imported",
        "duplicate",
        "already imported",
        "imported",
        "invalid",
    )
    emails = sorted(lead.email for lead in all_leads(service))
    assert emails == ["", "ada@example.com", "grace@example.com", "katherine@example.com"]


class KilledAtCommit(SqlLeadsUnitOfWork):
    """The service process dies just before a chunk's transaction commits."""

    def commit(self) -> None:
        raise SystemExit("killed")


def test_a_crash_inside_a_chunk_leaves_none_of_it_and_the_rerun_imports_it_whole(
    service: SimpleNamespace, tmp_path: Path
) -> None:
    engine = make_engine(service.database_url)
    try:
        outbox = OutboxContext(tables.platform, "leads", service.settings.topic(TOPIC), threading.Event())
        killed = KilledAtCommit(make_session_factory(engine), outbox)
        with pytest.raises(SystemExit):
            imports.import_leads(
                csv_text=FILE,
                first_line_number=2,
                policy=DuplicatePolicy.REJECT,
                file_name="leads.csv",
                caller=Identity("ann", frozenset({"admin"})),
                uow=killed,
            )
        with engine.connect() as connection:
            counts = [
                connection.execute(table.select()).all()
                for table in (tables.leads, tables.import_rows, tables.platform.outbox)
            ]
        assert counts == [[], [], []]
    finally:
        engine.dispose()
    source = tmp_path / "leads.csv"
    source.write_text(FILE, encoding="utf-8")

    assert import_file(service, source, "--chunk-size", "200") == import_cli.EXIT_ROWS_NEED_ATTENTION
    assert len(all_leads(service)) == 4


def test_the_tool_exits_with_a_distinct_status_when_the_service_is_unreachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_text("last_name\nLovelace\n", encoding="utf-8")

    status = import_cli.main(
        [str(source), "--address", "127.0.0.1:9", "--token", "t", "--timeout", "2", "--retries", "0"]
    )

    assert status == import_cli.EXIT_SERVICE_FAILED
    assert "run the command again to finish" in capsys.readouterr().err


def test_the_tool_refuses_to_run_without_a_token_or_a_readable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(import_cli.TOKEN_ENV, raising=False)
    source = tmp_path / "leads.csv"
    source.write_bytes(b"last_name\n\xff\xfe\n")

    assert import_cli.main([str(source)]) == import_cli.EXIT_USAGE
    monkeypatch.setenv(import_cli.TOKEN_ENV, "t")
    assert import_cli.main([str(source)]) == import_cli.EXIT_USAGE
    assert import_cli.main([str(tmp_path / "missing.csv")]) == import_cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "no token" in err and "cannot read" in err


def test_an_unusable_header_stops_the_tool_before_anything_is_imported(
    service: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_text("surname,e-mail\nLovelace,ada@example.com\n", encoding="utf-8")

    assert import_file(service, source) == import_cli.EXIT_USAGE
    assert "unknown columns" in capsys.readouterr().err
    assert all_leads(service) == []
