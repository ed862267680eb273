"""Saving a worksheet as a draft or committing it, from the home page (a rep's worksheet) and the
team page (a manager's): the note is checked, one call is made, and what the service refuses comes
back as errors beside the note."""

from __future__ import annotations

from typing import Any

from flask import request

from salesplane.forecasting.v1 import worksheets_pb2
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, form_errors, user
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_worksheets import WORKSHEETS

MAX_NOTE = 2000
# The RPC of each action, and its request type.
ACTIONS: dict[str, tuple[str, Any]] = {
    "draft": ("SaveWorksheetDraft", worksheets_pb2.SaveWorksheetDraftRequest),
    "committed": ("CommitForecast", worksheets_pb2.CommitForecastRequest),
}


def typed_note() -> str:
    return request.form.get("note", "").strip()


def save_snapshot(action: str, *, period_id: str, kind: int) -> dict[str, str]:
    """Save the draft or commit ("draft" / "committed") of the signed-in user's worksheet for the
    period with the form's note; the errors to show beside the note (empty: done)."""
    note = typed_note()
    if len(note) > MAX_NOTE:
        return {"note": gettext("At most %(n)s characters.", n=MAX_NOTE)}
    method, message = ACTIONS[action]
    try:
        call(
            WORKSHEETS.rpc(method), message(user_id=user().user_id, period_id=period_id, kind=kind, note=note)
        )
    except Problem as problem:
        if problem.status in (400, 409, 422):
            return form_errors(problem, {"note": "note"})
        raise
    return {}
