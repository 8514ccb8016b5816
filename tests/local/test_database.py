"""The SQLite helper the control plane's store and the Event queue share."""

from __future__ import annotations

from pathlib import Path

import pytest

from lamina.local.database import Database


def test_transaction_commits_or_rolls_back_and_pragmas_apply(tmp_path: Path) -> None:
    database = Database(tmp_path / "db.sqlite3", "CREATE TABLE IF NOT EXISTS t (n INTEGER);",
                        ("synchronous=FULL",))
    try:
        with database.transaction() as db:
            db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ZeroDivisionError), database.transaction() as db:
            db.execute("INSERT INTO t VALUES (2)")
            raise ZeroDivisionError
        assert database.connection.execute("SELECT n FROM t").fetchall() == [(1,)]
        assert database.connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert database.connection.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        with database.lock, database.transaction():  # a holder of the lock may open a transaction
            pass
    finally:
        database.close()
