"""Sends generated HTTP requests to the gateway over a few kept-alive connections, byte for byte as
generated (http.client adds only Host and Content-Length), and judges each answer.

Any 5xx is a violation: every service behind the gateway is up for the whole run, so not even a
503 is excused. So is no answer at all (the connection closed or reset instead of a status).
A 2xx or 3xx to a request that may write counts as accepted (see refusal_batches.py).
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from threading import local
from urllib.parse import urlsplit

from tests.fuzz.malformed_http import HttpCase
from tests.fuzz.refusal_batches import Answer

CONNECTIONS = 4
TIMEOUT_SECONDS = 30.0


class HttpSender:
    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._local = local()
        self._pool = ThreadPoolExecutor(CONNECTIONS, thread_name_prefix="fuzz-http")

    def close(self) -> None:
        self._pool.shutdown()

    def __call__(self, cases: Sequence[HttpCase]) -> list[Answer]:
        return list(self._pool.map(self._send, cases))

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """The thread's connection, and whether it has carried a request before."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_SECONDS)
            self._local.connection = connection
            self._local.used = False
        return connection, bool(self._local.used)

    def _send(self, case: HttpCase) -> Answer:
        for _attempt in range(2):
            connection, reused = self._connection()
            started = time.perf_counter()
            try:
                connection.putrequest(case.method, case.url, skip_accept_encoding=True)
                for name, value in case.headers:
                    connection.putheader(name, value)
                if case.body or case.method not in ("GET", "HEAD", "DELETE", "OPTIONS", "TRACE"):
                    connection.putheader("Content-Length", str(len(case.body)))
                connection.endheaders(case.body or None)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                self._drop()
                if reused:
                    continue  # the server closed a kept-alive connection before this request
                return Answer(
                    "no answer",
                    accepted=False,
                    violation=f"{case.operation}: no answer ({type(error).__name__}: {error})",
                )
            self._local.used = True
            if response.will_close:
                self._drop()
            status = response.status
            violation = f"{case.operation} answered {status}" if status >= 500 else None
            return Answer(
                str(status),
                accepted=status < 400 and not case.is_read,
                violation=violation,
                seconds=time.perf_counter() - started,
            )
        raise AssertionError("unreachable: the second attempt is on a new connection")

    def _drop(self) -> None:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None
