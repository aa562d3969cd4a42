"""Run records that tell the truth (issue 16): a run that died without saying so (SIGKILL) is closed out as
crashed with its symbols, a clean stop marks its symbols stopped, and readers see symbols of live runs only.
On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from kraken_runtime.core.marketdata import SymbolStateRow
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database

S = 10**9
NOW = 1_800_000_000 * S


@pytest.fixture
def database(db_url):
    db = open_database(db_url)
    yield
    close_database(db)


def _run(shard: str = "default", *, heartbeat_ns: int) -> int:
    run_id = repo.start_run(mode="paper", market="sim", shard=shard, config_hash="x", version="t", hostname="h", pid=1,
                            now_ns=heartbeat_ns - 60 * S)
    repo.heartbeat_run(run_id, heartbeat_ns)
    repo.upsert_symbol_states(run_id, [SymbolStateRow(symbol="BTC/USD", updated_at_ns=heartbeat_ns, status="ready", epoch=1),
                                       SymbolStateRow(symbol="ETH/USD", updated_at_ns=heartbeat_ns, status="ready", epoch=1)])
    return run_id


def test_sigkilled_run_when_its_lease_expired_then_closed_out_crashed_with_its_symbols(database) -> None:
    killed = _run(heartbeat_ns=NOW - 120 * S)  # its lease stopped two minutes ago
    alive = _run(heartbeat_ns=NOW - 5 * S)  # another daemon of the shard, renewing
    other_shard = _run("eu", heartbeat_ns=NOW - 120 * S)
    closed = repo.close_out_expired_runs(shard="default", stale_before_ns=NOW - 48 * S, now_ns=NOW)
    assert closed == [killed]
    run = repo.get_run(killed)
    assert run["status"] == "crashed" and run["stopped_at_ns"] == NOW - 120 * S  # stopped at its last sign of life
    assert {row["status"] for row in repo.symbol_states(killed)} == {"crashed"}
    assert repo.get_run(alive)["status"] == "running" and {r["status"] for r in repo.symbol_states(alive)} == {"ready"}
    assert repo.get_run(other_shard)["status"] == "running"  # another shard's runs are its own daemon's business
    assert repo.close_out_expired_runs(shard="default", stale_before_ns=NOW - 48 * S, now_ns=NOW) == []  # once


def test_clean_stop_marks_its_symbols_stopped(database) -> None:
    run_id = _run(heartbeat_ns=NOW)
    repo.finish_run(run_id, status="stopped", now_ns=NOW)
    assert repo.mark_run_symbols(run_id, status="stopped", now_ns=NOW) == 2
    assert {row["status"] for row in repo.symbol_states(run_id)} == {"stopped"}


def test_readers_see_symbols_of_live_runs_only(database) -> None:
    dead = _run(heartbeat_ns=NOW - 120 * S)  # killed: still `running`, rows still `ready`, lease stale
    stopped = _run(heartbeat_ns=NOW - 1 * S)
    repo.finish_run(stopped, status="stopped", now_ns=NOW)
    live = _run(heartbeat_ns=NOW - 1 * S)
    rows = repo.live_symbol_states(stale_before_ns=NOW - 48 * S)
    assert {(row["run"], row["symbol"]) for row in rows} == {(live, "BTC/USD"), (live, "ETH/USD")}
    assert all(row["run_heartbeat_at_ns"] == NOW - S for row in rows)
    assert dead not in {row["run"] for row in rows}
    assert repo.live_symbol_states(stale_before_ns=NOW - 48 * S, shard="eu") == []
