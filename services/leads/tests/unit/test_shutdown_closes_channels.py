"""What the API opens (the channel to the opportunities service) is closed when the service stops."""

from __future__ import annotations

from salesplane_leads.entrypoints.main import make_definition, opportunities_from_env
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings


def test_the_opportunities_channel_is_closed_on_stop(tmp_path, monkeypatch):
    closed: list[str] = []

    def opportunities(context):
        service = opportunities_from_env(context)
        context.closables.append(lambda: closed.append("watched"))
        return service

    settings = ServiceSettings.from_env(
        "leads",
        default_grpc_port=0,
        default_metrics_port=0,
        environ={
            "SALESPLANE_ENV": "development",
            "SALESPLANE_DATA_DIR": str(tmp_path),
            "SALESPLANE_ROLES": "api",
        },
    )
    process = ServiceProcess(make_definition(opportunities=opportunities), settings)
    process.start()
    channel_close = process.context.closables[0]
    assert getattr(channel_close, "__self__", None) is not None  # the grpc channel's close
    process.stop()
    assert closed == ["watched"]
