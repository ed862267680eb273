"""Users between the domain and the protobuf contract."""

from __future__ import annotations

from salesplane.forecasting.v1 import org_pb2
from salesplane_forecasting.domain.org import User, UserValues


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
    return message


def values_from_proto(user: org_pb2.User) -> UserValues:
    return UserValues(
        user_id=user.user_id,
        display_name=user.display_name,
        email=user.email.strip(),
        roles=frozenset(role.strip().lower() for role in user.roles),
        manager_user_id=user.manager_user_id or None,
        active=user.active,
    )
