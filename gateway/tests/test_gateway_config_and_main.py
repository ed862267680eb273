"""Settings from the environment, and the console entry point's start and SIGTERM stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import jwt
import pytest

from salesplane_gateway.config import GatewayConfig
from salesplane_platform.errors import ConfigurationError
from salesplane_platform.settings import DEV_AUTH_SECRET

DEVELOPMENT = {"SALESPLANE_ENV": "development"}


def test_defaults_are_the_laptop_ones() -> None:
    config = GatewayConfig.from_env(DEVELOPMENT)

    assert config.port == 8080
    assert config.host == "0.0.0.0"
    assert config.targets == {
        "leads": "127.0.0.1:50051",
        "opportunities": "127.0.0.1:50052",
        "forecasting": "127.0.0.1:50053",
        "org": "127.0.0.1:50053",  # OrgService is served by forecasting
        "reporting": "127.0.0.1:50054",
    }
    assert config.auth_secret == DEV_AUTH_SECRET
    assert config.rpc_timeout_seconds == 5.0
    assert (config.max_body_bytes, config.max_import_bytes) == (1024 * 1024, 20 * 1024 * 1024)
    assert config.import_rpc_timeout_seconds == 60.0
    assert config.download_rpc_timeout_seconds == 300.0


def test_the_org_upstream_follows_forecasting_unless_set() -> None:
    following = GatewayConfig.from_env({**DEVELOPMENT, "SALESPLANE_FORECASTING_TARGET": "forecasting:3"})
    separate = GatewayConfig.from_env(
        {**DEVELOPMENT, "SALESPLANE_FORECASTING_TARGET": "forecasting:3", "SALESPLANE_ORG_TARGET": "org:5"}
    )

    assert following.targets["org"] == "forecasting:3"
    assert separate.targets["org"] == "org:5"


def test_every_setting_is_read_from_the_environment() -> None:
    config = GatewayConfig.from_env(
        {
            **DEVELOPMENT,
            "SALESPLANE_GATEWAY_PORT": "9000",
            "SALESPLANE_GATEWAY_HOST": "127.0.0.1",
            "SALESPLANE_LEADS_TARGET": "leads:1",
            "SALESPLANE_OPPORTUNITIES_TARGET": "opportunities:2",
            "SALESPLANE_FORECASTING_TARGET": "forecasting:3",
            "SALESPLANE_REPORTING_TARGET": "reporting:4",
            "SALESPLANE_AUTH_SECRET": "s" * 40,
            "SALESPLANE_GATEWAY_RPC_TIMEOUT_SECONDS": "2.5",
            "SALESPLANE_GATEWAY_MAX_BODY_BYTES": "2048",
            "SALESPLANE_GATEWAY_MAX_IMPORT_BYTES": "4096",
            "SALESPLANE_GATEWAY_IMPORT_RPC_TIMEOUT_SECONDS": "90",
            "SALESPLANE_GATEWAY_DOWNLOAD_RPC_TIMEOUT_SECONDS": "600",
            "SALESPLANE_LOG_LEVEL": "debug",
        }
    )

    assert (config.host, config.port) == ("127.0.0.1", 9000)
    assert config.targets == {
        "leads": "leads:1",
        "opportunities": "opportunities:2",
        "forecasting": "forecasting:3",
        "org": "forecasting:3",
        "reporting": "reporting:4",
    }
    assert (config.max_body_bytes, config.max_import_bytes) == (2048, 4096)
    assert config.import_rpc_timeout_seconds == 90.0
    assert config.download_rpc_timeout_seconds == 600.0
    assert config.auth_secret == "s" * 40
    assert config.rpc_timeout_seconds == 2.5
    assert config.log_level == "DEBUG"


@pytest.mark.parametrize(
    "environ",
    [
        {**DEVELOPMENT, "SALESPLANE_GATEWAY_PORT": "http"},
        {**DEVELOPMENT, "SALESPLANE_GATEWAY_PORT": "70000"},
        {**DEVELOPMENT, "SALESPLANE_GATEWAY_RPC_TIMEOUT_SECONDS": "0"},
        {**DEVELOPMENT, "SALESPLANE_GATEWAY_RPC_TIMEOUT_SECONDS": "nan"},
        {**DEVELOPMENT, "SALESPLANE_GATEWAY_DOWNLOAD_RPC_TIMEOUT_SECONDS": "-1"},
        {**DEVELOPMENT, "SALESPLANE_GATEWAY_THREADS": "0"},
        {**DEVELOPMENT, "SALESPLANE_GATEWAY_MAX_IMPORT_BYTES": "-1"},
        # Without verification keys, or with a shared secret outside development.
        {},
        {"SALESPLANE_ENV": "production"},
        {"SALESPLANE_ENV": "production", "SALESPLANE_AUTH_SECRET": "s" * 40},
    ],
)
def test_bad_settings_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        GatewayConfig.from_env(
            {**DEVELOPMENT, **environ} if "SALESPLANE_ENV" not in environ and environ else environ
        )


def test_production_takes_the_providers_settings() -> None:
    config = GatewayConfig.from_env(
        {
            "SALESPLANE_ENV": "production",
            "SALESPLANE_OIDC_ISSUER": "https://id.example.test/realms/sales",
            "SALESPLANE_OIDC_AUDIENCE": "salesplane",
            "SALESPLANE_OIDC_JWKS_URL": "http://127.0.0.1:9/certs",
        }
    )
    assert config.auth_secret == "" and config.oidc is not None
    assert config.oidc.issuer == "https://id.example.test/realms/sales"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_console_script_serves_and_stops_cleanly_on_sigterm(free_target: str) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "SALESPLANE_GATEWAY_HOST": "127.0.0.1",
        "SALESPLANE_GATEWAY_PORT": str(port),
        "SALESPLANE_AUTH_SECRET": "s" * 40,
        "SALESPLANE_OPPORTUNITIES_TARGET": free_target,
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from salesplane_gateway.main import main; main()"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1) as response:
                    assert response.status == 200
                    assert response.headers["X-Request-Id"]
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.1)

        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, output
    messages = [json.loads(line)["msg"] for line in output.splitlines() if line.startswith("{")]
    assert "gateway started" in messages
    assert messages[-1] == "gateway stopped"
    access = [
        json.loads(line) for line in output.splitlines() if '"logger": "salesplane_gateway.access"' in line
    ]
    assert access and access[0]["path"] == "/openapi.json" and access[0]["status"] == 200


def test_an_unreachable_identity_provider_is_a_retryable_503_not_a_401(make_client: Any, fake: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from salesplane_platform.oidc import OidcSettings

    oidc = OidcSettings(
        issuer="https://id.example.test/r", audience="salesplane", jwks_url="http://127.0.0.1:9/certs"
    )
    client = make_client(auth_secret="", oidc=oidc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": oidc.issuer, "aud": "salesplane", "sub": "u", "iat": now, "exp": now + 60}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

    response = client.get("/v1/sales-stages", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.get_json()["status"] == 503
    assert fake.calls == []
