"""Keep the console's Polish catalogue in step with its source: `make console-messages`.

Extracts every translatable string of the console (gettext calls in its Python modules, `_()`
in its Jinja templates), then rewrites translations/pl/LC_MESSAGES/console.po with the
translations it already has, new strings left empty (to be translated) and strings no longer used
dropped. gateway/tests/test_console_translations.py fails while any string is untranslated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

CONSOLE = Path(__file__).resolve().parent.parent / "gateway" / "src" / "salesplane_gateway" / "console"
CATALOGUE = CONSOLE / "translations" / "pl" / "LC_MESSAGES" / "console.po"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def extracted() -> Catalog:
    catalogue = Catalog(
        locale="pl",
        project="Salesplane console",
        domain="console",
        copyright_holder="The Salesplane authors",
        msgid_bugs_address="",
        last_translator="The Salesplane authors",
        language_team="Polish",
        fuzzy=False,
        header_comment="# The Salesplane console in Polish: `make console-messages` updates it.",
    )
    for filename, line, message, comments, context in extract_from_dir(
        CONSOLE, METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        catalogue.add(message, locations=[(filename, line)], auto_comments=comments, context=context)
    return catalogue


def merged() -> Catalog:
    fresh = extracted()
    if CATALOGUE.exists():
        with CATALOGUE.open("rb") as source:
            existing = read_po(source, locale="pl")
        for message in fresh:
            if message.id and (old := existing.get(message.id, message.context)) is not None and old.string:
                message.string = old.string
    return fresh


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="list untranslated strings; fail if any")
    options = parser.parse_args()
    catalogue = merged()
    # A plural entry's string is a tuple of forms: each of them must be there.
    missing = [
        message.id
        for message in catalogue
        if message.id and not (all(message.string) if isinstance(message.string, tuple) else message.string)
    ]
    if options.check:
        for message_id in missing:
            print(f"untranslated: {message_id!r}")
        return 1 if missing else 0
    CATALOGUE.parent.mkdir(parents=True, exist_ok=True)
    with CATALOGUE.open("wb") as target:
        write_po(target, catalogue, width=100, omit_header=False, sort_output=True, include_lineno=False)
    print(f"{CATALOGUE.name}: {len(catalogue)} strings, {len(missing)} to translate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
