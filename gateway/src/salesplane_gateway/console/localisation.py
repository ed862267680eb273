"""The console's language and time zone, and every number, amount and date it prints.

Language: the `lang` cookie when the user chose one, else the browser's Accept-Language, else
English. Time zone: the `tz` cookie (set by console.js from the browser's own zone, or chosen by the
user), else UTC. Formats come from CLDR through Babel, so "1 234,50 zł" and "$1,234.50" are each
right where they are read. Amounts are integer minor units: they become Decimals for Babel, never
floats.

The Polish catalogue is the gettext .po file in translations/, read when the app starts (no
compile step): English is the source language.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_precision
from babel.support import NullTranslations, Translations
from flask import g, has_request_context, request

LANGUAGES = ("en", "pl")
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "lang"
ZONE_COOKIE = "tz"
_TRANSLATIONS = Path(__file__).parent / "translations"
_KEY = "console_locale"


@dataclass(frozen=True)
class UserLocale:
    # The language of the words ("en", "pl"), and the locale of the formats: the browser's own
    # ("en-GB" writes 15 Dec 2026, "en-US" Dec 15, 2026) when it speaks that language.
    language: str
    zone: ZoneInfo
    formats: str = ""

    @property
    def babel(self) -> Locale:
        return _babel_locale(self.formats or self.language)

    def today(self) -> date:
        return datetime.now(self.zone).date()


def current_locale() -> UserLocale:
    if not has_request_context():
        return UserLocale(DEFAULT_LANGUAGE, ZoneInfo("UTC"))
    found = g.get(_KEY)
    if found is None:
        language = _language()
        found = UserLocale(language, _zone(request.cookies.get(ZONE_COOKIE, "")), _formats(language))
        setattr(g, _KEY, found)
    return found  # type: ignore[no-any-return]


def _language() -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE


def _formats(language: str) -> str:
    for tag, _quality in request.accept_languages:
        if tag.split("-")[0].lower() == language:
            try:
                return str(Locale.parse(tag, sep="-"))
            except (ValueError, TypeError, LookupError):
                break
    return language


def _zone(name: str) -> ZoneInfo:
    if name and len(name) <= 64:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def known_zone(name: str) -> bool:
    return _zone(name).key == name or name == "UTC"


@cache
def _babel_locale(language: str) -> Locale:
    return Locale.parse(language)


@cache
def _catalogue(language: str) -> NullTranslations:
    po_file = _TRANSLATIONS / language / "LC_MESSAGES" / "console.po"
    if not po_file.exists():
        return NullTranslations()
    with po_file.open("rb") as source:
        catalogue = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled)


def gettext(message: str, **values: object) -> str:
    translated = _catalogue(current_locale().language).gettext(message)
    return translated % values if values else translated


def ngettext(singular: str, plural: str, count: int, **values: object) -> str:
    translated = _catalogue(current_locale().language).ngettext(singular, plural, count)
    return translated % {"num": count, **values}


def money(amount_minor: int, currency_code: str) -> str:
    """An amount in its currency, as the reader's language writes it."""
    if not currency_code:
        return format_decimal(amount_minor, locale=current_locale().babel)
    digits = get_currency_precision(currency_code)
    value = Decimal(amount_minor).scaleb(-digits)
    return format_currency(value, currency_code, locale=current_locale().babel)


def major_units(amount_minor: int, currency_code: str) -> str:
    """The plain decimal an input field shows and reads back ("1234.50"), locale-free."""
    digits = get_currency_precision(currency_code) if currency_code else 0
    return f"{Decimal(amount_minor).scaleb(-digits):.{digits}f}"


def minor_units(text: str, currency_code: str) -> int:
    """A typed amount ("1 234,50", "1234.5") as integer minor units; ValueError when it is not one
    or has more decimals than the currency has."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").replace("_", "")
    cleaned = cleaned.replace(",", ".") if "," in cleaned and "." not in cleaned else cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("not an amount") from None
    digits = get_currency_precision(currency_code) if currency_code else 0
    scaled = value.scaleb(digits)
    if not value.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError(f"at most {digits} decimals")
    return int(scaled)


def typed_date(text: str) -> date | str:
    """A date as a date input sends it (YYYY-MM-DD): the date, or why it is not one (the form's
    readers put that beside the field). Empty text is for the caller to judge."""
    try:
        found = date.fromisoformat(text.strip())
    except ValueError:
        return gettext("Enter a date as YYYY-MM-DD.")
    if not 1970 <= found.year <= 2199:
        return gettext("Enter a date between 1970 and 2199.")
    return found


def number(value: int) -> str:
    return format_decimal(value, locale=current_locale().babel)


def percent_of_basis_points(basis_points: int) -> str:
    return format_percent(Decimal(basis_points) / 10_000, format="#,##0.#%", locale=current_locale().babel)


def probability(value: float) -> str:
    return format_percent(Decimal(str(round(value, 3))), format="#,##0.#%", locale=current_locale().babel)


def calendar_date(day: date | None) -> str:
    if day is None:
        return ""
    return format_date(day, format="medium", locale=current_locale().babel)


def moment(instant: datetime | None) -> str:
    """A point in time in the user's zone."""
    if instant is None:
        return ""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return format_datetime(
        instant, format="medium", tzinfo=current_locale().zone, locale=current_locale().babel
    )
