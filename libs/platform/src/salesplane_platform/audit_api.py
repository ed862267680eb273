"""The AuditService every service serves over its own audit log, to administrators only."""

from __future__ import annotations

import grpc
from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from salesplane.audit.v1 import audit_pb2, audit_pb2_grpc
from salesplane_platform.audit_log import read_entries
from salesplane_platform.audit_mapping import audit_entry_proto, audit_query
from salesplane_platform.errors import PermissionDenied
from salesplane_platform.grpc_interceptor import current_caller

SERVICE_NAME = audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, sessions: sessionmaker[Session], table: Table, service: str) -> None:
        self._sessions = sessions
        self._table = table
        self._service = service

    def ListAuditEntries(
        self, request: audit_pb2.ListAuditEntriesRequest, context: grpc.ServicerContext
    ) -> audit_pb2.ListAuditEntriesResponse:
        if not current_caller().is_admin:
            # Who changed whose quota, and to what, is the whole organisation's history.
            raise PermissionDenied("only administrators read the audit log")
        query = audit_query(request)
        with self._sessions() as session:
            records, more = read_entries(session, self._table, query)
        return audit_pb2.ListAuditEntriesResponse(
            entries=[audit_entry_proto(record, self._service) for record in records], more=more
        )


def add_audit_service(
    server: grpc.Server, sessions: sessionmaker[Session], table: Table, service: str
) -> str:
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(sessions, table, service), server)
    return SERVICE_NAME
