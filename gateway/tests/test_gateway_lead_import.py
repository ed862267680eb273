"""POST /v1/leads:import: CSV cut into chunks for ImportLeads, line numbers of the original file,
one merged report."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest
from flask.testing import FlaskClient
from google.rpc import code_pb2

from salesplane.leads.v1 import leads_pb2
from salesplane_gateway.csv_import import CHUNK_ROWS, csv_chunks
from salesplane_gateway.problems import Problem

PROBLEM = "application/problem+json"
HEADER = "first_name,last_name,email\r\n"


def rows(count: int, start: int = 1) -> str:
    return "".join(f"Ada{i},Lovelace{i},ada{i}@example.org\r\n" for i in range(start, start + count))


def import_csv(client: FlaskClient, bearer: Any, body: bytes | str, query: str = "", **headers: str) -> Any:
    return client.post(
        f"/v1/leads:import{query}",
        data=body,
        headers={**bearer("mia", "marketing"), "Content-Type": "text/csv", **headers},
    )


def answer_per_row(request: leads_pb2.ImportLeadsRequest, context: Any) -> leads_pb2.ImportLeadsResponse:
    """Imports every data line, reporting the line numbers the service would (counted from
    first_line_number)."""
    data = request.csv_text.splitlines()[1:]
    return leads_pb2.ImportLeadsResponse(
        imported=len(data),
        rows=[
            leads_pb2.ImportRowResult(
                line_number=request.first_line_number + offset,
                outcome=leads_pb2.IMPORT_ROW_OUTCOME_IMPORTED,
                lead_id=f"lead-{request.first_line_number + offset}",
            )
            for offset in range(len(data))
        ],
    )


# -- cutting the file ---------------------------------------------------------------------------


def test_chunks_repeat_the_header_and_start_at_their_line_in_the_file() -> None:
    chunks = list(csv_chunks(HEADER + rows(1200)))

    assert [(c.first_line_number, c.last_line_number) for c in chunks] == [
        (2, 501),
        (502, 1001),
        (1002, 1201),
    ]
    assert all(c.text.startswith(HEADER) for c in chunks)
    assert chunks[1].text.splitlines()[1] == "Ada501,Lovelace501,ada501@example.org"
    assert sum(c.text.count("\n") - 1 for c in chunks) == 1200
    assert CHUNK_ROWS == 500


def test_a_record_with_a_quoted_line_break_stays_whole_and_later_lines_keep_their_numbers() -> None:
    text = 'last_name,description\nA,"two\nlines"\nB,x\nC,y\n'

    chunks = list(csv_chunks(text, rows=2))

    assert [c.text for c in chunks] == [
        'last_name,description\nA,"two\nlines"\nB,x\n',
        "last_name,description\nC,y\n",
    ]
    assert [(c.first_line_number, c.last_line_number) for c in chunks] == [(2, 4), (5, 5)]


def test_chunks_are_also_cut_by_size() -> None:
    text = "h\n" + "x" * 10 + "\n" + "y" * 10 + "\n"

    assert [c.text for c in csv_chunks(text, max_chars=15)] == [
        "h\n" + "x" * 10 + "\n",
        "h\n" + "y" * 10 + "\n",
    ]


def test_a_header_only_file_is_one_chunk_without_data_and_a_last_line_without_break_is_kept() -> None:
    assert [(c.text, c.first_line_number) for c in csv_chunks("a,b")] == [("a,b\r\n", 2)]
    assert [c.text for c in csv_chunks("a,b\r\n1,2")] == ["a,b\r\n1,2"]


def test_an_unterminated_quote_is_a_400_naming_the_body() -> None:
    with pytest.raises(Problem) as raised:
        list(csv_chunks('a,b\n1,"open\n2,3\n'))

    assert raised.value.status == 400
    assert raised.value.errors[0].field == "body"


# -- through HTTP -------------------------------------------------------------------------------


def test_a_large_file_is_imported_in_chunks_and_answered_with_one_merged_report(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.on("ImportLeads", answer_per_row)

    response = import_csv(client, bearer, HEADER + rows(1200), "?on_duplicate=merge&file_name=fair.csv")

    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["imported"] == 1200
    assert [r["line_number"] for r in report["rows"]] == list(range(2, 1202))
    assert report["rows"][0] == {"line_number": 2, "outcome": "imported", "lead_id": "lead-2", "reasons": []}
    sent = fake.requests("ImportLeads")
    assert [r.first_line_number for r in sent] == [2, 502, 1002]
    assert all(r.csv_text.startswith(HEADER) for r in sent)
    assert {(r.on_duplicate, r.file_name) for r in sent} == {(leads_pb2.DUPLICATE_POLICY_MERGE, "fair.csv")}


def test_counters_of_every_outcome_add_up(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply(
        "ImportLeads",
        leads_pb2.ImportLeadsResponse(imported=1, invalid=2, duplicates=3, already_imported=4, merged=5),
    )

    report = import_csv(client, bearer, HEADER + rows(501)).get_json()

    assert {k: report[k] for k in ("imported", "invalid", "duplicates", "already_imported", "merged")} == {
        "imported": 2,
        "invalid": 4,
        "duplicates": 6,
        "already_imported": 8,
        "merged": 10,
    }


def test_a_byte_order_mark_is_dropped_and_a_charset_parameter_is_fine(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = import_csv(
        client, bearer, ("\ufeff" + HEADER + rows(1)).encode(), **{"Content-Type": "text/csv; charset=utf-8"}
    )

    assert response.status_code == 200
    assert fake.last("ImportLeads").csv_text == HEADER + rows(1)


def test_a_body_that_is_not_csv_is_415(client: FlaskClient, bearer: Any, fake: Any) -> None:
    as_json = client.post("/v1/leads:import", json={"csv": "a"}, headers=bearer())
    latin1 = import_csv(client, bearer, HEADER, **{"Content-Type": "text/csv; charset=latin-1"})

    assert (as_json.status_code, as_json.mimetype) == (415, PROBLEM)
    assert latin1.status_code == 415
    assert fake.calls == []


def test_bytes_that_are_not_utf8_or_an_empty_file_are_400(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    for body in (b"last_name\r\nL\xe9on\r\n", b"", b"\r\n"):
        response = import_csv(client, bearer, body)
        assert response.status_code == 400, body
        assert [e["field"] for e in response.get_json()["errors"]] == ["body"]
    assert fake.calls == []


def test_a_malformed_record_anywhere_fails_before_anything_is_imported(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = import_csv(client, bearer, HEADER + rows(700) + 'x,"never closed\r\n')

    assert response.status_code == 400
    assert "line 702" in response.get_json()["errors"][0]["description"]
    assert fake.calls == []


def test_a_file_over_the_import_limit_is_413_while_json_keeps_its_own_limit(
    make_client: Any, bearer: Any, fake: Any
) -> None:
    client = make_client(max_import_bytes=2048, max_body_bytes=64)

    too_large = import_csv(client, bearer, HEADER + rows(100))
    fits = import_csv(client, bearer, HEADER + rows(10))

    assert (too_large.status_code, too_large.mimetype) == (413, PROBLEM)
    assert fits.status_code == 200  # larger than max_body_bytes, which is for JSON


def test_the_default_import_limit_is_far_above_the_json_limit(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    body = HEADER + rows(30_000)  # about 1.3 MB
    assert len(body) > 1024 * 1024

    assert import_csv(client, bearer, body).status_code == 200
    assert len(fake.requests("ImportLeads")) == 60


def test_query_parameters_are_checked_before_the_file_is_read(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = import_csv(client, bearer, HEADER + rows(1), "?on_duplicate=overwrite&sheet=1")

    assert response.status_code == 400
    assert {e["field"] for e in response.get_json()["errors"]} == {"on_duplicate", "sheet"}
    assert fake.calls == []


def test_a_header_the_service_rejects_is_reported_on_the_body(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid("ImportLeads", ("csv_text", "has no last_name column"))

    response = import_csv(client, bearer, "name\r\nAda\r\n")

    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"field": "body", "description": "has no last_name column"}]


def test_a_failing_chunk_says_up_to_which_line_the_file_was_imported_and_returns_that_report(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    def fail_second_chunk(
        request: leads_pb2.ImportLeadsRequest, context: Any
    ) -> leads_pb2.ImportLeadsResponse:
        if request.first_line_number > 2:
            context.abort(grpc.StatusCode.UNAVAILABLE, "database restarting")
        return answer_per_row(request, context)

    fake.on("ImportLeads", fail_second_chunk)

    response = import_csv(client, bearer, HEADER + rows(1200))

    assert (response.status_code, response.mimetype) == (503, PROBLEM)
    problem = response.get_json()
    assert problem["processed_through_line"] == 501
    assert problem["report"]["imported"] == 500
    assert [r["lead_id"] for r in problem["report"]["rows"]] == [f"lead-{n}" for n in range(2, 502)]
    assert len(fake.requests("ImportLeads")) == 2


def test_a_failing_first_chunk_reports_nothing_imported(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.fail("ImportLeads", code_pb2.UNAVAILABLE, "database restarting")

    problem = import_csv(client, bearer, HEADER + rows(1200)).get_json()

    assert problem["status"] == 503
    assert "processed_through_line" not in problem and "report" not in problem
    assert len(fake.requests("ImportLeads")) == 1


def test_each_chunk_gets_the_import_deadline_not_the_short_one(
    make_client: Any, bearer: Any, fake: Any
) -> None:
    def slow(request: leads_pb2.ImportLeadsRequest, context: Any) -> leads_pb2.ImportLeadsResponse:
        time.sleep(0.4)
        return leads_pb2.ImportLeadsResponse(imported=1)

    fake.on("ImportLeads", slow)
    patient = make_client(rpc_timeout_seconds=0.1, import_rpc_timeout_seconds=5.0)
    hasty = make_client(rpc_timeout_seconds=5.0, import_rpc_timeout_seconds=0.1)

    assert import_csv(patient, bearer, HEADER + rows(1)).status_code == 200
    assert import_csv(hasty, bearer, HEADER + rows(1)).status_code == 504
