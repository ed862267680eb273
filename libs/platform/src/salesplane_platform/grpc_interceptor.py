"""One server interceptor for every Salesplane service: authenticates the caller, times and counts
each RPC, and turns domain errors into rich gRPC statuses (never a bare INTERNAL for bad input),
which it also notes on the RPC's span (grpc_tracing.py)."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import grpc
from google.protobuf.message import DecodeError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from salesplane_platform.authentication import Verifier
from salesplane_platform.errors import DomainError, FieldViolation, InvalidArgument, Unauthenticated
from salesplane_platform.grpc_errors import grpc_status_for
from salesplane_platform.grpc_metrics import UNARY, RpcMeter, meter_for, rpc_type
from salesplane_platform.grpc_tracing import record_rpc_status
from salesplane_platform.identity import AUTHORIZATION_HEADER, Identity
from salesplane_platform.request_ids import REQUEST_ID_METADATA, bind_request_id, unbind_request_id
from salesplane_platform.service_principals import NO_SERVICE_RPCS, ServiceRpcs, ensure_service_may_call

log = logging.getLogger(__name__)

_CALLER: contextvars.ContextVar[Identity] = contextvars.ContextVar("salesplane_caller")
_CALLER_TOKEN: contextvars.ContextVar[str] = contextvars.ContextVar("salesplane_caller_token")
# Probes and tooling must work without a token.
PUBLIC_SERVICES = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)


def current_caller() -> Identity:
    """The authenticated caller of the RPC being handled on this thread."""
    try:
        return _CALLER.get()
    except LookupError:
        raise Unauthenticated("no authenticated caller") from None


def current_caller_token() -> str:
    """The caller's bearer token, for forwarding on calls made on its behalf."""
    return _CALLER_TOKEN.get("")


def transient_database_code(error: DBAPIError) -> grpc.StatusCode | None:
    """A lost connection (database restarted, failed over) is UNAVAILABLE and a serialisation
    failure or deadlock ABORTED: both mean "retry", which gRPC clients and the gateway understand.
    Anything else is a bug and stays INTERNAL."""
    if error.connection_invalidated or isinstance(error, (OperationalError, InterfaceError)):
        sqlstate = getattr(error.orig, "sqlstate", None)
        if sqlstate in ("40001", "40P01"):
            return grpc.StatusCode.ABORTED
        return grpc.StatusCode.UNAVAILABLE
    return None


@dataclass(frozen=True)
class UndecodableRequest:
    """What a request whose bytes are no valid message of its type (invalid UTF-8 in a string, a
    truncated or garbage body) is handed to the RPC as, instead of a message."""

    reason: str


def tolerant_deserializer(
    deserializer: Callable[[bytes], Any] | None,
) -> Callable[[bytes], Any] | None:
    """grpcio answers INTERNAL ("Exception deserializing request!") when the request's bytes do
    not parse, and logs an error with a traceback: a caller's malformed request would look like a
    server fault. Handing the RPC an UndecodableRequest instead lets it answer INVALID_ARGUMENT,
    after authenticating the caller like any other request."""
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError as error:
            return UndecodableRequest(str(error))

    return deserialize


def _refuse_undecodable(request: Any) -> None:
    if isinstance(request, UndecodableRequest):
        raise InvalidArgument(FieldViolation("request", f"not a valid message: {request.reason}"))


class ServiceInterceptor(grpc.ServerInterceptor):
    def __init__(self, verifier: Verifier, service_rpcs: ServiceRpcs = NO_SERVICE_RPCS) -> None:
        self._verifier = verifier
        # What each service principal may call; every other RPC is refused to it (deny by default).
        self._service_rpcs = service_rpcs

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        service, _, method = handler_call_details.method.lstrip("/").rpartition("/")
        public = service in PUBLIC_SERVICES
        if handler.unary_unary is None:
            if public:
                return handler
            kind = rpc_type(
                client_streaming=handler.stream_unary is not None or handler.stream_stream is not None,
                server_streaming=handler.unary_stream is not None or handler.stream_stream is not None,
            )
            meter = meter_for(kind, service, method)
            return self._authenticated_stream(handler, handler_call_details.method, meter)
        behavior = handler.unary_unary
        meter = meter_for(UNARY, service, method)

        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            meter.started()
            meter.received()
            code = grpc.StatusCode.OK
            identity_reset: contextvars.Token[Identity] | None = None
            token_reset: contextvars.Token[str] | None = None
            request_id_reset = bind_request_id(_metadata_value(context, REQUEST_ID_METADATA))
            try:
                if not public:
                    header = _authorization(context)
                    caller = self._verifier.verify_header(header)
                    ensure_service_may_call(caller, handler_call_details.method, self._service_rpcs)
                    identity_reset = _CALLER.set(caller)
                    token_reset = _CALLER_TOKEN.set(str(header).partition(" ")[2].strip())
                _refuse_undecodable(request)
                response = behavior(request, context)
                meter.sent()
                return response
            except DomainError as error:
                status = grpc_status_for(error)
                code = status.code
                context.abort_with_status(status)
            except DBAPIError as error:
                transient = transient_database_code(error)
                if transient is None:
                    code = grpc.StatusCode.INTERNAL
                    log.exception(
                        "unhandled database error in RPC", extra={"rpc": handler_call_details.method}
                    )
                    context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log")
                code = transient
                log.warning(
                    "transient database error in RPC: %s",
                    error.orig,
                    extra={"rpc": handler_call_details.method},
                )
                context.abort(transient, "the database is briefly unavailable or busy; retry the call")
            except Exception:
                aborted = _status_code(context)
                if aborted not in (None, grpc.StatusCode.OK):  # the handler aborted by itself
                    code = aborted
                    raise
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in RPC", extra={"rpc": handler_call_details.method})
                context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log")
            finally:
                unbind_request_id(request_id_reset)
                if identity_reset is not None:
                    _CALLER.reset(identity_reset)
                if token_reset is not None:
                    _CALLER_TOKEN.reset(token_reset)
                meter.handled(code, time.perf_counter() - started)
                record_rpc_status(code)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=tolerant_deserializer(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )

    def _authenticated_stream(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str, meter: RpcMeter
    ) -> grpc.RpcMethodHandler[Any, Any]:
        """Streaming RPCs get the same authentication (fail closed); the caller is bound for the
        whole life of a response stream."""
        verify = self._verifier.verify_header
        service_rpcs = self._service_rpcs

        def bind(context: grpc.ServicerContext) -> tuple[contextvars.Token[Identity], contextvars.Token[str]]:
            header = _authorization(context)
            try:
                identity = verify(header)
                ensure_service_may_call(identity, method, service_rpcs)
            except DomainError as error:
                context.abort_with_status(grpc_status_for(error))
            return _CALLER.set(identity), _CALLER_TOKEN.set(str(header).partition(" ")[2].strip())

        def unbind(tokens: tuple[contextvars.Token[Identity], contextvars.Token[str]]) -> None:
            _CALLER.reset(tokens[0])
            _CALLER_TOKEN.reset(tokens[1])

        def counted(requests: Any) -> Any:
            # A client stream's messages, counted as the handler takes them.
            for message in requests:
                meter.received()
                yield message

        def streaming_response(behavior: Callable[..., Any], client_streaming: bool) -> Callable[..., Any]:
            def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
                started = time.perf_counter()
                meter.started()
                code = grpc.StatusCode.OK
                try:
                    tokens = bind(context)
                except Exception:
                    code = _status_code(context) or grpc.StatusCode.UNAUTHENTICATED
                    meter.handled(code, time.perf_counter() - started)
                    record_rpc_status(code)
                    raise
                request_id = bind_request_id(_metadata_value(context, REQUEST_ID_METADATA))
                if not client_streaming:
                    meter.received()
                try:
                    if not client_streaming:
                        _refuse_undecodable(request)
                    for response in behavior(counted(request) if client_streaming else request, context):
                        meter.sent()
                        yield response
                except DomainError as error:
                    # Raised before the first message or while streaming: either way the client
                    # gets the status a unary call would, not UNKNOWN.
                    status = grpc_status_for(error)
                    code = status.code
                    context.abort_with_status(status)
                except DBAPIError as error:
                    transient = transient_database_code(error)
                    if transient is None:
                        code = grpc.StatusCode.INTERNAL
                        log.exception("unhandled database error in a streaming RPC")
                        context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log")
                    code = transient
                    context.abort(transient, "the database is briefly unavailable or busy; retry the call")
                except GeneratorExit:
                    code = grpc.StatusCode.CANCELLED  # the client went away mid-stream
                    raise
                except Exception:
                    code = _status_code(context) or grpc.StatusCode.UNKNOWN
                    if code is grpc.StatusCode.OK:
                        code = grpc.StatusCode.UNKNOWN
                    raise
                finally:
                    unbind_request_id(request_id)
                    unbind(tokens)
                    meter.handled(code, time.perf_counter() - started)
                    record_rpc_status(code)

            return wrapped

        def single_response(behavior: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
                started = time.perf_counter()
                meter.started()
                code = grpc.StatusCode.OK
                try:
                    tokens = bind(context)
                except Exception:
                    meter.handled(_status_code(context) or grpc.StatusCode.UNAUTHENTICATED, 0.0)
                    raise
                request_id = bind_request_id(_metadata_value(context, REQUEST_ID_METADATA))
                try:
                    response = behavior(counted(request), context)
                    meter.sent()
                    return response
                except Exception:
                    code = _status_code(context) or grpc.StatusCode.UNKNOWN
                    raise
                finally:
                    unbind_request_id(request_id)
                    unbind(tokens)
                    meter.handled(code, time.perf_counter() - started)
                    record_rpc_status(code)

            return wrapped

        serializers = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                streaming_response(handler.unary_stream, client_streaming=False),
                request_deserializer=tolerant_deserializer(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                streaming_response(handler.stream_stream, client_streaming=True), **serializers
            )
        if handler.stream_unary is None:
            raise ValueError("a method handler without a behaviour")
        return grpc.stream_unary_rpc_method_handler(single_response(handler.stream_unary), **serializers)


def _authorization(context: grpc.ServicerContext) -> str | None:
    """The authorization header; gRPC metadata values are bytes only for keys ending in -bin."""
    return _metadata_value(context, AUTHORIZATION_HEADER)


def _metadata_value(context: grpc.ServicerContext, key: str) -> str | None:
    value = dict(context.invocation_metadata()).get(key)
    return value.decode() if isinstance(value, bytes) else value


def _status_code(context: grpc.ServicerContext) -> grpc.StatusCode | None:
    # The server context has code() since grpcio 1.38; the typeshed stubs do not list it.
    code: grpc.StatusCode | None = cast(Any, context).code()
    return code
