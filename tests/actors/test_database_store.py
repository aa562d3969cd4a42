"""The supervisor's DatabaseStore during a database outage: one failed attempt opens a circuit, later calls
fail at once (no connect timeout on the supervisor's thread per poll and per event) until a retry time that
backs off; the first success closes it. A row refused for its content opens nothing."""

from __future__ import annotations

import peewee as pw
import pytest

from kraken_runtime.actors.supervisor_store import DatabaseStore, StorageUnavailable
from kraken_runtime.storage import repo


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def flaky(monkeypatch):
    calls = {"n": 0, "error": pw.OperationalError("could not connect to server: Connection refused")}

    def record_actor_event(*args, **kwargs):
        calls["n"] += 1
        if calls["error"] is not None:
            raise calls["error"]

    monkeypatch.setattr(repo, "record_actor_event", record_actor_event)
    monkeypatch.setattr("kraken_runtime.actors.supervisor_store.reset_thread_connection", lambda: None)
    return calls


def test_outage_opens_a_circuit_that_fails_fast_and_retries_on_a_backoff(flaky):
    clock = Clock()
    store = DatabaseStore(run_id=1, shard="default", monotonic_s=clock)
    with pytest.raises(pw.OperationalError):
        store.record_actor_event("feed:public", "restarted", "x")
    assert flaky["n"] == 1
    with pytest.raises(StorageUnavailable, match="next attempt in 0.5s.*Connection refused"):
        store.record_actor_event("feed:public", "restarted", "x")
    assert flaky["n"] == 1  # not even tried
    clock.now += 0.6
    with pytest.raises(pw.OperationalError):
        store.record_actor_event("feed:public", "restarted", "x")  # the retry, still down
    assert flaky["n"] == 2
    clock.now += 0.9  # the second wait is 1.0 s
    with pytest.raises(StorageUnavailable):
        store.record_actor_event("feed:public", "restarted", "x")
    clock.now += 0.2
    flaky["error"] = None  # the database is back
    store.record_actor_event("feed:public", "restarted", "x")
    store.record_actor_event("feed:public", "restarted", "y")
    assert flaky["n"] == 4


def test_backoff_is_capped_at_thirty_seconds(flaky):
    clock = Clock()
    store = DatabaseStore(run_id=1, shard="default", monotonic_s=clock)
    for _ in range(12):
        with pytest.raises(pw.OperationalError):
            store.record_actor_event("a", "b", "c")
        clock.now += 31
    with pytest.raises(pw.OperationalError):
        store.record_actor_event("a", "b", "c")
    clock.now += 29.9
    with pytest.raises(StorageUnavailable):
        store.record_actor_event("a", "b", "c")


def test_a_refused_row_does_not_open_the_circuit(flaky):
    flaky["error"] = pw.IntegrityError("value too long")
    store = DatabaseStore(run_id=1, shard="default", monotonic_s=Clock())
    for _ in range(3):
        with pytest.raises(pw.IntegrityError):
            store.record_actor_event("a", "b", "c")
    assert flaky["n"] == 3
