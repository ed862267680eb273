"""Delivers a scheduled report by e-mail over SMTP.

Built on the standard library's `smtplib` and `email` packages on purpose: they are maintained with
CPython, speak SMTP, STARTTLS and AUTH, and build MIME correctly (RFC 2231 file names, encoded
headers), so a third-party mail client would add a dependency without adding anything needed here.

Delivery is off when no SMTP host is configured (`SmtpSettings.from_env` returns None).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from salesplane_platform.errors import ConfigurationError
from salesplane_platform.settings import port_setting

DEFAULT_SMTP_PORT = 25
# The file name of the report chart when it travels as an attachment (see `chart_attachment`).
CHART_FILENAME = "chart.svg"
SVG_CONTENT_TYPE = "image/svg+xml"
_MAX_REASON_LENGTH = 300


class DeliveryFailed(Exception):
    """The mail server could not be reached, or did not accept the message for every recipient.

    The caller records a failed delivery (with `reason`) and may retry later. When only some
    recipients were refused (`refused_recipients`), the others did receive the message.
    """

    def __init__(self, reason: str, *, refused_recipients: tuple[str, ...] = ()) -> None:
        self.reason = reason[:_MAX_REASON_LENGTH]
        self.refused_recipients = refused_recipients
        super().__init__(self.reason)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    # The From: address (and the SMTP envelope sender).
    sender: str
    username: str | None = None
    # Kept out of repr so that logging the settings never leaks it.
    password: str | None = field(default=None, repr=False)
    # Upgrade the connection with STARTTLS (verifying the server certificate) before AUTH and
    # before the message; fails the delivery if the server does not offer it.
    starttls: bool = False
    # Per network operation (connect, each command), not for the whole delivery.
    timeout_seconds: float = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
        """Read SALESPLANE_SMTP_*; None (delivery off) when SALESPLANE_SMTP_HOST is unset or empty."""
        env = os.environ if environ is None else environ
        host = env.get("SALESPLANE_SMTP_HOST", "").strip()
        if not host:
            return None
        port = port_setting(env, "SALESPLANE_SMTP_PORT", DEFAULT_SMTP_PORT)
        if port == 0:
            raise ConfigurationError("SALESPLANE_SMTP_PORT=0 is not a port a mail server listens on")
        sender = env.get("SALESPLANE_SMTP_SENDER", "").strip()
        if not sender:
            raise ConfigurationError(
                "SALESPLANE_SMTP_SENDER (the From: address) must be set when SALESPLANE_SMTP_HOST is"
            )
        starttls_raw = env.get("SALESPLANE_SMTP_STARTTLS", "").strip().lower()
        if starttls_raw not in ("", "true", "false"):
            raise ConfigurationError(f"SALESPLANE_SMTP_STARTTLS={starttls_raw!r} is not true or false")
        return cls(
            host=host,
            port=port,
            sender=sender,
            username=env.get("SALESPLANE_SMTP_USERNAME") or None,
            password=env.get("SALESPLANE_SMTP_PASSWORD") or None,
            starttls=starttls_raw == "true",
        )


@dataclass(frozen=True)
class Attachment:
    filename: str
    # "type/subtype", e.g. "text/csv".
    content_type: str
    data: bytes

    def __post_init__(self) -> None:
        maintype, _, subtype = self.content_type.partition("/")
        if not maintype or not subtype or "/" in subtype:
            raise ValueError(f"content_type {self.content_type!r} is not of the form type/subtype")
        if not self.filename:
            raise ValueError("an attachment needs a file name")


@dataclass(frozen=True)
class ReportEmail:
    """One report for its recipients.

    `html_body` is an HTML fragment the caller builds; it may embed the chart as inline <svg>
    markup. Many mail clients (Gmail, Outlook) strip inline SVG, so the caller should also attach
    the same chart with `chart_attachment(svg)`: readers whose client removed it still get it.
    """

    recipients: tuple[str, ...]
    subject: str
    text_body: str
    html_body: str
    attachments: tuple[Attachment, ...] = ()


def chart_attachment(svg_markup: str) -> Attachment:
    """The report chart as the `chart.svg` attachment (image/svg+xml, UTF-8)."""
    return Attachment(CHART_FILENAME, SVG_CONTENT_TYPE, svg_markup.encode("utf-8"))


def build_message(email: ReportEmail, sender: str, *, now: datetime | None = None) -> EmailMessage:
    """The MIME message: multipart/mixed of (multipart/alternative: text, HTML) and the attachments.

    Attachments are base64-encoded, so their bytes (a CSV's CRLF line ends included) arrive as sent.
    """
    if not email.recipients:
        raise ValueError("a report e-mail needs at least one recipient")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(email.recipients)
    # A subject is one header line: a report title with line breaks must not end the header.
    message["Subject"] = " ".join(email.subject.split())
    message["Date"] = format_datetime(now or datetime.now(UTC))
    # The sender's domain rather than make_msgid's default, socket.getfqdn(), which can stall on
    # DNS and names the container, not the mail domain.
    message["Message-ID"] = make_msgid(domain=_domain_of(sender))
    message.set_content(email.text_body)
    message.add_alternative(email.html_body, subtype="html")
    for attachment in email.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


class SmtpMailer:
    """Sends report e-mails through one SMTP server; a new connection per e-mail (reports are few)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def send(self, email: ReportEmail) -> None:
        """Deliver `email` to all its recipients; DeliveryFailed if the server did not take it."""
        settings = self._settings
        message = build_message(email, settings.sender)
        try:
            with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username:
                    smtp.login(settings.username, settings.password or "")
                refused = smtp.send_message(
                    message, from_addr=settings.sender, to_addrs=list(email.recipients)
                )
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(
                f"the mail server refused every recipient: {_codes(exc.recipients)}",
                refused_recipients=tuple(exc.recipients),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"the mail server answered {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except smtplib.SMTPException as exc:
            raise DeliveryFailed(f"SMTP with {settings.host}:{settings.port} failed: {exc}") from exc
        except OSError as exc:
            # Refused or timed-out connections, DNS failures, TLS handshake and certificate errors.
            raise DeliveryFailed(
                f"cannot talk to {settings.host}:{settings.port}: {type(exc).__name__}: {exc}"
            ) from exc
        if refused:
            raise DeliveryFailed(
                f"the mail server refused {len(refused)} of {len(email.recipients)} recipients: "
                f"{_codes(refused)}",
                refused_recipients=tuple(refused),
            )


def _domain_of(address: str) -> str | None:
    _, at, domain = address.rpartition("@")
    return (domain.strip("<> ") or None) if at else None


def _text(smtp_error: bytes | str) -> str:
    return smtp_error.decode("utf-8", "replace") if isinstance(smtp_error, bytes) else smtp_error


def _codes(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{address} ({code} {_text(text)})" for address, (code, text) in refused.items())
