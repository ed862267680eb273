"""Risk alerts between the domain and the InspectionService messages (the list and the event)."""

from __future__ import annotations

from collections.abc import Sequence

from salesplane.forecasting.v1 import inspection_pb2
from salesplane_forecasting.domain.inspection.risk_state import FlagState, RiskAlert
from salesplane_platform.proto_values import money_message


def alert_to_proto(alert: RiskAlert, currency: str) -> inspection_pb2.RiskAlert:
    message = inspection_pb2.RiskAlert(
        subject_kind=alert.subject.kind.value,
        user_id=alert.subject.user_id,
        period_id=alert.subject.period_id,
        sequence=alert.sequence,
        entered=_flags(alert.entered, currency),
        left=_flags(alert.left, currency),
        current=_flags(alert.current, currency),
    )
    message.occur_time.FromDatetime(alert.occurred_at)
    return message


def _flags(flags: Sequence[FlagState], currency: str) -> list[inspection_pb2.RiskStateFlag]:
    return [
        inspection_pb2.RiskStateFlag(
            kind=f.kind.value, reason=f.reason, money_at_risk=money_message(f.money_at_risk_minor, currency)
        )
        for f in flags
    ]
