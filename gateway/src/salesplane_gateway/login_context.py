"""What the browser login's views and the session authentication reach for: its settings, the
provider client and the cookies. None when the login is not configured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app

from salesplane_gateway.browser_session import SessionCookies
from salesplane_gateway.config import GatewayConfig
from salesplane_gateway.login_settings import BrowserLoginSettings
from salesplane_gateway.oidc_client import OidcClient
from salesplane_gateway.sealed_values import Sealer
from salesplane_platform.errors import ConfigurationError

LOGIN_KEY = "salesplane_gateway.browser_login"


@dataclass(frozen=True)
class LoginContext:
    settings: BrowserLoginSettings
    provider: OidcClient
    cookies: SessionCookies
    # Origins whose requests may use the session (csrf.py): the gateway's own, and the CORS
    # origins allowed to send credentials.
    allowed_origins: frozenset[str]


def make_login_context(config: GatewayConfig) -> LoginContext | None:
    settings = config.browser_login
    if settings is None:
        return None
    if config.oidc is None:
        raise ConfigurationError("the browser login needs the OpenID Connect provider (config.oidc)")
    credentialed = config.cors_origins if config.cors_allow_credentials else ()
    return LoginContext(
        settings=settings,
        provider=OidcClient(settings, config.oidc),
        cookies=SessionCookies(Sealer(settings.session_keys), secure=settings.cookie_secure),
        allowed_origins=frozenset({settings.public_url, *credentialed}),
    )


def login_context() -> LoginContext | None:
    # Flask types extensions as dict[str, Any]; install_browser_login keeps a LoginContext (or None).
    return cast(LoginContext | None, current_app.extensions.get(LOGIN_KEY))
