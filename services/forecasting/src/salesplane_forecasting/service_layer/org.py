"""Use cases of the sales organisation: administrators maintain users and reporting lines."""

from __future__ import annotations

from datetime import UTC, datetime

from salesplane.forecasting.v1 import org_pb2
from salesplane_forecasting.adapters import user_store
from salesplane_forecasting.adapters.org_mapping import user_to_proto
from salesplane_forecasting.domain import org
from salesplane_forecasting.domain.org import User, UserValues
from salesplane_platform.errors import Conflict, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from salesplane_platform.identifiers import is_user_id
from salesplane_platform.identity import Identity
from salesplane_platform.org_replica import Reach
from salesplane_platform.unit_of_work import SqlUnitOfWork

USER_AGGREGATE = "user"
reach = Reach(user_store.reporting_lines)


def upsert_user(
    *, values: UserValues, expected_version: int | None, caller: Identity, uow: SqlUnitOfWork
) -> User:
    if not caller.is_admin:
        raise PermissionDenied("only administrators maintain the organisation")
    org.validate(values)
    with uow:
        session = uow.session
        existing = user_store.get(session, values.user_id, for_update=True)
        if expected_version is not None and (existing.version if existing else 0) != expected_version:
            current = existing.version if existing else "absent"
            raise Conflict(f"user {values.user_id} is at version {current}, not {expected_version}")
        if values.manager_user_id is not None:
            if user_store.get(session, values.manager_user_id) is None:
                raise NotFound("user", values.manager_user_id)
            org.ensure_no_cycle(
                values.user_id, values.manager_user_id, lambda u: user_store.manager_of(session, u)
            )
        changed = org.apply(existing, values, datetime.now(UTC))
        if changed is None:
            assert existing is not None
            return existing
        user_store.save(session, changed)
        uow.record_event(
            payload=org_pb2.UserChanged(user=user_to_proto(changed)),
            aggregate_type=USER_AGGREGATE,
            aggregate_id=changed.user_id,
            aggregate_version=changed.version,
            actor=caller.subject,
        )
        uow.commit()
        return changed


def get_user(*, user_id: str, caller: Identity, uow: SqlUnitOfWork) -> User:
    _check_user_id("user_id", user_id)
    with uow:
        user = user_store.get(uow.session, user_id)
        if user is None:
            raise NotFound("user", user_id)
        # Everyone may see their own managers; below them, what they reach.
        in_my_chain = user_store.reporting_lines.is_in_subtree(uow.session, user_id, caller.subject)
        if not (in_my_chain or reach.can_reach(uow.session, caller, user_id)):
            raise PermissionDenied(f"{caller.subject} may not see user {user_id}")
        return user


def list_users(*, root_user_id: str, direct_only: bool, caller: Identity, uow: SqlUnitOfWork) -> list[User]:
    root = root_user_id or caller.subject
    _check_user_id("root_user_id", root)
    with uow:
        if not reach.can_reach(uow.session, caller, root):
            raise PermissionDenied(f"{caller.subject} may not list the organisation under {root}")
        if root_user_id == "" and caller.is_admin and not direct_only:
            return user_store.everyone(uow.session)
        return user_store.subtree(uow.session, root, direct_only=direct_only)


def _check_user_id(field: str, value: str) -> None:
    if not is_user_id(value):
        raise InvalidArgument(FieldViolation(field, "must be a user id (letters, digits, . _ @ -; 1-64)"))
