"""Routes of OrgService (served by the forecasting service): users and whom they report to."""

from __future__ import annotations

from salesplane.forecasting.v1 import org_pb2
from salesplane_gateway.routing import JsonBody, Route, Service

ORG = Service(org_pb2, "OrgService", upstream="org")
rpc = ORG.rpc

USER = "/v1/users/{user_id}"

ORG_ROUTES = (
    Route(
        "GET",
        "/v1/users",
        rpc("ListUsers"),
        "Everyone under a user (or the caller)",
        query={"root_user_id": "root_user_id", "direct_only": "direct_only"},
    ),
    Route("GET", USER, rpc("GetUser"), "Read a user", etag="version"),
    Route(
        "PUT",
        USER,
        rpc("UpsertUser"),
        "Create or change a user and whom they report to (admin)",
        body=JsonBody("user"),
        path_fields={"user_id": "user.user_id"},
        # ?manager_effective_date=2026-10-01: a new manager from that date on (a scheduled move);
        # ?reassign_open_work_to_manager=true with "active": false: hand the user's open deals and
        # leads to their manager first, then deactivate them.
        query={
            "manager_effective_date": "manager_effective_date",
            "reassign_open_work_to_manager": "reassign_open_work_to_manager",
        },
        if_match="expected_version",
        etag="version",
    ),
)
