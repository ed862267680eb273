"""The events forecasting publishes: built from domain values in the protobuf contract and written to
the outbox when the unit of work commits the aggregates that raised them, so the use cases never
handle a protobuf message."""

from __future__ import annotations

from typing import TypeAlias

from salesplane.forecasting.v1 import inspection_pb2, org_pb2, quotas_pb2, settings_pb2, worksheets_pb2
from salesplane_forecasting.adapters import settings_store
from salesplane_forecasting.adapters.org_mapping import user_to_proto
from salesplane_forecasting.adapters.quota_mapping import change_to_proto, quota_to_proto
from salesplane_forecasting.adapters.risk_alert_mapping import alert_to_proto
from salesplane_forecasting.adapters.settings_mapping import settings_to_proto
from salesplane_forecasting.adapters.worksheet_mapping import snapshot_to_proto
from salesplane_forecasting.domain.forecast_settings import ForecastSettings, ForecastSettingsChanged
from salesplane_forecasting.domain.inspection.risk_state import RiskStateChanged, Subject
from salesplane_forecasting.domain.org import User, UserChanged
from salesplane_forecasting.domain.quotas import Quota, QuotaChange, QuotaCommitted
from salesplane_forecasting.domain.worksheets import ForecastCommitted, Snapshot, SnapshotKind
from salesplane_platform.identifiers import derived_aggregate_id
from salesplane_platform.unit_of_work import OutboxEvent

USER_AGGREGATE = "user"
QUOTA_AGGREGATE = "quota"
SETTINGS_AGGREGATE = "forecast_settings"
SETTINGS_AGGREGATE_ID = settings_store.SETTINGS_ROW_ID
FORECAST_AGGREGATE = "forecast"
RISK_STATE_AGGREGATE = "risk_state"


ForecastingEvent: TypeAlias = (
    UserChanged | QuotaCommitted | ForecastSettingsChanged | ForecastCommitted | RiskStateChanged
)


def outbox_event(event: ForecastingEvent) -> OutboxEvent:
    """The outbox row of a domain event: its contract payload, and the aggregate it concerns."""
    if isinstance(event, UserChanged):
        return user_changed(event.user)
    if isinstance(event, QuotaCommitted):
        return quota_committed(event.quota, event.change)
    if isinstance(event, ForecastSettingsChanged):
        return settings_changed(event.settings, base_currency=event.currency_code)
    if isinstance(event, RiskStateChanged):
        return risk_state_changed(event)
    return forecast_committed(event.commit)


def user_changed(user: User) -> OutboxEvent:
    return OutboxEvent(
        payload=org_pb2.UserChanged(user=user_to_proto(user)),
        aggregate_type=USER_AGGREGATE,
        aggregate_id=user.user_id,
        aggregate_version=user.version,
    )


def quota_committed(quota: Quota, change: QuotaChange) -> OutboxEvent:
    return OutboxEvent(
        payload=quotas_pb2.QuotaCommitted(quota=quota_to_proto(quota), change=change_to_proto(change)),
        aggregate_type=QUOTA_AGGREGATE,
        aggregate_id=quota.aggregate_id,
        aggregate_version=quota.version,
    )


def settings_changed(settings: ForecastSettings, *, base_currency: str) -> OutboxEvent:
    """base_currency only fills the event's currency_code."""
    return OutboxEvent(
        payload=settings_pb2.ForecastSettingsChanged(settings=settings_to_proto(settings, base_currency)),
        aggregate_type=SETTINGS_AGGREGATE,
        aggregate_id=SETTINGS_AGGREGATE_ID,
        aggregate_version=settings.version,
    )


def forecast_committed(commit: Snapshot) -> OutboxEvent:
    return OutboxEvent(
        payload=worksheets_pb2.ForecastCommitted(commit=snapshot_to_proto(commit)),
        aggregate_type=FORECAST_AGGREGATE,
        aggregate_id=forecast_aggregate_id(commit.user_id, commit.period_id, commit.kind),
        aggregate_version=commit.sequence,
    )


def forecast_aggregate_id(user_id: str, period_id: str, kind: SnapshotKind) -> str:
    """The aggregate id of a user's commits of a kind for a period: a UUID derived from the three, so
    it fits the outbox's id column whatever the length of the user id (the payload has the values)."""
    return derived_aggregate_id(FORECAST_AGGREGATE, user_id, period_id, kind.value)


def risk_state_changed(event: RiskStateChanged) -> OutboxEvent:
    alert = event.alert
    return OutboxEvent(
        payload=inspection_pb2.RiskStateChanged(alert=alert_to_proto(alert, event.currency_code)),
        aggregate_type=RISK_STATE_AGGREGATE,
        aggregate_id=risk_state_aggregate_id(alert.subject),
        aggregate_version=alert.sequence,
    )


def risk_state_aggregate_id(subject: Subject) -> str:
    """A UUID derived from "<kind>/<user>/<period>": the plain text can exceed the outbox's 64
    characters (a 64-character user id), and the payload names the three anyway."""
    return derived_aggregate_id(RISK_STATE_AGGREGATE, subject.kind.value, subject.user_id, subject.period_id)
