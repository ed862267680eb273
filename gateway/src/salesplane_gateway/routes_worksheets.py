"""Routes of WorksheetService (served by the forecasting service): forecast worksheets, commit stages,
manager adjustments, forecast commits and their accuracy."""

from __future__ import annotations

from salesplane.forecasting.v1 import worksheets_pb2
from salesplane_gateway.routing import JsonBody, Route, Service

WORKSHEETS = Service(worksheets_pb2, "WorksheetService", upstream="forecasting")
rpc = WORKSHEETS.rpc

WORKSHEET = "/v1/worksheets/{user_id}/{period_id}"
MANAGER_WORKSHEET = "/v1/manager-worksheets/{manager_user_id}/{period_id}"

WORKSHEET_ROUTES = (
    Route("GET", WORKSHEET, rpc("GetRepWorksheet"), "A user's forecast worksheet of their own deals"),
    Route(
        "PUT",
        "/v1/opportunities/{opportunity_id}/commit-stage",
        rpc("SetCommitStage"),
        "Set an open deal's commit stage by hand, or let the forecast ranges place it again (null)",
        body=JsonBody(),
    ),
    Route(
        "GET",
        "/v1/manager-worksheets/{user_id}/{period_id}",
        rpc("GetManagerWorksheet"),
        "A manager's forecast worksheet: a row per direct report plus their own",
    ),
    Route(
        "PUT",
        MANAGER_WORKSHEET + "/rows/{user_id}",
        rpc("AdjustManagerRow"),
        "Adjust a row of a manager's worksheet (null clears an adjustment)",
        body=JsonBody(),
    ),
    Route(
        "POST",
        WORKSHEET + ":save-draft",
        rpc("SaveWorksheetDraft"),
        "Save a worksheet as a draft",
        body=JsonBody(),
    ),
    Route(
        "POST",
        WORKSHEET + ":commit",
        rpc("CommitForecast"),
        "Commit a worksheet: an immutable forecast snapshot",
        body=JsonBody(),
    ),
    Route(
        "GET",
        "/v1/forecast-commits/{user_id}/{period_id}",
        rpc("ListForecastCommits"),
        "Every forecast commit of a user for a period, newest first",
        query={"kind": "kind"},
    ),
    Route(
        "GET",
        "/v1/forecast-accuracy/{user_id}/{period_id}",
        rpc("GetForecastAccuracy"),
        "Committed forecast against actual closed won, per direct report and for the team",
    ),
)
