"""What free text may contain."""

from __future__ import annotations

import unicodedata


def is_single_line(value: str) -> bool:
    """No control characters at all (PostgreSQL refuses NUL in text; the rest is never wanted)."""
    return not any(unicodedata.category(c) == "Cc" for c in value)


def is_text(value: str) -> bool:
    """Like is_single_line, but line breaks and tabs are fine (next steps, close reasons)."""
    return not any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in value)
