"""The consumer loop applies a batch on a thread of its own while it polls the next: batches are
still applied one at a time and in order, a position is committed only after its batch's
transaction, a failed batch is read again together with the batch polled past it, and a stop lets
the batch in flight finish and commits it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from salesplane_platform.consumer_runner import ConsumerRunner
from salesplane_platform.event_transport import IncomingRecord


def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def batch(*offsets: int) -> list[IncomingRecord]:
    return [IncomingRecord("t", 0, offset, b"k", b"v") for offset in offsets]


class ScriptedTransport:
    """Hands out the batches in order (then nothing); records every call, in one journal."""

    def __init__(
        self, batches: list[list[IncomingRecord]], journal: list[str], *, refused_commits: int = 0
    ) -> None:
        self._batches = list(batches)
        self.journal = journal
        self.polls_thread: set[int] = set()
        # The first commits refused, as a group mid-rebalance refuses them.
        self._refused_commits = refused_commits

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        self.polls_thread.add(threading.get_ident())
        if not self._batches:
            time.sleep(min(timeout_seconds, 0.01))
            return []
        found = self._batches.pop(0)
        self.journal.append(f"polled {found[0].offset}")
        return found

    def commit(self, records: Sequence[IncomingRecord]) -> None:
        self.polls_thread.add(threading.get_ident())
        if self._refused_commits:
            self._refused_commits -= 1
            self.journal.append(f"refused {max(r.offset for r in records)}")
            raise RuntimeError("the group is rebalancing")
        self.journal.append(f"committed {max(r.offset for r in records)}")

    def rewind(self, records: Sequence[IncomingRecord]) -> None:
        self.journal.append(f"rewound {sorted(r.offset for r in records)}")
        # Read again from the earliest: as a seek would.
        self._batches.insert(0, sorted(records, key=lambda r: r.offset))

    def close(self) -> None: ...


class SlowApply(ConsumerRunner):
    """Database work replaced by a journal entry at its start and end; the first batch fails
    once when asked to, and a batch can be held until released."""

    def __init__(
        self, transport: ScriptedTransport, *, fail_first: bool = False, hold_first_until: str = ""
    ) -> None:
        super().__init__(None, None, transport, None, poll_timeout_seconds=0.05)  # type: ignore[arg-type]
        self._journal = transport.journal
        self._fail_first = fail_first
        self._hold_first_until = hold_first_until
        self.release = threading.Event()
        self.release.set()
        self.applied_thread: set[int] = set()

    def process(self, records: Sequence[IncomingRecord]) -> int:
        self.applied_thread.add(threading.get_ident())
        first = records[0].offset
        self._journal.append(f"applying {first}")
        self.release.wait(10)
        if self._hold_first_until:
            # A loop that polled only after applying would never get there: this batch would fail.
            eventually(lambda: self._hold_first_until in self._journal, timeout=5)
            self._hold_first_until = ""
        if self._fail_first:
            self._fail_first = False
            self._journal.append(f"failed {first}")
            raise RuntimeError("database restarting")
        self._journal.append(f"applied {first}")
        return len(records)


def run_until(runner: SlowApply, done: Callable[[], bool]) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    try:
        eventually(done)
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()


def test_the_next_batch_is_polled_while_one_applies_and_positions_follow_the_transactions() -> None:
    journal: list[str] = []
    transport = ScriptedTransport([batch(0, 1), batch(2, 3), batch(4)], journal)
    runner = SlowApply(transport, hold_first_until="polled 2")
    run_until(runner, lambda: "committed 4" in journal)

    assert journal.index("polled 2") < journal.index("applied 0")  # polled during the apply
    applies = [entry for entry in journal if entry.startswith(("applying", "applied"))]
    assert applies == ["applying 0", "applied 0", "applying 2", "applied 2", "applying 4", "applied 4"]
    for first, last in ((0, 1), (2, 3), (4, 4)):
        assert journal.index(f"applied {first}") < journal.index(f"committed {last}")
    assert [e for e in journal if e.startswith("committed")] == ["committed 1", "committed 3", "committed 4"]
    # The transport from one thread, the database from another.
    assert len(transport.polls_thread) == 1 and transport.polls_thread.isdisjoint(runner.applied_thread)


def test_a_failed_batch_is_read_again_with_the_batch_polled_past_it() -> None:
    journal: list[str] = []
    transport = ScriptedTransport([batch(0, 1), batch(2)], journal)
    runner = SlowApply(transport, fail_first=True)
    run_until(runner, lambda: "committed 2" in journal)

    assert "rewound [0, 1, 2]" in journal
    assert "committed 1" not in journal[: journal.index("rewound [0, 1, 2]")]
    assert journal[-3:] == ["applying 0", "applied 0", "committed 2"]


def test_a_stop_lets_the_batch_in_flight_finish_and_commits_it() -> None:
    journal: list[str] = []
    transport = ScriptedTransport([batch(0, 1)], journal)
    runner = SlowApply(transport)
    runner.release.clear()
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    eventually(lambda: "applying 0" in journal)
    stop.set()
    time.sleep(0.1)
    assert thread.is_alive()  # waiting for the transaction, not abandoning it
    runner.release.set()
    thread.join(15)
    assert not thread.is_alive()
    assert journal[-2:] == ["applied 0", "committed 1"]


def test_a_refused_commit_is_made_again_on_the_next_rounds() -> None:
    """The records were applied: their position is committed once the transport accepts it, not
    dropped with the refusal (a transport that keeps the partition's position would never read
    them again)."""
    journal: list[str] = []
    transport = ScriptedTransport([batch(0, 1, 2)], journal, refused_commits=2)
    run_until(SlowApply(transport), lambda: "committed 2" in journal)
    assert journal[-3:] == ["refused 2", "refused 2", "committed 2"]
