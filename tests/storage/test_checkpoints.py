"""leave_checkpoints_to_others: the calling thread's SQLite connection stops running WAL checkpoints (the
executor's order commits carry no checkpoint fsync), other threads' connections keep SQLite's default and still
checkpoint the file, and PostgreSQL is left alone."""

from __future__ import annotations

import threading
from pathlib import Path

from kraken_runtime.storage.db import close_database, close_thread_connection, leave_checkpoints_to_others, open_database
from kraken_runtime.storage.models import database_proxy


def autocheckpoint() -> int:
    return int(database_proxy.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0])


def test_only_the_calling_threads_connection_stops_checkpointing(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        assert autocheckpoint() == 1000  # SQLite's default on every connection
        seen: dict[str, int] = {}

        def executor_thread() -> None:
            assert leave_checkpoints_to_others() is True
            seen["executor"] = autocheckpoint()
            close_thread_connection()
            seen["reconnected"] = autocheckpoint()  # a fresh connection: the default again (the safe side)
            close_thread_connection()

        worker = threading.Thread(target=executor_thread)
        worker.start()
        worker.join(timeout=10)
        assert seen == {"executor": 0, "reconnected": 1000}
        assert autocheckpoint() == 1000  # this thread's connection still checkpoints for the file
    finally:
        close_database(db)


def test_postgresql_is_left_alone(pg_url: str) -> None:
    db = open_database(pg_url)
    try:
        assert leave_checkpoints_to_others() is False
    finally:
        close_database(db)
