"""Console entry point `salesplane-gateway`: read the environment, serve with waitress, stop on SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

from prometheus_client import start_http_server
from waitress.server import create_server

from salesplane_gateway.app import create_app
from salesplane_gateway.clients import ServiceClients
from salesplane_gateway.config import GatewayConfig
from salesplane_platform.errors import ConfigurationError
from salesplane_platform.json_logging import configure_logging
from salesplane_platform.tracing import configure_tracing

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger(__name__)
SERVICE_NAME = "gateway"


class _StopRequested(SystemExit):
    """Raised in the main thread by the signal handler; waitress's loop ends on SystemExit and
    lets the worker threads finish the requests they are handling."""


def http_server(app: WSGIApplication, config: GatewayConfig) -> Any:
    """The waitress server the gateway runs under (the gateway benchmark serves its hello-world
    ceiling with the same one, so the two cannot drift apart)."""
    return create_server(
        app,
        host=config.host,
        port=config.port,
        threads=config.threads,
        ident="salesplane-gateway",
        # Without trusted proxies waitress drops every X-Forwarded-* header; with them it passes them
        # on to the app, which believes only the proxies' own entries (trusted_proxies.py).
        clear_untrusted_proxy_headers=not config.trusted_proxies,
    )


def main() -> None:
    configure_logging(SERVICE_NAME)
    try:
        config = GatewayConfig.from_env()
    except ConfigurationError as error:
        log.error("invalid configuration", extra={"error": str(error)})
        sys.exit(2)
    configure_logging(SERVICE_NAME, config.log_level)
    stop_tracing = configure_tracing(SERVICE_NAME)
    clients = ServiceClients(config.targets)
    app = create_app(config, clients)
    server = http_server(app, config)

    def request_stop(signum: int, _frame: object) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        raise _StopRequested(0)

    if config.metrics_port:
        start_http_server(config.metrics_port, addr=config.host)
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info(
        "gateway started",
        extra={
            "host": config.host,
            "port": getattr(server, "effective_port", config.port),
            "metrics_port": config.metrics_port,
            "upstreams": config.targets,
        },
    )
    try:
        server.run()
    finally:
        server.close()
        clients.close()
        stop_tracing()
        log.info("gateway stopped")


if __name__ == "__main__":
    main()
