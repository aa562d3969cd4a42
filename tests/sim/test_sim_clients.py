"""Real Kraken clients, unchanged, against the local exchange: python-kraken-sdk's order book client, its
Market / User / Trade REST clients over every spot endpoint, and its WS client trading; plus a client
written here from Kraken's documentation alone (plain requests and the documented API-Sign).

One engine answers REST and WS alike: an amend made over REST shows in the executions channel, a fill
shows in TradesHistory, Ledgers and the balances channel, TradeVolume's fees are the ones charged."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from decimal import Decimal

import pytest
import requests

from kraken_runtime.core.kraken.ratelimit import RestTier
from kraken_runtime.sim_server.app import start_sim
from tests.sim.conftest import WsClient, touch

kraken_spot = pytest.importorskip("kraken.spot", reason="python-kraken-sdk is in the test extra")
kraken_base_api = pytest.importorskip("kraken.base_api")
kraken_spot_ws = pytest.importorskip("kraken.spot.websocket")

BOOK_UPDATES_WANTED = 200


@pytest.fixture(scope="module")
def market():
    # A roomy REST counter: these tests call every endpoint back to back (the counter itself is tested in
    # test_sim_private_rest.py).
    roomy = RestTier(name="test", max_counter=1000, decay_per_s=10)
    handle = start_sim(symbols=("BTC/USD", "ETH/USD", "XRP/USD", "SOL/USD"), seed=5, rest_tier=roomy)
    yield handle
    handle.stop()


def test_sdk_order_book_client_verifies_200_book_updates_without_a_checksum_failure(market, monkeypatch):
    """SpotOrderBookClient learns each pair's precisions from AssetPairs?pair=BTC/USD (it reads
    result["BTC/USD"]) and checks every update's CRC32; it takes its URLs from its base classes."""
    monkeypatch.setattr(kraken_base_api.SpotClient, "URL", market.endpoints["rest"])
    monkeypatch.setattr(kraken_spot_ws.SpotWSClientBase, "WS_URL", market.endpoints["ws_public"].removesuffix("/v2"))
    updates: dict[str, int] = {}
    failures: list[dict] = []

    async def run() -> dict[str, bool]:
        done = asyncio.Event()

        async def on_book(pair: str, message: dict) -> None:
            if "error" in message:
                failures.append(message)
                done.set()
            elif message.get("type") == "update":
                updates[pair] = updates.get(pair, 0) + 1
                if sum(updates.values()) >= BOOK_UPDATES_WANTED:
                    done.set()

        client = kraken_spot.SpotOrderBookClient(depth=10, callback=on_book)
        await client.start()
        try:
            await client.add_book(pairs=["BTC/USD", "ETH/USD", "XRP/USD", "SOL/USD"])
            await asyncio.wait_for(done.wait(), 60)
            return {pair: client.get(pair)["valid"] for pair in updates}
        finally:
            await client.close()

    valid = asyncio.run(run())
    assert failures == []
    assert sum(updates.values()) >= BOOK_UPDATES_WANTED and len(updates) == 4
    assert all(valid.values())


def test_asset_pairs_then_keyed_as_requested_in_slash_form_and_by_rest_name_otherwise(market):
    rest = market.endpoints["rest"]

    def keys(method: str, **params: str) -> list[str]:
        body = requests.get(f"{rest}/0/public/{method}", params=params, timeout=5).json()
        assert body["error"] == []
        return sorted(k for k in body["result"] if k != "last")

    assert keys("AssetPairs", pair="BTC/USD,ETH/USD") == ["BTC/USD", "ETH/USD"]
    assert keys("AssetPairs", pair="XBTUSD") == ["XXBTZUSD"]
    assert keys("AssetPairs", pair="XBT/USD") == ["XBT/USD"]
    assert keys("AssetPairs") == sorted(p.rest_name for p in market.server.market.pairs.values())
    for method in ("Ticker", "Depth", "Trades", "OHLC", "Spread"):
        assert keys(method, pair="BTC/USD") == ["BTC/USD"], method
        assert keys(method, pair="XBTUSD") == ["XXBTZUSD"], method


def test_sdk_market_calls_every_public_endpoint(market):
    m = kraken_spot.Market(url=market.endpoints["rest"])
    assert m.get_system_status()["status"] == "online"
    assert "XXBT" in m.get_assets(assets=["XBT", "USD"])
    pairs = m.get_asset_pairs(pair=["BTC/USD", "ETH/USD"])
    assert pairs["BTC/USD"]["pair_decimals"] == 1 and pairs["ETH/USD"]["lot_decimals"] == 8
    assert set(m.get_asset_pairs(pair="XBTUSD", info="fees")["XXBTZUSD"]) == {"fees", "fees_maker",
                                                                             "fee_volume_currency"}
    ticker = m.get_ticker(pair="XBTUSD")["XXBTZUSD"]
    assert Decimal(ticker["b"][0]) < Decimal(ticker["a"][0])
    book = m.get_order_book(pair="XBTUSD", count=5)["XXBTZUSD"]
    assert len(book["asks"]) == len(book["bids"]) == 5
    trades = m.get_recent_trades(pair="XBTUSD", count=10)
    assert len(trades["XXBTZUSD"]) == 10 and int(trades["last"]) > 0
    candles = m.get_ohlc(pair="XBTUSD", interval=1)
    row = candles["XXBTZUSD"][-1]
    assert len(row) == 8 and Decimal(row[3]) <= Decimal(row[4]) <= Decimal(row[2]) and row[7] >= 1
    assert isinstance(candles["last"], int)
    spreads = m.get_recent_spreads(pair="XBTUSD")
    assert spreads["XXBTZUSD"] and all(Decimal(b) < Decimal(a) for _, b, a in spreads["XXBTZUSD"])
    for bad in ({"interval": 7}, {"pair": "NOPE"}):
        params = {"pair": "XBTUSD", **bad}
        body = requests.get(market.endpoints["rest"] + "/0/public/OHLC", params=params, timeout=5).json()
        assert body["error"] == (["EQuery:Unknown asset pair"] if "pair" in bad else ["EGeneral:Invalid arguments"])


def _settle_fills(handle) -> None:
    """Wait until the market loop has published what the last call caused (one tick)."""
    ticks = handle.call(lambda: handle.server.hub.ticks)
    end = time.monotonic() + 10
    while handle.call(lambda: handle.server.hub.ticks) < ticks + 2:
        assert time.monotonic() < end, "the market loop stopped ticking"
        time.sleep(0.01)


def test_sdk_user_and_trade_call_every_private_endpoint_over_one_engine_state(market):
    rest, key, secret = market.endpoints["rest"], market.endpoints["api_key"], market.endpoints["api_secret"]
    user = kraken_spot.User(key=key, secret=secret, url=rest)
    trade = kraken_spot.Trade(key=key, secret=secret, url=rest)
    bid, ask = touch(market, "BTC/USD")
    usd_before = Decimal(user.get_account_balance()["ZUSD"])

    placed = trade.create_order(ordertype="limit", side="buy", volume="0.01", pair="XBTUSD",
                                price=str(bid - Decimal("500")), oflags="post", cl_ord_id="sdk-rest-1")
    (resting,) = placed["txid"]
    held = (bid - Decimal("500")) * Decimal("0.01") * Decimal("1.0026")
    assert Decimal(user.get_balances()["ZUSD"]["hold_trade"]) == held.quantize(Decimal("0.0001"))
    assert user.get_balance(currency="USD")["available_balance"] == pytest.approx(float(usd_before - held))
    batch = trade.create_order_batch(pair="BTC/USD", orders=[
        {"ordertype": "limit", "type": "buy", "volume": "0.01", "price": str(bid - Decimal("600")), "oflags": "post"},
        {"ordertype": "limit", "type": "sell", "volume": "0.01", "price": str(ask + Decimal("600")),
         "timeinforce": "GTC"}])
    batch_ids = [o["txid"] for o in batch["orders"]]
    assert len(batch_ids) == 2 and all(o["descr"]["order"] for o in batch["orders"])

    amended = trade.amend_order(txid=resting, order_qty="0.02", limit_price=str(bid - Decimal("550")))
    assert amended["amend_id"]
    info = user.get_orders_info(txid=resting)[resting]
    assert info["vol"] == "0.02000000" and info["descr"]["price"] == str(bid - Decimal("550")) and info["misc"] == "amended"
    edited = trade.edit_order(txid=batch_ids[0], pair="XBTUSD", volume="0.03")
    assert edited["originaltxid"] == batch_ids[0] and edited["txid"] not in batch_ids and edited["volume"] == "0.03000000"
    assert user.get_closed_orders()["closed"][batch_ids[0]]["reason"] == "Order replaced"
    opened = user.get_open_orders()["open"]
    assert {resting, batch_ids[1], edited["txid"]} <= set(opened)

    taken = trade.create_order(ordertype="market", side="buy", volume="0.001", pair="XBTUSD")
    (taker,) = taken["txid"]
    history = user.get_trades_history(ledgers=True)
    mine = [(tid, t) for tid, t in history["trades"].items() if t["ordertxid"] == taker]
    assert mine and history["count"] >= len(mine)
    trade_id, fill = mine[0]
    assert user.get_trades_info(txid=trade_id)[trade_id]["ordertxid"] == taker
    ledger = user.get_ledgers_info(asset="all")
    entries = {lid: e for lid, e in ledger["ledger"].items() if e["refid"] == trade_id}
    assert {e["asset"] for e in entries.values()} == {"XXBT", "ZUSD"} and set(entries) == set(fill["ledgers"])
    assert set(user.get_ledgers(id_=list(entries))) == set(entries)
    usd_entry = next(e for e in entries.values() if e["asset"] == "ZUSD")
    assert abs(Decimal(usd_entry["fee"]) - Decimal(fill["fee"])) < Decimal("0.0001")  # ZUSD: 4 decimals
    volume = user.get_trade_volume(pair="XBTUSD")
    assert Decimal(volume["volume"]) >= Decimal(fill["cost"])
    charged = Decimal(fill["fee"]) / Decimal(fill["cost"]) * 100
    assert Decimal(volume["fees"]["XXBTZUSD"]["fee"]) == charged.quantize(Decimal("0.01"))
    assert Decimal(volume["fees_maker"]["XXBTZUSD"]["fee"]) == Decimal("0.16")
    balance = user.get_trade_balance(asset="ZUSD")
    assert Decimal(balance["eb"]) > 0 and Decimal(balance["uv"]) > 0

    assert trade.cancel_order(txid=resting)["count"] == 1
    assert trade.cancel_order_batch(orders=[batch_ids[1], edited["txid"]])["count"] == 2
    trade.create_order(ordertype="limit", side="buy", volume="0.01", pair="XBTUSD", price=str(bid - Decimal("700")))
    assert trade.cancel_all_orders()["count"] == 1
    after = trade.cancel_all_orders_after_x(timeout=60)
    assert after["triggerTime"] > after["currentTime"]
    assert market.call(market.exchange.dead_man_trigger_ns, key) > 0
    trade.cancel_all_orders_after_x(timeout=0)
    assert market.call(market.exchange.dead_man_trigger_ns, key) == 0
    assert user.get_open_orders()["open"] == {}

    async def ws_token() -> dict:
        client = kraken_spot.SpotWSClient(key=key, secret=secret, rest_url=rest, no_public=True)
        try:
            return await client.get_ws_token()
        finally:
            await client.close()

    token = asyncio.run(ws_token())
    assert token["token"] and token["expires"] == 900
