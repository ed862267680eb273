"""The browser login's settings from the environment: off without a client id, and a start refused
(fail closed) when what it needs is missing or unsafe outside development."""

from __future__ import annotations

import base64
import logging

import pytest

from salesplane_gateway.config import GatewayConfig
from salesplane_platform.errors import ConfigurationError

KEY_1 = base64.b64encode(bytes(range(32))).decode()
KEY_2 = base64.urlsafe_b64encode(bytes(range(32, 64))).decode().rstrip("=")
PRODUCTION = {
    "SALESPLANE_OIDC_ISSUER": "https://id.example.com/realms/salesplane",
    "SALESPLANE_OIDC_AUDIENCE": "salesplane",
}
LOGIN = {
    **PRODUCTION,
    "SALESPLANE_OIDC_CLIENT_ID": "salesplane-console",
    "SALESPLANE_OIDC_CLIENT_SECRET": "s3cret",
    "SALESPLANE_GATEWAY_PUBLIC_URL": "https://sales.example.com/",
    "SALESPLANE_GATEWAY_SESSION_KEY": f"{KEY_1}, {KEY_2}",
}
DEVELOPMENT = {**LOGIN, "SALESPLANE_ENV": "development"}


def test_without_a_client_id_there_is_no_browser_login() -> None:
    assert GatewayConfig.from_env(PRODUCTION).browser_login is None


def test_the_login_is_read_from_the_environment() -> None:
    settings = GatewayConfig.from_env(
        {**LOGIN, "SALESPLANE_GATEWAY_SESSION_MAX_AGE_SECONDS": "3600"}
    ).browser_login

    assert settings is not None
    assert (settings.client_id, settings.client_secret) == ("salesplane-console", "s3cret")
    assert settings.public_url == "https://sales.example.com"
    assert settings.redirect_uri == "https://sales.example.com/auth/callback"
    assert settings.session_keys == (bytes(range(32)), bytes(range(32, 64)))
    assert settings.cookie_secure is True
    assert settings.session_max_age_seconds == 3600
    # Neither the secret nor the keys show in logs of the settings.
    assert "s3cret" not in repr(settings) and "session_keys" not in repr(settings)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SALESPLANE_GATEWAY_SESSION_KEY": ""}, "SALESPLANE_GATEWAY_SESSION_KEY is missing"),
        ({"SALESPLANE_GATEWAY_SESSION_KEY": "c2hvcnQ="}, "key 1 is 5 bytes"),
        ({"SALESPLANE_GATEWAY_SESSION_KEY": f"{KEY_1},not*base64"}, "key 2 is not base64"),
        ({"SALESPLANE_OIDC_CLIENT_SECRET": ""}, "SALESPLANE_OIDC_CLIENT_SECRET is missing"),
        ({"SALESPLANE_GATEWAY_PUBLIC_URL": ""}, "SALESPLANE_GATEWAY_PUBLIC_URL is missing"),
        ({"SALESPLANE_GATEWAY_PUBLIC_URL": "http://sales.example.com"}, "must be https"),
        ({"SALESPLANE_GATEWAY_PUBLIC_URL": "https://sales.example.com/app"}, "must be an origin"),
        ({"SALESPLANE_GATEWAY_PUBLIC_URL": "sales.example.com"}, "must be an origin"),
        ({"SALESPLANE_GATEWAY_SESSION_COOKIE_SECURE": "false"}, "development setting"),
        ({"SALESPLANE_GATEWAY_SESSION_MAX_AGE_SECONDS": "60"}, "from 300 to 604800"),
        (
            {"SALESPLANE_OIDC_ISSUER": "", "SALESPLANE_OIDC_AUDIENCE": "", "SALESPLANE_ENV": "development"},
            "needs the OpenID Connect provider",
        ),
    ],
)
def test_a_login_missing_what_it_needs_refuses_to_start(change: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        GatewayConfig.from_env({**LOGIN, **change})


def test_a_client_secret_without_a_client_id_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="without SALESPLANE_OIDC_CLIENT_ID"):
        GatewayConfig.from_env({**PRODUCTION, "SALESPLANE_OIDC_CLIENT_SECRET": "s3cret"})


@pytest.mark.parametrize(
    ("configured", "origin"),
    [
        ("https://Sales.Example.com:443", "https://sales.example.com"),
        ("https://sales.example.com:8443/", "https://sales.example.com:8443"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_the_public_url_is_kept_as_browsers_send_their_origin(configured: str, origin: str) -> None:
    settings = GatewayConfig.from_env({**LOGIN, "SALESPLANE_GATEWAY_PUBLIC_URL": configured}).browser_login

    assert settings is not None and settings.public_url == origin


def test_plain_http_on_loopback_is_accepted_outside_development() -> None:
    settings = GatewayConfig.from_env(
        {**LOGIN, "SALESPLANE_GATEWAY_PUBLIC_URL": "http://127.0.0.1:8080"}
    ).browser_login

    assert settings is not None and settings.public_url == "http://127.0.0.1:8080"


def test_development_may_turn_secure_off_and_go_without_a_key(caplog: pytest.LogCaptureFixture) -> None:
    environment = {
        **DEVELOPMENT,
        "SALESPLANE_GATEWAY_SESSION_COOKIE_SECURE": "false",
        "SALESPLANE_GATEWAY_SESSION_KEY": "",
        "SALESPLANE_GATEWAY_PUBLIC_URL": "http://sales.test:8080",
    }
    with caplog.at_level(logging.WARNING):
        settings = GatewayConfig.from_env(environment).browser_login

    assert settings is not None and settings.cookie_secure is False
    assert len(settings.session_keys) == 1 and len(settings.session_keys[0]) == 32
    assert "made up for this process" in caplog.text
    # Another process makes another key.
    other = GatewayConfig.from_env(environment).browser_login
    assert other is not None and other.session_keys != settings.session_keys
