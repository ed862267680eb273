"""A component's token verification fails closed: outside development it needs a provider and
refuses a shared secret; the development secret is the fallback of development alone."""

from __future__ import annotations

import pytest

from salesplane_platform.authentication import DEV_AUTH_SECRET, TokenVerifiers, auth_settings_from
from salesplane_platform.errors import ConfigurationError, Unauthenticated
from salesplane_platform.identity import issue_token
from salesplane_platform.settings import ServiceSettings

OIDC = {
    "SALESPLANE_OIDC_ISSUER": "https://id.example.test/realms/sales",
    "SALESPLANE_OIDC_AUDIENCE": "salesplane",
    "SALESPLANE_OIDC_JWKS_URL": "http://127.0.0.1:9/certs",
}


@pytest.mark.parametrize("env", [{}, {"SALESPLANE_ENV": "production"}, {"SALESPLANE_ENV": "staging"}])
def test_without_verification_keys_a_component_refuses_to_start(env):
    with pytest.raises(ConfigurationError, match="no token verification keys"):
        auth_settings_from(env)
    with pytest.raises(ConfigurationError, match="no token verification keys"):
        ServiceSettings.from_env("leads", default_grpc_port=1, default_metrics_port=2, environ=env)


def test_a_shared_secret_is_refused_outside_development():
    env = {**OIDC, "SALESPLANE_ENV": "production", "SALESPLANE_AUTH_SECRET": "s" * 40}
    with pytest.raises(ConfigurationError, match="development setting"):
        auth_settings_from(env)


def test_production_verifies_the_providers_tokens_only():
    settings = auth_settings_from({**OIDC, "SALESPLANE_ENV": "production"})
    assert not settings.development and settings.shared_secret == ""
    assert settings.oidc is not None and settings.oidc.audience == "salesplane"
    # A development token is not even tried against a secret: there is none.
    with pytest.raises(Unauthenticated):
        TokenVerifiers(settings).verify_header(f"Bearer {issue_token(DEV_AUTH_SECRET, 'root', ['admin'])}")


def test_development_falls_back_to_the_development_secret_and_checks_a_given_one():
    assert auth_settings_from({"SALESPLANE_ENV": "development"}).shared_secret == DEV_AUTH_SECRET
    assert (
        auth_settings_from({"SALESPLANE_ENV": "dev", "SALESPLANE_AUTH_SECRET": "k" * 32}).shared_secret
        == "k" * 32
    )
    with pytest.raises(ConfigurationError, match="at least 32"):
        auth_settings_from({"SALESPLANE_ENV": "development", "SALESPLANE_AUTH_SECRET": "short"})
    verifiers = TokenVerifiers(auth_settings_from({"SALESPLANE_ENV": "development"}))
    assert verifiers.verify_header(f"Bearer {issue_token(DEV_AUTH_SECRET, 'ann', ['rep'])}").subject == "ann"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"SALESPLANE_OIDC_AUDIENCE": ""}, "go together"),
        ({"SALESPLANE_OIDC_ALGORITHMS": "HS256"}, "not allowed"),
        ({"SALESPLANE_OIDC_ALGORITHMS": "none"}, "not allowed"),
        ({"SALESPLANE_OIDC_LEEWAY_SECONDS": "3600"}, "leeway"),
        ({"SALESPLANE_OIDC_LEEWAY_SECONDS": "-1"}, "whole number"),
    ],
)
def test_a_bad_provider_setting_is_a_clear_start_up_error(extra, message):
    with pytest.raises(ConfigurationError, match=message):
        auth_settings_from({**OIDC, "SALESPLANE_ENV": "production", **extra})
