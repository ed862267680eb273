"""What every request handler reaches for: the app's clients and settings, and the caller."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g

from salesplane_gateway.clients import ServiceClients
from salesplane_gateway.config import GatewayConfig
from salesplane_platform.identity import Identity, TokenVerifier

EXTENSION_KEY = "salesplane_gateway"


@dataclass(frozen=True)
class GatewayState:
    config: GatewayConfig
    clients: ServiceClients
    verifier: TokenVerifier


def state() -> GatewayState:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def caller() -> Identity:
    return g.identity  # type: ignore[no-any-return]
