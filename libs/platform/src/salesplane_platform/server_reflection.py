"""gRPC server reflection under both of its names: `grpc.reflection.v1` (what grpcurl and current
clients ask for first) and `grpc.reflection.v1alpha` (what older ones know).

grpcio-reflection ships only the v1alpha service. The v1 protocol is the v1alpha one under a new
package: the messages have the same fields with the same numbers, so the same servicer answers
the v1 method, its messages read and written with the v1alpha classes. The bytes on the wire are
the same."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from grpc_reflection.v1alpha import reflection
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"


def enable_reflection(server: grpc.Server, service_names: Sequence[str]) -> None:
    names = [*service_names, reflection.SERVICE_NAME, V1_SERVICE_NAME]
    servicer = reflection.ReflectionServicer(names)
    reflection.enable_server_reflection(names, server)
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                V1_SERVICE_NAME,
                {
                    "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                        servicer.ServerReflectionInfo,
                        request_deserializer=v1alpha.ServerReflectionRequest.FromString,
                        response_serializer=v1alpha.ServerReflectionResponse.SerializeToString,
                    )
                },
            )
        ]
    )
