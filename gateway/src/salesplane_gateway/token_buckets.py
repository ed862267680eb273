"""Token buckets by caller: a sustained rate per second plus a burst, in bounded memory.

Written here rather than taken from the `limits` package: `limits` offers fixed, moving and
sliding-window counters but no token bucket, and its in-memory storage reads the wall clock and
expires keys from a timer thread, so neither the semantics (a steady rate with a burst on top) nor
a test clock fit. The whole algorithm is the few lines of `take`.

Plain Python, no framework: the HTTP side is rate_limits.py.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

# Callers tracked at once, at most. An idle caller's bucket is dropped as soon as it would be full
# again (which changes nothing for them); only when more callers than this were active within one
# refill period does the least recently seen one lose its bucket early, and so get a fresh burst.
# A bucket costs about 250 bytes with its key, so the cap holds the limiter to some 25 MB.
DEFAULT_MAX_CALLERS = 100_000


class TokenBuckets:
    """One bucket of `burst` tokens per key, refilled at `per_second` tokens a second; each request
    takes one. Thread-safe: one lock around a handful of arithmetic operations."""

    def __init__(
        self,
        per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_callers: int = DEFAULT_MAX_CALLERS,
    ) -> None:
        if not (math.isfinite(per_second) and per_second > 0) or burst < 1 or max_callers < 1:
            raise ValueError("per_second must be positive, burst and max_callers at least 1")
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._max_callers = max_callers
        # An empty bucket is full again after this long, so a bucket idle this long can be forgotten.
        self._refill_seconds = burst / per_second
        # key -> (tokens, when they were counted), least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token from `key`'s bucket: 0.0 when there was one, else the seconds until there is."""
        with self._lock:
            now = self._clock()
            self._forget_idle(now)
            tokens, counted = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - counted) * self.per_second)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.per_second
            self._buckets[key] = (tokens, now)
            return wait

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def _forget_idle(self, now: float) -> None:
        while self._buckets:
            oldest, (_, counted) = next(iter(self._buckets.items()))
            if now - counted < self._refill_seconds and len(self._buckets) < self._max_callers:
                return
            del self._buckets[oldest]
