"""Report e-mails through a real SMTP conversation: SmtpMailer (smtplib) against aiosmtpd."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from salesplane_reporting.adapters.smtp_mailer import (
    Attachment,
    DeliveryFailed,
    ReportEmail,
    SmtpMailer,
    SmtpSettings,
    chart_attachment,
)
from salesplane_testing.smtp_server import SmtpServer

pytestmark = pytest.mark.integration

SENDER = "reports@salesplane.example"
CHART_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
    '<rect x="0" y="0" width="80" height="18" fill="#2a6"/><text x="84" y="14">Won</text></svg>'
)
# CRLF line ends (what the csv module writes) and UTF-8 text must arrive byte for byte.
CSV_BYTES = "stage,deals,amount\r\nProspecting,12,48000.00\r\nWon — Łódź,3,91500.50\r\n".encode()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def settings_for(server: SmtpServer, **overrides: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "sender": SENDER,
        "timeout_seconds": 5.0,
    }
    values.update(overrides)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def report_email(recipients: tuple[str, ...] = ("ana@example.com", "bo@example.com")) -> ReportEmail:
    return ReportEmail(
        recipients=recipients,
        subject="Pipeline by stage — week 3",
        text_body="Pipeline by stage\n\nProspecting: 12 deals\nWon: 3 deals\n",
        html_body=f"<h1>Pipeline by stage</h1><p>Won: 3 deals</p>{CHART_SVG}",
        attachments=(
            Attachment("pipeline-by-stage.csv", "text/csv", CSV_BYTES),
            chart_attachment(CHART_SVG),
        ),
    )


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_report_arrives_with_its_envelope_text_html_csv_and_chart(smtp_server):
    email = report_email()
    SmtpMailer(settings_for(smtp_server)).send(email)

    [received] = smtp_server.wait_for(1)
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ("ana@example.com", "bo@example.com")
    message = received.message
    assert message["From"] == SENDER
    assert [a.addr_spec for a in message["To"].addresses] == ["ana@example.com", "bo@example.com"]
    assert message["Subject"] == "Pipeline by stage — week 3"
    assert message["Message-ID"].endswith("@salesplane.example>")
    assert message["Date"].datetime is not None

    assert message.get_content_type() == "multipart/mixed"
    alternative = message.get_payload()[0]
    assert alternative.get_content_type() == "multipart/alternative"
    # Text travels with SMTP's CRLF line ends; a mail client shows them as plain line breaks.
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == email.text_body
    html = message.get_body(("html",)).get_content()
    assert "<h1>Pipeline by stage</h1>" in html
    assert CHART_SVG in html

    csv_part, svg_part = message.iter_attachments()
    assert csv_part.get_content_type() == "text/csv"
    assert csv_part.get_filename() == "pipeline-by-stage.csv"
    assert csv_part.get_content_disposition() == "attachment"
    assert csv_part.get_payload(decode=True) == CSV_BYTES
    assert svg_part.get_content_type() == "image/svg+xml"
    assert svg_part.get_filename() == "chart.svg"
    assert svg_part.get_payload(decode=True) == CHART_SVG.encode()


def test_a_subject_with_line_breaks_arrives_as_one_line_and_adds_no_header(smtp_server):
    email = ReportEmail(("ana@example.com",), "Weekly\r\nBcc: eve@example.com", "text", "<p>html</p>")
    SmtpMailer(settings_for(smtp_server)).send(email)

    [received] = smtp_server.wait_for(1)
    assert received.message["Subject"] == "Weekly Bcc: eve@example.com"
    assert received.message["Bcc"] is None
    assert received.rcpt_tos == ("ana@example.com",)


def test_a_mailer_with_credentials_logs_in_before_sending():
    with SmtpServer(credentials=("reports", "s3cret")) as server:
        SmtpMailer(settings_for(server, username="reports", password="s3cret")).send(report_email())
        assert server.wait_for(1)[0].rcpt_tos == ("ana@example.com", "bo@example.com")


def test_wrong_credentials_fail_the_delivery_with_the_servers_answer():
    with SmtpServer(credentials=("reports", "s3cret")) as server:
        mailer = SmtpMailer(settings_for(server, username="reports", password="wrong"))
        with pytest.raises(DeliveryFailed, match="535"):
            mailer.send(report_email())
        assert server.messages == []


def test_a_server_demanding_a_login_refuses_a_mailer_without_credentials():
    with SmtpServer(credentials=("reports", "s3cret")) as server:
        with pytest.raises(DeliveryFailed, match="530"):
            SmtpMailer(settings_for(server)).send(report_email())
        assert server.messages == []


def test_every_recipient_refused_fails_the_delivery_and_names_them():
    with SmtpServer(refuse_recipients=("ana@example.com", "bo@example.com")) as server:
        with pytest.raises(DeliveryFailed) as failed:
            SmtpMailer(settings_for(server)).send(report_email())
        assert failed.value.refused_recipients == ("ana@example.com", "bo@example.com")
        assert "550" in failed.value.reason
        assert server.messages == []


def test_a_partly_refused_delivery_fails_naming_the_refused_while_the_others_get_it():
    with SmtpServer(refuse_recipients=("bo@example.com",)) as server:
        with pytest.raises(DeliveryFailed) as failed:
            SmtpMailer(settings_for(server)).send(report_email())
        assert failed.value.refused_recipients == ("bo@example.com",)
        assert server.wait_for(1)[0].rcpt_tos == ("ana@example.com",)


def test_starttls_asked_for_but_not_offered_fails_instead_of_sending_in_clear(smtp_server):
    with pytest.raises(DeliveryFailed, match="STARTTLS"):
        SmtpMailer(settings_for(smtp_server, starttls=True)).send(report_email())
    assert smtp_server.messages == []


def test_a_server_that_is_not_listening_fails_the_delivery_instead_of_crashing():
    settings = SmtpSettings(host="127.0.0.1", port=unused_port(), sender=SENDER, timeout_seconds=2.0)
    began = time.monotonic()
    with pytest.raises(DeliveryFailed, match=r"cannot talk to 127\.0\.0\.1"):
        SmtpMailer(settings).send(report_email())
    assert time.monotonic() - began < 2.0


def test_a_server_that_never_greets_fails_the_delivery_within_the_timeout():
    # Listening but never accepting: the kernel completes the TCP handshake, no banner ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = int(silent.getsockname()[1])
        settings = SmtpSettings(host="127.0.0.1", port=port, sender=SENDER, timeout_seconds=0.5)
        began = time.monotonic()
        with pytest.raises(DeliveryFailed, match="timed out"):
            SmtpMailer(settings).send(report_email())
        assert time.monotonic() - began < 5.0


def test_the_server_collects_several_messages_in_order(smtp_server):
    mailer = SmtpMailer(settings_for(smtp_server))
    for week in (1, 2, 3):
        mailer.send(ReportEmail(("ana@example.com",), f"Week {week}", "text", "<p>html</p>"))
    assert [r.message["Subject"] for r in smtp_server.wait_for(3)] == ["Week 1", "Week 2", "Week 3"]


def test_waiting_for_a_message_that_never_comes_times_out_with_the_server_log(smtp_server):
    with pytest.raises(TimeoutError, match="0 of 1 messages"):
        smtp_server.wait_for(1, timeout=0.2)
