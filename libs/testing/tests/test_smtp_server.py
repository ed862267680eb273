"""The test SMTP server is a real server: plain smtplib talks to it, and it lets go of its port."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage

import pytest

from salesplane_testing.smtp_server import SmtpServer

pytestmark = pytest.mark.integration


def a_message(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "sender@example.com"
    message["To"] = "ana@example.com"
    message["Subject"] = subject
    message.set_content("hello\n")
    return message


def test_a_message_sent_with_smtplib_is_received_with_its_envelope():
    with SmtpServer() as server, smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.send_message(a_message("Hello"), to_addrs=["ana@example.com", "bo@example.com"])
        [received] = server.wait_for(1)
    assert received.mail_from == "sender@example.com"
    assert received.rcpt_tos == ("ana@example.com", "bo@example.com")
    assert received.message["Subject"] == "Hello"
    assert b"Subject: Hello" in received.raw
    assert server.startup_seconds is not None


def test_clear_forgets_what_arrived_so_far():
    with SmtpServer() as server, smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.send_message(a_message("first"))
        server.wait_for(1)
        server.clear()
        client.send_message(a_message("second"))
        assert [r.message["Subject"] for r in server.wait_for(1)] == ["second"]


def test_a_refused_recipient_gets_550_and_the_log_says_so():
    with SmtpServer(refuse_recipients=("Eve@Example.com",)) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            client.mail("sender@example.com")
            assert client.rcpt("eve@example.com")[0] == 550
        assert "RCPT eve@example.com: refused" in server.log_tail()


def test_the_port_is_closed_once_the_server_stops():
    with SmtpServer() as server:
        port = server.port
        assert server.running
    assert not server.running
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.settimeout(2)
        sock.connect(("127.0.0.1", port))
