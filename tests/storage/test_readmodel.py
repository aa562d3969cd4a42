"""The snapshot read model on SQLite and PostgreSQL: the 24 h UTC window's edges on hand-built rows
(exchange time versus insert time, orders updated inside the window but created before it), demo trades,
production notes from the audit tables, and the Tier 2 aggregates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_runtime.core.marketdata import SymbolStateRow
from kraken_runtime.core.snapshot import WINDOW_NS, build_tier1, build_tier2, iso_utc, utc_window
from kraken_runtime.storage import readmodel, repo
from kraken_runtime.storage.db import close_database, open_database

NOW = 1_764_700_000_000_000_000  # the snapshot time
START = NOW - WINDOW_NS  # the window's first included nanosecond


@pytest.fixture
def db(db_url):
    database = open_database(db_url)
    yield database
    close_database(database)


def _run(shard: str = "default", at: int = NOW - 10) -> int:
    return repo.start_run(mode="paper", market="sim", shard=shard, config_hash="abc", version="t", hostname="h",
                          pid=1, now_ns=at)


def _order(run_id: int, coid: str, *, created: int, updated: int, status: str = "filled", symbol: str = "BTC/USD",
           side: str = "buy", intent: int | None = None) -> int:
    return repo.insert_order(run_id, client_order_id=coid, venue="paper", mode="paper", symbol=symbol, side=side,
                             order_type="limit", price=Decimal("100"), qty=Decimal("1"), status=status,
                             created_at_ns=created, updated_at_ns=updated, intent=intent)


def _fill(run_id: int, order_id: int, exec_id: str, *, created: int, exchange: int | None, symbol: str = "BTC/USD",
          side: str = "buy", price: str = "100", qty: str = "1", fee: str = "0") -> None:
    assert repo.insert_fill(run_id, order_id, exec_id=exec_id, symbol=symbol, side=side, price=Decimal(price),
                            qty=Decimal(qty), fee=Decimal(fee), ts_exchange_ns=exchange, created_at_ns=created)


def test_window_edges_time_fills_by_exchange_time_else_insert_time(db):
    run_id = _run()
    order = _order(run_id, "o", created=START - 5, updated=START - 5)
    _fill(run_id, order, "exch-at-start", created=START - 100, exchange=START)  # exchange time on the edge: in
    _fill(run_id, order, "exch-before", created=NOW - 1, exchange=START - 1)  # inserted inside, exchange time before: out
    _fill(run_id, order, "insert-at-start", created=START, exchange=None)  # no exchange time, insert time on the edge: in
    _fill(run_id, order, "insert-before", created=START - 1, exchange=None)  # one ns too early: out
    _fill(run_id, order, "exch-at-end", created=NOW + 50, exchange=NOW)  # on the end edge: in
    _fill(run_id, order, "exch-after", created=NOW, exchange=NOW + 1)  # after the snapshot: out
    counts = readmodel.window_counts(utc_window(NOW))
    assert counts.fills == 3


def test_orders_count_when_created_or_last_updated_inside_the_window(db):
    run_id = _run()
    _order(run_id, "created-before-updated-inside", created=START - 3600, updated=START + 10)
    _order(run_id, "created-on-edge", created=START, updated=START)
    _order(run_id, "both-before", created=START - 10, updated=START - 1)
    _order(run_id, "created-inside", created=NOW - 1, updated=NOW - 1)
    _order(run_id, "future", created=NOW + 1, updated=NOW + 1)
    assert readmodel.window_counts(utc_window(NOW)).orders == 3


def test_market_rows_count_by_receive_time_at_both_edges(db):
    run_id = _run()
    repo.insert_market_tickers(run_id, [{"symbol": "BTC/USD", "ts_recv_ns": t} for t in (START - 1, START, NOW, NOW + 1)])
    repo.insert_market_trades(run_id, [{"symbol": "BTC/USD", "side": "buy", "price": Decimal(1), "qty": Decimal(1),
                                        "ts_recv_ns": t} for t in (START - 1, START + 1)])
    counts = readmodel.window_counts(utc_window(NOW))
    assert (counts.ticker_rows, counts.trade_rows, counts.orders, counts.fills) == (2, 1, 0, 0)
    doc = build_tier1(readmodel.tier1_inputs(utc_window(NOW), demo_trade_count=5), snapshot_ns=NOW)
    assert doc["execution_note"].startswith("Market data is flowing but nothing executed")
    assert doc["production_notes"] == [] and doc["production_notes_note"].startswith("No strategy pauses")


def test_demo_trades_are_the_latest_fills_of_the_window_with_their_order_status(db):
    run_id = _run()
    a = _order(run_id, "a", created=NOW - 100, updated=NOW - 50, status="filled", symbol="SCOR/USD", side="buy")
    b = _order(run_id, "b", created=NOW - 100, updated=NOW - 40, status="partially_filled", symbol="ETH/USD", side="sell")
    _fill(run_id, a, "1", created=NOW - 60, exchange=NOW - 70, symbol="SCOR/USD")
    _fill(run_id, b, "2", created=NOW - 30, exchange=None, symbol="ETH/USD", side="sell")
    _fill(run_id, a, "3", created=NOW - 20, exchange=START - 1, symbol="SCOR/USD")  # outside by exchange time
    trades = readmodel.demo_trades(utc_window(NOW), 5)
    assert [(t.symbol, t.side, t.order_status, t.filled_at_ns) for t in trades] == [
        ("ETH/USD", "sell", "partially_filled", NOW - 30), ("SCOR/USD", "buy", "filled", NOW - 70)]
    assert len(readmodel.demo_trades(utc_window(NOW), 1)) == 1
    doc = build_tier1(readmodel.tier1_inputs(utc_window(NOW), demo_trade_count=5), snapshot_ns=NOW)
    assert doc["demo_trades"][1]["text"] == "SCOR/USD buy — filled(filled)"
    assert doc["execution_note"] is None


def test_production_notes_come_from_the_audit_tables_inside_the_window(db):
    run_id = _run()
    repo.record_safety_mode("halted", reason="daily loss 97.5 USD of limit 100", source="kill:daily_loss", run_id=run_id,
                            now_ns=NOW - 5)
    repo.record_safety_mode("reduce_only", reason="operator", source="operator", run_id=run_id, now_ns=START - 1)  # out
    repo.record_actor_event(run_id, "strategy:momentum", "disabled", "restart budget exhausted", NOW - 4)
    repo.record_actor_event(run_id, "feed:reference", "disabled", "restart budget exhausted", NOW - 3)
    repo.set_strategy_enabled("imbalance", False, updated_by="op", now_ns=NOW - 2)
    command = repo.insert_control_command("disable-strategy", {"strategy": "imbalance"}, issued_by="op", now_ns=NOW - 3)
    repo.complete_control_command(command, status="applied", result={"message": "ok"}, run_id=run_id, now_ns=NOW - 2)
    texts = [n["text"] for n in build_tier1(readmodel.tier1_inputs(utc_window(NOW), demo_trade_count=3),
                                            snapshot_ns=NOW)["production_notes"]]
    assert texts == ["Strategy imbalance paused by an operator.", "A market data feed was disabled automatically after repeated failures.",
                     "Strategy momentum paused automatically.", "Trading mode set to halted automatically."]
    joined = " ".join(texts)
    assert "97.5" not in joined and "100" not in joined and "reference" not in joined and "daily_loss" not in joined


def test_tier2_reads_the_latest_run_of_each_shard_and_aggregates_in_decimal(db):
    old = _run("a", at=NOW - 1000)
    repo.upsert_symbol_states(old, [SymbolStateRow(symbol="BTC/USD", status="stale", epoch=1, updated_at_ns=NOW - 1000)])
    run_a = _run("a", at=NOW - 100)
    run_b = _run("b", at=NOW - 100)
    repo.upsert_symbol_states(run_a, [SymbolStateRow(symbol="BTC/USD", status="ready", epoch=3, resyncs=2, checksum_failures=1,
                                                     mid=Decimal("101"), spread_bps=Decimal("1.5"), l3_quality=Decimal("0.9"),
                                                     updated_at_ns=NOW - 10)])
    repo.upsert_symbol_states(run_b, [SymbolStateRow(symbol="ETH/USD", status="warming", epoch=1, updated_at_ns=NOW - 10)])
    for event in ("started", "failed", "restarted", "failed", "restarted"):
        repo.record_actor_event(run_a, "feed:public", event, "", NOW - 50)
    repo.record_actor_event(run_a, "feed:public", "disabled", "", NOW - 40)
    repo.record_safety_mode("halted", reason="operator", source="operator", run_id=run_b, now_ns=NOW - 20)
    intent = repo.insert_intent(run_a, symbol="BTC/USD", strategy="momentum", side="buy", qty=Decimal("1"), epoch=3, seq=9,
                                state_ts_ns=NOW - 2_000_000, state={}, signals={}, created_at_ns=NOW - 1_000_000)
    for rule, decision in (("max_exposure", "rejected"), ("max_exposure", "rejected"), ("state_age", "rejected"), ("ok", "accepted")):
        repo.insert_risk_event(run_a, intent=intent, decision=decision, rule=rule, reason="x", created_at_ns=NOW - 5)
    buy = _order(run_a, "buy", created=NOW - 9, updated=NOW - 8, intent=intent)
    sell = _order(run_a, "sell", created=NOW - 9, updated=NOW - 8, intent=intent, side="sell")
    _fill(run_a, buy, "f1", created=NOW - 8, exchange=None, price="100.10", qty="0.3", fee="0.01")
    _fill(run_a, sell, "f2", created=NOW - 7, exchange=None, side="sell", price="100.20", qty="0.1", fee="0.01")
    repo.heartbeat_run(run_a, NOW - 3 * 10**9)
    doc = build_tier2(readmodel.tier2_inputs(utc_window(NOW)), snapshot_ns=NOW)
    assert [(s["run_id"], s["run_status"]) for s in doc["symbols"]] == [(run_a, "running"), (run_b, "running")]
    assert doc["symbols"][0]["run_heartbeat"] == iso_utc(NOW - 3 * 10**9)
    assert [(s["shard"], s["symbol"], s["status"], s["epoch"], s["resyncs"], s["checksum_failures"], s["spread_bps"])
            for s in doc["symbols"]] == [("a", "BTC/USD", "ready", 3, 2, 1, "1.5"), ("b", "ETH/USD", "warming", 1, 0, 0, None)]
    assert [(a["actor"], a["last_event"], a["restarts"], a["failures"]) for a in doc["actors"]] == [("feed:public", "disabled", 2, 2)]
    assert {m["shard"]: m["mode"] for m in doc["safety_modes"]} == {"a": "active", "b": "halted"}
    # net 0.2 at mark 101: exposure 20.2; cash -30.03 + 10.02 - 0.02 = -20.03; pnl = -20.03 + 20.2 = 0.17
    [position] = doc["positions"]
    assert (position["strategy"], position["symbol"]) == ("momentum", "BTC/USD")
    assert [Decimal(position[k]) for k in ("net_qty", "exposure_usd", "pnl_usd", "mark")] == [
        Decimal("0.2"), Decimal("20.2"), Decimal("0.17"), Decimal("101")]
    assert Decimal(doc["exposure_usd"]) == Decimal("20.2") and Decimal(doc["pnl_usd"]) == Decimal("0.17")
    assert doc["rejections"] == {"max_exposure": 2, "state_age": 1}
    assert doc["latency"]["tick_to_intent"]["count"] == 1 and doc["latency"]["tick_to_intent"]["p50_s"] == 0.001
