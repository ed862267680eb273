"""Contact details of a lead: e-mail addresses and phone numbers, checked for plausibility only
(whether they reach anyone is for a human to find out)."""

from __future__ import annotations

import re

MAX_EMAIL_LENGTH = 254
MAX_EMAIL_LOCAL_PART_LENGTH = 64
MAX_PHONE_LENGTH = 40
MIN_PHONE_DIGITS = 6
MAX_PHONE_DIGITS = 20

_EMAIL_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TOP_LEVEL_DOMAIN = re.compile(r"^[A-Za-z]{2,63}$|^xn--[A-Za-z0-9-]{1,59}$")
_PHONE_CHARACTERS = re.compile(r"^[0-9 +()-]+$")


def normalise_email(value: str) -> str:
    return value.strip().lower()


def is_plausible_email(value: str) -> bool:
    """local@domain.tld with a dot-atom local part and a DNS host name; no quoted or IP forms."""
    if len(value) > MAX_EMAIL_LENGTH or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if len(local) > MAX_EMAIL_LOCAL_PART_LENGTH or not _EMAIL_LOCAL_PART.match(local):
        return False
    labels = domain.split(".")
    return (
        len(labels) >= 2
        and all(_DOMAIN_LABEL.match(label) for label in labels)
        and bool(_TOP_LEVEL_DOMAIN.match(labels[-1]))
    )


def is_plausible_phone(value: str) -> bool:
    """Digits, spaces, + - ( ) only, with 6 to 20 digits."""
    if len(value) > MAX_PHONE_LENGTH or not _PHONE_CHARACTERS.match(value):
        return False
    digits = sum(character.isdigit() for character in value)
    return MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS
