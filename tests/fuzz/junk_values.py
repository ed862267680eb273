"""Malformed values both fuzzers draw from: junk and oversized text, ids that name nothing or the
wrong kind of record, impossible dates and instants, numbers at and past their types' edges.

Each draw takes a seeded `random.Random`, so a run repeats itself from its seed; the values are
built per draw (lengths, digits, characters vary), not read from a fixed list only.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Sequence

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT64_MAX = 2**64 - 1
# Past the gRPC server's default 4 MiB limit on a received message, and past the gateway's 1 MiB body.
OVERSIZED_GRPC_BYTES = 4 * 1024 * 1024 + 1024
OVERSIZED_HTTP_BYTES = 1024 * 1024 + 512

_TRICKY = [
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x00b",
    "' OR 1=1 --",
    "%_\\",
    "'; DROP TABLE outbox; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "\u202eevil",  # right-to-left override
    "e\u0301\u0301\u0301",  # stacked combining marks
    "\U0001f4a9" * 3,  # outside the Basic Multilingual Plane
    "\u2028\u2029",
    "\ufeffBOM",
    "null",
    "undefined",
    "NaN",
    "-0",
    "{}",
    "[]",
    "${jndi:ldap://x}",
    "ÅÄÖ" * 40,
]
_BAD_CURRENCIES = ["", "usd", "EURO", "XX", "12", "€€€", "U S", "XXXX", "\x00\x00\x00", "ZZZ"]
_BAD_DECIMALS = ["abc", "-1", "1e400", "NaN", "Infinity", "-Infinity", "0x10", "1,5", "1.2.3", "", "٣"]
_BAD_PERIODS = ["2026-Q5", "2026-Q0", "2026-13", "2026-00", "Q4", "9999-Q4", "-1-Q1", "2026Q4", "2026-W01"]


def junk_text(rng: random.Random) -> str:
    """Text a well-behaved client would not send: control characters, markup, injections, odd
    Unicode, or plain garbage of a random length."""
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(_TRICKY)
    if roll < 0.7:
        alphabet = string.printable + "ąęłżźćńóś€\u00a0\u200b"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
    if roll < 0.85:
        return rng.choice(_TRICKY[5:]) * rng.randint(2, 30)
    return "".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(1, 30)))


def oversized_text(rng: random.Random) -> str:
    """Longer than any column the services store (names, ids and codes are at most a few hundred)."""
    size = rng.choice([256, 300, 1025, 5_000, 70_000])
    return rng.choice("Az9ż-") * size


def bad_id(rng: random.Random, known: Sequence[str] = ()) -> str:
    """An id that is malformed, or well-formed but naming nothing (or a record of another kind)."""
    roll = rng.random()
    if roll < 0.2 and known:
        # A real id of another kind of record, or a real id bent out of shape.
        real = rng.choice(list(known))
        return rng.choice([real.upper(), real + "x", real[:-1], " " + real, real.replace("-", "")])
    if roll < 0.4:
        return str(uuid.UUID(int=rng.getrandbits(128)))  # well-formed, names nothing
    if roll < 0.5:
        return "00000000-0000-0000-0000-000000000000"
    if roll < 0.6:
        return str(uuid.UUID(int=rng.getrandbits(128)))[:-1] + rng.choice("gxz!")
    if roll < 0.8:
        return junk_text(rng)
    return oversized_text(rng)


def bad_currency(rng: random.Random) -> str:
    return rng.choice(_BAD_CURRENCIES) if rng.random() < 0.8 else junk_text(rng)


def bad_decimal(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return rng.choice(_BAD_DECIMALS)
    return "1." + "".join(rng.choice(string.digits) for _ in range(rng.randint(12, 60)))


def bad_period(rng: random.Random) -> str:
    return rng.choice(_BAD_PERIODS) if rng.random() < 0.8 else junk_text(rng)


def impossible_date(rng: random.Random) -> tuple[int, int, int]:
    """(year, month, day) that no calendar has."""
    year = rng.choice([2025, 2026, 2027, 2100])
    return rng.choice(
        [
            (2026, 2, 29),
            (2025, 2, 29),
            (2100, 2, 29),
            (year, 2, 30),
            (year, 4, 31),
            (year, 0, rng.randint(1, 28)),
            (year, 13, rng.randint(1, 28)),
            (year, rng.randint(1, 12), 0),
            (year, rng.randint(1, 12), 32),
            (0, 1, 1),
            (10_000, 1, 1),
            (-1, -1, -1),
            (year, rng.randint(-(2**31), -1), 1),
            (2**31 - 1, 12, 31),
        ]
    )


def impossible_date_text(rng: random.Random) -> str:
    year, month, day = impossible_date(rng)
    if rng.random() < 0.7:
        return f"{year:04d}-{month:02d}-{day:02d}"
    return rng.choice(
        ["31/12/2026", "2026-1-1", "2026-01-01T25:00:00Z", "tomorrowish", "2026-02-30T00:00:00Z"]
    )


def impossible_instant(rng: random.Random) -> tuple[int, int]:
    """(seconds, nanos) of a protobuf Timestamp outside its valid range (0001-01-01 .. 9999-12-31)."""
    return rng.choice(
        [
            (1_700_000_000, -1),
            (1_700_000_000, 1_000_000_000),
            (253_402_300_800, 0),  # 10000-01-01
            (-62_135_596_801, 0),  # before 0001-01-01
            (2**62, 0),
            (-(2**62), rng.randint(0, 999_999_999)),
            (rng.randint(253_402_300_800, 2**40), rng.randint(0, 999_999_999)),
        ]
    )


def edge_integer(rng: random.Random, bounds: tuple[int, int]) -> int:
    low, high = bounds
    return rng.choice([low, high, low + 1, high - 1, -1, 0, -(10**9), 10**12 if high > 2**40 else high])


def unknown_enum_number(rng: random.Random, known: Sequence[int]) -> int:
    """A number the enum does not define (proto3 enums are open, so a client can send any)."""
    while True:
        candidate = rng.choice([-1, -(2**31), 2**31 - 1, 99, max(known) + 1, rng.randint(1000, 10**6)])
        if candidate not in known:
            return candidate
