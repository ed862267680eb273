"""What every request handler reaches for: the app's clients and settings, and the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app, g

from salesplane_gateway.clients import ServiceClients
from salesplane_gateway.config import GatewayConfig
from salesplane_platform.authentication import Verifier
from salesplane_platform.identity import Identity

EXTENSION_KEY = "salesplane_gateway"


@dataclass(frozen=True)
class GatewayState:
    config: GatewayConfig
    clients: ServiceClients
    verifier: Verifier


def state() -> GatewayState:
    # Flask types extensions as dict[str, Any]; create_app keeps a GatewayState under this key.
    return cast(GatewayState, current_app.extensions[EXTENSION_KEY])


def caller() -> Identity:
    # flask.g is untyped; the API blueprint's before_request hook sets the verified identity.
    return cast(Identity, g.identity)
