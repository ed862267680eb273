"""The soak's memory bound, for every Python process of the system (each service and the gateway).

A run's first WARM_UP_FRACTION is warm-up: imports finish, pools open their connections, caches
(SQLAlchemy's compiled statements, gRPC's channels, the allocator's arenas) fill. From the first
sample after it to the last, a process's resident memory (VmRSS)

1. grows by at most max(ALLOWED_GROWTH_MIB, ALLOWED_GROWTH_FRACTION of what it held at that first
   sample), and
2. grows over the second half of that window by at most half of what it grew over the first half,
   plus NOISE_MIB: a cache fills and then grows less and less, a leak keeps growing at the rate of
   the load, so its second half matches its first and fails this once it exceeds 2 x NOISE_MIB.

With about 130 MiB per process, check 1 is the one a steady leak meets first (check 2 alone
catches one only in a process past about 210 MiB, or growth that speeds up): the short form finds
a leak of about 0.8 MiB/s, the ten-minute form one of about 50 KiB/s.

The Kafka broker and PostgreSQL are printed but not bound here: the JVM's heap is capped by its
-Xmx and grows to it before it collects, and a backend's RSS counts every shared buffer it touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WARM_UP_FRACTION = 0.2
ALLOWED_GROWTH_MIB = 25.0
ALLOWED_GROWTH_FRACTION = 0.15
NOISE_MIB = 8.0

# (seconds since the load began, RSS in MiB)
Series = Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Growth:
    """One process's RSS at the window's start, middle and end, in MiB."""

    start_s: float
    start: float
    middle: float
    end: float

    @property
    def total(self) -> float:
        return self.end - self.start

    @property
    def first_half(self) -> float:
        return self.middle - self.start

    @property
    def second_half(self) -> float:
        return self.end - self.middle

    @property
    def allowed(self) -> float:
        return max(ALLOWED_GROWTH_MIB, ALLOWED_GROWTH_FRACTION * self.start)

    @property
    def allowed_second_half(self) -> float:
        return max(0.0, self.first_half) / 2 + NOISE_MIB

    def figures(self) -> dict[str, float]:
        return {
            "start_s": self.start_s,
            "start": self.start,
            "middle": self.middle,
            "end": self.end,
            "total": self.total,
            "allowed": self.allowed,
            "first_half": self.first_half,
            "second_half": self.second_half,
            "allowed_second_half": self.allowed_second_half,
        }

    def problems(self, name: str) -> list[str]:
        found = []
        if self.total > self.allowed:
            found.append(
                f"{name} grew {self.total:.1f} MiB after the warm-up ({self.start:.1f} -> "
                f"{self.end:.1f} MiB), more than the {self.allowed:.1f} MiB allowed"
            )
        if self.second_half > self.allowed_second_half:
            found.append(
                f"{name} kept growing: {self.first_half:.1f} MiB over the first half after the "
                f"warm-up, {self.second_half:.1f} MiB over the second (at most "
                f"{self.allowed_second_half:.1f} MiB allowed)"
            )
        return found


def growth(series: Series, duration_s: float) -> Growth | None:
    """The window after the warm-up; None if it holds fewer than three samples."""
    window = [(t, rss) for t, rss in series if t >= WARM_UP_FRACTION * duration_s]
    if len(window) < 3:
        return None
    middle_s = (window[0][0] + window[-1][0]) / 2
    _, middle = min(window[1:-1], key=lambda sample: abs(sample[0] - middle_s))
    return Growth(start_s=window[0][0], start=window[0][1], middle=middle, end=window[-1][1])


def memory_problems(series: Mapping[str, Series], duration_s: float) -> list[str]:
    found = []
    for name, samples in series.items():
        measured = growth(samples, duration_s)
        if measured is None:
            found.append(f"{name}: fewer than three samples after the warm-up")
        else:
            found += measured.problems(name)
    return found
