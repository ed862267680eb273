"""The browsable documentation's routes (api_docs.py) in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from salesplane_gateway.api_docs import ASSETS_PATH, OWN_ASSETS, PAGE_PATH, SWAGGER_UI_ASSETS
from salesplane_gateway.openapi_components import Components

TAG = "meta"


def api_docs_paths(components: Components) -> dict[str, Any]:
    def operation(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
        return {
            "operationId": operation_id,
            "tags": [TAG],
            "summary": summary,
            "security": [],
            "responses": responses,
        }

    return {
        PAGE_PATH: {
            "get": operation(
                "apiDocs",
                "This document, browsable (Swagger UI, served by the gateway: no internet needed)",
                {"200": {"description": "HTML.", "content": {"text/html": {"schema": {"type": "string"}}}}},
            )
        },
        f"{ASSETS_PATH}/{{name}}": {
            "get": {
                **operation(
                    "apiDocsAsset",
                    "A file of the browsable documentation",
                    {
                        "200": {
                            "description": "The file: a script, a style sheet or an icon.",
                            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                        },
                        "404": components.problem_ref("404"),
                    },
                ),
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": sorted(SWAGGER_UI_ASSETS | OWN_ASSETS)},
                    }
                ],
            }
        },
    }
