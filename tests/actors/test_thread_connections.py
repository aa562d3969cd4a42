"""An actor instance's database connection closes with it (issue 16, bounded growth).

peewee keeps one connection per thread, and on SQLite a connection sits in a reference cycle with its own
statement cache, so the end of its thread does not close it: only the cyclic garbage collector's oldest
generation does, whenever that runs. Every restart of a storage-using child (a crash, an operator restart, a
revival) left one more open connection behind, with its page cache, prepared statements and file descriptors.
SupervisedActor closes its thread's connection when the instance stops, crashes or fails to start."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from kraken_runtime.actors.base import ChildLink, FaultBudget, SupervisedActor
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database
from kraken_runtime.storage.models import database_proxy


class Reader(SupervisedActor):
    """Reads the database at start (as a state holder, the scanner or the observer do) and keeps a handle on
    the connection its thread got, so the test can see whether it is still open."""

    def __init__(self, *, link: ChildLink, seen: list[Any], fail_start: bool = False) -> None:
        super().__init__(link=link)
        self.seen = seen
        self.fail_start = fail_start

    def on_supervised_start(self) -> None:
        repo.symbol_states(1)
        self.seen.append(database_proxy.connection())
        if self.fail_start:
            raise RuntimeError("start refused")

    def handle(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash on purpose")
        repo.symbol_states(1)
        return "ok"


def _link(reports: list[Any]) -> ChildLink:
    return ChildLink(name="reader", generation=1, report=reports.append, fault=FaultBudget())


def _is_open(connection: sqlite3.Connection) -> bool:
    try:
        connection.execute("SELECT 1")
    except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
        return False
    return True


@pytest.fixture
def db(sqlite_url):
    database = open_database(sqlite_url)
    yield database
    close_database(database)


def _wait_thread_end(link: ChildLink) -> None:
    assert link.thread is not None
    link.thread.join(10)
    assert not link.thread.is_alive()


def test_stopped_instance_when_its_thread_ends_then_its_connection_is_closed(db):
    seen: list[Any] = []
    link = _link([])
    ref = Reader.start(link=link, seen=seen)
    assert ref.ask("read", timeout=10) == "ok"
    ref.stop(block=True, timeout=10)
    _wait_thread_end(link)
    assert len(seen) == 1 and not _is_open(seen[0])


def test_crashed_instance_when_a_message_raises_then_its_connection_is_closed(db):
    seen: list[Any] = []
    link = _link([])
    ref = Reader.start(link=link, seen=seen)
    ref.tell("crash")
    _wait_thread_end(link)
    assert len(seen) == 1 and not _is_open(seen[0])


def test_instance_when_its_start_fails_then_its_connection_is_closed(db):
    seen: list[Any] = []
    reports: list[Any] = []
    link = _link(reports)
    Reader.start(link=link, seen=seen, fail_start=True)
    assert link.started.wait(10)
    _wait_thread_end(link)
    assert [type(r).__name__ for r in reports] == ["ChildFailed"]
    assert len(seen) == 1 and not _is_open(seen[0])


def test_restarts_when_repeated_then_open_connections_stay_at_one_per_live_instance(db):
    """Ten generations one after another: only the live one's connection is open (before: all ten)."""
    seen: list[Any] = []
    for generation in range(1, 11):
        link = ChildLink(name="reader", generation=generation, report=lambda _m: None, fault=FaultBudget())
        ref = Reader.start(link=link, seen=seen)
        assert ref.ask("read", timeout=10) == "ok"
        if generation == 10:
            break
        if generation % 2:
            ref.tell("crash")
        else:
            ref.stop(block=True, timeout=10)
        _wait_thread_end(link)
    assert [_is_open(c) for c in seen] == [False] * 9 + [True]
