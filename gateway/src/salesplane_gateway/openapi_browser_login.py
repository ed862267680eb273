"""The browser login's routes (browser_login.py) in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from salesplane_gateway.openapi_components import JSON, Components
from salesplane_gateway.openapi_schemas import ref

TAG = {
    "name": "browser login",
    "description": "Signing a browser in with the OpenID Connect provider (authorization code with "
    "PKCE) into an encrypted session cookie; /v1 calls may then use the cookie instead of a bearer "
    "token, with X-CSRF-Token on state-changing ones. Without a configured client every route "
    "answers 404 (login-not-configured).",
}

SESSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["subject", "email", "name", "expires_at", "access_token_expires_at", "csrf_token"],
    "properties": {
        "subject": {"type": "string", "description": "The Salesplane user id."},
        "email": {"type": "string", "description": "As the provider vouches for it; empty if not."},
        "name": {"type": "string"},
        "expires_at": {
            "type": "string",
            "format": "date-time",
            "description": "When the session ends, however often its tokens are renewed.",
        },
        "access_token_expires_at": {"type": "string", "format": "date-time"},
        "csrf_token": {
            "type": "string",
            "description": "To send as X-CSRF-Token with every state-changing call made with the cookie.",
        },
    },
}


def browser_login_paths(components: Components) -> dict[str, Any]:
    components.schemas.schemas["BrowserSession"] = SESSION_SCHEMA

    def operation(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
        return {
            "operationId": operation_id,
            "tags": [TAG["name"]],
            "summary": summary,
            "security": [],
            "responses": {**responses, "404": components.problem_ref("404")},
        }

    def redirect(description: str) -> dict[str, Any]:
        return {
            "description": description,
            "headers": {**components.request_id_header(), "Location": {"schema": {"type": "string"}}},
        }

    login_failed = components.problem_response(
        "The sign-in failed (type login-failed): no login in progress in this browser, a state of "
        "another, the provider's refusal of the code, or an ID token not issued for this login."
    )
    csrf_failed = components.problem_response(
        "The CSRF token is missing or not the session's, or the request comes from another origin "
        "(type csrf-failed)."
    )
    return {
        "/auth/login": {
            "get": {
                **operation(
                    "browserLogin",
                    "Sign in: to the identity provider, then back to `next`",
                    {
                        "302": redirect("To the provider's authorization endpoint."),
                        "400": components.problem_ref("400"),
                        "503": components.problem_ref("503"),
                    },
                ),
                "parameters": [
                    {
                        "name": "next",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "default": "/"},
                        "description": "A path of this gateway to return to (no other host).",
                    }
                ],
            }
        },
        "/auth/callback": {
            "get": operation(
                "browserLoginCallback",
                "The provider's answer: the session cookie is issued",
                {
                    "303": redirect("Signed in: to the login's `next`."),
                    "400": login_failed,
                    "503": components.problem_ref("503"),
                },
            )
        },
        "/auth/logout": {
            "post": operation(
                "browserLogout",
                "Sign out, here and at the identity provider",
                {
                    "303": redirect("To the provider's end-session endpoint, which returns to `/`."),
                    "403": csrf_failed,
                },
            )
        },
        "/auth/session": {
            "get": operation(
                "browserSession",
                "Who is signed in with the session cookie",
                {
                    "200": {
                        "description": "Signed in.",
                        "headers": components.request_id_header(),
                        "content": {JSON: {"schema": ref("BrowserSession")}},
                    },
                    "401": components.problem_ref("401"),
                    "503": components.problem_ref("503"),
                },
            )
        },
    }
