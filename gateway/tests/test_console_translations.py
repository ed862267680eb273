"""Every string the console shows has its Polish translation (the seed's language), and each
translation keeps the placeholders of its English original: a missing `%(amount)s` would print
nothing, an extra one would fail the page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "gateway/src/salesplane_gateway/console/translations/pl/LC_MESSAGES/console.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_every_console_string_is_translated_into_polish() -> None:
    checked = subprocess.run(
        [sys.executable, str(ROOT / "scripts/console_messages.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert checked.returncode == 0, "run `make console-messages` and translate:\n" + checked.stdout


def test_translations_keep_their_placeholders() -> None:
    with CATALOGUE.open("rb") as source:
        catalogue = read_po(source, locale="pl")

    for message in catalogue:
        if not message.id or not message.string:
            continue
        originals = message.id if isinstance(message.id, tuple) else (message.id,)
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set().union(*(PLACEHOLDER.findall(text) for text in originals))
        for translated in translations:
            assert set(PLACEHOLDER.findall(translated)) <= wanted | {"num"}, message.id
            assert wanted <= set(PLACEHOLDER.findall(translated)) | {"num"}, message.id
