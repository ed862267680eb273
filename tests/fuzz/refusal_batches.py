"""Nothing written by a refused request, checked per batch instead of per call.

rpc_fuzz.check_call takes a database fingerprint before and after every failed call: sound, but
two full reads of every table per request is too slow for 10,000 requests per API. Here requests
go out in batches, and the fingerprints (of every service's database, outbox included) are taken
around a batch:

- a batch in which no request may have written must leave every fingerprint as it was. That is a
  batch of refusals and of answered reads (gRPC Get/List/Run/... RPCs, HTTP GET): a read that
  writes is as much a finding as a refusal that does. If a fingerprint changed, the batch's
  requests are replayed one at a time with a fingerprint around each (within a time budget) to
  name the writer, and the changed tables are named anyway;
- a batch with an accepted write (gRPC OK, HTTP 2xx/3xx: a malformed-looking request can still be
  valid, e.g. a name of odd Unicode) proves nothing about its other requests, since the accepted
  one may have written. Those are sent again on their own, as a new batch, from the new state,
  until a batch has no accepted write (a request accepted on a later round, because an earlier one
  changed the data, counts as accepted). So every refused request has been refused inside a batch
  that could not write, with the fingerprints equal around it.

What this cannot see: a refused request whose write another refused request of the same batch
undid exactly (two compensating bugs at once), and a write outside the databases. Batches grow
while they are all refusals and shrink after an accepted answer, to keep replays few.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

FIRST_BATCH = 50
LARGEST_BATCH = 400
SMALLEST_BATCH = 10
MAX_ROUNDS = 6
CULPRIT_SEARCH_SECONDS = 60.0
KEPT_EXAMPLES = 12


class Case(Protocol):
    @property
    def target(self) -> str: ...

    @property
    def flaw(self) -> str: ...

    def describe(self) -> str: ...


CaseT = TypeVar("CaseT", bound=Case)


@dataclass(frozen=True)
class Answer:
    status: str
    # A write was carried out (gRPC OK, HTTP 2xx/3xx, not a read): it may have written, rightly.
    accepted: bool
    # Why this answer breaks the rules (a crash status, a 5xx), or None.
    violation: str | None = None
    seconds: float = 0.0


Fingerprints = Mapping[str, str]  # "service.table" -> digest


@dataclass
class Tally:
    """What one API's run sent and got back (the figures printed per API)."""

    api: str
    generated: int = 0
    replayed: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_target: Counter[str] = field(default_factory=Counter)
    accepted_by_target: Counter[str] = field(default_factory=Counter)
    # What got through although malformed: "target: first flaw" -> count.
    accepted_flaws: Counter[str] = field(default_factory=Counter)
    slowest: list[tuple[float, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    violation_count: int = 0
    writes: list[str] = field(default_factory=list)
    refusal_batches: int = 0
    mixed_batches: int = 0
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return self.generated + self.replayed

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        statuses = ", ".join(f"{status} {count}" for status, count in self.by_status.most_common())
        accepted = "\n    ".join(f"{count} x {flaw}" for flaw, count in self.accepted_flaws.most_common(8))
        slowest = "\n    ".join(f"{seconds:.2f} s {what}" for seconds, what in self.slowest[:5])
        return (
            f"{self.api}: {self.generated} generated + {self.replayed} replayed = {self.sent} sent in"
            f" {self.seconds:.1f} s ({self.per_second:.0f}/s); {self.refusal_batches} batches that"
            f" could not write, {self.mixed_batches} with an accepted write; by status: {statuses}"
            f"\n  malformed but accepted writes, most common:\n    {accepted or '(none)'}"
            f"\n  slowest answers:\n    {slowest}"
        )


@dataclass
class _Batches(Generic[CaseT]):
    tally: Tally
    send: Callable[[Sequence[CaseT]], list[Answer]]
    fingerprint: Callable[[], Fingerprints]
    baseline: Fingerprints

    def run(self, cases: Sequence[CaseT]) -> bool:
        """Sends the batch (and replays of its refused requests); True when it ended on a batch of
        refusals only (the usual case)."""
        pending = list(cases)
        first = True
        for _round in range(MAX_ROUNDS):
            answers = self.send(pending)
            self._count(pending, answers, first=first)
            first = False
            after = self.fingerprint()
            refused = [case for case, answer in zip(pending, answers, strict=True) if not answer.accepted]
            if len(refused) == len(pending):
                self.tally.refusal_batches += 1
                if after != self.baseline:
                    self._find_writer(pending, self.baseline, after)
                    after = self.fingerprint()
                self.baseline = after
                return _round == 0
            self.tally.mixed_batches += 1
            self.baseline = after
            if not refused:
                return False
            pending = refused
            self.tally.replayed += len(pending)
        # Still mixed after MAX_ROUNDS: the rest one at a time, as rpc_fuzz.check_call does.
        for case in pending:
            [answer] = self.send([case])
            self._count([case], [answer], first=False)
            after = self.fingerprint()
            if not answer.accepted and after != self.baseline:
                self._record_write([case], self.baseline, after)
            self.baseline = after
            self.tally.replayed += 1
        return False

    def _count(self, cases: Sequence[CaseT], answers: Sequence[Answer], *, first: bool) -> None:
        tally = self.tally
        for case, answer in zip(cases, answers, strict=True):
            if first:
                tally.generated += 1
                tally.by_status[answer.status] += 1
                tally.by_target[case.target] += 1
            if answer.accepted:
                tally.accepted_by_target[case.target] += 1
                tally.accepted_flaws[f"{case.target}: {case.flaw.split(';')[0][:60]}"] += 1
            if len(tally.slowest) < KEPT_EXAMPLES or answer.seconds > tally.slowest[-1][0]:
                tally.slowest.append((answer.seconds, f"{case.target} [{case.flaw[:60]}] {answer.status}"))
                tally.slowest = sorted(tally.slowest, reverse=True)[:KEPT_EXAMPLES]
            if answer.violation is not None:
                tally.violation_count += 1
                if len(tally.violations) < KEPT_EXAMPLES:
                    tally.violations.append(f"{answer.violation}\n    request: {case.describe()}")

    def _find_writer(self, cases: Sequence[CaseT], before: Fingerprints, after: Fingerprints) -> None:
        """A batch of refusals wrote: replay its requests one at a time to name the writer (it
        may not write again from the new state; the changed tables are reported either way)."""
        deadline = time.monotonic() + CULPRIT_SEARCH_SECONDS
        state = after
        for case in cases:
            if time.monotonic() > deadline:
                break
            [answer] = self.send([case])
            now = self.fingerprint()
            if not answer.accepted and now != state:
                self._record_write([case], before, after)
                return
            state = now
        self._record_write(cases, before, after)

    def _record_write(self, cases: Sequence[CaseT], before: Fingerprints, after: Fingerprints) -> None:
        changed = sorted(name for name in {*before, *after} if before.get(name) != after.get(name))
        shown = "\n    ".join(case.describe() for case in cases[:5])
        more = f"\n    ... and {len(cases) - 5} more" if len(cases) > 5 else ""
        self.tally.writes.append(
            f"{len(cases)} refused request(s) changed {', '.join(changed)}:\n    {shown}{more}"
        )


def run_in_refusal_batches(
    api: str,
    *,
    draw: Callable[[], CaseT],
    send: Callable[[Sequence[CaseT]], list[Answer]],
    fingerprint: Callable[[], Fingerprints],
    total: int,
) -> Tally:
    """Generate and send `total` malformed requests; see the module docstring for the checks."""
    tally = Tally(api)
    started = time.monotonic()
    batches = _Batches(tally, send, fingerprint, fingerprint())
    size = FIRST_BATCH
    while tally.generated < total:
        cases = [draw() for _ in range(min(size, total - tally.generated))]
        clean = batches.run(cases)
        size = min(size * 2, LARGEST_BATCH) if clean else max(size // 2, SMALLEST_BATCH)
    tally.seconds = time.monotonic() - started
    return tally
