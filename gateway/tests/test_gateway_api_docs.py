"""The browsable documentation's page and files (api_docs.py): served from the pinned Swagger UI
and the gateway's own assets only, under a policy that allows no inline script."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from salesplane_gateway.api_docs import OWN_ASSETS, SWAGGER_UI_ASSETS, swagger_ui_version


def test_the_page_loads_only_served_assets_under_a_policy_without_inline_scripts(client: FlaskClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-eval" not in policy
    page = response.get_data(as_text=True)
    assert "<script>" not in page  # every script is a file
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert referenced and all(url.startswith("/docs/assets/") for url in referenced)
    for url in referenced:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["Cache-Control"] == "public, max-age=86400"


def test_the_script_points_swagger_ui_at_the_served_document_with_no_online_validator(
    client: FlaskClient,
) -> None:
    script = client.get("/docs/assets/api-docs.js").get_data(as_text=True)

    assert 'url: "/openapi.json"' in script
    assert "validatorUrl: null" in script


def test_only_the_listed_files_are_served(client: FlaskClient) -> None:
    for name in ("swagger-ui.js", "LICENSE", "VERSION", "api-docs.html", "..%2Fapi_docs.py", "x"):
        response = client.get(f"/docs/assets/{name}")
        assert response.status_code == 404, name
        assert response.mimetype == "application/problem+json"
    assert {"swagger-ui-bundle.js", "swagger-ui.css"} <= SWAGGER_UI_ASSETS
    assert {"api-docs.js", "api-docs.css"} == OWN_ASSETS


def test_swagger_ui_is_a_version_that_reads_openapi_3_1() -> None:
    assert int(swagger_ui_version().split(".")[0]) >= 5
