"""Report definitions as the API takes them: every built-in parses, and every bad field is named by
its path, all of them at once. Run options change only what a run may change."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from salesplane_platform.errors import InvalidArgument
from salesplane_reporting.domain.builtin_reports import BUILTIN_REPORTS, builtin
from salesplane_reporting.domain.definition import (
    MAX_ROW_LIMIT,
    Condition,
    FilterGroup,
    Layout,
    Operator,
    ReportSpec,
    parse_definition,
    runtime_filters,
)
from salesplane_reporting.domain.relative_dates import RelativeDate
from salesplane_reporting.domain.run_options import RunOptions, apply_run_options, runtime_filter_ids

COUNT = {"name": "deals", "aggregate": "count"}


def summation(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "source": "opportunities",
        "layout": "summation",
        "dimensions": [{"field": "sales_stage"}],
        "measures": [COUNT],
    }
    document.update(overrides)
    return document


def with_filter(*conditions: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return summation(filters={"and": list(conditions)}, **overrides)


def problems(document: dict[str, Any]) -> list[str]:
    """The field paths parse_definition rejects the document with, in the order it reports them."""
    with pytest.raises(InvalidArgument) as raised:
        parse_definition(document)
    return [violation.field for violation in raised.value.violations]


# -- what parses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("report", BUILTIN_REPORTS, ids=lambda r: r.id)
def test_every_builtin_report_is_a_valid_definition(report: Any) -> None:
    spec = parse_definition(report.document)

    assert isinstance(spec, ReportSpec)
    assert [m.name for m in report.spec.measures] == [m.name for m in spec.measures]
    assert builtin(report.id) is report


def test_builtin_report_ids_are_unique() -> None:
    ids = [r.id for r in BUILTIN_REPORTS]

    assert len(ids) == len(set(ids))


def test_a_good_definition_becomes_a_spec_with_its_defaults() -> None:
    spec = parse_definition(summation())

    assert spec.layout is Layout.SUMMATION
    assert spec.limit == 2_000
    assert spec.grand_total is True
    assert spec.subtotals is False
    assert spec.filters is None
    assert [m.name for m in spec.measures] == ["deals"]


def test_a_date_dimension_without_a_grain_is_grouped_by_day() -> None:
    spec = parse_definition(summation(dimensions=[{"field": "expected_close_date"}]))

    assert spec.dimensions[0].grain is not None
    assert spec.dimensions[0].grain.value == "day"


def test_a_single_condition_stands_for_a_group_of_one() -> None:
    spec = parse_definition(summation(filters={"field": "status", "op": "eq", "value": "open"}))

    assert spec.filters == FilterGroup("and", (Condition("status", Operator.EQ, ("open",), id="status"),))


def test_filters_may_nest_five_groups_deep() -> None:
    innermost: dict[str, Any] = {"field": "status", "op": "eq", "values": ["open"]}
    document = innermost
    for _ in range(5):
        document = {"and": [document]}

    spec = parse_definition(summation(filters=document))

    depth, group = 0, spec.filters
    while isinstance(group, FilterGroup):
        depth += 1
        group = group.items[0]  # type: ignore[assignment]
    assert depth == 5
    assert isinstance(group, Condition)


def test_runtime_filters_are_listed_in_definition_order_at_any_depth() -> None:
    spec = parse_definition(
        with_filter(
            {"field": "status", "op": "eq", "values": ["open"]},
            {
                "or": [
                    {"field": "owner", "op": "eq", "values": ["r1"], "runtime": True, "id": "who"},
                    {
                        "field": "expected_close_date",
                        "op": "within",
                        "values": ["this_month"],
                        "runtime": True,
                    },
                ]
            },
        )
    )

    assert [(c.id, c.values) for c in runtime_filters(spec)] == [
        ("who", ("r1",)),
        ("expected_close_date", (RelativeDate("this_month"),)),
    ]


# -- what is rejected, by path -------------------------------------------------------------------


def test_an_unknown_source_is_named() -> None:
    assert problems(summation(source="deals")) == ["source"]


def test_an_unknown_layout_is_named() -> None:
    assert problems(summation(layout="pie")) == ["layout"]


def test_an_unknown_dimension_field_is_named_by_its_position() -> None:
    assert problems(summation(dimensions=[{"field": "colour"}])) == ["dimensions[0].field"]


def test_an_unknown_field_of_another_source_is_unknown_here() -> None:
    # quota is a field of period_performance, not of opportunities.
    assert problems(summation(dimensions=[{"field": "sales_stage"}, {"field": "quota"}])) == [
        "dimensions[1].field"
    ]


def test_more_than_three_dimensions_are_rejected_as_a_whole() -> None:
    four = [{"field": f} for f in ("sales_stage", "owner", "status", "currency")]

    assert problems(summation(dimensions=four)) == ["dimensions"]


def test_a_grain_on_a_field_that_is_not_a_date_is_rejected() -> None:
    assert problems(summation(dimensions=[{"field": "sales_stage", "grain": "month"}])) == [
        "dimensions[0].grain"
    ]


def test_an_unknown_grain_is_rejected() -> None:
    assert problems(summation(dimensions=[{"field": "expected_close_date", "grain": "fortnight"}])) == [
        "dimensions[0].grain"
    ]


def test_a_money_dimension_needs_a_bucket() -> None:
    assert problems(summation(dimensions=[{"field": "amount_base"}])) == ["dimensions[0].field"]


def test_a_money_dimension_with_edges_is_accepted() -> None:
    spec = parse_definition(summation(dimensions=[{"field": "amount_base", "bucket": {"edges": [100, 500]}}]))

    assert spec.dimensions[0].bucket is not None


@pytest.mark.parametrize(
    ("bucket", "path"),
    [
        ({"edges": [500, 100]}, "dimensions[0].bucket.edges"),
        ({"edges": []}, "dimensions[0].bucket.edges"),
        ({"edges": [100, "many"]}, "dimensions[0].bucket.edges[1]"),
        ({"groups": [{"label": "", "values": ["a"]}]}, "dimensions[0].bucket.groups[0].label"),
    ],
)
def test_a_bad_bucket_names_the_bad_part(bucket: dict[str, Any], path: str) -> None:
    field = "amount_base" if "edges" in bucket else "sales_stage"

    assert path in problems(summation(dimensions=[{"field": field, "bucket": bucket}]))


def test_edges_on_a_text_field_are_rejected() -> None:
    assert problems(summation(dimensions=[{"field": "sales_stage", "bucket": {"edges": [1]}}])) == [
        "dimensions[0].bucket.edges"
    ]


def test_a_formula_over_an_unknown_measure_is_rejected() -> None:
    document = summation(measures=[COUNT, {"name": "share", "formula": "deals / nowhere"}])

    assert problems(document) == ["measures[1].formula"]


def test_a_formula_may_only_use_measures_defined_before_it() -> None:
    document = summation(
        measures=[
            COUNT,
            {"name": "share", "formula": "won / deals", "type": "percent"},
            {
                "name": "won",
                "aggregate": "count",
                "where": {"field": "status", "op": "eq", "values": ["won"]},
            },
        ]
    )

    assert problems(document) == ["measures[1].formula"]


@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "deals.real",
        "deals.__class__",
        "abs(deals)",
        "deals[0]",
        "deals ** 2",
        "deals // 2",
        "deals % 2",
        "deals > 1",
        "'text'",
        "True",
        "lambda: 1",
        "[deals]",
        "deals if deals else 1",
        "1j * deals",
        "deals +",
    ],
)
def test_a_formula_with_anything_but_arithmetic_is_rejected(formula: str) -> None:
    document = summation(measures=[COUNT, {"name": "bad", "formula": formula}])

    assert problems(document) == ["measures[1].formula"]


def test_a_formula_with_an_infinite_literal_is_rejected_at_definition_time() -> None:
    document = summation(measures=[COUNT, {"name": "huge", "formula": "deals * 1e999"}])

    assert problems(document) == ["measures[1].formula"]


def test_a_money_formula_must_use_a_money_measure() -> None:
    document = summation(measures=[COUNT, {"name": "bad", "formula": "deals * 2", "type": "money"}])

    assert problems(document) == ["measures[1].type"]


def test_a_sum_over_a_text_field_is_rejected() -> None:
    document = summation(measures=[{"name": "names", "aggregate": "sum", "field": "name"}, COUNT])

    assert problems(document) == ["measures[0].field"]


def test_an_average_over_a_text_field_and_a_max_over_a_text_field_are_rejected() -> None:
    document = summation(
        measures=[
            {"name": "a", "aggregate": "avg", "field": "sales_stage"},
            {"name": "b", "aggregate": "max", "field": "name"},
            COUNT,
        ]
    )

    assert problems(document) == ["measures[0].field", "measures[1].field"]


def test_a_measure_name_must_be_an_identifier_and_unique() -> None:
    document = summation(
        measures=[COUNT, {"name": "deals", "aggregate": "count"}, {"name": "2x", "aggregate": "count"}]
    )

    assert problems(document) == ["measures[1].name", "measures[2].name"]


@pytest.mark.parametrize(
    ("source", "condition"),
    [
        ("opportunities", {"field": "amount_base", "op": "contains", "values": ["1"]}),
        ("opportunities", {"field": "probability", "op": "starts_with", "values": ["1"]}),
        ("leads", {"field": "qualified", "op": "lt", "values": [True]}),
        ("leads", {"field": "company", "op": "gt", "values": ["M"]}),
        ("opportunities", {"field": "sales_stage", "op": "within", "values": ["this_month"]}),
        ("opportunities", {"field": "probability", "op": "within", "values": ["this_month"]}),
    ],
    ids=["contains_number", "starts_with_number", "lt_boolean", "gt_text", "within_text", "within_number"],
)
def test_an_operator_that_does_not_apply_to_the_fields_type_is_rejected(
    source: str, condition: dict[str, Any]
) -> None:
    dimension = "status"
    document = with_filter(condition, source=source, dimensions=[{"field": dimension}])

    assert problems(document) == ["filters.and[0].op"]


@pytest.mark.parametrize(
    ("source", "condition"),
    [
        ("opportunities", {"field": "probability", "op": "eq", "values": ["high"]}),
        ("opportunities", {"field": "probability", "op": "eq", "values": [True]}),
        ("opportunities", {"field": "amount_base", "op": "gt", "values": [10.5]}),
        ("opportunities", {"field": "status", "op": "eq", "values": [1]}),
        ("opportunities", {"field": "expected_close_date", "op": "gt", "values": ["soon"]}),
        ("opportunities", {"field": "expected_close_date", "op": "eq", "values": ["2026-02-30"]}),
        ("opportunities", {"field": "update_time", "op": "lt", "values": ["2026-01-01T00:00:00"]}),
        ("opportunities", {"field": "expected_close_date", "op": "within", "values": ["2026-01-01"]}),
        ("leads", {"field": "qualified", "op": "eq", "values": ["yes"]}),
    ],
    ids=[
        "text_for_number",
        "boolean_for_number",
        "fraction_for_money",
        "number_for_text",
        "word_for_date",
        "impossible_date",
        "timestamp_without_zone",
        "day_for_within",
        "text_for_boolean",
    ],
)
def test_a_filter_value_of_the_wrong_type_is_named_by_its_position(
    source: str, condition: dict[str, Any]
) -> None:
    document = with_filter(condition, source=source, dimensions=[{"field": "status"}])

    assert problems(document) == ["filters.and[0].values[0]"]


def test_the_second_bad_value_of_a_list_is_named_by_its_own_position() -> None:
    document = with_filter({"field": "probability", "op": "in", "values": [10, "twenty", 30, "forty"]})

    assert problems(document) == ["filters.and[0].values[1]", "filters.and[0].values[3]"]


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "probability", "op": "between", "values": [10]},
        {"field": "probability", "op": "between", "values": [10, 20, 30]},
        {"field": "probability", "op": "eq", "values": []},
        {"field": "probability", "op": "eq", "values": [1, 2]},
        {"field": "probability", "op": "in", "values": []},
        {"field": "next_step", "op": "is_empty", "values": ["x"]},
        {"field": "probability", "op": "eq", "values": 10},
    ],
    ids=["between_one", "between_three", "eq_none", "eq_two", "in_none", "is_empty_one", "not_a_list"],
)
def test_a_wrong_number_of_values_is_rejected(condition: dict[str, Any]) -> None:
    assert problems(with_filter(condition)) == ["filters.and[0].values"]


def test_a_within_filter_takes_only_a_known_relative_period() -> None:
    document = with_filter({"field": "expected_close_date", "op": "within", "values": ["last_fortnight"]})

    assert problems(document) == ["filters.and[0].values[0]"]


@pytest.mark.parametrize("period", ["next_x_days", "next_0_days", "next__days"])
def test_a_within_filter_with_a_malformed_next_n_days_is_rejected_not_silently_dropped(period: str) -> None:
    document = with_filter({"field": "expected_close_date", "op": "within", "values": [period]})

    assert problems(document) == ["filters.and[0].values[0]"]


def test_last_and_next_n_days_are_relative_periods() -> None:
    spec = parse_definition(
        with_filter(
            {"field": "expected_close_date", "op": "within", "values": ["last_30_days"]},
            {"field": "create_time", "op": "within", "values": ["next_7_days"]},
        )
    )

    assert spec.filters is not None
    assert [c.values for c in spec.filters.items] == [  # type: ignore[union-attr]
        (RelativeDate("last_30_days"),),
        (RelativeDate("next_7_days"),),
    ]


def test_an_unknown_operator_is_rejected() -> None:
    assert problems(with_filter({"field": "status", "op": "like", "values": ["o%"]})) == ["filters.and[0].op"]


def test_a_to_before_from_is_an_impossible_date_range() -> None:
    document = {
        "source": "pipeline_movement",
        "dimensions": [{"field": "category"}],
        "measures": [{"name": "change", "aggregate": "sum", "field": "change"}],
        "parameters": {"from": "2026-03-10", "to": "2026-03-01"},
    }

    assert problems(document) == ["parameters.to"]


def test_a_day_as_from_means_its_end_so_an_instant_earlier_that_day_is_before_it() -> None:
    document = {
        "source": "pipeline_movement",
        "dimensions": [{"field": "category"}],
        "measures": [{"name": "change", "aggregate": "sum", "field": "change"}],
        "parameters": {"from": "2026-03-10", "to": "2026-03-10T12:00:00Z"},
    }

    assert problems(document) == ["parameters.to"]


def test_pipeline_movement_needs_from_and_to_and_knows_no_other_parameter() -> None:
    document = {
        "source": "pipeline_movement",
        "dimensions": [{"field": "category"}],
        "measures": [{"name": "change", "aggregate": "sum", "field": "change"}],
        "parameters": {"since": "2026-03-10"},
    }

    assert problems(document) == ["parameters.since", "parameters.from", "parameters.to"]


def test_as_of_is_only_for_opportunities() -> None:
    document = {
        "source": "leads",
        "dimensions": [{"field": "status"}],
        "measures": [{"name": "leads", "aggregate": "count"}],
        "as_of": "2026-01-01",
    }

    assert problems(document) == ["as_of"]


def test_rows_and_columns_needs_detail_columns() -> None:
    assert problems({"source": "opportunities", "layout": "rows_and_columns"}) == ["detail_columns"]


def test_rows_and_columns_shows_records_and_takes_no_measures() -> None:
    document = summation(layout="rows_and_columns", detail_columns=["name"])

    assert problems(document) == ["layout"]


def test_summation_with_details_needs_a_dimension_and_detail_columns() -> None:
    document = summation(layout="summation_with_details", dimensions=[])

    assert problems(document) == ["dimensions", "detail_columns"]


def test_a_matrix_with_one_dimension_is_rejected() -> None:
    assert problems(summation(layout="matrix", column_dimensions=1)) == ["dimensions"]


@pytest.mark.parametrize("column_dimensions", [0, 2])
def test_a_matrix_must_put_a_dimension_down_and_one_across(column_dimensions: int) -> None:
    document = summation(
        layout="matrix",
        dimensions=[{"field": "sales_stage"}, {"field": "owner"}],
        column_dimensions=column_dimensions,
    )

    assert problems(document) == ["column_dimensions"]


@pytest.mark.parametrize("column_dimensions", [-1, 4, "one", True])
def test_column_dimensions_out_of_range_are_rejected(column_dimensions: Any) -> None:
    document = summation(
        layout="matrix",
        dimensions=[{"field": "sales_stage"}, {"field": "owner"}],
        column_dimensions=column_dimensions,
    )

    assert problems(document)[0] == "column_dimensions"


def test_only_a_matrix_has_column_dimensions() -> None:
    assert problems(summation(column_dimensions=1)) == ["column_dimensions"]


@pytest.mark.parametrize("limit", [0, -5, MAX_ROW_LIMIT + 1, "all", 2.5, False])
def test_a_limit_out_of_range_is_rejected(limit: Any) -> None:
    assert problems(summation(limit=limit)) == ["limit"]


@pytest.mark.parametrize("limit", [1, MAX_ROW_LIMIT, 20.0])
def test_a_limit_in_range_is_accepted(limit: Any) -> None:
    assert parse_definition(summation(limit=limit)).limit == int(limit)


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (summation(dimensions=[{"field": "sales_stage", "colour": "red"}]), "dimensions[0].colour"),
        (summation(colour="red"), "colour"),
        (summation(measures=[{**COUNT, "colour": "red"}]), "measures[0].colour"),
        (with_filter({"field": "status", "values": ["open"], "colour": "red"}), "filters.and[0].colour"),
        (summation(filters={"and": [], "colour": "red"}), "filters.colour"),
        (summation(sort=[{"by": "deals", "colour": "red"}]), "sort[0].colour"),
        (summation(chart={"kind": "bar", "measure": "deals", "colour": "red"}), "chart.colour"),
    ],
)
def test_unknown_keys_are_named_by_their_path(document: dict[str, Any], path: str) -> None:
    assert problems(document) == [path]


def test_filters_nested_deeper_than_five_groups_are_rejected_at_the_sixth() -> None:
    document: dict[str, Any] = {"field": "status", "op": "eq", "values": ["open"]}
    for _ in range(6):
        document = {"or": [document]}

    assert problems(summation(filters=document)) == ["filters.or[0].or[0].or[0].or[0].or[0]"]


def test_a_sort_must_name_a_dimension_a_measure_or_a_field() -> None:
    assert problems(summation(sort=[{"by": "nowhere"}])) == ["sort[0].by"]


def test_a_chart_must_draw_one_of_the_measures() -> None:
    assert problems(summation(chart={"kind": "bar", "measure": "amount"})) == ["chart.measure"]


def test_several_problems_are_reported_together_in_document_order() -> None:
    document = {
        "source": "opportunities",
        "layout": "summation",
        "colour": "red",
        "dimensions": [
            {"field": "colour"},
            {"field": "sales_stage", "grain": "month"},
            {"field": "amount_base"},
        ],
        "measures": [
            {"name": "names", "aggregate": "sum", "field": "name"},
            COUNT,
            {"name": "bad", "formula": "__import__('os')"},
            {"name": "later", "formula": "deals / after"},
        ],
        "filters": {
            "and": [
                {"field": "probability", "op": "contains", "values": ["1"]},
                {"field": "probability", "op": "between", "values": [1]},
                {"field": "probability", "op": "eq", "values": ["high"]},
            ]
        },
        "limit": 0,
    }

    assert problems(document) == [
        "colour",
        "dimensions[0].field",
        "dimensions[1].grain",
        "dimensions[2].field",
        "measures[0].field",
        "measures[2].formula",
        "measures[3].formula",
        "filters.and[0].op",
        "filters.and[1].values",
        "filters.and[2].values[0]",
        "limit",
    ]


def test_every_violation_says_what_is_wrong() -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_definition(summation(dimensions=[{"field": "colour"}]))

    (violation,) = raised.value.violations
    assert "'colour' is not a field of this source" in violation.description
    assert "sales_stage" in violation.description


# -- run options ---------------------------------------------------------------------------------


def test_run_time_values_replace_only_the_run_time_filters() -> None:
    document = builtin("top_open_deals").document  # type: ignore[union-attr]
    saved = copy.deepcopy(dict(document))

    applied = apply_run_options(document, RunOptions(filter_values={"close": ["next_fiscal_quarter"]}))

    assert applied["filters"]["and"][0] == saved["filters"]["and"][0]
    assert applied["filters"]["and"][1] == {**saved["filters"]["and"][1], "values": ["next_fiscal_quarter"]}
    assert {k: v for k, v in applied.items() if k != "filters"} == {
        k: v for k, v in saved.items() if k != "filters"
    }
    assert dict(document) == saved
    spec = parse_definition(applied)
    assert [c.values for c in runtime_filters(spec)] == [(RelativeDate("next_fiscal_quarter"),)]


def test_a_run_time_value_replaces_a_single_value_too() -> None:
    document = with_filter({"field": "owner", "op": "eq", "value": "r1", "runtime": True})

    applied = apply_run_options(document, RunOptions(filter_values={"owner": ["r2"]}))

    assert applied["filters"]["and"][0] == {"field": "owner", "op": "eq", "values": ["r2"], "runtime": True}


def test_a_run_time_filter_nested_in_an_or_is_found_by_its_id() -> None:
    document = builtin("past_due_and_stale_deals").document  # type: ignore[union-attr]

    assert runtime_filter_ids(document) == ["stale_before"]
    applied = apply_run_options(document, RunOptions(filter_values={"stale_before": ["last_7_days"]}))

    assert applied["filters"]["and"][1]["or"][0] == document["filters"]["and"][1]["or"][0]
    assert applied["filters"]["and"][1]["or"][1]["values"] == ["last_7_days"]


@pytest.mark.parametrize("key", ["nope", "status"])
def test_a_value_for_an_id_that_is_not_a_run_time_filter_is_named(key: str) -> None:
    document = builtin("top_open_deals").document  # type: ignore[union-attr]

    with pytest.raises(InvalidArgument) as raised:
        apply_run_options(document, RunOptions(filter_values={key: ["won"]}))

    assert [v.field for v in raised.value.violations] == [f"filter_values.{key}"]
    assert "close" in raised.value.violations[0].description


def test_a_bad_run_time_value_gets_the_same_field_error_as_a_bad_definition() -> None:
    document = builtin("top_open_deals").document  # type: ignore[union-attr]

    applied = apply_run_options(document, RunOptions(filter_values={"close": ["someday"]}))

    assert problems(applied) == ["filters.and[1].values[0]"]


def test_run_options_replace_parameters_and_as_of_and_keep_the_other_parameters() -> None:
    document = builtin("pipeline_movement").document  # type: ignore[union-attr]

    applied = apply_run_options(document, RunOptions(parameters={"from": "2026-01-01", "window": "2026-Q1"}))

    assert applied["parameters"] == {"from": "2026-01-01", "to": "today", "window": "2026-Q1"}
    assert document["parameters"] == {"from": "last_30_days", "to": "today"}
    opportunities = apply_run_options(summation(), RunOptions(as_of="2026-01-31"))
    assert parse_definition(opportunities).as_of is not None
