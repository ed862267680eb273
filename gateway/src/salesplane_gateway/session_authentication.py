"""Requests authenticated by the browser session, and the session's upkeep.

An API request without an Authorization header but with the session cookie is the session's
user: its access token is verified like any bearer token and relayed to the services. A
state-changing one must pass the CSRF check first (csrf.py). When fewer than
`refresh_margin_seconds` are left of the access token it is renewed with the refresh token at
the provider and the cookie is issued again; a refresh the provider refuses ends the session
(401, and the cookie is cleared). While the provider cannot be reached, an access token that
has not yet expired is used as it is.

Changes to the session are collected during the request and written to the response's cookies
once, by the after_request hook `store_session_changes`.
"""

from __future__ import annotations

import logging
import time

import jwt
from flask import Response, g, request

from salesplane_gateway.browser_session import BrowserSession
from salesplane_gateway.csrf import UNSAFE_METHODS, check_csrf
from salesplane_gateway.login_context import LoginContext, login_context
from salesplane_gateway.problems import (
    Problem,
    identity_provider_unavailable_problem,
    unauthenticated_problem,
)
from salesplane_gateway.request_context import state
from salesplane_platform.errors import Unauthenticated, Unavailable
from salesplane_platform.identity import Identity

log = logging.getLogger(__name__)

# flask.g: the session to write to the cookies, or that they are to be cleared.
_UPDATED = "browser_session_updated"
_ENDED = "browser_session_ended"
# When an access token names no expiry (the verifier requires one, so this is a fallback only).
_FALLBACK_LIFETIME_SECONDS = 60.0


def authenticate_by_session() -> tuple[Identity, str] | None:
    """For the API: the identity and access token of the request's session, or None when the
    request has no session cookie (or no login is configured). 401 when the session has ended or
    cannot be renewed, 403 for a state-changing request that fails the CSRF check."""
    login = login_context()
    if login is None or not login.cookies.has_session(request):
        return None
    session = login.cookies.read_session(request)
    if session is None:
        end_session()
        raise unauthenticated_problem("The browser session has ended; sign in again.")
    if request.method in UNSAFE_METHODS:
        check_csrf(session.csrf_token, allowed_origins=login.allowed_origins)
    session, identity = renewed_session(login, session)
    return identity, session.access_token


def current_session(login: LoginContext) -> tuple[BrowserSession, Identity] | None:
    """For the login's own pages: the signed-in session, renewed when due; None when the browser
    is not signed in (an ended session's cookies are cleared). 503 while the provider is needed
    but unreachable."""
    session = login.cookies.read_session(request)
    if session is None:
        if login.cookies.has_session(request):
            end_session()
        return None
    try:
        return renewed_session(login, session)
    except Problem as problem:
        if problem.status == 401:
            return None
        raise


def renewed_session(login: LoginContext, session: BrowserSession) -> tuple[BrowserSession, Identity]:
    if session.access_token_due(time.time(), login.settings.refresh_margin_seconds):
        session = _refreshed(login, session)
    try:
        identity = state().verifier.verify_header(f"Bearer {session.access_token}")
    except Unauthenticated as error:
        raise _ended(f"The session's access token is refused: {error.message}") from None
    except Unavailable as error:
        raise identity_provider_unavailable_problem(error.message) from None
    if identity.subject != session.subject:
        raise _ended("The session's tokens name another user.")
    return session, identity


def start_session(session: BrowserSession) -> None:
    setattr(g, _UPDATED, session)
    g.pop(_ENDED, None)


def end_session() -> None:
    setattr(g, _ENDED, True)
    g.pop(_UPDATED, None)


def store_session_changes(response: Response) -> Response:
    """after_request: the session's cookies issued again, or cleared."""
    login = login_context()
    if login is None:
        return response
    if g.pop(_ENDED, False):
        login.cookies.clear_session(response, request)
    elif (updated := g.pop(_UPDATED, None)) is not None:
        login.cookies.write_session(response, updated, request)
    return response


def access_token_expiry(access_token: str) -> float:
    """The access token's `exp` (it is verified before the session relies on it)."""
    try:
        expiry = jwt.decode(access_token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        expiry = None
    return float(expiry) if isinstance(expiry, int | float) else time.time() + _FALLBACK_LIFETIME_SECONDS


def _refreshed(login: LoginContext, session: BrowserSession) -> BrowserSession:
    try:
        tokens = login.provider.refresh(session.refresh_token)
        if tokens.id_token:
            login.provider.verify_id_token(tokens.id_token, nonce=None)
    except Unauthenticated as error:
        log.info("browser session ended by a refused refresh", extra={"subject": session.subject})
        raise _ended(f"The session cannot be renewed: {error.message}. Sign in again.") from None
    except Unavailable as error:
        if session.access_expires_at > time.time():
            return session  # still valid: renew on a later request
        raise identity_provider_unavailable_problem(error.message) from None
    renewed = session.with_tokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        id_token=tokens.id_token,
        access_expires_at=access_token_expiry(tokens.access_token),
    )
    start_session(renewed)
    return renewed


def _ended(detail: str) -> Problem:
    end_session()
    return unauthenticated_problem(detail)
