"""The route engine's storage on SQLite and PostgreSQL: intents with their snapshot, scorecard, strategy fills, regime."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kraken_runtime.core.marketdata import SymbolStateRow
from kraken_runtime.core.marketdata import SymbolStateRow
from kraken_runtime.core.messages import Intent, StrategyFill
from kraken_runtime.storage import repo
from kraken_runtime.storage import route as route_store
from kraken_runtime.storage.db import close_database, open_database

NS = 1_700_000_000_000_000_000


@pytest.fixture
def run_id(db_url):
    database = open_database(db_url)
    yield repo.start_run(mode="paper", market="sim", shard="default", config_hash="abc", version="0.1.0",
                         hostname="host", pid=1, now_ns=NS)
    close_database(database)


def _intent(**extra) -> Intent:
    values = dict(intent_id=0, symbol="BTC/USD", side="buy", size=D("0.00155000"), limit_price=D("64525.1"), style="maker",
                  expires_at_ns=NS + 2, epoch=4, seq=1234, state_ts_ns=NS - 5, score=D("0.4321"),
                  strategies=("imbalance", "momentum"), reasons=(("score", "0.4321"), ("imbalance.imbalance", "0.55")),
                  created_at_ns=NS, recv_ts_ns=NS - 5)
    values.update(extra)
    return Intent(**values)  # type: ignore[arg-type]


def test_intent_is_stored_with_its_snapshot_and_reasons(run_id):
    intent_id = route_store.insert_intent(run_id, _intent(), state={"epoch": 4, "seq": 1234, "bid": D("64525.1"), "ask": D("64525.2")})
    (row,) = route_store.intents(run_id)
    assert row["id"] == intent_id and (row["epoch"], row["seq"], row["state_ts_ns"]) == (4, 1234, NS - 5)
    assert row["qty"] == D("0.00155000") and row["price"] == D("64525.1") and row["score"] == D("0.4321")
    assert (row["style"], row["strategy"], row["expires_at_ns"], row["recv_ts_ns"]) == ("maker", "imbalance+momentum", NS + 2, NS - 5)
    assert row["state"]["bid"] == "64525.1" and row["signals"]["reasons"][1] == ["imbalance.imbalance", "0.55"]


def test_scorecard_upserts_per_strategy_and_symbol(run_id):
    line = {"signals": 3, "intents": 1, "trades": 0, "wins": 0, "realised_pnl_usd": D(0), "fees_usd": D(0)}
    route_store.save_scorecard(run_id, [("momentum", "BTC/USD", line)], now_ns=NS)
    route_store.save_scorecard(run_id, [("momentum", "BTC/USD", {**line, "signals": 5, "trades": 2, "wins": 1,
                                                                  "realised_pnl_usd": D("1.25"), "fees_usd": D("0.10")})],
                               now_ns=NS + 1)
    (row,) = route_store.scorecard(run_id)
    assert (row["signals"], row["trades"], row["wins"], row["realised_pnl_usd"], row["fees_usd"]) == (5, 2, 1, D("1.25"), D("0.10"))


def test_strategy_fills_dedupe_by_exec_id_and_give_the_window_oldest_first(run_id):
    def fill(pnl: str, exec_id: str) -> StrategyFill:
        return StrategyFill(strategy="momentum", symbol="BTC/USD", realised_pnl_usd=D(pnl), fee_usd=D("0.1"), ts_ns=NS, exec_id=exec_id)

    assert route_store.insert_strategy_fill(run_id, fill("1", "e1"))
    assert not route_store.insert_strategy_fill(run_id, fill("1", "e1"))
    assert route_store.insert_strategy_fill(run_id, fill("-2", "e2"))
    assert route_store.insert_strategy_fill(run_id, fill("3", ""))  # no exec id: never deduplicated
    assert route_store.insert_strategy_fill(run_id, fill("4", ""))
    assert route_store.recent_strategy_fills("momentum", 3) == [(D("-2"), D("0.1")), (D("3"), D("0.1")), (D("4"), D("0.1"))]
    assert route_store.recent_strategy_fills("imbalance", 3) == []


def test_regime_goes_into_the_state_holders_row_only(run_id):
    assert route_store.set_symbol_regime(run_id, "BTC/USD", "calm") == 0  # no row yet: nothing invented
    repo.upsert_symbol_states(run_id, [SymbolStateRow(symbol="BTC/USD", status="ready", epoch=2, updated_at_ns=NS)])
    assert route_store.set_symbol_regime(run_id, "BTC/USD", "trending") == 1
    repo.upsert_symbol_states(run_id, [SymbolStateRow(symbol="BTC/USD", status="ready", epoch=3, updated_at_ns=NS + 1)])
    (row,) = repo.symbol_states(run_id)
    assert (row["regime"], row["epoch"]) == ("trending", 3)  # the state holder's upserts leave the regime alone
