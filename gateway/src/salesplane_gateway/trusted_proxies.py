"""The client's address and scheme as the trusted proxies in front of the gateway saw them.

With SALESPLANE_GATEWAY_TRUSTED_PROXIES=N (an ingress controller: 1), the N-th X-Forwarded-For
entry from the right is the client and the N-th X-Forwarded-Proto value its scheme: what
`request.remote_addr` and `request.is_secure` then say, for the rate limits and HSTS. Entries
further left were written by the client and are never believed. With 0 (the default) the
headers are ignored, since anyone can send them. Werkzeug's ProxyFix does the parsing.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from salesplane_gateway.config import GatewayConfig


def install_trusted_proxies(app: Flask, config: GatewayConfig) -> None:
    if config.trusted_proxies:
        # Flask types wsgi_app as a method; replacing it with middleware is the documented way.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=config.trusted_proxies, x_proto=config.trusted_proxies
        )
