"""The ingest writer: one transaction for every symbol's pending rows; a failing database loses nothing
that is pending and is counted."""

from __future__ import annotations

import time
from decimal import Decimal

import psycopg2
import pytest
from prometheus_client import CollectorRegistry

from kraken_runtime.actors.base import ChildLink, FaultBudget
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.actors.ingest_writer import IngestWriterActor
from kraken_runtime.core.marketdata import FeedTick, MarketRowsReady, StateRowReady, SymbolStateRow
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database

NS = 1_780_000_000 * 1_000_000_000


@pytest.fixture
def writer_setup(db_url):
    db = open_database(db_url)
    run_id = repo.start_run(mode="paper", market="sim", shard="t", config_hash="h", version="t", hostname="h", pid=1, now_ns=NS)
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    metrics.registry = registry  # for the assertions below
    metrics.register_symbols(["BTC/USD", "ETH/USD"])
    link = ChildLink(name="ingest-writer", generation=1, report=lambda message: None, fault=FaultBudget())
    ref = IngestWriterActor.start(link=link, run_id=run_id, interval_s=3600, metrics=metrics)  # flushes on our FeedTick only
    yield ref, run_id, metrics
    ref.stop()
    close_database(db)


def row(symbol: str, seq: int, status: str = "ready") -> SymbolStateRow:
    return SymbolStateRow(symbol=symbol, status=status, epoch=1, seq=seq, best_bid=Decimal("1.5"), updated_at_ns=NS + seq)


def test_rows_of_every_symbol_are_stored_latest_wins_on_flush(writer_setup):
    ref, run_id, metrics = writer_setup
    for seq in range(1, 4):
        ref.tell(StateRowReady(row=row("BTC/USD", seq)))
    ref.tell(StateRowReady(row=row("ETH/USD", 7)))
    ref.tell(MarketRowsReady(tickers=(tuple({"symbol": "BTC/USD", "bid": Decimal("1"), "ts_recv_ns": NS}.items()),),
                             trades=(tuple({"symbol": "BTC/USD", "side": "buy", "price": Decimal("2"), "qty": Decimal("0.1"),
                                            "ts_recv_ns": NS}.items()),)))
    assert repo.symbol_states(run_id) == []  # nothing before the flush
    ref.ask(FeedTick(n=1), timeout=5)
    states = {r["symbol"]: r["seq"] for r in repo.symbol_states(run_id)}
    assert states == {"BTC/USD": 3, "ETH/USD": 7}
    assert repo.window_counts(since_ns=NS)["ticker_rows"] == 1 and repo.window_counts(since_ns=NS)["trade_rows"] == 1


def test_urgent_row_is_stored_at_once(writer_setup):
    ref, run_id, _ = writer_setup
    ref.ask(StateRowReady(row=row("BTC/USD", 1, "resyncing"), urgent=True), timeout=5)
    assert repo.symbol_states(run_id)[0]["status"] == "resyncing"


def test_database_failure_is_counted_and_pending_rows_survive_to_the_next_flush(writer_setup, monkeypatch):
    ref, run_id, metrics = writer_setup
    real_upsert, real_insert = repo.upsert_symbol_states, repo.insert_market_trades
    failures = {"left": 1}

    def failing(function):
        def wrapper(*args, **kwargs):
            if failures["left"] > 0:
                raise OSError("database is locked")
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(repo, "upsert_symbol_states", failing(real_upsert))
    monkeypatch.setattr(repo, "insert_market_trades", failing(real_insert))
    ref.tell(StateRowReady(row=row("BTC/USD", 5)))
    ref.tell(MarketRowsReady(tickers=(), trades=(tuple({"symbol": "BTC/USD", "side": "sell", "price": Decimal("3"),
                                                         "qty": Decimal("1"), "ts_recv_ns": NS}.items()),)))
    ref.ask(FeedTick(n=1), timeout=5)
    def registry_value(writer: str) -> float:
        return metrics.registry.get_sample_value("krt_storage_errors_total", {"writer": writer})
    assert registry_value("state") == 1 and registry_value("market") == 1
    assert repo.symbol_states(run_id) == []
    failures["left"] = 0
    ref.ask(FeedTick(n=2), timeout=5)
    assert [r["seq"] for r in repo.symbol_states(run_id)] == [5]
    assert repo.window_counts(since_ns=NS)["trade_rows"] == 1


def test_a_row_the_database_refuses_is_dropped_alone_and_the_rest_are_stored(writer_setup):
    ref, run_id, metrics = writer_setup
    good = {"symbol": "BTC/USD", "side": "buy", "price": Decimal("2"), "qty": Decimal("0.1"), "ts_recv_ns": NS,
            "trade_id": 1, "ord_type": "limit"}
    bad = dict(good, trade_id=2**63, ord_type="x" * 40)  # beyond bigint (and too long for the column)
    ref.tell(MarketRowsReady(tickers=(), trades=(tuple(good.items()), tuple(bad.items()), tuple(dict(good, qty=Decimal("3")).items()))))
    ref.ask(FeedTick(n=1), timeout=5)
    assert repo.window_counts(since_ns=NS)["trade_rows"] == 2
    assert metrics.registry.get_sample_value("krt_storage_errors_total", {"writer": "market"}) == 1
    ref.ask(FeedTick(n=2), timeout=5)  # nothing is left pending to block later batches
    assert repo.window_counts(since_ns=NS)["trade_rows"] == 2


def test_writer_recovers_after_its_postgresql_connection_is_killed(pg_url):
    db = open_database(pg_url)
    run_id = repo.start_run(mode="paper", market="sim", shard="t", config_hash="h", version="t", hostname="h", pid=1, now_ns=NS)
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    link = ChildLink(name="ingest-writer", generation=1, report=lambda message: None, fault=FaultBudget())
    ref = IngestWriterActor.start(link=link, run_id=run_id, interval_s=3600, metrics=metrics)
    admin = psycopg2.connect(pg_url.split("?")[0])
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            before = {pid for (pid,) in cur.fetchall()}
            ref.ask(StateRowReady(row=row("BTC/USD", 1), urgent=True), timeout=5)  # opens its connection
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            writer_pids = {pid for (pid,) in cur.fetchall()} - before
            assert writer_pids, "the writer's connection was not found"
            for pid in writer_pids:
                cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        ref.ask(StateRowReady(row=row("BTC/USD", 2), urgent=True), timeout=5)  # fails: connection gone
        ref.ask(FeedTick(n=1), timeout=5)  # retried on a fresh connection
        db.connect(reuse_if_open=True)
        assert [r["seq"] for r in repo.symbol_states(run_id)] == [2]
    finally:
        admin.close()
        ref.stop()
        close_database(db)
