"""Contact details of a lead: e-mail addresses, phone numbers and web sites, checked for plausibility
only (whether they reach anyone is for a human to find out)."""

from __future__ import annotations

import re

MAX_EMAIL_LENGTH = 254
MAX_EMAIL_LOCAL_PART_LENGTH = 64
MAX_PHONE_LENGTH = 40
MIN_PHONE_DIGITS = 6
MAX_PHONE_DIGITS = 20
MAX_WEBSITE_LENGTH = 255

_EMAIL_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TOP_LEVEL_DOMAIN = re.compile(r"^[A-Za-z]{2,63}$|^xn--[A-Za-z0-9-]{1,59}$")
# A leading + only; the rest digits and the separators people type.
_PHONE = re.compile(r"^\+?[0-9 ().-]+$")
# "+44 (0)20 ..." writes the national trunk prefix next to the country code; dialled, it is dropped.
_TRUNK_PREFIX_AFTER_COUNTRY_CODE = re.compile(r"\(\s*0\s*\)")
_WEBSITE = re.compile(
    r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?P<host>[^/:?#\s]+)(?::\d{1,5})?(?:[/?#]\S*)?$"
)


def normalise_email(value: str) -> str:
    return value.strip().lower()


def is_plausible_email(value: str) -> bool:
    """local@domain.tld with a dot-atom local part and a DNS host name: the practical subset of
    RFC 5322 that mail systems accept; no quoted local parts, comments or IP literals."""
    if len(value) > MAX_EMAIL_LENGTH or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if len(local) > MAX_EMAIL_LOCAL_PART_LENGTH or not _EMAIL_LOCAL_PART.match(local):
        return False
    return is_host_name(domain)


def is_host_name(value: str) -> bool:
    labels = value.split(".")
    return (
        len(value) <= 253
        and len(labels) >= 2
        and all(_DOMAIN_LABEL.match(label) for label in labels)
        and bool(_TOP_LEVEL_DOMAIN.match(labels[-1]))
    )


def is_plausible_phone(value: str) -> bool:
    """Digits with spaces, ( ) - . as separators and an optional leading +; 6 to 20 digits."""
    if len(value) > MAX_PHONE_LENGTH or not _PHONE.match(value):
        return False
    digits = sum(character.isdigit() for character in value)
    return MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS


def normalise_phone(value: str) -> str:
    """The digits of a phone number, with a leading + when it carries a country code.

    Used for duplicate detection only; the number is kept as entered. "00" is read as the
    international prefix (ITU-T E.164 recommends it, and national numbers never start with it), so
    "0044 20 7946 0018", "+44 (0)20 7946 0018" and "+44 20 7946 0018" are one number. A number
    written without a country code stays national: without knowing the country it cannot be
    completed, so "020 7946 0018" does not match the international form.
    """
    text = value.strip()
    if not text:
        return ""
    international = text.startswith("+")
    if international:
        text = _TRUNK_PREFIX_AFTER_COUNTRY_CODE.sub("", text, count=1)
    digits = "".join(character for character in text if character.isdigit())
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    return f"+{digits}" if international else digits


def is_plausible_website(value: str) -> bool:
    """A host name with an optional http(s) scheme, port and path: "example.com",
    "https://www.example.com/en/"."""
    if len(value) > MAX_WEBSITE_LENGTH:
        return False
    match = _WEBSITE.match(value)
    if match is None:
        return False
    scheme = match.group("scheme")
    if scheme is not None and scheme.lower() not in ("http", "https"):
        return False
    return is_host_name(match.group("host"))
