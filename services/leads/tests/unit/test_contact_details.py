"""E-mail addresses, phone numbers, web sites and country codes: what is accepted, and how they are
normalised for duplicate detection."""

from __future__ import annotations

import pytest

from salesplane_leads.domain.contact import (
    is_plausible_email,
    is_plausible_phone,
    is_plausible_website,
    normalise_email,
    normalise_phone,
)
from salesplane_leads.domain.country_codes import COUNTRY_CODES, is_country_code


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com",
        "ada.lovelace+crm@mail.example.org",
        "o'hara@example.ie",
        "a_b-c@sub-domain.example.travel",
        "x@xn--bcher-kva.example",
        "user@example.xn--p1ai",
    ],
)
def test_plausible_email_addresses_are_accepted(address: str) -> None:
    assert is_plausible_email(address)


@pytest.mark.parametrize(
    "address",
    [
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada@exa mple.com",
        "ada lovelace@example.com",
        ".ada@example.com",
        "ada.@example.com",
        "ada..lovelace@example.com",
        '"ada"@example.com',
        "ada@[192.0.2.1]",
        "ada@-example.com",
        "ada@example-.com",
        "ada@example.c",
        "ada@example.123",
        "a" * 65 + "@example.com",
        "ada@" + "e" * 250 + ".com",
    ],
)
def test_implausible_email_addresses_are_rejected(address: str) -> None:
    assert not is_plausible_email(address)


def test_an_email_address_is_trimmed_and_lower_cased() -> None:
    assert normalise_email("  Ada.Lovelace@Example.CO.uk ") == "ada.lovelace@example.co.uk"


@pytest.mark.parametrize(
    "phone", ["123456", "+1 (555) 010-9999", "0044-20-7946-0018", "555.010.9999", "+49 30 1234567", "1" * 20]
)
def test_plausible_phone_numbers_are_accepted(phone: str) -> None:
    assert is_plausible_phone(phone)


@pytest.mark.parametrize(
    "phone",
    [
        "12345",
        "1" * 21,
        "+1 555 CALL NOW",
        "ext. 1234567",
        "+-()  ",
        "1234+5678",
        "++44 20 7946 0018",
        "1/2345678",
    ],
)
def test_implausible_phone_numbers_are_rejected(phone: str) -> None:
    assert not is_plausible_phone(phone)


@pytest.mark.parametrize(
    ("phone", "normalised"),
    [
        ("+44 20 7946 0018", "+442079460018"),
        ("+44 (0)20 7946 0018", "+442079460018"),
        ("0044 20 7946 0018", "+442079460018"),
        ("+1 (555) 010-9999", "+15550109999"),
        ("555.010.9999", "5550109999"),
        ("020 7946 0018", "02079460018"),
        ("", ""),
    ],
)
def test_phone_numbers_are_normalised_to_digits_keeping_the_country_code(phone: str, normalised: str) -> None:
    assert normalise_phone(phone) == normalised


def test_a_national_number_does_not_match_its_international_form() -> None:
    # Without knowing the country the national form cannot be completed; see normalise_phone.
    assert normalise_phone("020 7946 0018") != normalise_phone("+44 20 7946 0018")


@pytest.mark.parametrize(
    "website",
    ["example.com", "www.example.com", "https://www.example.com/en/", "http://example.com:8080/a?b=c#d"],
)
def test_plausible_websites_are_accepted(website: str) -> None:
    assert is_plausible_website(website)


@pytest.mark.parametrize(
    "website",
    [
        "example",
        "ftp://example.com",
        "javascript:alert(1)",
        "https://",
        "exa mple.com",
        "https://x/" + "a" * 250,
    ],
)
def test_implausible_websites_are_rejected(website: str) -> None:
    assert not is_plausible_website(website)


def test_every_officially_assigned_iso_3166_country_code_is_known() -> None:
    assert len(COUNTRY_CODES) == 249
    assert all(is_country_code(code) for code in ("DE", "US", "GB", "FR", "JP", "AX", "SS"))


@pytest.mark.parametrize("code", ["de", "UK", "EU", "XK", "D", "DEU", ""])
def test_other_country_codes_are_unknown(code: str) -> None:
    assert not is_country_code(code)
