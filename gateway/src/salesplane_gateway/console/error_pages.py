"""Errors on console pages are pages, in the user's language, not problem+json: a rep who edits a
URL to another rep's worksheet reads "not yours" with a way back, and an outage says to retry."""

from __future__ import annotations

from flask import render_template
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.signed_in_user import signed_in_user
from salesplane_gateway.problems import Problem


def problem_page(problem: Problem) -> Response:
    return _page(problem.status, problem.detail, retry_after=problem.headers.get("Retry-After"))


def error_page(error: HTTPException) -> Response:
    return _page(error.code or 500, error.description or error.name)


def _page(status: int, detail: str, *, retry_after: str | None = None) -> Response:
    titles = {
        400: gettext("That request was not understood"),
        401: gettext("Please sign in"),
        403: gettext("This is not yours to see"),
        404: gettext("Not found"),
        409: gettext("Someone else changed this"),
        422: gettext("That cannot be done now"),
        429: gettext("Too many requests"),
        503: gettext("A service is briefly unavailable"),
        504: gettext("A service took too long to answer"),
    }
    title = titles.get(status, gettext("Something went wrong"))
    body = render_template(
        "console/error.html", me=signed_in_user(), title=title, detail=detail, status=status
    )
    response = Response(body, status=status, mimetype="text/html")
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response
