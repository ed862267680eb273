"""Routes of QuotaService (served by the forecasting service): quotas and their top-down split."""

from __future__ import annotations

from salesplane.forecasting.v1 import quotas_pb2
from salesplane_gateway.routing import JsonBody, Route, Service

QUOTAS = Service(quotas_pb2, "QuotaService", upstream="forecasting")
rpc = QUOTAS.rpc

QUOTA = "/v1/quotas/{user_id}/{period_id}"
PLAN = "/v1/quota-plans/{manager_user_id}/{period_id}"

QUOTA_ROUTES = (
    Route(
        "PUT",
        QUOTA,
        rpc("SetQuota"),
        "Set and commit a user's quota for a period (admin)",
        body=JsonBody(),
        etag="version",
    ),
    Route(
        "GET",
        QUOTA,
        rpc("GetQuota"),
        "A user's committed quota for a period",
        query={"kind": "kind"},
        etag="version",
    ),
    Route(
        "GET",
        "/v1/quotas/{user_id}/changes",
        rpc("ListQuotaChanges"),
        "Every change of a user's quota, newest first",
        query={"period": "period_id"},
    ),
    Route("GET", PLAN, rpc("GetQuotaPlan"), "A manager's split of their quota among their reports"),
    Route(
        "PUT",
        PLAN + "/draft",
        rpc("SaveQuotaDraft"),
        "Save (replace) the manager's draft split",
        body=JsonBody(),
    ),
    Route(
        "POST",
        PLAN + ":commit",
        rpc("CommitQuotaPlan"),
        "Commit the manager's draft split: each allocation becomes a quota",
        body=JsonBody(),
    ),
)
