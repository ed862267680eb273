"""The browser login: OpenID Connect authorization code with PKCE, for the web console.

    GET  /auth/login?next=/path  to the provider, with state, nonce and an S256 code challenge;
                                 the login in progress is sealed into a 10-minute cookie
    GET  /auth/callback          back from the provider: the state must be this browser's login's;
                                 the code is exchanged with the PKCE verifier and the client
                                 secret; the ID token (signature, issuer, audience, nonce) and the
                                 access token (the gateway's verifier) are checked; the session
                                 cookie is issued and the browser goes on to `next`
    POST /auth/logout            CSRF-checked: the session cookie is cleared, the refresh token
                                 revoked, and the browser sent to the provider's end-session
                                 endpoint, which sends it back to the console (console/)
    GET  /auth/session           who is signed in (JSON, with the CSRF token for scripts), or 401

`next` may only be a path of this gateway (no scheme, host, `//`, backslash or control
character), so the login cannot be used to send someone elsewhere. Without a configured client
every one of these routes answers a 404 problem. The session itself: browser_session.py; the
API's use of it: session_authentication.py; the settings: login_settings.py.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from datetime import UTC, datetime

from flask import Blueprint, Flask, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from salesplane_gateway.browser_session import BrowserSession, PendingLogin
from salesplane_gateway.config import GatewayConfig
from salesplane_gateway.csrf import check_csrf, new_csrf_token
from salesplane_gateway.login_context import LOGIN_KEY, LoginContext, login_context, make_login_context
from salesplane_gateway.problems import (
    Problem,
    identity_provider_unavailable_problem,
    problem_type,
    unauthenticated_problem,
    validation_problem,
)
from salesplane_gateway.request_context import state
from salesplane_gateway.session_authentication import (
    access_token_expiry,
    current_session,
    end_session,
    start_session,
    store_session_changes,
)
from salesplane_platform.errors import FieldViolation, Unauthenticated, Unavailable

log = logging.getLogger(__name__)

BLUEPRINT = "browser_login"
MAX_NEXT_LENGTH = 2048


def install_browser_login(app: Flask, config: GatewayConfig) -> None:
    """The routes above; when config.browser_login is None they answer 404 (not configured)."""
    login = make_login_context(config)
    app.extensions[LOGIN_KEY] = login
    app.register_blueprint(_blueprint())
    if login is not None:
        app.after_request(store_session_changes)


def safe_next_path(raw: str | None) -> str | None:
    """Where to go after signing in: `raw` when it is a path of this gateway (a query may follow),
    "/" when there is none, None when it would lead elsewhere."""
    if not raw:
        return "/"
    if (
        len(raw) > MAX_NEXT_LENGTH
        or not raw.startswith("/")
        or raw.startswith("//")
        or "\\" in raw
        or any(ord(character) < 0x21 or ord(character) == 0x7F for character in raw)
    ):
        # Browsers drop tabs and newlines and read "\" as "/": "/\t/evil.example" leads off-site.
        return None
    return raw


def _blueprint() -> Blueprint:
    blueprint = Blueprint(BLUEPRINT, __name__)
    blueprint.add_url_rule("/auth/login", "login", _login, methods=["GET"])
    blueprint.add_url_rule("/auth/callback", "callback", _callback, methods=["GET"])
    blueprint.add_url_rule("/auth/logout", "logout", _logout, methods=["POST"])
    blueprint.add_url_rule("/auth/session", "session", _session, methods=["GET"])
    return blueprint


def _configured() -> LoginContext:
    login = login_context()
    if login is None:
        raise Problem(
            404,
            "Not found",
            "Browser sign-in is not configured on this gateway (SALESPLANE_OIDC_CLIENT_ID).",
            problem_type("login-not-configured"),
        )
    return login


def _login() -> BaseResponse:
    login = _configured()
    next_path = safe_next_path(request.args.get("next"))
    if next_path is None:
        raise validation_problem(
            [FieldViolation("next", "must be a path of this gateway, such as /reports")],
            "Where to go after signing in must be a path of this gateway.",
        )
    pending = PendingLogin(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        # RFC 7636: 43 to 128 characters of [A-Za-z0-9-._~]; 64 random bytes make 86.
        code_verifier=secrets.token_urlsafe(64),
        next_path=next_path,
        started_at=time.time(),
    )
    try:
        url = login.provider.authorization_url(
            state=pending.state, nonce=pending.nonce, code_verifier=pending.code_verifier
        )
    except Unavailable as error:
        raise identity_provider_unavailable_problem(error.message) from None
    response = redirect(url, code=302)
    login.cookies.write_pending_login(response, pending)
    return response


def _callback() -> BaseResponse:
    login = _configured()
    pending = login.cookies.read_pending_login(request)
    try:
        session = _signed_in_session(login, pending)
    except Problem as problem:
        response: BaseResponse = problem.to_response()
        login.cookies.clear_pending_login(response)
        return response
    start_session(session)
    log.info("signed in", extra={"subject": session.subject})
    response = redirect(pending.next_path if pending is not None else "/", code=303)
    login.cookies.clear_pending_login(response)
    return response


def _signed_in_session(login: LoginContext, pending: PendingLogin | None) -> BrowserSession:
    """The session of a successful callback; a problem for every way it can fail. The pending
    login is used once whatever happens (the callback clears its cookie)."""
    arguments = request.args
    if pending is None:
        raise _login_failed(
            "No sign-in is in progress in this browser, or it took more than 10 minutes; "
            "start again at /auth/login."
        )
    if not hmac.compare_digest(arguments.get("state", "").encode(), pending.state.encode()):
        raise _login_failed("The state does not match this browser's sign-in; start again at /auth/login.")
    if "iss" in arguments and arguments["iss"] != login.provider.issuer:
        # RFC 9207: the answer of another provider than the one asked (a mix-up).
        raise _login_failed("The answer comes from another identity provider.")
    if "error" in arguments:
        error = "".join(c for c in arguments["error"][:64] if c.isalnum() or c in "_-")
        raise _login_failed(f"The identity provider did not sign you in ({error}).")
    code = arguments.get("code", "")
    if not code:
        raise _login_failed("The identity provider's answer has no authorization code.")
    try:
        tokens = login.provider.exchange_code(code=code, code_verifier=pending.code_verifier)
        claims = login.provider.verify_id_token(tokens.id_token, nonce=pending.nonce)
        identity = state().verifier.verify_header(f"Bearer {tokens.access_token}")
    except Unauthenticated as error:
        log.warning("sign-in refused", extra={"error": error.message})
        raise _login_failed(f"Signing in failed: {error.message}.") from None
    except Unavailable as error:
        raise identity_provider_unavailable_problem(error.message) from None
    now = time.time()
    name = claims.get("name") or claims.get("preferred_username") or identity.subject
    email = identity.email or (claims.get("email") if claims.get("email_verified") else "") or ""
    return BrowserSession(
        subject=identity.subject,
        email=str(email),
        name=str(name),
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        id_token=tokens.id_token,
        access_expires_at=access_token_expiry(tokens.access_token),
        started_at=now,
        ends_at=now + login.settings.session_max_age_seconds,
        csrf_token=new_csrf_token(),
    )


def _logout() -> BaseResponse:
    login = _configured()
    session = login.cookies.read_session(request)
    if session is None:
        end_session()  # whatever cookie is left is of no use
        return redirect("/", code=303)
    # Before anything ends: another site must not be able to sign the user out either.
    check_csrf(session.csrf_token, allowed_origins=login.allowed_origins)
    end_session()
    login.provider.revoke(session.refresh_token)
    log.info("signed out", extra={"subject": session.subject})
    try:
        target = login.provider.end_session_url(id_token_hint=session.id_token)
    except Unavailable:
        target = "/"
    return redirect(target, code=303)


def _session() -> BaseResponse:
    login = _configured()
    signed_in = current_session(login)
    if signed_in is None:
        raise unauthenticated_problem("Not signed in.")
    session, identity = signed_in
    return jsonify(
        {
            "subject": identity.subject,
            "email": session.email,
            "name": session.name,
            "expires_at": _timestamp(session.ends_at),
            "access_token_expires_at": _timestamp(session.access_expires_at),
            "csrf_token": session.csrf_token,
        }
    )


def _login_failed(detail: str) -> Problem:
    return Problem(400, "Sign-in failed", detail, problem_type("login-failed"))


def _timestamp(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(int(epoch_seconds), UTC).isoformat().replace("+00:00", "Z")
