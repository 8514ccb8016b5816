"""The durable queue of accepted ``Event`` invocations: SQLite in the data directory.

An event is committed (WAL, ``synchronous=FULL``) before its 202 goes out, so a crash after the 202
loses nothing. A worker *claims* an event with a lease (the attempt is counted then), and marks it
done, failed or due again when the attempt ends. A crashed worker's lease runs out and the event is
claimed again; a process that holds the queue's lock file knows no other owner is alive and releases
stale leases at once (:meth:`EventQueue.recover`). Clock readings are parameters, so the queue is
tested without sleeping.
"""

from __future__ import annotations

import fcntl
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional

from lamina.local.database import Database, private_directory

__all__ = ["EventQueue", "QueuedEvent", "default_queue_path"]

PENDING, DONE, FAILED = "pending", "done", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    function_name TEXT NOT NULL,
    qualifier TEXT,
    payload BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    state TEXT NOT NULL DEFAULT 'pending',
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS events_due ON events (state, not_before);
"""


@dataclass(frozen=True)
class QueuedEvent:
    """One claimed event; ``attempts`` counts this attempt."""

    seq: int
    request_id: str
    function_name: str
    qualifier: Optional[str]
    payload: bytes
    enqueued_at: float
    attempts: int


class EventQueue:
    """Accepted Event invocations in ``path`` (an SQLite file). Thread-safe; every call is short."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        private_directory(self.path.parent)
        # synchronous=FULL: each commit is synced to disk (in WAL mode NORMAL would not), before the 202.
        self._database = Database(self.path, _SCHEMA, ("synchronous=FULL", "busy_timeout=5000"))
        self._db = self._database.connection
        self._mutex = self._database.lock
        self._transaction = self._database.transaction
        self._lock_file: Optional[IO[bytes]] = None

    def close(self) -> None:
        self._database.close()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None

    def recover(self) -> bool:
        """Take the queue's lock; if no other process holds it, release every stale lease now."""
        if self._lock_file is None:
            handle = open(str(self.path) + ".lock", "ab")  # noqa: SIM115 - held for the queue's life
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False  # another process owns the queue: leases expire on their own
            self._lock_file = handle
        with self._transaction() as db:
            db.execute("UPDATE events SET lease_owner = NULL, lease_until = NULL WHERE state = ?",
                       (PENDING,))
        return True

    def enqueue(self, request_id: str, function_name: str, payload: bytes, now: float,
                qualifier: Optional[str] = None) -> None:
        """Commit an accepted event; when this returns, it survives a crash."""
        with self._transaction() as db:
            db.execute("INSERT INTO events (request_id, function_name, qualifier, payload, enqueued_at,"
                       " not_before) VALUES (?, ?, ?, ?, ?, ?)",
                       (request_id, function_name, qualifier, payload, now, now))

    def claim(self, owner: str, now: float, lease: float,
              functions: Optional[Collection[str]] = None) -> Optional[QueuedEvent]:
        """The next due, unleased event, leased to ``owner`` until ``now + lease``.

        ``functions`` limits the claim to events of those functions: two servers sharing a data
        directory each run only the events of functions they serve.
        """
        only = ""
        args: list[object] = [PENDING, now, now]
        if functions is not None:
            names = sorted(functions)
            if not names:
                return None
            only = f" AND function_name IN ({','.join('?' * len(names))})"
            args.extend(names)
        with self._transaction() as db:
            row = db.execute(
                "SELECT seq, request_id, function_name, qualifier, payload, enqueued_at, attempts FROM events"
                " WHERE state = ? AND not_before <= ? AND (lease_until IS NULL OR lease_until < ?)" + only +
                " ORDER BY not_before, seq LIMIT 1", args).fetchone()
            if row is None:
                return None
            db.execute("UPDATE events SET lease_owner = ?, lease_until = ?, attempts = attempts + 1"
                       " WHERE seq = ?", (owner, now + lease, row[0]))
        return QueuedEvent(row[0], row[1], row[2], row[3], bytes(row[4]), row[5], row[6] + 1)

    def renew(self, event: QueuedEvent, owner: str, until: float) -> bool:
        with self._transaction() as db:
            cursor = db.execute("UPDATE events SET lease_until = ? WHERE seq = ? AND lease_owner = ?"
                                " AND state = ?", (until, event.seq, owner, PENDING))
            return cursor.rowcount == 1

    def _finish(self, event: QueuedEvent, owner: str, state: str, now: float) -> bool:
        with self._transaction() as db:
            cursor = db.execute("UPDATE events SET state = ?, finished_at = ?, lease_owner = NULL,"
                                " lease_until = NULL WHERE seq = ? AND lease_owner = ?",
                                (state, now, event.seq, owner))
            return cursor.rowcount == 1

    def complete(self, event: QueuedEvent, owner: str, now: float) -> bool:
        """The event ran; it never runs again."""
        return self._finish(event, owner, DONE, now)

    def fail(self, event: QueuedEvent, owner: str, now: float) -> bool:
        """The event is given up (retries exhausted or too old)."""
        return self._finish(event, owner, FAILED, now)

    def retry(self, event: QueuedEvent, owner: str, not_before: float, *, count_attempt: bool = True) -> bool:
        """Release the event to run again from ``not_before`` (an uncounted attempt for throttles)."""
        undo = 0 if count_attempt else 1
        with self._transaction() as db:
            cursor = db.execute("UPDATE events SET not_before = ?, lease_owner = NULL, lease_until = NULL,"
                                " attempts = attempts - ? WHERE seq = ? AND lease_owner = ?",
                                (not_before, undo, event.seq, owner))
            return cursor.rowcount == 1

    def release(self, event: QueuedEvent, owner: str) -> None:
        """Give a claimed event back unrun (shutdown): the attempt does not count."""
        self.retry(event, owner, event.enqueued_at, count_attempt=False)

    def prune(self, finished_before: float) -> int:
        """Forget events that finished before ``finished_before``; the queue does not grow forever."""
        with self._transaction() as db:
            return db.execute("DELETE FROM events WHERE state != ? AND finished_at < ?",
                              (PENDING, finished_before)).rowcount

    def next_due(self) -> Optional[float]:
        """When the earliest pending event becomes claimable (its not_before or its lease's end)."""
        with self._mutex:
            row = self._db.execute(
                "SELECT MIN(MAX(not_before, COALESCE(lease_until, 0))) FROM events WHERE state = ?",
                (PENDING,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def counts(self) -> dict[str, int]:
        """Events by state: pending, done, failed."""
        with self._mutex:
            rows = self._db.execute("SELECT state, COUNT(*) FROM events GROUP BY state").fetchall()
        return {PENDING: 0, DONE: 0, FAILED: 0, **{state: count for state, count in rows}}


def default_queue_path(data_dir: Path) -> Path:
    return Path(data_dir) / "async" / "events.sqlite3"
