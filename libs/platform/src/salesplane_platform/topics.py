"""The event topics, named once: each service publishes to its own and reads the others'. Part of
the public contract, like the protos (a deployment's SALESPLANE_TOPIC_PREFIX goes in front)."""

from __future__ import annotations

LEADS = "salesplane.leads.v1"
OPPORTUNITIES = "salesplane.opportunities.v1"
# Forecasting's topic carries the organisation too (users, reporting lines, roles).
FORECASTING = "salesplane.forecasting.v1"
# Every service's audit entries (audit_log.py), for SIEMs and compliance archives.
AUDIT = "salesplane.audit.v1"
