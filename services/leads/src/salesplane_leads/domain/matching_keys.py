"""Keys under which two spellings of one person or one company compare equal, for duplicate
detection: "Zoë O'Brien" at "ACME, Inc." is "zoe obrien" at "acme"."""

from __future__ import annotations

import re
import unicodedata

# Legal-form suffixes that say nothing about which company it is. Only ever stripped from the end,
# and never down to nothing ("Limited" alone stays "limited").
LEGAL_FORM_SUFFIXES = frozenset(
    {
        "ab",
        "ag",
        "aps",
        "as",
        "asa",
        "bv",
        "bvba",
        "co",
        "company",
        "corp",
        "corporation",
        "cv",
        "eg",
        "ev",
        "gbr",
        "gmbh",
        "inc",
        "incorporated",
        "kg",
        "kgaa",
        "kk",
        "llc",
        "llp",
        "lp",
        "ltd",
        "ltda",
        "limited",
        "nv",
        "oy",
        "oyj",
        "ohg",
        "plc",
        "pte",
        "pty",
        "sa",
        "sarl",
        "sas",
        "se",
        "spa",
        "sl",
        "srl",
        "ug",
    }
)
# "GmbH & Co. KG": the connector only goes when what follows it was a legal form.
_CONNECTORS = frozenset({"and", "und", "et", "y"})
# Dots and apostrophes join ("O'Brien" = "OBrien", "G.m.b.H." = "GmbH"); other punctuation separates.
_JOINING = re.compile(r"[.'\u2019`\u00b4]")
_SEPARATING = re.compile(r"[^0-9a-z]+")


def fold(value: str) -> str:
    """Case-, accent- and punctuation-insensitive form: lower-case ASCII-ish words separated by one
    space."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = stripped.replace("&", " and ").replace("+", " and ")
    joined = _JOINING.sub("", stripped)
    return " ".join(_SEPARATING.sub(" ", joined).split())


def person_key(first_name: str, last_name: str) -> str:
    """Empty when there is no last name: a first name alone identifies nobody."""
    last = fold(last_name)
    if not last:
        return ""
    return f"{fold(first_name)}|{last}"


def company_key(company: str) -> str:
    words = fold(company).split()
    while len(words) > 1 and words[-1] in LEGAL_FORM_SUFFIXES:
        words.pop()
        if len(words) > 1 and words[-1] in _CONNECTORS:
            words.pop()
    if words and words[0] == "the" and len(words) > 1:
        words.pop(0)
    return " ".join(words)
