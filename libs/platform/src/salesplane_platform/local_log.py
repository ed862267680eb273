"""The embedded event transport: a durable, ordered log in one SQLite file that every local
process shares, with consumer-group positions stored beside it. Same guarantees as the Kafka
transport for one machine: at-least-once, ordered, positions committed only when asked, and the
records' headers kept with them."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from salesplane_platform.event_transport import IncomingRecord, OutgoingRecord

# The messaging.system of the spans of records on this log (messaging_spans.py).
LOCAL_LOG_SYSTEM = "salesplane_local_log"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    "offset" INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    appended_at REAL NOT NULL,
    headers TEXT
);
CREATE INDEX IF NOT EXISTS ix_records_topic_offset ON records (topic, "offset");
CREATE TABLE IF NOT EXISTS group_positions (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic)
);
"""


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit mode; we issue BEGIN IMMEDIATE ourselves so writers queue instead of deadlocking.
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA busy_timeout=30000")
    connection.executescript(_SCHEMA)
    _add_headers_column(connection)
    return connection


def _add_headers_column(connection: sqlite3.Connection) -> None:
    """Logs written before records kept their headers get the column (their records have none)."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(records)")}
    if "headers" in columns:
        return
    try:
        connection.execute("ALTER TABLE records ADD COLUMN headers TEXT")
    except sqlite3.OperationalError as error:
        if "duplicate column" not in str(error):  # another process added it first
            raise


def _encoded_headers(headers: Sequence[tuple[str, bytes]]) -> str | None:
    # Latin-1 maps every byte to one character: any value survives JSON, ASCII ones stay readable.
    return json.dumps([[name, value.decode("latin-1")] for name, value in headers]) if headers else None


def _decoded_headers(text: str | None) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, value.encode("latin-1")) for name, value in json.loads(text)) if text else ()


class LocalLogPublisher:
    def __init__(self, path: Path) -> None:
        self._connection = _connect(path)
        self._lock = threading.Lock()

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        now = time.time()
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                self._connection.executemany(
                    "INSERT INTO records (topic, key, value, appended_at, headers) VALUES (?, ?, ?, ?, ?)",
                    [(r.topic, r.key, r.value, now, _encoded_headers(r.headers)) for r in records],
                )
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def close(self) -> None:
        self._connection.close()


class LocalLogSubscriber:
    def __init__(self, path: Path, topics: Sequence[str], *, group_id: str, idle_sleep: float = 0.02) -> None:
        self._connection = _connect(path)
        self._topics = list(topics)
        self._group_id = group_id
        self._idle_sleep = idle_sleep
        self._positions = self._committed_positions()

    def _committed_positions(self) -> dict[str, int]:
        rows = self._connection.execute(
            "SELECT topic, next_offset FROM group_positions WHERE group_id = ?", (self._group_id,)
        ).fetchall()
        committed = dict(rows)
        return {topic: committed.get(topic, 0) for topic in self._topics}

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        deadline = time.monotonic() + timeout_seconds
        while True:
            records = self._read(max_records)
            if records or time.monotonic() >= deadline:
                break
            time.sleep(self._idle_sleep)
        for record in records:
            self._positions[record.topic] = record.offset + 1
        return records

    def _read(self, max_records: int) -> list[IncomingRecord]:
        clauses = " OR ".join('(topic = ? AND "offset" >= ?)' for _ in self._topics)
        parameters: list[object] = [v for t in self._topics for v in (t, self._positions[t])]
        rows = self._connection.execute(
            f'SELECT topic, "offset", key, value, headers FROM records WHERE {clauses} '
            'ORDER BY "offset" LIMIT ?',
            [*parameters, max_records],
        ).fetchall()
        return [
            IncomingRecord(topic, 0, offset, key, value, _decoded_headers(headers))
            for topic, offset, key, value, headers in rows
        ]

    def commit(self, records: Sequence[IncomingRecord]) -> None:
        latest: dict[str, int] = {}
        for record in records:
            latest[record.topic] = max(latest.get(record.topic, -1), record.offset + 1)
        if not latest:
            return
        self._connection.execute("BEGIN IMMEDIATE")
        self._connection.executemany(
            "INSERT INTO group_positions (group_id, topic, next_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (group_id, topic) "
            "DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)",
            [(self._group_id, topic, offset) for topic, offset in latest.items()],
        )
        self._connection.execute("COMMIT")

    def rewind(self, records: Sequence[IncomingRecord]) -> None:
        self._positions = self._committed_positions()

    def close(self) -> None:
        self._connection.close()


def probe_local_log(path: Path) -> None:
    """Readiness: the log file opens and answers (on a connection of the caller's own)."""
    connection = sqlite3.connect(path, timeout=5)
    try:
        connection.execute("SELECT 1 FROM records LIMIT 1").fetchall()
    finally:
        connection.close()


def reset_group(path: Path, group_id: str, topics: Sequence[str]) -> int:
    """Forget the group's position in `topics`: its next poll reads them from the beginning."""
    connection = _connect(path)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "DELETE FROM group_positions WHERE group_id = ? AND topic = ?", [(group_id, t) for t in topics]
        )
        connection.execute("COMMIT")
    finally:
        connection.close()
    return len(topics)
