"""SMTP settings and the MIME message, without a mail server (delivery is in tests/integration)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salesplane_platform.errors import ConfigurationError
from salesplane_reporting.adapters.smtp_mailer import (
    Attachment,
    ReportEmail,
    SmtpSettings,
    build_message,
    chart_attachment,
)


def test_delivery_is_off_when_no_smtp_host_is_set():
    assert SmtpSettings.from_env({}) is None
    assert SmtpSettings.from_env({"SALESPLANE_SMTP_HOST": "  ", "SALESPLANE_SMTP_SENDER": "r@x.io"}) is None


def test_settings_are_read_from_the_environment():
    settings = SmtpSettings.from_env(
        {
            "SALESPLANE_SMTP_HOST": "smtp.example.com",
            "SALESPLANE_SMTP_PORT": "587",
            "SALESPLANE_SMTP_SENDER": "Salesplane Reports <reports@example.com>",
            "SALESPLANE_SMTP_USERNAME": "reports",
            "SALESPLANE_SMTP_PASSWORD": "s3cret",
            "SALESPLANE_SMTP_STARTTLS": "TRUE",
        }
    )
    assert settings == SmtpSettings(
        host="smtp.example.com",
        port=587,
        sender="Salesplane Reports <reports@example.com>",
        username="reports",
        password="s3cret",
        starttls=True,
        timeout_seconds=30,
    )


def test_unset_port_starttls_and_login_default_to_a_plain_port_25_relay():
    settings = SmtpSettings.from_env({"SALESPLANE_SMTP_HOST": "relay", "SALESPLANE_SMTP_SENDER": "r@x.io"})
    assert settings is not None
    assert (settings.port, settings.starttls, settings.username, settings.password) == (25, False, None, None)


def test_the_password_never_shows_in_the_settings_repr():
    settings = SmtpSettings(host="h", port=25, sender="r@x.io", username="u", password="s3cret")
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SALESPLANE_SMTP_PORT", "smtp"), ("SALESPLANE_SMTP_PORT", "0"), ("SALESPLANE_SMTP_STARTTLS", "yes")],
)
def test_malformed_settings_stop_the_process_with_the_variable_named(variable, value):
    env = {"SALESPLANE_SMTP_HOST": "relay", "SALESPLANE_SMTP_SENDER": "r@x.io", variable: value}
    with pytest.raises(ConfigurationError, match=variable):
        SmtpSettings.from_env(env)


def test_a_host_without_a_sender_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="SALESPLANE_SMTP_SENDER"):
        SmtpSettings.from_env({"SALESPLANE_SMTP_HOST": "relay"})


def test_the_message_is_text_and_html_alternatives_followed_by_the_attachments():
    email = ReportEmail(
        recipients=("ana@example.com", "bo@example.com"),
        subject="Pipeline",
        text_body="text\n",
        html_body="<p>html</p>",
        attachments=(Attachment("p.csv", "text/csv", b"a,b\r\n1,2\r\n"), chart_attachment("<svg/>")),
    )
    message = build_message(email, "reports@example.com", now=datetime(2025, 1, 15, 7, 0, tzinfo=UTC))

    assert message["To"] == "ana@example.com, bo@example.com"
    assert message["Date"] == "Wed, 15 Jan 2025 07:00:00 +0000"
    assert message["Message-ID"].endswith("@example.com>")
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/csv",
        "image/svg+xml",
    ]
    assert [p.get_filename() for p in message.iter_attachments()] == ["p.csv", "chart.svg"]


def test_each_message_gets_its_own_message_id():
    email = ReportEmail(("ana@example.com",), "s", "t", "<p>h</p>")
    assert build_message(email, "r@x.io")["Message-ID"] != build_message(email, "r@x.io")["Message-ID"]


@pytest.mark.parametrize("content_type", ["csv", "text/", "/csv", "text/csv/x"])
def test_an_attachment_needs_a_type_and_subtype(content_type):
    with pytest.raises(ValueError, match="type/subtype"):
        Attachment("p.csv", content_type, b"")
