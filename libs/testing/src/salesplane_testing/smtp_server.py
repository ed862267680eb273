"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 and a free port, keeping what it receives.

It speaks real SMTP (EHLO, optional AUTH, MAIL, RCPT, DATA) in a background thread of the test
process, so a mailer under test goes through `smtplib` and a socket exactly as in production, and
the test asserts on the parsed messages (``email.policy.default``, so ``EmailMessage`` objects).

Developers can run one in the foreground with ``python -m salesplane_testing.smtp_server`` and
point a service at it; each received message is summarised on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import sys
import threading
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpProtocol
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from salesplane_testing._util import LOOPBACK, ServiceStartError, free_port
from salesplane_testing.server_lifecycle import ThrowAwayServer, serve_in_foreground

_PORT_ATTEMPTS = 5


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted: the SMTP envelope and the parsed message.

    Parsed as it came over the wire, so text parts keep SMTP's CRLF line ends.
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    # The DATA bytes exactly as received (headers and MIME body), for byte-level assertions.
    raw: bytes


class SmtpServer(ThrowAwayServer):
    """An SMTP server a test starts (``with SmtpServer() as smtp:``) and reads with ``wait_for``.

    * ``credentials=(user, password)`` requires AUTH (PLAIN or LOGIN; without TLS, since this is
      loopback only) before MAIL, and refuses any other credentials with 535;
    * ``refuse_recipients`` answers RCPT for those addresses with 550, as a server does for an
      unknown mailbox.
    """

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        refuse_recipients: Collection[str] = (),
        ready_timeout: float = 10.0,
    ) -> None:
        self.host = LOOPBACK
        self.port = 0
        self._credentials = credentials
        self._refused = frozenset(a.lower() for a in refuse_recipients)
        self._ready_timeout = ready_timeout
        self._controller: Controller | None = None
        self._messages: list[ReceivedMessage] = []
        self._events: list[str] = []
        # Written by the server's event-loop thread, read by the test's thread.
        self._arrived = threading.Condition()
        self.on_message: Callable[[ReceivedMessage], None] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A copy of what has arrived so far, in order."""
        with self._arrived:
            return list(self._messages)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedMessage]:
        """The first ``count`` messages once they have arrived; TimeoutError if they do not in time."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(
                    f"{len(self._messages)} of {count} messages arrived at {self.address} within "
                    f"{timeout} s; server log:\n{self._log_tail_locked(60)}"
                )
            return list(self._messages[:count])

    def clear(self) -> None:
        """Forget the messages received so far (between the steps of one test)."""
        with self._arrived:
            self._messages.clear()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def log_tail(self, lines: int = 60) -> str:
        with self._arrived:
            return self._log_tail_locked(lines)

    def _log_tail_locked(self, lines: int) -> str:
        return "\n".join(self._events[-lines:]) or "(nothing happened yet)"

    def _start(self) -> None:
        handler = _Handler(self)
        kwargs: dict[str, Any] = {}
        if self._credentials is not None:
            # Loopback only, so AUTH without TLS exposes nothing; aiosmtpd warns about it anyway.
            kwargs.update(authenticator=handler.authenticate, auth_required=True, auth_require_tls=False)
        last_error: OSError | None = None
        # free_port() can lose a race with another process picking the same port; try a few.
        for _ in range(_PORT_ATTEMPTS):
            port = free_port(self.host)
            controller = _Controller(
                handler, hostname=self.host, port=port, ready_timeout=self._ready_timeout, **kwargs
            )
            try:
                controller.start()
            except (OSError, RuntimeError) as exc:
                _discard(controller)
                # TimeoutError is an OSError too; only a lost port race is worth another try.
                if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
                    last_error = exc
                    continue
                raise ServiceStartError(f"SMTP server on {self.host}:{port} did not start: {exc}") from exc
            self.port = port
            self._controller = controller
            return
        raise ServiceStartError(
            f"no free port for the SMTP server after {_PORT_ATTEMPTS} tries: {last_error}"
        )

    def _stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def _record(self, event: str) -> None:
        with self._arrived:
            self._events.append(event)

    def _accept(self, received: ReceivedMessage) -> None:
        subject = received.message.get("Subject", "")
        with self._arrived:
            self._messages.append(received)
            self._events.append(
                f"accepted from {received.mail_from} to {', '.join(received.rcpt_tos)}: {subject!r}"
            )
            self._arrived.notify_all()
        if self.on_message is not None:
            self.on_message(received)


class _Controller(Controller):
    def factory(self) -> SmtpProtocol:
        # AUTH without TLS is deliberate here (loopback only); keep aiosmtpd's warning about it
        # out of every test run's summary.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
            # What Controller.factory() does, which mypy cannot call (it is unannotated).
            return SmtpProtocol(self.handler, **self.SMTP_kwargs)


class _Handler:
    """aiosmtpd hooks; they run on the server's event-loop thread."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    def authenticate(
        self,
        smtp: SmtpProtocol,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        expected = self._server._credentials
        ok = (
            expected is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == expected
        )
        self._server._record(f"AUTH {mechanism}: {'accepted' if ok else 'refused'}")
        # handled=False: aiosmtpd then answers 535 itself (handled=True would leave the client waiting).
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(
        self,
        smtp: SmtpProtocol,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() in self._server._refused:
            self._server._record(f"RCPT {address}: refused")
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, smtp: SmtpProtocol, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if raw is None:  # pragma: no cover - aiosmtpd always keeps the bytes it received
            raw = envelope.content.encode() if isinstance(envelope.content, str) else b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)  # policy.default's message factory
        self._server._accept(
            ReceivedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=parsed,
                raw=raw,
            )
        )
        return "250 Message accepted for delivery"


def _discard(controller: Controller) -> None:
    """Release what a controller that failed to start still holds (its thread and event loop)."""
    with contextlib.suppress(Exception):
        controller.stop(no_assert=True)
    with contextlib.suppress(Exception):
        controller.loop.close()


def _summary(received: ReceivedMessage) -> str:
    message = received.message
    parts = [f"{p.get_content_type()} {p.get_filename() or ''}".strip() for p in message.walk()]
    return (
        f"from {received.mail_from} to {', '.join(received.rcpt_tos)}\n"
        f"  Subject: {message.get('Subject', '')}\n  parts: {'; '.join(parts)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m salesplane_testing.smtp_server",
        description="Run a throw-away SMTP server in the foreground (Ctrl-C stops it).",
    )
    parser.parse_args(argv)
    server = SmtpServer()
    server.on_message = lambda received: print(_summary(received), file=sys.stderr, flush=True)
    return serve_in_foreground(
        server,
        address=lambda: server.address,
        describe=lambda: f"SMTP server (aiosmtpd) up in {server.startup_seconds or 0:.2f} s",
    )


if __name__ == "__main__":
    sys.exit(main())
