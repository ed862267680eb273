"""Routes of InspectionService (served by the forecasting service): the pipeline inspection of a team
and of a rep, and its thresholds.

InspectRepRequest names only the rep (user_id) and the period, not a manager: the rep's inspection
is its own resource beside the team's (as worksheets are beside manager-worksheets), and the service
decides visibility from the caller alone."""

from __future__ import annotations

from salesplane.forecasting.v1 import inspection_pb2
from salesplane_gateway.routing import JsonBody, Route, Service

INSPECTION = Service(inspection_pb2, "InspectionService", upstream="forecasting")
rpc = INSPECTION.rpc

SETTINGS = "/v1/inspection-settings"

INSPECTION_ROUTES = (
    Route(
        "GET",
        "/v1/inspections/{manager_user_id}/{period_id}",
        rpc("InspectTeam"),
        "The pipeline inspection of a manager's team: a row per direct report plus their own",
    ),
    Route(
        "GET",
        "/v1/rep-inspections/{user_id}/{period_id}",
        rpc("InspectRep"),
        "The pipeline inspection of a user's own deals: their row and their flagged deals",
    ),
    Route(
        "GET",
        "/v1/risk-alerts",
        rpc("ListRiskAlerts"),
        "Risk alerts (reps and teams entering or leaving risk) of a user and everyone under them",
        query={
            "user_id": "user_id",
            "period_id": "period_id",
            "page_size": "page_size",
            "page_token": "page_token",
        },
    ),
    Route(
        "GET",
        SETTINGS,
        rpc("GetInspectionSettings"),
        "The inspection thresholds behind every risk flag",
        etag="version",
    ),
    Route(
        "PUT",
        SETTINGS,
        rpc("UpdateInspectionSettings"),
        "Replace the inspection thresholds (admin)",
        body=JsonBody("settings"),
        if_match="expected_version",
        etag="version",
    ),
)
