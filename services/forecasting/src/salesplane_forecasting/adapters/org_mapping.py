"""Users between the domain and the protobuf contract."""

from __future__ import annotations

from salesplane.forecasting.v1 import org_pb2
from salesplane_forecasting.domain.org import User, UserValues
from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_platform.proto_values import date_from_proto, date_to_proto


def user_to_proto(user: User) -> org_pb2.User:
    message = org_pb2.User(
        user_id=user.user_id,
        display_name=user.display_name,
        email=user.email,
        roles=sorted(user.roles),
        manager_user_id=user.manager_user_id or "",
        active=user.active,
        version=user.version,
    )
    message.update_time.FromDatetime(user.updated_at)
    if user.scheduled_manager_date is not None:
        message.scheduled_manager_user_id = user.scheduled_manager_user_id or ""
        message.scheduled_manager_date.CopyFrom(date_to_proto(user.scheduled_manager_date))
    return message


def values_from_proto(request: org_pb2.UpsertUserRequest) -> UserValues:
    user = request.user
    effective = None
    if request.HasField("manager_effective_date"):
        effective = date_from_proto(request.manager_effective_date)
        if effective is None:
            raise InvalidArgument(FieldViolation("manager_effective_date", "must be a valid date"))
    return UserValues(
        user_id=user.user_id,
        display_name=user.display_name,
        email=user.email.strip(),
        roles=frozenset(role.strip().lower() for role in user.roles),
        manager_user_id=user.manager_user_id or None,
        active=user.active,
        manager_effective_date=effective,
    )
