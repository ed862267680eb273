"""The operations port of every service process: Prometheus metrics, and liveness and readiness
over HTTP for the processes that serve no gRPC (relay or consumer workers in split mode).

* `/metrics` - Prometheus text format.
* `/readyz` - 200 while the database, the event transport and every worker loop are fine, else
  503; the body says why.
* `/livez` - 200 unless a worker loop is stuck or keeps crashing (a dependency outage is not a
  reason to restart), else 503.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

Problem = Callable[[], "str | None"]
StartResponse = Callable[..., Any]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes and scrapes every few seconds would drown the service's own log."""


def ops_app(*, ready_problem: Problem, live_problem: Problem) -> Callable[..., Iterable[bytes]]:
    metrics_app = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/livez", "/readyz"):
            problem = (live_problem if path == "/livez" else ready_problem)()
            status = "503 Service Unavailable" if problem else "200 OK"
            body = json.dumps({"status": "fail" if problem else "pass", "reason": problem or ""}).encode()
            start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
            return [body]
        return metrics_app(environ, start_response)  # type: ignore[no-any-return]

    return app


def start_ops_server(port: int, *, ready_problem: Problem, live_problem: Problem) -> WSGIServer:
    """Serve the operations port on all interfaces in a daemon thread; `shutdown()` stops it."""
    server = make_server(
        "0.0.0.0",
        port,
        ops_app(ready_problem=ready_problem, live_problem=live_problem),
        ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    # shutdown() waits for the loop's next poll: 0.1 s instead of the default 0.5 s per stop.
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="ops-http", daemon=True
    ).start()
    return server
