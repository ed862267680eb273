"""The sealed session cookie: encryption round trip, tampering and other purposes refused, key
rotation, chunking of a large session, and the session's absolute end."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest
from flask import Flask, Response

from salesplane_gateway.browser_session import (
    CHUNK_CHARACTERS,
    BrowserSession,
    PendingLogin,
    SessionCookies,
)
from salesplane_gateway.sealed_values import Sealer

OLD_KEY, NEW_KEY, STRANGER_KEY = os.urandom(32), os.urandom(32), os.urandom(32)


def a_session(**overrides: object) -> BrowserSession:
    now = time.time()
    values: dict[str, object] = {
        "subject": "alice",
        "email": "alice@example.test",
        "name": "Alice Tester",
        "access_token": "a" * 1400,
        "refresh_token": "r" * 700,
        "id_token": "i" * 1300,
        "access_expires_at": now + 300,
        "started_at": now,
        "ends_at": now + 3600,
        "csrf_token": "csrf",
    }
    return BrowserSession(**{**values, **overrides})  # type: ignore[arg-type]


def test_a_sealed_value_opens_to_what_was_sealed() -> None:
    sealer = Sealer([NEW_KEY])

    sealed = sealer.seal("session", {"subject": "alice", "n": 1})

    assert sealer.unseal("session", sealed) == {"subject": "alice", "n": 1}
    assert "alice" not in sealed
    # A fresh nonce each time: the same data never seals to the same value.
    assert sealer.seal("session", {"subject": "alice", "n": 1}) != sealed


def test_a_tampered_truncated_or_garbage_value_is_refused() -> None:
    sealer = Sealer([NEW_KEY])
    sealed = sealer.seal("session", {"subject": "alice"})

    for position in (0, 5, 20, len(sealed) // 2, len(sealed) - 1):
        flipped = sealed[:position] + ("A" if sealed[position] != "A" else "B") + sealed[position + 1 :]
        assert sealer.unseal("session", flipped) is None, position
    assert sealer.unseal("session", sealed[:-3]) is None
    assert sealer.unseal("session", "") is None
    assert sealer.unseal("session", "not base64 at all!") is None
    assert sealer.unseal("session", "ünïcode") is None


def test_a_value_sealed_for_the_login_is_not_a_session() -> None:
    sealer = Sealer([NEW_KEY])

    assert sealer.unseal("session", sealer.seal("login", {"subject": "alice"})) is None


def test_keys_rotate_the_first_seals_every_one_opens() -> None:
    before = Sealer([OLD_KEY]).seal("session", {"subject": "alice"})
    rotated = Sealer([NEW_KEY, OLD_KEY])

    assert rotated.unseal("session", before) == {"subject": "alice"}
    after = rotated.seal("session", {"subject": "bob"})
    assert Sealer([NEW_KEY]).unseal("session", after) == {"subject": "bob"}
    assert Sealer([OLD_KEY]).unseal("session", after) is None
    # Once the old key is dropped, what it sealed no longer opens; a stranger's key opens nothing.
    assert Sealer([NEW_KEY]).unseal("session", before) is None
    assert Sealer([STRANGER_KEY]).unseal("session", after) is None


def _written(
    cookies: SessionCookies, session: BrowserSession, existing: dict[str, str] | None = None
) -> Response:
    app = Flask(__name__)
    header = "; ".join(f"{name}={value}" for name, value in (existing or {}).items())
    with app.test_request_context("/", headers={"Cookie": header} if header else {}):
        from flask import request

        response = Response()
        cookies.write_session(response, session, request)
        return response


def _read(cookies: SessionCookies, jar: dict[str, str], *, now: float | None = None) -> BrowserSession | None:
    app = Flask(__name__)
    header = "; ".join(f"{name}={value}" for name, value in jar.items())
    with app.test_request_context("/", headers={"Cookie": header}):
        from flask import request

        return cookies.read_session(request, now=now)


def _jar(response: Response) -> dict[str, str]:
    jar = {}
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        value = rest.split(";", 1)[0]
        if "Max-Age=0" not in header:
            jar[name] = value
    return jar


def test_a_session_larger_than_one_cookie_is_split_into_chunks_and_read_back() -> None:
    cookies = SessionCookies(Sealer([NEW_KEY]), secure=True)
    session = a_session()

    response = _written(cookies, session)

    jar = _jar(response)
    assert sorted(jar) == ["__Host-salesplane-session.0", "__Host-salesplane-session.1"]
    assert all(len(value) <= CHUNK_CHARACTERS for value in jar.values())
    for header in response.headers.getlist("Set-Cookie"):
        assert "HttpOnly" in header and "Secure" in header and "SameSite=Lax" in header and "Path=/" in header
    assert _read(cookies, jar) == session
    # A missing or reordered chunk is no session.
    assert _read(cookies, {"__Host-salesplane-session.0": jar["__Host-salesplane-session.0"]}) is None
    swapped = {
        "__Host-salesplane-session.0": jar["__Host-salesplane-session.1"],
        "__Host-salesplane-session.1": jar["__Host-salesplane-session.0"],
    }
    assert _read(cookies, swapped) is None


def test_a_smaller_session_written_over_a_larger_one_clears_the_extra_chunks() -> None:
    cookies = SessionCookies(Sealer([NEW_KEY]), secure=True)
    large = _jar(_written(cookies, a_session()))
    small = a_session(access_token="a", refresh_token="r", id_token="i")

    response = _written(cookies, small, existing=large)

    headers = {h.partition("=")[0]: h for h in response.headers.getlist("Set-Cookie")}
    assert "Max-Age=0" in headers["__Host-salesplane-session.1"]
    assert _read(cookies, _jar(response)) == small


def test_a_session_past_its_end_is_no_session_whatever_the_browser_keeps() -> None:
    cookies = SessionCookies(Sealer([NEW_KEY]), secure=True)
    session = a_session()
    jar = _jar(_written(cookies, session))

    assert _read(cookies, jar, now=session.ends_at - 1) == session
    assert _read(cookies, jar, now=session.ends_at) is None


def test_the_cookie_lives_as_long_as_what_is_left_of_the_session() -> None:
    cookies = SessionCookies(Sealer([NEW_KEY]), secure=True)

    response = _written(cookies, a_session(ends_at=time.time() + 1000))

    [first, *_] = response.headers.getlist("Set-Cookie")
    max_age = int(first.split("Max-Age=")[1].split(";")[0])
    assert 990 <= max_age <= 1000


def test_a_cookie_of_another_shape_is_no_session() -> None:
    sealer = Sealer([NEW_KEY])
    cookies = SessionCookies(sealer, secure=True)
    fields = dataclasses.asdict(a_session())
    fields.pop("csrf_token")

    assert _read(cookies, {"__Host-salesplane-session.0": sealer.seal("session", fields)}) is None


def test_a_pending_login_expires_after_ten_minutes() -> None:
    sealer = Sealer([NEW_KEY])
    cookies = SessionCookies(sealer, secure=True)
    pending = PendingLogin("state", "nonce", "verifier", "/", started_at=time.time())
    app = Flask(__name__)
    value = sealer.seal("login", dataclasses.asdict(pending))
    with app.test_request_context("/", headers={"Cookie": f"{cookies.login_name}={value}"}):
        from flask import request

        assert cookies.read_pending_login(request) == pending
        assert cookies.read_pending_login(request, now=pending.started_at + 601) is None
    # ...and a session value is no pending login.
    session_value = sealer.seal("session", dataclasses.asdict(pending))
    with app.test_request_context("/", headers={"Cookie": f"{cookies.login_name}={session_value}"}):
        from flask import request

        assert cookies.read_pending_login(request) is None


@pytest.mark.parametrize(("secure", "prefix"), [(True, "__Host-"), (False, "")])
def test_the_host_prefix_goes_with_secure(secure: bool, prefix: str) -> None:
    cookies = SessionCookies(Sealer([NEW_KEY]), secure=secure)

    assert cookies.session_name == f"{prefix}salesplane-session"
    assert cookies.login_name == f"{prefix}salesplane-login"
