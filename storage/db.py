"""Database setup: a SQLite file by default, PostgreSQL by URL.

Thread safety: connection per thread. peewee keeps connection state thread-local (its default), so
every actor thread that touches storage gets its own connection, opened on first use and reused;
there is no connection shared between threads and no lock in our code. Each write is one short
transaction. On SQLite, WAL lets readers (observer, `ctl`, `snapshot`) run beside a writer, and
`busy_timeout` makes concurrent writers queue at the file lock instead of failing; writers keep their
rate low by coalescing (state rows at most every 250 ms per symbol, market rows in batches). On
PostgreSQL each thread's connection is an ordinary session and row locks do the rest. A single-writer
actor would serialise writes in our code instead of in the engine and add a hop to every write that
must happen before a venue call (orders are written before the venue is asked), so it was not chosen.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from pathlib import Path
from typing import TypedDict

import peewee as pw

from kraken_runtime.storage.migrations import LATEST_VERSION, current_version, table_exists, upgrade
from kraken_runtime.storage.models import ALL_MODELS, EXACT_DECIMAL, database_proxy


Database = pw.Database  # what open_database returns, for callers that must not import peewee


class StorageError(Exception):
    """The database cannot be opened or used; the message is one line fit for an operator."""


class DatabaseMissing(StorageError):
    """A reader named a SQLite file that does not exist (bad input: usually a wrong --db)."""


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs and messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:///PATH URL (None for other engines and for :memory:)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):]
    return Path(path).expanduser() if path and path != ":memory:" else None


def make_database(url: str, *, busy_timeout_ms: int = 5000, create: bool = True) -> pw.Database:
    """Create (without connecting) the peewee database for a URL. With `create`, a SQLite file's folder is made
    when missing (the daemon and `db upgrade` create their database); readers pass create=False."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not path:
            raise StorageError(f"database URL {url!r} has no file path; expected sqlite:///PATH")
        if path != ":memory:" and create:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return pw.SqliteDatabase(
            path,
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": busy_timeout_ms,
                "foreign_keys": 1,
                "synchronous": "normal",
                # each connection's page cache, at most 2 MiB (SQLite's default, stated so the bound is ours):
                # with prepared statements and schema, what a thread's connection holds (docs/ARCHITECTURE.md
                # "Memory growth")
                "cache_size": -2000,
            },
            field_types={EXACT_DECIMAL: "TEXT"},
            timeout=busy_timeout_ms / 1000,
            check_same_thread=False,
        )
    if url.startswith(("postgresql://", "postgres://")):
        parts = urllib.parse.urlsplit(url)
        name = parts.path.lstrip("/")
        if not name:
            raise StorageError(f"database URL {redact_url(url)!r} names no database; expected postgresql://USER@HOST:PORT/DB")
        params = dict(urllib.parse.parse_qsl(parts.query))
        return pw.PostgresqlDatabase(
            name,
            user=urllib.parse.unquote(parts.username) if parts.username else None,
            password=urllib.parse.unquote(parts.password) if parts.password else None,
            host=parts.hostname or None,
            port=parts.port or None,
            field_types={EXACT_DECIMAL: "NUMERIC"},
            connect_timeout=int(params.pop("connect_timeout", 5)),
            **params,
        )
    raise StorageError(f"database URL {redact_url(url)!r} is not supported; expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB")


def open_database(url: str, *, busy_timeout_ms: int = 5000, migrate: bool = True) -> pw.Database:
    """Open the database, bind the models to it and (by default) bring its schema up to date.

    Without `migrate`, a database whose schema is not current raises StorageError, so a reader never
    works on a schema it does not understand, and a SQLite file that does not exist raises DatabaseMissing
    instead of being created empty (readers such as ctl, explain and snapshot must not leave files behind).
    """
    file = sqlite_path(url)
    if not migrate and file is not None and not file.exists():
        raise DatabaseMissing(
            f"database {url} does not exist; expected the daemon's --db (has 'kraken-runtime run' started?)"
        )
    db = make_database(url, busy_timeout_ms=busy_timeout_ms, create=migrate)
    try:
        _connect(db, busy_timeout_ms)
        if migrate:
            upgrade(db)
        else:
            have = current_version(db)
            if have != LATEST_VERSION:
                raise StorageError(
                    f"database {redact_url(url)} is at schema version {have}, expected {LATEST_VERSION}; run 'kraken-runtime db upgrade'"
                )
    except (pw.DatabaseError, pw.InterfaceError) as exc:  # OperationalError; IntegrityError, ProgrammingError: a broken schema
        _close_quietly(db)
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StorageError(f"cannot open database {redact_url(url)}: {first_line}") from None
    except RuntimeError as exc:
        _close_quietly(db)
        raise StorageError(str(exc)) from None
    database_proxy.initialize(db)
    return db


def _connect(db: pw.Database, busy_timeout_ms: int) -> None:
    """Connect; on SQLite, wait out 'database is locked' up to the busy timeout. Switching a new file to WAL
    needs the file to itself and SQLite reports a concurrent opener busy at once, without its busy handler
    (two daemons started together on a fresh file)."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            db.connect(reuse_if_open=True)
            return
        except pw.OperationalError as exc:
            if not isinstance(db, pw.SqliteDatabase) or "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def close_database(db: pw.Database) -> None:
    if not db.is_closed():
        db.close()


def _close_quietly(db: pw.Database) -> None:
    try:
        close_database(db)
    except Exception:  # noqa: BLE001 - already failing; the original error is the one to report
        pass


class DatabaseInfo(TypedDict):
    """What `kraken-runtime db info` prints (also as JSON)."""

    engine: str  # postgresql | sqlite
    database: str  # the file (SQLite) or host/database (PostgreSQL); never credentials
    schema_version: int
    latest_version: int
    tables: dict[str, int | None]  # row count per table; None for a table that does not exist yet


def describe(db: pw.Database) -> DatabaseInfo:
    """What `kraken-runtime db info` prints: engine, schema version, row counts."""
    counts: dict[str, int | None] = {}
    for model in ALL_MODELS:
        with model.bind_ctx(db):
            counts[model._meta.table_name] = model.select().count() if table_exists(db, model._meta.table_name) else None
    engine = "postgresql" if isinstance(db, pw.PostgresqlDatabase) else "sqlite"
    where = db.database if engine == "sqlite" else f"{db.connect_params.get('host') or 'local socket'}/{db.database}"
    if engine == "sqlite":
        where = os.path.abspath(db.database)
    return {
        "engine": engine,
        "database": where,
        "schema_version": current_version(db),
        "latest_version": LATEST_VERSION,
        "tables": counts,
    }


def close_thread_connection() -> None:
    """Close this thread's connection now, if it has one; never raises. The next query on this thread opens a
    fresh one.

    peewee keeps one connection per thread and never reconnects by itself: after a server restart or a
    killed backend every later query on that thread fails with 'connection already closed', so every writer
    that catches a storage error calls this before retrying. And a connection outlives its thread: on
    SQLite (Python 3.11) it sits in a reference cycle with its own statement cache, so the thread-local that
    held it going away does not close it; only the cyclic garbage collector's oldest generation does,
    whenever that next runs, and until then it keeps its page cache (up to `cache_size`), its prepared
    statements and its file descriptors. A thread done with storage (an actor stopping, crashing or
    replaced: actors/base.py; a state holder after its one read at start) closes its connection here."""
    try:
        if not database_proxy.is_closed():
            database_proxy.close()
    except Exception:  # noqa: BLE001 - the connection is broken anyway; peewee forgets it either way
        try:
            database_proxy._state.reset()
        except Exception:  # noqa: BLE001
            pass


reset_thread_connection = close_thread_connection  # after a failed query (the name its callers know)


def leave_checkpoints_to_others() -> bool:
    """This thread's SQLite connection never runs a WAL checkpoint itself (`wal_autocheckpoint=0`); the other
    writers' connections keep SQLite's default (a checkpoint when the WAL passes 1,000 pages) and do it for the
    file. For a latency-critical writer (the executor: an order row committed before the venue is called; the risk
    envelope: an intent's row and its decision committed before the order goes out): the
    commit that crosses the threshold runs the checkpoint, with its fsync, on the committing thread, and that was
    the order path's p99 (paper ack p99 6.2 ms -> 1.6 ms without it, 200 orders, docs/PERFORMANCE.md). The
    ingest writer commits every few hundred milliseconds, so the WAL stays bounded. A reconnect (after a storage
    error) gets the default back: the safe side. False on PostgreSQL or when the pragma could not be set."""
    db = database_proxy.obj
    if not isinstance(db, pw.SqliteDatabase):
        return False
    try:
        db.execute_sql("PRAGMA wal_autocheckpoint=0")
    except Exception:  # noqa: BLE001 - a connection that cannot take it keeps checkpointing itself: slower, not wrong
        return False
    return True
