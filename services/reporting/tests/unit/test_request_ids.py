"""Ids no record can have are refused at the gRPC edge, before a query sees them."""

from __future__ import annotations

import pytest

from salesplane.reporting.v1 import reporting_pb2
from salesplane_platform.errors import InvalidArgument, NotFound, PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_reporting.entrypoints.request_ids import refuse_impossible_ids, refuse_unstorable_owner


@pytest.mark.parametrize("report_id", ["a\x00b", "\x00", "tab\there", "r" * 256])
def test_an_id_with_a_control_character_or_too_long_names_no_record(report_id: str) -> None:
    # Found by the malformed-request runs (tests/fuzz): PostgreSQL refuses NUL, GetReport was INTERNAL.
    # Schema-valid (any string), so NOT_FOUND, not INVALID_ARGUMENT (the contract test holds that).
    with pytest.raises(NotFound) as error:
        refuse_impossible_ids(reporting_pb2.GetReportRequest(report_id=report_id))

    assert error.value.resource_type == "report"


def test_nested_ids_are_named_by_their_path() -> None:
    request = reporting_pb2.ExportReportRequest(
        run=reporting_pb2.RunReportRequest(report_id="ok", viewpoint_user_id="mgr\x00")
    )

    with pytest.raises(NotFound) as error:
        refuse_impossible_ids(request)

    assert (error.value.resource_type, error.value.resource_id) == ("viewpoint user", "mgr\x00")


def test_ordinary_ids_and_other_text_pass() -> None:
    request = reporting_pb2.SaveReportRequest(
        report_id="pipeline_by_stage", title="with\ttab", description="a\x00b"
    )

    refuse_impossible_ids(request)


def test_a_caller_id_longer_than_an_owner_column_owns_nothing() -> None:
    # Found by the malformed-request runs (tests/fuzz): the insert failed, CreateSchedule was INTERNAL.
    with pytest.raises(PermissionDenied):
        refuse_unstorable_owner(Identity(subject="s" * 65, roles=frozenset({"rep"})))

    refuse_unstorable_owner(Identity(subject="s" * 64, roles=frozenset({"rep"})))


@pytest.mark.parametrize("field", ["title", "description"])
def test_a_report_title_or_description_with_a_nul_is_a_bad_field(field: str) -> None:
    # Found by the malformed-request runs (tests/fuzz): PostgreSQL refuses NUL, CreateReport was INTERNAL.
    from salesplane_reporting.service_layer.reports import _checked

    text = {"title": "Deals", "description": "", field: "a\x00b"}
    with pytest.raises(InvalidArgument) as error:
        _checked(
            text["title"],
            text["description"],
            "private",
            {"source": "opportunities", "measures": [{"name": "n", "aggregate": "count"}]},
        )

    assert field in [v.field for v in error.value.violations]
