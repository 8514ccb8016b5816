"""One SQLite database shared by the threads of ``lamina serve``: the control plane's store and the
durable queue of Event invocations both keep theirs this way.

One connection in autocommit mode (so ``BEGIN IMMEDIATE`` is ours to issue), in WAL mode (readers
never wait for the writer), behind one reentrant lock: SQLite connections must not be used by two
threads at once, and a caller may hold the lock around several statements and a transaction.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["Database", "private_directory"]


def private_directory(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (0700): it holds functions' code and secrets."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


class Database:
    """A SQLite file opened with ``schema`` applied; statements run under :attr:`lock`.

    The file is its owner's only (0600); SQLite gives its ``-wal`` and ``-shm`` files the same mode.
    """

    def __init__(self, path: Path, schema: str, pragmas: Sequence[str] = ()) -> None:
        """``pragmas`` (e.g. ``"synchronous=FULL"``) are set after WAL mode, before the schema."""
        self.lock = threading.RLock()
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(f"{path}{suffix}", 0o600)
        self.connection = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        for pragma in ("journal_mode=WAL", *pragmas):
            self.connection.execute(f"PRAGMA {pragma}")
        self.connection.executescript(schema)

    def close(self) -> None:
        with self.lock:
            self.connection.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (``BEGIN IMMEDIATE``): committed, or rolled back on error."""
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")
