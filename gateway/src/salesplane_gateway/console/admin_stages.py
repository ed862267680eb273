"""Admin / sales stages and probabilities: the ordered list of stages (name, default probability,
open / won / lost), edited as rows with a few empty ones to add, and replaced whole with
ReplaceSalesStages at the revision it was read at.

A row's position number orders the list (ties keep the rows' order), so stages can be reordered
without script; a row left blank is not sent, which is how a stage is removed."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.opportunities.v1 import opportunities_pb2
from salesplane_gateway.console.admin_forms import FormCheck, refused, row_names
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, page, require_user, see_other
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_opportunities import OPPORTUNITIES

EMPTY_ROWS = 3
MAX_ROWS = 60
KINDS = ("open", "won", "lost")
_STAGE = opportunities_pb2.SalesStage.DESCRIPTOR
_COLUMNS = {"name": "name", "default_probability": "probability", "is_won": "kind", "is_lost": "kind"}


@dataclass
class Row:
    position: str
    name: str
    probability: str
    kind: str

    @property
    def blank(self) -> bool:
        return not self.name.strip() and not self.probability.strip()


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/admin/stages", "admin_stages", require_user(_stages), methods=["GET", "POST"])


def _stages() -> Response:
    if request.method == "GET":
        stored = call(OPPORTUNITIES.rpc("ListSalesStages"), opportunities_pb2.ListSalesStagesRequest())
        rows = [
            Row(
                str(index + 1),
                stage.name,
                str(stage.default_probability),
                "won" if stage.is_won else "lost" if stage.is_lost else "open",
            )
            for index, stage in enumerate(stored.sales_stages)
        ]
        notice = gettext("Sales stages saved.") if request.args.get("done") == "saved" else ""
        return _page(_with_empty_rows(rows), str(stored.revision), {}, notice=notice)
    rows = _posted_rows()
    revision = request.form.get("revision", "0")
    checked = FormCheck()
    stages, sent_rows = _stages_of(rows, checked)
    if not checked.ok():
        return _page(rows, revision, checked.errors, status=422)
    try:
        call(
            OPPORTUNITIES.rpc("ReplaceSalesStages"),
            opportunities_pb2.ReplaceSalesStagesRequest(
                sales_stages=stages, expected_revision=int(revision) if revision.isdigit() else 0
            ),
        )
    except Problem as problem:
        errors = refused(
            problem, row_names(problem, "sales_stages", sent_rows, _COLUMNS), shown=["sales_stages"]
        )
        if problem.status == 409:
            revision = str(
                call(
                    OPPORTUNITIES.rpc("ListSalesStages"), opportunities_pb2.ListSalesStagesRequest()
                ).revision
            )
        return _page(rows, revision, errors, status=409 if problem.status == 409 else 422)
    return see_other("console.admin_stages", done="saved")


def _posted_rows() -> list[Row]:
    form = request.form
    count = min(int(form["rows"]), MAX_ROWS) if form.get("rows", "").isdigit() else 0
    return [
        Row(
            form.get(f"position-{i}", ""),
            form.get(f"name-{i}", ""),
            form.get(f"probability-{i}", ""),
            form.get(f"kind-{i}", "open"),
        )
        for i in range(count)
    ]


def _stages_of(rows: list[Row], checked: FormCheck) -> tuple[list[opportunities_pb2.SalesStage], list[int]]:
    """The stages to send in their order, and the form row each came from (to place errors)."""
    ordered: list[tuple[int, int]] = []
    for index, row in enumerate(rows):
        if row.blank:
            continue
        position = checked.whole(f"position-{index}", row.position, _STAGE, "order", required=False)
        ordered.append((position if position is not None else index + 1, index))
    ordered.sort()
    stages: list[opportunities_pb2.SalesStage] = []
    for order, (_, index) in enumerate(ordered):
        row = rows[index]
        if row.kind not in KINDS:
            checked.fail(f"kind-{index}", gettext("Choose open, won or lost."))
        probability = checked.whole(f"probability-{index}", row.probability, _STAGE, "default_probability")
        stages.append(
            opportunities_pb2.SalesStage(
                name=checked.text(f"name-{index}", row.name, _STAGE, "name", required=True),
                default_probability=probability or 0,
                is_won=row.kind == "won",
                is_lost=row.kind == "lost",
                order=order,
            )
        )
    if not stages:
        checked.fail("", gettext("Keep at least one open, one won and one lost stage."))
    return stages, [index for _, index in ordered]


def _with_empty_rows(rows: list[Row]) -> list[Row]:
    # A posted form is shown again as it was sent (its errors name its rows); only a fresh read
    # gets the empty rows to add stages in.
    return rows + [Row(str(len(rows) + 1 + i), "", "", "open") for i in range(EMPTY_ROWS)]


def _page(
    rows: list[Row], revision: str, errors: dict[str, str], *, status: int = 200, notice: str = ""
) -> Response:
    return page(
        "console/admin_stages.html",
        status=status,
        title=gettext("Sales stages and probabilities"),
        rows=rows,
        revision=revision,
        errors=errors,
        notice=notice,
        kinds=[("open", gettext("Open")), ("won", gettext("Won")), ("lost", gettext("Lost"))],
    )
