"""storage/statements.py: rows written through the prepared statement texts are the rows peewee would write
(every column, exact Decimals, JSON, foreign keys, defaults), on SQLite and PostgreSQL; they join an open
transaction; a duplicate is ignored when asked; an unknown column is refused."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any, Iterator

import pytest

from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, open_database
from kraken_runtime.storage.models import Fill, Intent, Order, RiskEvent, database_proxy
from kraken_runtime.storage.statements import insert_one, update_where


@pytest.fixture
def run_id(db_url: str) -> Iterator[int]:
    db = open_database(db_url)
    try:
        yield repo.start_run(mode="paper", market="sim", shard="t", config_hash="h", version="t", hostname="h", pid=1, now_ns=1)
    finally:
        close_database(db)


def row_of(model: Any, row_id: int) -> dict[str, Any]:
    data = dict(model.get_by_id(row_id).__data__)
    data.pop("id")
    return data


def intent_values(run_id: int, symbol: str) -> dict[str, Any]:
    return dict(run=run_id, symbol=symbol, strategy="imbalance+momentum", side="buy", price=D("63000.10"), qty=D("0.00012345"),
                epoch=3, seq=2**40, state_ts_ns=1_700_000_000_123_456_789,
                state={"bid": D("63000.1"), "epoch": 3, "nested": {"b": [1, "x"]}},
                signals={"reasons": [["score", "0.4000"]], "strategies": ["imbalance"]}, created_at_ns=5, score=D("-0.4665"),
                style="maker", expires_at_ns=None, recv_ts_ns=7)  # order_type left to its default, as the scanner does


def test_inserted_rows_equal_peewees_own_with_defaults_decimals_json_and_nulls(run_id: int) -> None:
    by_peewee = Intent.create(**intent_values(run_id, "ETH/USD")).id
    by_text = insert_one(Intent, intent_values(run_id, "ETH/USD"))
    assert by_text == by_peewee + 1
    assert row_of(Intent, by_text) == row_of(Intent, by_peewee)
    assert row_of(Intent, by_text)["order_type"] == "limit" and row_of(Intent, by_text)["qty"] == D("0.00012345")

    event = dict(run=run_id, intent=by_text, decision="accepted", rule="all", reason="ok", details={"steps": [{"rule": "x"}]},
                 created_at_ns=9)
    assert row_of(RiskEvent, insert_one(RiskEvent, event)) == row_of(RiskEvent, RiskEvent.create(**event).id)


def test_order_update_and_fill_ignore_match_peewee(run_id: int) -> None:
    def order(client_order_id: str) -> dict[str, Any]:
        return dict(run=run_id, intent=None, client_order_id=client_order_id, venue="paper", mode="paper", symbol="BTC/USD",
                    side="sell", order_type="limit", price=D("63000.1"), qty=D("0.01"), post_only=True, reduce_only=False,
                    time_in_force="GTC", status="pending_new", created_at_ns=1, updated_at_ns=1)

    mine, theirs = insert_one(Order, order("a")), Order.create(**order("b")).id
    change = dict(status="partially_filled", filled_qty=D("0.004"), avg_fill_price=D("63000.15"), exchange_order_id="OX-1",
                  last_error=None, updated_at_ns=2)
    assert update_where(Order, change, key="client_order_id", equals="a") == 1
    assert Order.update(**change).where(Order.client_order_id == "b").execute() == 1
    assert update_where(Order, change, key="client_order_id", equals="nobody") == 0
    assert {**row_of(Order, mine), "client_order_id": "b"} == row_of(Order, theirs)
    assert row_of(Order, mine)["post_only"] is True and row_of(Order, mine)["filled_qty"] == D("0.004")

    fill = dict(run=run_id, order=mine, exec_id="T-1", symbol="BTC/USD", side="sell", price=D("63000.1"), qty=D("0.004"),
                fee=D("0.1008"), fee_currency="USD", liquidity="maker", ts_exchange_ns=None, created_at_ns=3)
    assert insert_one(Fill, fill, ignore_conflict=True) == 1
    assert insert_one(Fill, {**fill, "qty": D("9")}, ignore_conflict=True) == 0  # the same execution: kept once, unchanged
    [stored] = list(Fill.select().where(Fill.exec_id == "T-1").dicts())
    assert stored["qty"] == D("0.004")


def test_statements_join_an_open_transaction_and_refuse_unknown_columns(run_id: int) -> None:
    with pytest.raises(RuntimeError):
        with database_proxy.atomic():
            insert_one(Intent, intent_values(run_id, "XRP/USD"))
            raise RuntimeError("the decision failed")
    assert Intent.select().where(Intent.symbol == "XRP/USD").count() == 0  # rolled back with its transaction
    with pytest.raises(ValueError, match="no column"):
        insert_one(Intent, {**intent_values(run_id, "XRP/USD"), "colour": "red"})
    with pytest.raises(ValueError, match="no column"):
        update_where(Order, {"colour": "red"}, key="client_order_id", equals="a")
