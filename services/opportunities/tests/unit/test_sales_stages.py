"""The sales-stage catalog: what a replacement must satisfy, and what it changes."""

from __future__ import annotations

import pytest

from salesplane_opportunities.domain.sales_stages import (
    DEFAULT_SALES_STAGES,
    CloseOutcome,
    SalesStage,
    SalesStageCatalog,
    compare_catalogs,
    validate_stages,
)
from salesplane_platform.errors import InvalidArgument

OPEN, WON, LOST = (
    SalesStage("Open", 10),
    SalesStage("Won", 100, is_won=True),
    SalesStage("Lost", 0, is_lost=True),
)


def violations(stages: list[SalesStage]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidArgument) as raised:
        validate_stages(stages)
    return [(v.field, v.description) for v in raised.value.violations]


def test_the_defaults_and_a_minimal_list_are_valid():
    validate_stages(DEFAULT_SALES_STAGES)
    validate_stages([OPEN, WON, LOST])


def test_names_must_be_unique_non_empty_trimmed_and_bounded():
    found = violations(
        [
            OPEN,
            SalesStage("", 5),
            SalesStage(" Pad", 5),
            SalesStage("x" * 65, 5),
            SalesStage("Open", 20),
            WON,
            LOST,
        ]
    )
    assert [f for f, _ in found] == [
        "sales_stages[1].name",
        "sales_stages[2].name",
        "sales_stages[3].name",
        "sales_stages[4].name",
    ]
    assert "more than once" in found[-1][1]


def test_probabilities_are_percentages():
    found = violations([SalesStage("Open", 101), SalesStage("Other", -1), WON, LOST])
    assert [f for f, _ in found] == [
        "sales_stages[0].default_probability",
        "sales_stages[1].default_probability",
    ]


@pytest.mark.parametrize(
    ("stages", "missing"),
    [
        ([WON, LOST], "open"),
        ([OPEN, LOST], "won"),
        ([OPEN, WON], "lost"),
        ([OPEN, SalesStage("Both", 50, is_won=True, is_lost=True)], "won"),
    ],
)
def test_a_list_needs_an_open_a_won_and_a_lost_stage(stages, missing):
    assert any(missing in description for _, description in violations(stages))


def test_a_stage_cannot_be_both_won_and_lost():
    found = violations([OPEN, WON, LOST, SalesStage("Both", 50, is_won=True, is_lost=True)])
    assert found == [("sales_stages[3]", "cannot be both won and lost")]


def test_an_empty_or_endless_list_is_invalid():
    assert violations([])[0][0] == "sales_stages"
    assert violations([OPEN, WON, LOST] + [SalesStage(f"S{i}", 1) for i in range(50)])[0][0] == "sales_stages"


def test_the_catalog_finds_stages_by_outcome():
    catalog = SalesStageCatalog([OPEN, LOST, SalesStage("Lost late", 0, is_lost=True), WON])
    assert catalog.first_closing_as(CloseOutcome.LOST).name == "Lost"
    assert catalog.names_closing_as(CloseOutcome.LOST) == ["Lost", "Lost late"]
    assert catalog.open_names() == ["Open"]


def test_comparing_catalogs_finds_removed_reflagged_and_reweighted_open_stages():
    old = SalesStageCatalog([OPEN, SalesStage("Demo", 30), SalesStage("Trial", 40), WON, LOST])
    new = SalesStageCatalog(
        [
            SalesStage("Open", 15),
            SalesStage("Trial", 40, is_won=True),
            SalesStage("Won", 90, is_won=True),
            LOST,
        ]
    )
    difference = compare_catalogs(old, new)
    assert difference.removed == ("Demo",)
    assert difference.reflagged == ("Trial",)
    # "Won" changed its default too, but closed deals keep the probability they were closed with.
    assert difference.new_defaults == {"Open": 15}


def test_a_stage_name_has_no_control_characters():
    assert violations([SalesStage("Op\x00en", 10), WON, LOST])[0] == (
        "sales_stages[0].name",
        "must not contain control characters",
    )
