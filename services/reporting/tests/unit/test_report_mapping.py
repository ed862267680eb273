"""The translation of report requests from protobuf: what JSON cannot hold is the caller's error."""

from __future__ import annotations

import math

import pytest
from google.protobuf import struct_pb2

from salesplane.reporting.v1 import reporting_pb2
from salesplane_platform.errors import InvalidArgument
from salesplane_reporting.adapters.report_mapping import run_options_from_proto, struct_to_dict


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_a_definition_with_a_number_json_cannot_hold_is_a_bad_field(number: float) -> None:
    # Found by the malformed-request runs (tests/fuzz): RunReport answered INTERNAL, ExportReport UNKNOWN.
    definition = struct_pb2.Struct()
    definition.fields["limit"].number_value = number

    with pytest.raises(InvalidArgument) as error:
        struct_to_dict(definition, "run.definition")

    assert [v.field for v in error.value.violations] == ["run.definition"]


def test_a_filter_value_json_cannot_hold_names_its_filter() -> None:
    request = reporting_pb2.RunReportRequest(report_id="pipeline_by_stage")
    request.filter_values["stage"].values.add().number_value = math.nan

    with pytest.raises(InvalidArgument) as error:
        run_options_from_proto(request)

    assert [v.field for v in error.value.violations] == ["filter_values[stage]"]


def test_finite_numbers_pass_as_they_are() -> None:
    definition = struct_pb2.Struct()
    definition.update({"source": "opportunities", "limit": 5})

    assert struct_to_dict(definition) == {"source": "opportunities", "limit": 5}
