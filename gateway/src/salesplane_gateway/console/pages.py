"""What every console screen shares: the signed-in check, calls to the services with the user's
token, page rendering (a whole page, or one fragment for htmx's swaps), form errors, and the HTML
error pages.

A screen's view calls `call(Rpc, request)`: the same public gRPC API, with the same token, that any
other client uses; the services decide what the user may see. A refused call becomes a Problem
(upstream.py); `form_errors` turns its field violations into messages shown beside the fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

from flask import redirect, render_template, request, url_for
from google.protobuf.message import Message
from werkzeug.wrappers import Response

from salesplane_gateway import upstream
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.signed_in_user import ConsoleUser, signed_in_user
from salesplane_gateway.csrf import check_csrf, csrf_failed_problem
from salesplane_gateway.login_context import login_context
from salesplane_gateway.problems import Problem
from salesplane_gateway.routing import Rpc

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=Message)

HTMX_HEADER = "HX-Request"


def require_user(view: Callable[P, R]) -> Callable[P, R | Response]:
    """The view runs for a signed-in user; anyone else is sent to sign in and brought back. A
    form posted with the wrong CSRF token is refused before the view runs."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        user = signed_in_user()
        if user is None:
            if request.headers.get(HTMX_HEADER):
                # A poll whose session ended: reload the whole page, which then signs in.
                response = Response(status=204)
                response.headers["HX-Refresh"] = "true"
                return response
            return redirect(sign_in_url(request.full_path.rstrip("?")), code=303)
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            _check_form_csrf(user)
        return view(*args, **kwargs)

    return wrapped


def sign_in_url(next_path: str) -> str:
    if login_context() is not None:
        return url_for("browser_login.login") + "?next=" + quote(next_path, safe="/")
    return url_for("console.sign_in") + "?next=" + quote(next_path, safe="/")


def _check_form_csrf(user: ConsoleUser) -> None:
    login = login_context()
    allowed = login.allowed_origins if login is not None else frozenset({request.host_url.rstrip("/")})
    try:
        check_csrf(user.csrf_token, allowed_origins=allowed)
    except Problem:
        raise csrf_failed_problem(gettext("This form has expired. Reload the page and try again.")) from None


def user() -> ConsoleUser:
    """The signed-in user (only within a `require_user` view)."""
    found = signed_in_user()
    assert found is not None, "require_user guards every console view"
    return found


def call(rpc: Rpc, message: M | Message) -> Any:
    """One call to a service with the user's token. Returns the response message (typed Any: each
    caller knows its RPC's response type)."""
    return upstream.call(rpc, message)


def start(rpc: Rpc, message: Message) -> upstream.PendingCall:
    """A call started now, answered by `.result()` later (see call_all)."""
    return upstream.start(rpc, message)


def call_all(*calls: tuple[Rpc, Message]) -> list[Any]:
    """Several calls at once, their answers in the order given: a page showing what four services
    say waits for the slowest of them, not for the four in turn. The first failure (in that order)
    is raised, the calls still under way cancelled."""
    pending = [upstream.start(rpc, message) for rpc, message in calls]
    try:
        return [each.result() for each in pending]
    except Problem:
        for each in pending:
            each.cancel()
        raise


def page(template: str, *, status: int = 200, **context: Any) -> Response:
    """A whole page; or, for htmx, the template's `fragment` block alone when the page has one."""
    body = render_template(template, me=signed_in_user(), **context)
    return Response(body, status=status, mimetype="text/html")


def fragment(template: str, **context: Any) -> Response:
    return Response(render_template(template, me=signed_in_user(), **context), mimetype="text/html")


def is_htmx() -> bool:
    return bool(request.headers.get(HTMX_HEADER))


def form_errors(problem: Problem, names: Mapping[str, str] | None = None) -> dict[str, str]:
    """The problem's field violations by form field. `names` maps a service's field path to the
    form's field name; a violation of a field the form does not show goes under "" (the form's
    own error line), so that nothing the service said is lost."""
    errors: dict[str, str] = {}
    for violation in problem.errors:
        name = (names or {}).get(violation.field, violation.field)
        errors[name] = f"{errors[name]} {violation.description}" if name in errors else violation.description
    if not problem.errors:
        errors[""] = problem.detail
    return errors


def first_present(values: Iterable[str | None]) -> str:
    return next((value for value in values if value), "")


def see_other(endpoint: str, **values: Any) -> Response:
    """After a successful form post: the page again, by GET (a reload does not post twice)."""
    return redirect(url_for(endpoint, **values), code=303)
