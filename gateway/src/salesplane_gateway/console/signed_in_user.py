"""Who is using the console, and the token its pages call the services with.

Two ways in, never both:
* production: the OpenID Connect browser session of browser_login.py. The session's access token is
  relayed to the services exactly as the API relays a bearer token, so the console can do nothing
  a script with the same token could not.
* development (SALESPLANE_ENV=development with the shared secret, what `make run` sets): a sign-in
  page that lists the organisation's users (dev_sign_in.py). The chosen user id is sealed into a
  cookie with a key derived from the development secret, and each request mints a short-lived
  development token for that user. Whoever holds the secret can mint any token anyway, so this
  grants nothing new; it only saves a newcomer from pasting tokens.

What a user may see is decided by the services, from the organisation, on every call: the console
only hides links the user could not follow.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import cast

from flask import Request, g, request
from werkzeug.wrappers import Response

from salesplane_gateway.csrf import new_csrf_token
from salesplane_gateway.login_context import login_context
from salesplane_gateway.request_context import state
from salesplane_gateway.sealed_values import Sealer
from salesplane_gateway.session_authentication import current_session
from salesplane_platform.identity import issue_token

DEV_COOKIE = "salesplane_console_dev"
DEV_PURPOSE = "console-dev-session"
# A development session lasts a working day; the minted tokens only as long as one request needs.
DEV_SESSION_SECONDS = 12 * 3600
DEV_TOKEN_SECONDS = 300
_USER_KEY = "console_user"


@dataclass(frozen=True)
class ConsoleUser:
    user_id: str
    display_name: str
    # As the organisation or the token says; used to choose which links to show, never to allow.
    roles: frozenset[str]
    bearer_token: str
    csrf_token: str
    # "oidc" or "development": what signing out means differs.
    mode: str

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_manager(self) -> bool:
        return "manager" in self.roles or "admin" in self.roles

    @property
    def is_marketing(self) -> bool:
        return bool({"marketing", "admin", "manager"} & self.roles)


def development_enabled() -> bool:
    """The development sign-in exists only when the gateway accepts development tokens and no
    OpenID Connect login is configured."""
    return bool(state().config.auth_secret) and login_context() is None


def signed_in_user() -> ConsoleUser | None:
    """The console's user for this request (resolved once), or None when nobody is signed in."""
    if _USER_KEY in g:
        return cast(ConsoleUser | None, g.get(_USER_KEY))
    user = _resolve()
    setattr(g, _USER_KEY, user)
    if user is not None:
        # upstream.call relays g.bearer_token, as the API's authentication sets it.
        g.bearer_token = user.bearer_token
    return user


def _resolve() -> ConsoleUser | None:
    login = login_context()
    if login is not None:
        signed_in = current_session(login)
        if signed_in is None:
            return None
        session, identity = signed_in
        return ConsoleUser(
            user_id=identity.subject,
            display_name=session.name,
            roles=frozenset(identity.roles),
            bearer_token=session.access_token,
            csrf_token=session.csrf_token,
            mode="oidc",
        )
    if not development_enabled():
        return None
    data = _dev_sealer().unseal(DEV_PURPOSE, request.cookies.get(DEV_COOKIE, ""))
    if data is None or float(data.get("ends_at", 0)) < time.time():
        return None
    roles = frozenset(str(role) for role in data.get("roles", ()))
    subject = str(data["user_id"])
    return ConsoleUser(
        user_id=subject,
        display_name=str(data.get("name") or subject),
        roles=roles,
        bearer_token=issue_token(state().config.auth_secret, subject, roles, ttl_seconds=DEV_TOKEN_SECONDS),
        csrf_token=str(data["csrf_token"]),
        mode="development",
    )


def start_dev_session(response: Response, *, user_id: str, name: str, roles: frozenset[str]) -> None:
    sealed = _dev_sealer().seal(
        DEV_PURPOSE,
        {
            "user_id": user_id,
            "name": name,
            "roles": sorted(roles),
            "csrf_token": new_csrf_token(),
            "ends_at": time.time() + DEV_SESSION_SECONDS,
        },
    )
    response.set_cookie(
        DEV_COOKIE,
        sealed,
        max_age=DEV_SESSION_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )


def end_dev_session(response: Response) -> None:
    response.delete_cookie(DEV_COOKIE, httponly=True, samesite="Lax")


def development_token(subject: str, roles: frozenset[str]) -> str:
    """A token for the sign-in page's own reads (the organisation's users)."""
    return issue_token(state().config.auth_secret, subject, roles, ttl_seconds=DEV_TOKEN_SECONDS)


def has_dev_cookie(req: Request) -> bool:
    return DEV_COOKIE in req.cookies


def _dev_sealer() -> Sealer:
    # A key of its own, derived from the development secret: the sessions' key cannot sign tokens.
    key = hmac.new(
        state().config.auth_secret.encode(), b"salesplane console development session", hashlib.sha256
    )
    return Sealer([key.digest()])
