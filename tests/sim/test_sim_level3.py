"""level3 on its own endpoint: token check, and every checksum it serves verifies with the project's
L3Book at every depth (queue order included)."""

from __future__ import annotations

import time

import pytest

from kraken_runtime.core.kraken import wire
from kraken_runtime.core.kraken.l3book import L3Book, decode_level3
from kraken_runtime.core.sim.instruments import INSTRUMENTS


@pytest.mark.parametrize("depth", [10, 100, 1000])
def test_level3_at_every_depth_then_every_checksum_verifies(sim, connect, rest_client, depth):
    symbols = ["BTC/USD", "XRP/USD"]
    token = rest_client.get_websockets_token().token
    client = connect(sim.endpoints["ws_l3"])
    client.send({"method": "subscribe", "params": {"channel": "level3", "symbol": symbols, "depth": depth,
                                                   "token": token}, "req_id": 4})
    books = {s: L3Book(s, depth, INSTRUMENTS[s].price_precision, INSTRUMENTS[s].qty_precision) for s in symbols}
    acks = snapshots = updates = 0
    events = {"add": 0, "modify": 0, "delete": 0}
    end = time.monotonic() + 20
    while (updates < 40 or snapshots < 2 or min(events.values()) == 0) and time.monotonic() < end:
        message = wire.loads(client.recv())
        if message.get("method") == "subscribe":
            assert message["success"] is True and message["result"]["depth"] == depth and message["req_id"] == 4
            acks += 1
            continue
        if message.get("channel") != "level3":
            continue
        decoded = decode_level3(message)
        data = decoded.data[0] if isinstance(decoded.data, tuple) else decoded.data
        result = books[data.symbol].apply_message(decoded)
        assert result.ok, (data.symbol, depth, result)
        if decoded.type == "snapshot":
            snapshots += 1
            prices = {o.limit_price for o in data.bids}
            assert len(prices) == depth
        else:
            updates += 1
            for order in data.bids + data.asks:
                events[order.event] += 1
    assert acks == 2 and snapshots == 2 and updates >= 40 and min(events.values()) > 0, (updates, events)
    assert not any(book.is_crossed() for book in books.values())


def test_level3_when_token_missing_or_bad_then_invalid_token(sim, connect):
    client = connect(sim.endpoints["ws_l3"])
    client.send({"method": "subscribe", "params": {"channel": "level3", "symbol": ["BTC/USD"], "token": "nope"}})
    error = client.wait_for(lambda m: m.get("success") is False)
    assert error["error"] == "EAPI:Invalid token"


def test_level3_when_asked_on_the_public_endpoint_then_subscription_name_invalid(sim, connect):
    client = connect(sim.endpoints["ws_public"])
    client.send({"method": "subscribe", "params": {"channel": "level3", "symbol": ["BTC/USD"], "token": "x"}})
    error = client.wait_for(lambda m: m.get("success") is False)
    assert error["error"] == "Subscription name invalid"
