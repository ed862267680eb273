"""A service running inside the test process, reached over a real gRPC channel."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from salesplane_platform.identity import issue_token
from salesplane_platform.service_process import ServiceDefinition, ServiceProcess
from salesplane_platform.settings import ServiceSettings


@dataclass(frozen=True)
class RunningService:
    process: ServiceProcess
    channel: grpc.Channel
    settings: ServiceSettings

    def bearer(self, subject: str, *roles: str) -> list[tuple[str, str]]:
        """gRPC metadata carrying a token for subject with these roles."""
        return [("authorization", f"Bearer {issue_token(self.settings.auth_secret, subject, roles)}")]


@contextlib.contextmanager
def running_service(
    definition: ServiceDefinition,
    data_dir: Path,
    *,
    roles: str = "api",
    environ: Mapping[str, str] | None = None,
) -> Iterator[RunningService]:
    """Start the service on free ports (SQLite in data_dir unless environ names a database), with
    only `roles` by default the API, so no relay or consumer writes in the background."""
    settings = ServiceSettings.from_env(
        definition.name,
        default_grpc_port=0,
        default_metrics_port=0,
        environ={
            "SALESPLANE_ENV": "development",
            "SALESPLANE_DATA_DIR": str(data_dir),
            "SALESPLANE_ROLES": roles,
            **(environ or {}),
        },
    )
    process = ServiceProcess(definition, settings)
    process.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}")
    try:
        yield RunningService(process, channel, settings)
    finally:
        channel.close()
        process.stop()
