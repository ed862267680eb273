"""The browser session: what a signed-in browser holds, in an encrypted cookie.

Why a cookie and not a server-side store: the gateway runs as several stateless replicas and has
no shared store (its rate limits are per replica too). A sealed cookie (sealed_values.py) lets any
replica serve any request, survives restarts and rolling updates, and costs no round trip. What
it gives up is revoking one cookie on the server: logout clears it in the browser and ends the
session at the provider (whose refresh token it holds then stops working), and every cookie
carries its own absolute end, so a copy outlives neither the session's lifetime nor, after a
logout, its access token (minutes at most).

The session cookie holds the access, refresh and ID tokens (the last one as the logout's
id_token_hint), the access token's expiry, who signed in and the session's CSRF token. Being
more than a browser keeps in one cookie (4 KB), the sealed value is split into numbered chunk
cookies (`<name>.0`, `<name>.1`, ...). Every cookie is HttpOnly (no script reads it),
SameSite=Lax (other sites' requests other than top-level navigations do not carry it), Path=/,
Secure unless configured off in development, and named with the `__Host-` prefix when Secure, so
no subdomain can set or shadow it. Its Max-Age is what is left of the session.

A login in progress (state, nonce, PKCE verifier, where to return) is sealed into its own
short-lived cookie, for another purpose, so that it can never be taken for a session.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

from flask import Request
from werkzeug.wrappers import Response

from salesplane_gateway.sealed_values import Sealer

SESSION_PURPOSE = "session"
LOGIN_PURPOSE = "login"
# A login must come back from the provider within this time.
LOGIN_MAX_AGE_SECONDS = 600
# Below a browser's 4096 bytes for name and value of one cookie, with room for the name.
CHUNK_CHARACTERS = 3800
# ~19 KB of cookies at most; more would hit the request header limits of proxies.
MAX_CHUNKS = 5


@dataclass(frozen=True)
class BrowserSession:
    # The Salesplane user id, as the gateway's token verification names the access token's user.
    subject: str
    email: str
    name: str
    access_token: str
    refresh_token: str
    id_token: str
    access_expires_at: float
    started_at: float
    # Absolute: no refresh extends it.
    ends_at: float
    csrf_token: str

    def has_ended(self, now: float) -> bool:
        return now >= self.ends_at

    def access_token_due(self, now: float, margin_seconds: float) -> bool:
        return self.access_expires_at - now < margin_seconds

    def with_tokens(
        self, *, access_token: str, refresh_token: str, id_token: str, access_expires_at: float
    ) -> BrowserSession:
        return replace(
            self,
            access_token=access_token,
            refresh_token=refresh_token or self.refresh_token,
            id_token=id_token or self.id_token,
            access_expires_at=access_expires_at,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BrowserSession | None:
        try:
            return cls(**data)
        except TypeError:  # a cookie of another version of this record: sign in again
            return None


@dataclass(frozen=True)
class PendingLogin:
    state: str
    nonce: str
    code_verifier: str
    # Where to go once signed in: a path of this gateway (browser_login.safe_next_path).
    next_path: str
    started_at: float

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingLogin | None:
        try:
            return cls(**data)
        except TypeError:
            return None


class SessionCookies:
    """Reads and writes the session and pending-login cookies."""

    def __init__(self, sealer: Sealer, *, secure: bool) -> None:
        self._sealer = sealer
        self.secure = secure
        # A __Host- cookie must be Secure, so plain-http development uses plain names.
        prefix = "__Host-" if secure else ""
        self.session_name = f"{prefix}salesplane-session"
        self.login_name = f"{prefix}salesplane-login"

    # -- the session -----------------------------------------------------------------------------

    def has_session(self, request: Request) -> bool:
        return self._chunk_name(0) in request.cookies

    def read_session(self, request: Request, *, now: float | None = None) -> BrowserSession | None:
        """The session of the request's cookies; None when there is none, or none this gateway
        sealed, or it has ended."""
        chunks = []
        for index in range(MAX_CHUNKS):
            chunk = request.cookies.get(self._chunk_name(index))
            if chunk is None:
                break
            chunks.append(chunk)
        if not chunks:
            return None
        data = self._sealer.unseal(SESSION_PURPOSE, "".join(chunks))
        session = BrowserSession.from_json(data) if data is not None else None
        if session is None or session.has_ended(time.time() if now is None else now):
            return None
        return session

    def write_session(self, response: Response, session: BrowserSession, request: Request) -> None:
        sealed = self._sealer.seal(SESSION_PURPOSE, asdict(session))
        chunks = [sealed[i : i + CHUNK_CHARACTERS] for i in range(0, len(sealed), CHUNK_CHARACTERS)]
        if len(chunks) > MAX_CHUNKS:
            raise ValueError(f"a session of {len(sealed)} characters is more than browsers keep")
        max_age = max(0, int(session.ends_at - time.time()))
        for index, chunk in enumerate(chunks):
            self._set(response, self._chunk_name(index), chunk, max_age)
        self._clear_chunks(response, request, start=len(chunks))

    def clear_session(self, response: Response, request: Request) -> None:
        self._clear_chunks(response, request, start=0)

    # -- a login in progress ---------------------------------------------------------------------

    def read_pending_login(self, request: Request, *, now: float | None = None) -> PendingLogin | None:
        value = request.cookies.get(self.login_name)
        data = self._sealer.unseal(LOGIN_PURPOSE, value) if value else None
        pending = PendingLogin.from_json(data) if data is not None else None
        current = time.time() if now is None else now
        if pending is None or current - pending.started_at > LOGIN_MAX_AGE_SECONDS:
            return None
        return pending

    def write_pending_login(self, response: Response, pending: PendingLogin) -> None:
        sealed = self._sealer.seal(LOGIN_PURPOSE, asdict(pending))
        self._set(response, self.login_name, sealed, LOGIN_MAX_AGE_SECONDS)

    def clear_pending_login(self, response: Response) -> None:
        self._delete(response, self.login_name)

    # -- cookies ---------------------------------------------------------------------------------

    def _chunk_name(self, index: int) -> str:
        return f"{self.session_name}.{index}"

    def _clear_chunks(self, response: Response, request: Request, *, start: int) -> None:
        for index in range(start, MAX_CHUNKS):
            name = self._chunk_name(index)
            if name in request.cookies or index == start == 0:
                self._delete(response, name)

    def _set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path="/", secure=self.secure, httponly=True, samesite="Lax"
        )

    def _delete(self, response: Response, name: str) -> None:
        # The same attributes as when set: a __Host- cookie is only replaced by a Secure one.
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="Lax")
