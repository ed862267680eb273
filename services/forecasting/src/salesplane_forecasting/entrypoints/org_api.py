"""gRPC entry point of the sales organisation (OrgService)."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from salesplane.forecasting.v1 import org_pb2, org_pb2_grpc
from salesplane_forecasting.adapters.org_mapping import user_to_proto, values_from_proto
from salesplane_forecasting.service_layer import org
from salesplane_forecasting.service_layer.org import OpenWork
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.grpc_interceptor import current_caller


class OrgServicer(org_pb2_grpc.OrgServiceServicer):
    def __init__(self, unit_of_work: Callable[[], ForecastingUnitOfWork], open_work: OpenWork) -> None:
        self._uow = unit_of_work
        self._open_work = open_work

    def UpsertUser(self, request: org_pb2.UpsertUserRequest, context: grpc.ServicerContext) -> org_pb2.User:
        user = org.upsert_user(
            values=values_from_proto(request),
            expected_version=request.expected_version or None,
            caller=current_caller(),
            uow=self._uow(),
            open_work=self._open_work,
            reassign_open_work_to_manager=request.reassign_open_work_to_manager,
        )
        return user_to_proto(user)

    def GetUser(self, request: org_pb2.GetUserRequest, context: grpc.ServicerContext) -> org_pb2.User:
        return user_to_proto(org.get_user(user_id=request.user_id, caller=current_caller(), uow=self._uow()))

    def ListUsers(
        self, request: org_pb2.ListUsersRequest, context: grpc.ServicerContext
    ) -> org_pb2.ListUsersResponse:
        users = org.list_users(
            root_user_id=request.root_user_id,
            direct_only=request.direct_only,
            caller=current_caller(),
            uow=self._uow(),
        )
        return org_pb2.ListUsersResponse(users=[user_to_proto(u) for u in users])
