"""Public WS v2 of the local exchange, checked with the project's own book builder."""

from __future__ import annotations

import time

import pytest

from kraken_runtime.core.kraken import wire
from kraken_runtime.core.kraken.book import L2Book, decode_book
from kraken_runtime.core.sim.instruments import INSTRUMENTS


def _is_book(m):
    return m.get("channel") == "book"


def test_connect_then_status_is_the_first_frame(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    status = client.recv_json()
    assert status["channel"] == "status" and status["type"] == "update"
    assert status["data"][0]["system"] == "online" and status["data"][0]["api_version"] == "v2"


def test_ping_then_pong_echoes_req_id(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    client.recv_json()
    client.send({"method": "ping", "req_id": 101})
    pong = client.wait_for(lambda m: m.get("method") == "pong")
    assert pong["req_id"] == 101 and "time_in" in pong and "time_out" in pong


@pytest.mark.parametrize("depth", [10, 25, 100, 500, 1000])
def test_book_at_every_depth_then_every_checksum_verifies(sim, connect, depth):
    symbols = ["BTC/USD", "ETH/USD", "XRP/USD"]
    client = connect(sim.endpoints["ws_public"])
    client.send({"method": "subscribe", "params": {"channel": "book", "symbol": symbols, "depth": depth}, "req_id": 7})
    books = {s: L2Book(s, depth, INSTRUMENTS[s].price_precision, INSTRUMENTS[s].qty_precision) for s in symbols}
    acks, updates, snapshots = 0, 0, 0
    end = time.monotonic() + 20
    while (updates < 30 or snapshots < 3) and time.monotonic() < end:
        text = client.recv()
        message = wire.loads(text)
        if message.get("method") == "subscribe":
            assert message["success"] is True and message["result"]["depth"] == depth
            acks += 1
            continue
        if message.get("channel") != "book":
            continue
        book_message = decode_book(message)
        data = book_message.data[0] if isinstance(book_message.data, tuple) else book_message.data
        book = books[data.symbol]
        result = book.apply_message(book_message)
        assert result.ok, (data.symbol, depth, result)
        if book_message.type == "snapshot":
            snapshots += 1
            assert len(data.bids) == depth and len(data.asks) == depth
        else:
            updates += 1
        inst = INSTRUMENTS[data.symbol]
        # every number on the wire carries exactly the pair's precision
        for level in data.bids + data.asks:
            assert -level.price.as_tuple().exponent == inst.price_precision
            assert -level.qty.as_tuple().exponent == inst.qty_precision
    assert acks == 3 and snapshots == 3 and updates >= 30


def test_subscribe_when_pair_unknown_then_kraken_error(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    client.send({"method": "subscribe", "params": {"channel": "book", "symbol": ["XBT/USDC"]}, "req_id": 3})
    error = client.wait_for(lambda m: m.get("success") is False)
    assert error["error"] == "Currency pair not supported XBT/USDC" and error["req_id"] == 3


def test_subscribe_when_channel_unknown_then_subscription_name_invalid(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    client.send({"method": "subscribe", "params": {"channel": "bogus", "symbol": ["BTC/USD"]}})
    error = client.wait_for(lambda m: m.get("success") is False)
    assert error["error"] == "Subscription name invalid"


def test_subscribe_when_field_unsupported_then_names_it(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    client.send({"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"], "leverage": 2}})
    error = client.wait_for(lambda m: m.get("success") is False)
    assert error["error"] == "Unsupported field: 'leverage'"


def test_unsubscribe_when_not_subscribed_then_subscription_not_found(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    client.send({"method": "unsubscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"]}, "req_id": 9})
    error = client.wait_for(lambda m: m.get("success") is False)
    assert error["error"] == "Subscription Not Found" and error["method"] == "subscribe"
    assert error["symbol"] == "BTC/USD"


def test_ticker_and_trade_then_snapshot_and_updates_at_pair_precision(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    client.send({"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"], "event_trigger": "bbo"}})
    client.send({"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"], "snapshot": True}})
    ticker = client.wait_for(lambda m: m.get("channel") == "ticker" and m.get("type") == "snapshot")
    fields = set(ticker["data"][0])
    assert fields >= {"symbol", "bid", "bid_qty", "ask", "ask_qty", "last", "volume", "vwap", "low", "high",
                      "change", "change_pct", "timestamp"}
    client.wait_for(lambda m: m.get("channel") == "ticker" and m.get("type") == "update")
    trade = client.wait_for(lambda m: m.get("channel") == "trade" and m.get("type") == "update", deadline_s=20)
    assert set(trade["data"][0]) == {"symbol", "side", "price", "qty", "ord_type", "trade_id", "timestamp"}


def test_instrument_then_pairs_carry_precisions(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    client.send({"method": "subscribe", "params": {"channel": "instrument"}, "req_id": 79})
    ack = client.wait_for(lambda m: m.get("method") == "subscribe")
    assert ack["success"] is True and ack["req_id"] == 79
    snapshot = client.wait_for(lambda m: m.get("channel") == "instrument")
    pairs = {p["symbol"]: p for p in snapshot["data"]["pairs"]}
    assert pairs["BTC/USD"]["price_precision"] == 1 and pairs["BTC/USD"]["qty_precision"] == 8
    assert pairs["XRP/USD"]["price_precision"] == 5


def test_heartbeat_when_subscribed_and_idle_then_about_every_second(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    client.send({"method": "subscribe", "params": {"channel": "instrument"}})
    client.wait_for(lambda m: m.get("channel") == "instrument")
    client.wait_for(lambda m: m.get("channel") == "heartbeat", deadline_s=5)
