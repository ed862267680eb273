"""The proto comments behind the OpenAPI descriptions stay in step with protos/."""

from __future__ import annotations

from pathlib import Path

from salesplane_gateway.proto_comments import comments_of_protos, load_comments

PROTOS = Path(__file__).resolve().parents[2] / "protos"


def test_proto_comments_json_is_up_to_date_with_the_protos() -> None:
    assert load_comments() == comments_of_protos(PROTOS), (
        "proto_comments.json is stale: run `uv run python gateway/scripts/gen_proto_comments.py`"
    )


def test_comments_are_keyed_by_full_name_of_rpcs_messages_fields_and_enum_values() -> None:
    comments = load_comments()

    assert comments["salesplane.leads.v1.LeadService.ImportLeads"].startswith("Import a chunk of a CSV file.")
    assert comments["salesplane.opportunities.v1.Opportunity.probability"] == "Percent, 0..100."
    assert comments["salesplane.opportunities.v1.OpportunityStatus.OPPORTUNITY_STATUS_WON"] == (
        "In a stage flagged as won."
    )
    assert comments[
        "salesplane.opportunities.v1.OpportunityOrderField.OPPORTUNITY_ORDER_FIELD_UNSPECIFIED"
    ] == ("expected close date")  # a trailing comment
