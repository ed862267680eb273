"""The JSON <-> protobuf transcoding on its own (no HTTP): every field type both ways, and every way a
value can fail to fit its field."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.json_to_proto import JsonDecoder
from salesplane_gateway.json_values import enum_json_names, enum_prefix
from salesplane_gateway.merge_patch import Companion, MergePatchBody, apply_merge_patch
from salesplane_gateway.proto_to_json import message_json
from salesplane_platform.money import MAX_AMOUNT_MINOR


def qualified_lead() -> leads_pb2.Lead:
    lead = leads_pb2.Lead(
        id="lead-1",
        last_name="Lovelace",
        status=leads_pb2.LEAD_STATUS_IN_PROCESS,
        version=2**62 + 1,  # beyond 2^53: JSON integers, not floats or strings
        address=leads_pb2.Address(city="London", country_code="GB"),
        qualification=leads_pb2.Qualification(
            budget=Money(currency_code="GBP", amount_minor=9_007_199_254_740_993),
            authority=leads_pb2.AUTHORITY_DECISION_MAKER,
            need=leads_pb2.NEED_HIGH,
            timeline=Date(year=2027, month=2, day=28),
        ),
        score=70,
        score_breakdown=[
            leads_pb2.ScoreComponent(rule_id="r1", points=40, matched=True),
            leads_pb2.ScoreComponent(rule_id="r2", points=-5, matched=False),
        ],
        qualified=True,
    )
    lead.create_time.FromJsonString("2026-09-21T14:13:20.250Z")
    return lead


def decoded(message_class: type[Any], data: dict[str, Any]) -> Any:
    message = message_class()
    decoder = JsonDecoder()
    decoder.merge_object(data, message)
    assert decoder.errors == []
    return message


def errors(message_class: type[Any], data: Any) -> dict[str, str]:
    decoder = JsonDecoder()
    decoder.merge_object(data, message_class())
    return {e.field: e.description for e in decoder.errors}


def test_a_message_with_every_kind_of_field_renders_by_the_gateways_conventions() -> None:
    rendered = message_json(qualified_lead())

    assert rendered["version"] == 2**62 + 1
    assert isinstance(rendered["version"], int)
    assert rendered["status"] == "in_process"
    assert rendered["qualification"] == {
        "budget": {"currency_code": "GBP", "amount_minor": 9_007_199_254_740_993},
        "authority": "decision_maker",
        "need": "high",
        "timeline": "2027-02-28",
        "notes": "",
    }
    assert rendered["score_breakdown"][1] == {
        "rule_id": "r2",
        "description": "",
        "points": -5,
        "matched": False,
    }
    assert rendered["address"]["city"] == "London"
    assert rendered["create_time"] == "2026-09-21T14:13:20.250Z"
    assert rendered["update_time"] is None  # unset timestamp
    assert rendered["convert_time"] is None
    assert rendered["merged_into_lead_id"] == ""
    assert rendered["qualified"] is True


def test_every_field_type_survives_a_round_trip() -> None:
    for original in (
        qualified_lead(),
        opportunities_pb2.ListOpportunitiesRequest(
            page_size=20,
            owner_user_ids=["alice", "bob"],
            statuses=[opportunities_pb2.OPPORTUNITY_STATUS_WON, opportunities_pb2.OPPORTUNITY_STATUS_LOST],
            close_date_from=Date(year=2026, month=1, day=1),
            amount_base_min=0,  # optional and set to zero: kept
            order_by=opportunities_pb2.OPPORTUNITY_ORDER_FIELD_AMOUNT_BASE,
            descending=True,
        ),
        opportunities_pb2.CreateOpportunityRequest(
            name="x", sales_stage="Prospecting", probability=0, best_case_minor=MAX_AMOUNT_MINOR
        ),
    ):
        assert decoded(type(original), message_json(original)) == original


def test_unset_optional_and_zero_enum_values_render_as_null() -> None:
    rendered = message_json(opportunities_pb2.ListOpportunitiesRequest())

    assert rendered["amount_base_min"] is None
    assert rendered["order_by"] is None
    assert rendered["close_date_from"] is None
    assert rendered["statuses"] == []
    assert rendered["page_size"] == 0
    assert message_json(opportunities_pb2.CreateOpportunityRequest(probability=0))["probability"] == 0


def test_an_all_zero_date_and_an_unknown_enum_number_render_as_null() -> None:
    opportunity = opportunities_pb2.Opportunity(expected_close_date=Date(), probability_source=99)

    rendered = message_json(opportunity)

    assert rendered["expected_close_date"] is None
    assert rendered["probability_source"] is None


def test_a_oneof_renders_the_member_that_is_set_and_null_for_the_others() -> None:
    rendered = message_json(reporting_pb2.Cell(integer_value=2**40))

    assert rendered == {
        "string_value": None,
        "integer_value": 2**40,
        "money_value": None,
        "date_value": None,
        "timestamp_value": None,
        "bool_value": None,
        "decimal_value": None,
    }


def test_enum_names_drop_the_prefix_of_their_zero_value() -> None:
    assert enum_json_names(leads_pb2.DuplicateReason.DESCRIPTOR) == {
        1: "same_email",
        2: "same_phone",
        3: "same_person_at_company",
    }
    assert enum_prefix(opportunities_pb2.OpportunityOrderField.DESCRIPTOR) == "OPPORTUNITY_ORDER_FIELD_"


def test_an_enum_without_an_unspecified_value_uses_its_type_name_as_prefix() -> None:
    pool = descriptor_pool.DescriptorPool()
    file = descriptor_pb2.FileDescriptorProto(name="t.proto", package="t", syntax="proto3")
    enum = file.enum_type.add(name="CloseReasonKind")
    enum.value.add(name="CLOSE_REASON_KIND_NONE", number=0)
    enum.value.add(name="CLOSE_REASON_KIND_PRICE", number=1)
    pool.Add(file)
    descriptor = pool.FindEnumTypeByName("t.CloseReasonKind")

    assert enum_prefix(descriptor) == "CLOSE_REASON_KIND_"
    assert enum_json_names(descriptor) == {1: "price"}


def test_null_leaves_a_field_unset() -> None:
    request = decoded(
        opportunities_pb2.CreateOpportunityRequest,
        {"name": None, "probability": None, "amount": None, "expected_close_date": None},
    )

    assert request == opportunities_pb2.CreateOpportunityRequest()
    assert not request.HasField("probability")


def test_an_empty_object_still_sets_a_message_field() -> None:
    request = decoded(leads_pb2.QualifyLeadRequest, {"qualification": {}})

    assert request.HasField("qualification")


@pytest.mark.parametrize(
    ("data", "field", "description"),
    [
        ({"name": 5}, "name", "must be a string, not integer"),
        ({"name": "\ud800"}, "name", "must be valid Unicode text (no lone surrogates)"),
        ({"probability": 1.5}, "probability", "must be an integer, not number"),
        ({"probability": "5"}, "probability", "must be an integer, not string"),
        ({"probability": False}, "probability", "must be an integer, not boolean"),
        ({"probability": 2**31}, "probability", "must be between -2147483648 and 2147483647"),
        (
            {"best_case_minor": -(2**63) - 1},
            "best_case_minor",
            "must be between -9223372036854775808 and 9223372036854775807",
        ),
        ({"amount": []}, "amount", "must be an object, not array"),
        ({"amount": {"amount_minor": 1.5}}, "amount.amount_minor", "must be an integer, not number"),
        (
            {"amount": {"cents": 1}},
            "amount.cents",
            "is not a known field; expected some of ['amount_minor', 'currency_code']",
        ),
        ({"expected_close_date": "2026-1-1"}, "expected_close_date", "must be a date formatted YYYY-MM-DD"),
        ({"expected_close_date": "2026-13-01"}, "expected_close_date", "is not a valid calendar date"),
        ({"expected_close_date": 20261231}, "expected_close_date", "must be a string, not integer"),
    ],
)
def test_a_value_that_does_not_fit_its_field_is_named_and_described(
    data: dict[str, Any], field: str, description: str
) -> None:
    assert errors(opportunities_pb2.CreateOpportunityRequest, data) == {field: description}


def test_enum_booleans_timestamps_and_lists_are_checked() -> None:
    assert errors(opportunities_pb2.ListOpportunitiesRequest, {"statuses": ["open", "pending"]}) == {
        "statuses[1]": "must be one of ['open', 'won', 'lost']"
    }
    assert errors(opportunities_pb2.ListOpportunitiesRequest, {"statuses": "open"}) == {
        "statuses": "must be an array, not string"
    }
    assert errors(opportunities_pb2.ListOpportunitiesRequest, {"descending": "yes"}) == {
        "descending": "must be a boolean, not string"
    }
    assert errors(
        opportunities_pb2.ListOpportunitiesRequest, {"order_by": "OPPORTUNITY_ORDER_FIELD_NAME"}
    ) == {
        "order_by": "must be one of "
        "['expected_close_date', 'amount_base', 'name', 'update_time', 'probability']"
    }
    assert errors(leads_pb2.Lead, {"create_time": "2026-09-21 14:13"}) == {
        "create_time": "must be an RFC 3339 timestamp with Z or an offset, e.g. 2026-09-21T14:13:20Z"
    }
    assert errors(
        leads_pb2.ReplaceScoringRulesRequest, {"rules": [{"min_budget": {"amount_minor": "1"}}]}
    ) == {"rules[0].min_budget.amount_minor": "must be an integer, not string"}


def test_a_timestamp_with_an_offset_is_read_as_that_instant() -> None:
    lead = decoded(leads_pb2.Lead, {"create_time": "2026-09-21T16:13:20+02:00"})

    assert lead.create_time.ToJsonString() == "2026-09-21T14:13:20Z"


def test_every_violation_is_reported_at_once() -> None:
    found = errors(
        opportunities_pb2.CreateOpportunityRequest,
        {"name": 1, "amount": {"currency_code": 2, "amount_minor": "3"}, "nope": 4},
    )

    assert set(found) == {"name", "amount.currency_code", "amount.amount_minor", "nope"}


def test_url_text_is_read_as_the_fields_type() -> None:
    request = opportunities_pb2.ListOpportunitiesRequest()
    decoder = JsonDecoder()

    decoder.set_text(request, "page_size", ["25"], "page_size")
    decoder.set_text(request, "statuses", ["won", "lost"], "status")
    decoder.set_text(request, "close_date_to", ["2026-12-31"], "close_date_to")
    decoder.set_text(request, "amount_base_min", ["5"], "amount_base_min")
    decoder.set_text(request, "descending", ["true"], "descending")

    assert decoder.errors == []
    assert request.page_size == 25
    assert list(request.statuses) == [
        opportunities_pb2.OPPORTUNITY_STATUS_WON,
        opportunities_pb2.OPPORTUNITY_STATUS_LOST,
    ]
    assert request.close_date_to == Date(year=2026, month=12, day=31)
    assert request.HasField("amount_base_min") and request.amount_base_min == 5
    assert request.descending is True


def test_url_text_that_does_not_fit_is_reported_under_the_parameter_name() -> None:
    request = opportunities_pb2.ListOpportunitiesRequest()
    decoder = JsonDecoder()

    decoder.set_text(request, "page_size", ["ten"], "page_size")
    decoder.set_text(request, "page_size", ["99999999999"], "size")
    decoder.set_text(request, "descending", ["1"], "descending")
    decoder.set_text(request, "statuses", ["open", "closed"], "status")
    decoder.set_text(request, "close_date_from", ["yesterday"], "from")
    decoder.set_text(request, "text", ["a", "b"], "text")

    assert {e.field: e.description for e in decoder.errors} == {
        "page_size": "must be an integer, not string",
        "size": "must be between -2147483648 and 2147483647",
        "descending": "must be a boolean, not string",
        "status": "must be one of ['open', 'won', 'lost']",
        "from": "must be a date formatted YYYY-MM-DD",
        "text": "must be given once",
    }


# ---------------------------------------------------------------------------------------------
# Maps and free-form JSON (Struct, Value)
# ---------------------------------------------------------------------------------------------

DEFINITION = {
    "source": "opportunities",
    "dimensions": [{"field": "owner"}],
    "limit": 10,
    "ratio": 0.25,
    "chart": None,
    "filters": {"and": [{"field": "stage", "runtime": True, "values": ["Won", 3, False]}]},
}


def test_maps_and_free_form_json_survive_a_round_trip() -> None:
    request = decoded(
        reporting_pb2.RunReportRequest,
        {
            "definition": DEFINITION,
            "filter_values": {"stage": {"values": ["Won", 2026, True, None]}},
            "parameters": {"from": "2026-01-01", "to": "today"},
        },
    )

    assert request.definition.fields["limit"].number_value == 10
    assert request.definition.fields["chart"].WhichOneof("kind") == "null_value"
    assert [v.WhichOneof("kind") for v in request.filter_values["stage"].values] == [
        "string_value",
        "number_value",
        "bool_value",
        "null_value",
    ]
    assert dict(request.parameters) == {"from": "2026-01-01", "to": "today"}
    rendered = message_json(request)
    assert rendered["definition"] == DEFINITION
    assert isinstance(rendered["definition"]["limit"], int)  # 10, not 10.0
    assert rendered["filter_values"] == {"stage": {"values": ["Won", 2026, True, None]}}
    assert rendered["parameters"] == {"from": "2026-01-01", "to": "today"}


def test_maps_and_free_form_json_that_do_not_fit_are_named() -> None:
    deep: Any = 1
    for _ in range(25):
        deep = [deep]

    found = errors(
        reporting_pb2.RunReportRequest,
        {
            "definition": {"limit": 2**60, "deep": deep, "ok": [1, 2]},
            "filter_values": {"stage": None, "owner": {"values": "alice"}, "year": {"nope": 1}},
            "parameters": {"from": 5},
        },
    )

    assert found == {
        "definition.limit": "must be between -9007199254740992 and 9007199254740992 to be kept exactly",
        "definition.deep" + "[0]" * 19: "must not nest objects and arrays more than 20 deep",
        "filter_values.stage": "must not be null",
        "filter_values.owner.values": "must be an array, not string",
        "filter_values.year.nope": "is not a known field; expected some of ['values']",
        "parameters.from": "must be a string, not integer",
    }
    assert errors(reporting_pb2.RunReportRequest, {"definition": [1], "parameters": [1]}) == {
        "definition": "must be an object, not array",
        "parameters": "must be an object, not array",
    }


def test_url_text_fills_map_entries_with_json_scalars() -> None:
    request = reporting_pb2.ExportReportRequest()
    decoder = JsonDecoder()

    decoder.set_map_text(request, "run.filter_values", "stage", ["Won", "42", "-7", "true"], "filter.stage")
    decoder.set_map_text(request, "run.filter_values", "code", ["007", "1.5", "12345678901234567890"], "f")
    decoder.set_map_text(request, "run.parameters", "from", ["2026-01-01"], "param.from")
    decoder.set_map_text(request, "run.parameters", "to", ["a", "b"], "param.to")

    assert {e.field: e.description for e in decoder.errors} == {"param.to": "must be given once"}
    assert message_json(request.run)["filter_values"] == {
        "stage": {"values": ["Won", 42, -7, True]},
        "code": {"values": ["007", "1.5", "12345678901234567890"]},
    }
    assert dict(request.run.parameters) == {"from": "2026-01-01"}


# ---------------------------------------------------------------------------------------------
# Merge patch -> update mask
# ---------------------------------------------------------------------------------------------

SPEC = MergePatchBody(
    field="opportunity",
    paths=("name", "amount.amount_minor", "amount.currency_code", "probability", "best_case"),
    companions={"probability": Companion("probability_source", when_set="manual", when_null="stage")},
)


def patched(patch: dict[str, Any], spec: MergePatchBody = SPEC) -> tuple[Any, list[str], dict[str, str]]:
    resource = opportunities_pb2.Opportunity()
    decoder = JsonDecoder()
    paths = apply_merge_patch(patch, resource, spec, decoder)
    return resource, paths, {e.field: e.description for e in decoder.errors}


def test_present_top_level_members_become_the_mask_and_nested_money_its_member_paths() -> None:
    resource, paths, problems = patched(
        {
            "name": "New",
            "amount": {"currency_code": "USD", "amount_minor": 5},
            "best_case": {"amount_minor": 7},
        }
    )

    assert problems == {}
    assert paths == ["name", "amount.currency_code", "amount.amount_minor", "best_case"]
    assert resource.amount == Money(currency_code="USD", amount_minor=5)
    assert resource.best_case == Money(amount_minor=7)  # a whole path: replaced, not merged


def test_companions_follow_a_set_or_cleared_member() -> None:
    set_resource, _, _ = patched({"probability": 30})
    cleared, paths, _ = patched({"probability": None})

    assert set_resource.probability_source == opportunities_pb2.PROBABILITY_SOURCE_MANUAL
    assert cleared.probability_source == opportunities_pb2.PROBABILITY_SOURCE_STAGE
    assert paths == ["probability"]


def test_a_member_that_is_both_a_whole_path_and_merged_member_by_member() -> None:
    spec = MergePatchBody(field="lead", paths=("address", "address.city", "address.street"))
    lead = leads_pb2.LeadFields()
    decoder = JsonDecoder()

    merged = apply_merge_patch({"address": {"city": "Paris"}}, lead, spec, decoder)
    cleared = apply_merge_patch({"address": None}, leads_pb2.LeadFields(), spec, decoder)

    assert (merged, cleared, decoder.errors) == (["address.city"], ["address"], [])
    assert lead.address.city == "Paris"


def test_patch_members_that_cannot_be_changed_are_errors() -> None:
    _, _, problems = patched(
        {"status": "won", "amount": {"exchange": 1}, "best_case": 5, "name": 5, "probability": "high"}
    )

    assert set(problems) == {"status", "amount.exchange", "best_case", "name", "probability"}
    assert problems["amount.exchange"].startswith("is not a field that can be changed")
    assert problems["best_case"] == "must be an object, not integer"


def test_a_patch_that_changes_nothing_is_an_error() -> None:
    _, paths, problems = patched({})

    assert paths == []
    assert problems == {"body": "must change at least one of ['name', 'amount', 'probability', 'best_case']"}


def test_a_message_class_made_at_run_time_transcodes_too() -> None:
    """The transcoder works from descriptors only: a message type no generated module has is fine."""
    pool = descriptor_pool.DescriptorPool()
    file = descriptor_pb2.FileDescriptorProto(name="t.proto", package="t", syntax="proto3")
    place_type = file.message_type.add(name="Place")
    place_type.field.add(name="city", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING)
    place_type.field.add(name="visits", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64)
    pool.Add(file)
    message_class = message_factory.GetMessageClass(pool.FindMessageTypeByName("t.Place"))

    place = decoded(message_class, {"city": "Oslo", "visits": 2**40})

    assert (place.city, place.visits) == ("Oslo", 2**40)
    assert message_json(place) == {"city": "Oslo", "visits": 2**40}
