"""Settings of the edge (rate limits, trusted proxies, CORS) from the environment, and the served
gateway believing a trusted proxy's headers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from salesplane_gateway.config import GatewayConfig
from salesplane_platform.errors import ConfigurationError

DEVELOPMENT = {"SALESPLANE_ENV": "development"}


def test_the_edge_defaults_suit_a_production_gateway() -> None:
    config = GatewayConfig.from_env(DEVELOPMENT)

    assert (config.rate_limit_per_second, config.rate_limit_burst) == (20.0, 40)
    assert config.rate_limited
    assert config.trusted_proxies == 0
    assert config.cors_origins == ()
    assert config.cors_allow_credentials is False
    assert config.cors_max_age_seconds == 600


def test_every_edge_setting_is_read_from_the_environment() -> None:
    config = GatewayConfig.from_env(
        {
            **DEVELOPMENT,
            "SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND": "2.5",
            "SALESPLANE_GATEWAY_RATE_LIMIT_BURST": "10",
            "SALESPLANE_GATEWAY_TRUSTED_PROXIES": "2",
            "SALESPLANE_GATEWAY_CORS_ORIGINS": " https://app.example.com , http://localhost:3000,"
            "https://app.example.com",
            "SALESPLANE_GATEWAY_CORS_ALLOW_CREDENTIALS": "True",
            "SALESPLANE_GATEWAY_CORS_MAX_AGE_SECONDS": "7200",
        }
    )

    assert (config.rate_limit_per_second, config.rate_limit_burst) == (2.5, 10)
    assert config.trusted_proxies == 2
    assert config.cors_origins == ("https://app.example.com", "http://localhost:3000")
    assert config.cors_allow_credentials is True
    assert config.cors_max_age_seconds == 7200


@pytest.mark.parametrize(
    "setting", ["SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND", "SALESPLANE_GATEWAY_RATE_LIMIT_BURST"]
)
def test_a_rate_or_burst_of_zero_turns_the_limit_off(setting: str) -> None:
    assert not GatewayConfig.from_env({**DEVELOPMENT, setting: "0"}).rate_limited


def test_any_origin_is_accepted_alone_and_without_credentials() -> None:
    config = GatewayConfig.from_env({**DEVELOPMENT, "SALESPLANE_GATEWAY_CORS_ORIGINS": "*"})

    assert config.cors_origins == ("*",) and not config.cors_allow_credentials


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND", "fast", "not a number"),
        ("SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND", "-1", "0 or more"),
        ("SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND", "nan", "0 or more"),
        ("SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND", "inf", "0 or more"),
        ("SALESPLANE_GATEWAY_RATE_LIMIT_BURST", "-1", "whole number"),
        ("SALESPLANE_GATEWAY_RATE_LIMIT_BURST", "2.5", "whole number"),
        ("SALESPLANE_GATEWAY_TRUSTED_PROXIES", "one", "whole number"),
        ("SALESPLANE_GATEWAY_TRUSTED_PROXIES", "-1", "whole number"),
        ("SALESPLANE_GATEWAY_CORS_ALLOW_CREDENTIALS", "yes", "true or false"),
        ("SALESPLANE_GATEWAY_CORS_MAX_AGE_SECONDS", "0", "positive integer"),
        ("SALESPLANE_GATEWAY_CORS_ORIGINS", "https://app.example.com/", "not an origin"),
        ("SALESPLANE_GATEWAY_CORS_ORIGINS", "https://app.example.com/login", "not an origin"),
        ("SALESPLANE_GATEWAY_CORS_ORIGINS", "app.example.com", "not an origin"),
        ("SALESPLANE_GATEWAY_CORS_ORIGINS", "https://App.Example.com", "not an origin"),
        ("SALESPLANE_GATEWAY_CORS_ORIGINS", "https://app.example.com:443", "default port"),
        ("SALESPLANE_GATEWAY_CORS_ORIGINS", "http://localhost:80", "default port"),
        ("SALESPLANE_GATEWAY_CORS_ORIGINS", "ftp://files.example.com", "not an origin"),
        ("SALESPLANE_GATEWAY_CORS_ORIGINS", "null", "not an origin"),
        ("SALESPLANE_GATEWAY_CORS_ORIGINS", "https://*.example.com", "not an origin"),
        ("SALESPLANE_GATEWAY_CORS_ORIGINS", "*, https://app.example.com", "'*' already allows"),
    ],
)
def test_bad_edge_settings_are_refused_with_the_reason(name: str, value: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=name) as refused:
        GatewayConfig.from_env({**DEVELOPMENT, name: value})

    assert complaint in str(refused.value)


def test_credentials_for_any_origin_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="CORS_ALLOW_CREDENTIALS=true cannot be combined"):
        GatewayConfig.from_env(
            {
                **DEVELOPMENT,
                "SALESPLANE_GATEWAY_CORS_ORIGINS": "*",
                "SALESPLANE_GATEWAY_CORS_ALLOW_CREDENTIALS": "true",
            }
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _hsts_behind_a_proxy(base: str) -> str | None:
    request = urllib.request.Request(f"{base}/healthz", headers={"X-Forwarded-Proto": "https"})
    with urllib.request.urlopen(request, timeout=1) as response:
        return response.headers.get("Strict-Transport-Security")


@pytest.mark.parametrize(("trusted_proxies", "hsts"), [("1", True), ("0", False)])
def test_the_served_gateway_believes_x_forwarded_proto_only_from_trusted_proxies(
    free_target: str, trusted_proxies: str, hsts: bool
) -> None:
    """waitress drops X-Forwarded-* unless the gateway trusts proxies; then the app reads them."""
    port = _free_port()
    env = {
        **os.environ,
        "SALESPLANE_GATEWAY_HOST": "127.0.0.1",
        "SALESPLANE_GATEWAY_PORT": str(port),
        "SALESPLANE_AUTH_SECRET": "s" * 40,
        "SALESPLANE_GATEWAY_TRUSTED_PROXIES": trusted_proxies,
        "SALESPLANE_OPPORTUNITIES_TARGET": free_target,
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from salesplane_gateway.main import main; main()"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                header = _hsts_behind_a_proxy(f"http://127.0.0.1:{port}")
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    assert (header == "max-age=31536000; includeSubDomains") is hsts, header
