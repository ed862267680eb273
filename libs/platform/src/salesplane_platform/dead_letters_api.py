"""DeadLetterService (salesplane.operations.v1), served by every service that consumes events, to
administrators only."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from salesplane.operations.v1 import dead_letters_pb2 as pb
from salesplane.operations.v1 import dead_letters_pb2_grpc as pb_grpc
from salesplane_platform.consumer_runner import EventHandler
from salesplane_platform.dead_letters import MAX_REPLAY, DeadLetter, DeadLetters, Result
from salesplane_platform.errors import NotFound, PermissionDenied, Validator
from salesplane_platform.grpc_interceptor import current_caller
from salesplane_platform.text_rules import check_text

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DeadLetterService"].full_name
MAX_PAGE = 500
MAX_TOPIC_LENGTH = 249  # Kafka's own limit on a topic name
_RESULTS = {
    Result.APPLIED: pb.ReplayOutcome.APPLIED,
    Result.SUPERSEDED: pb.ReplayOutcome.SUPERSEDED,
    Result.FAILED: pb.ReplayOutcome.FAILED,
}


class DeadLetterServicer(pb_grpc.DeadLetterServiceServicer):
    def __init__(self, dead_letters: DeadLetters, handler: Callable[[], EventHandler]) -> None:
        self._dead_letters = dead_letters
        # Built on first replay: the handler is the consumer's, with what it needs of the service.
        self._make_handler = handler
        self._handler: EventHandler | None = None

    def ListDeadLetters(
        self, request: pb.ListDeadLettersRequest, context: grpc.ServicerContext
    ) -> pb.ListDeadLettersResponse:
        _ensure_admin()
        check = Validator()
        check.require(0 <= request.page_size <= MAX_PAGE, "page_size", f"must be between 1 and {MAX_PAGE}")
        check.require(request.after_id >= 0, "after_id", "must not be negative")
        # PostgreSQL refuses NUL in text: unchecked, such a topic filter failed as INTERNAL.
        check_text(check, "topic", request.topic, MAX_TOPIC_LENGTH)
        check.raise_if_invalid()
        letters, more = self._dead_letters.listed(
            topic=request.topic, after_id=request.after_id, limit=request.page_size or 100
        )
        return pb.ListDeadLettersResponse(
            dead_letters=[_to_proto(letter, with_value=False) for letter in letters], more=more
        )

    def GetDeadLetter(self, request: pb.GetDeadLetterRequest, context: grpc.ServicerContext) -> pb.DeadLetter:
        _ensure_admin()
        letter = self._dead_letters.get(request.id)
        if letter is None:
            raise NotFound("dead letter", str(request.id))
        return _to_proto(letter, with_value=True)

    def ReplayDeadLetters(
        self, request: pb.ReplayDeadLettersRequest, context: grpc.ServicerContext
    ) -> pb.ReplayDeadLettersResponse:
        _ensure_admin()
        check = Validator()
        check.require(request.all or bool(request.ids), "ids", "name the dead letters to replay, or set all")
        check.require(not (request.all and request.ids), "all", "give ids or all, not both")
        check.require(len(request.ids) <= MAX_REPLAY, "ids", f"at most {MAX_REPLAY} in one call")
        check.raise_if_invalid()
        ids = self._dead_letters.all_ids() if request.all else list(request.ids)
        if not request.all:
            missing = [i for i in ids if self._dead_letters.get(i) is None]
            if missing:
                raise NotFound("dead letter", ", ".join(str(i) for i in missing))
        if self._handler is None:
            self._handler = self._make_handler()
        outcomes = self._dead_letters.replay(self._handler, ids)
        return pb.ReplayDeadLettersResponse(
            outcomes=[pb.ReplayOutcome(id=o.id, result=_RESULTS[o.result], error=o.error) for o in outcomes]
        )


def _ensure_admin() -> None:
    if not current_caller().is_admin:
        raise PermissionDenied("only administrators handle dead letters")


def _to_proto(letter: DeadLetter, *, with_value: bool) -> pb.DeadLetter:
    message = pb.DeadLetter(
        id=letter.id,
        topic=letter.topic,
        partition=letter.partition,
        offset=letter.offset,
        key=letter.key or b"",
        value=(letter.value or b"") if with_value else b"",
        error=letter.error,
        **letter.envelope_fields(),
    )
    message.received_at.FromDatetime(letter.received_at)
    return message


def add_dead_letter_service(
    server: grpc.Server, dead_letters: DeadLetters, handler: Callable[[], EventHandler]
) -> str:
    pb_grpc.add_DeadLetterServiceServicer_to_server(DeadLetterServicer(dead_letters, handler), server)
    return SERVICE_NAME
