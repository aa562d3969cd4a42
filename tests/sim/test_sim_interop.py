"""A third-party Kraken client works unchanged against the local exchange's base URLs:
python-kraken-sdk (PyPI `python-kraken-sdk`, its own signing, nonces, parsing and WS v2 client), pointed at
`rest` and at the WS base URLs (the SDK appends "/v2": ws://HOST:P and ws://HOST:P/auth)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

kraken_spot = pytest.importorskip("kraken.spot", reason="python-kraken-sdk is in the test extra")


def test_sdk_rest_public_and_private_then_kraken_shapes(sim, best):
    base = sim.endpoints["rest"]
    market = kraken_spot.Market(url=base)
    assert market.get_system_status()["status"] == "online"
    assert set(market.get_ticker(pair="XBTUSD")) == {"XXBTZUSD"}
    book = market.get_order_book(pair="XBTUSD", count=5)["XXBTZUSD"]
    assert len(book["bids"]) == 5 and Decimal(book["bids"][0][0]) < Decimal(book["asks"][0][0])
    user = kraken_spot.User(key=sim.endpoints["api_key"], secret=sim.endpoints["api_secret"], url=base)
    assert "ZUSD" in user.get_account_balance()
    trade = kraken_spot.Trade(key=sim.endpoints["api_key"], secret=sim.endpoints["api_secret"], url=base)
    bid, _ = best(sim, "BTC/USD")
    placed = trade.create_order(ordertype="limit", side="buy", volume="0.01", pair="XBTUSD",
                                price=str(bid - Decimal("1000")), oflags="post", cl_ord_id="sdk-1")
    (txid,) = placed["txid"]
    assert user.get_open_orders()["open"][txid]["cl_ord_id"] == "sdk-1"
    assert trade.cancel_order(txid=txid)["count"] == 1
    assert user.get_closed_orders()["closed"][txid]["status"] == "canceled"


def test_sdk_websocket_public_book_and_private_add_order_with_executions(sim, best):
    base_ws = sim.endpoints["ws_public"].removesuffix("/v2")
    bid, _ = best(sim, "ETH/USD")
    price = float((bid - Decimal("100")).quantize(Decimal("0.01")))

    async def run() -> tuple[list, list]:
        frames: list = []
        seen = asyncio.Event()
        wanted = {"book": False, "add_order": False, "new": False}

        async def on_message(message) -> None:
            frames.append(message)
            if isinstance(message, dict):
                if message.get("channel") == "book" and message.get("type") == "update":
                    wanted["book"] = True
                if message.get("method") == "add_order" and message.get("success"):
                    wanted["add_order"] = True
                if message.get("channel") == "executions" and any(
                        e.get("exec_type") == "new" for e in message.get("data", [])):
                    wanted["new"] = True
                if all(wanted.values()):
                    seen.set()

        client = kraken_spot.SpotWSClient(key=sim.endpoints["api_key"], secret=sim.endpoints["api_secret"],
                                          callback=on_message, rest_url=sim.endpoints["rest"], ws_url=base_ws,
                                          auth_ws_url=base_ws + "/auth")
        await client.start()
        try:
            await client.subscribe(params={"channel": "book", "symbol": ["ETH/USD"], "depth": 10})
            await client.subscribe(params={"channel": "executions", "snap_orders": False})
            await client.send_message({"method": "add_order", "params": {
                "order_type": "limit", "side": "buy", "order_qty": 0.5, "symbol": "ETH/USD", "limit_price": price,
                "cl_ord_id": "sdk-ws-1"}})
            await asyncio.wait_for(seen.wait(), 15)
        finally:
            await client.close()
        return frames, [k for k, v in wanted.items() if not v]

    frames, missing = asyncio.run(run())
    assert missing == []
    acks = [f for f in frames if isinstance(f, dict) and f.get("method") == "add_order"]
    assert acks[0]["success"] is True and acks[0]["result"]["cl_ord_id"] == "sdk-ws-1"
