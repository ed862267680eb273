"""Every route of the /v1 API, by area."""

from __future__ import annotations

from salesplane_gateway.routes_audit import AUDIT_ROUTES
from salesplane_gateway.routes_forecasting import FORECASTING_ROUTES, SETTINGS_ROUTES
from salesplane_gateway.routes_inspection import INSPECTION_ROUTES
from salesplane_gateway.routes_leads import LEAD_ROUTES
from salesplane_gateway.routes_opportunities import OPPORTUNITY_ROUTES
from salesplane_gateway.routes_org import ORG_ROUTES
from salesplane_gateway.routes_quotas import QUOTA_ROUTES
from salesplane_gateway.routes_reporting import REPORTING_ROUTES
from salesplane_gateway.routes_worksheets import WORKSHEET_ROUTES
from salesplane_gateway.routing import Route

ROUTES: tuple[Route, ...] = (
    *OPPORTUNITY_ROUTES,
    *LEAD_ROUTES,
    *ORG_ROUTES,
    *FORECASTING_ROUTES,
    *SETTINGS_ROUTES,
    *QUOTA_ROUTES,
    *WORKSHEET_ROUTES,
    *INSPECTION_ROUTES,
    *REPORTING_ROUTES,
    *AUDIT_ROUTES,
)
