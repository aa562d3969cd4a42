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


def test_sdk_ws_client_subscribes_executions_then_places_amends_and_cancels(market):
    base_ws = market.endpoints["ws_public"].removesuffix("/v2")
    bid, _ = touch(market, "ETH/USD")
    price = float((bid - Decimal("50")).quantize(Decimal("0.01")))

    async def run() -> list[dict]:
        frames: list[dict] = []
        order: dict[str, str] = {}
        stage = asyncio.Event()

        async def on_message(message: object) -> None:
            if not isinstance(message, dict):
                return
            frames.append(message)
            for e in message.get("data", []) if message.get("channel") == "executions" else []:
                if e.get("cl_ord_id") == "sdk-ws-2" and e.get("exec_type") == "new":
                    order["id"] = e["order_id"]
                if e.get("order_id") == order.get("id") and e.get("exec_type") in ("amended", "canceled"):
                    order[e["exec_type"]] = e["order_id"]
            if message.get("method") in ("subscribe", "add_order", "amend_order", "cancel_order"):
                stage.set()
            if "id" in order or "amended" in order or "canceled" in order:
                stage.set()

        async def wait_for(predicate) -> None:
            end = asyncio.get_running_loop().time() + 15
            while not predicate():
                stage.clear()
                left = end - asyncio.get_running_loop().time()
                assert left > 0, f"timed out; have {order}"
                try:
                    await asyncio.wait_for(stage.wait(), left)
                except asyncio.TimeoutError:
                    pass

        client = kraken_spot.SpotWSClient(key=market.endpoints["api_key"], secret=market.endpoints["api_secret"],
                                          callback=on_message, rest_url=market.endpoints["rest"], ws_url=base_ws,
                                          auth_ws_url=base_ws + "/auth")
        await client.start()
        try:
            await client.subscribe(params={"channel": "executions", "snap_orders": False})
            await client.send_message({"method": "add_order", "params": {
                "order_type": "limit", "side": "buy", "order_qty": 0.5, "symbol": "ETH/USD", "limit_price": price,
                "cl_ord_id": "sdk-ws-2"}})
            await wait_for(lambda: "id" in order)
            await client.send_message({"method": "amend_order", "params": {"order_id": order["id"], "order_qty": 0.25}})
            await wait_for(lambda: "amended" in order)
            await client.send_message({"method": "cancel_order", "params": {"order_id": [order["id"]]}})
            await wait_for(lambda: "canceled" in order)
        finally:
            await client.close()
        return frames

    frames = asyncio.run(run())
    acks = {f["method"]: f for f in frames if f.get("method") in ("add_order", "amend_order", "cancel_order")}
    assert all(ack["success"] for ack in acks.values()) and set(acks) == {"add_order", "amend_order", "cancel_order"}
    amended = [e for f in frames if f.get("channel") == "executions" for e in f["data"] if e["exec_type"] == "amended"]
    assert amended[0]["order_qty"] == 0.25


# ------------------------------------------------------------------ a client from Kraken's documents alone


def documented_sign(uri_path: str, nonce: str, postdata: str, secret_b64: str) -> str:
    """API-Sign as Kraken documents it: base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + data)))."""
    message = uri_path.encode() + hashlib.sha256((nonce + postdata).encode()).digest()
    return base64.b64encode(hmac.new(base64.b64decode(secret_b64), message, hashlib.sha512).digest()).decode()


class DocumentedClient:
    """Kraken's REST as its documentation describes it: GET public calls, POST private calls with a
    form-encoded body (or a JSON body, as AddOrderBatch takes), an always increasing nonce."""

    def __init__(self, base: str, key: str, secret: str) -> None:
        self.base, self.key, self.secret = base, key, secret
        self.nonce = time.time_ns()

    def public(self, method: str, **params: str) -> dict:
        body = requests.get(f"{self.base}/0/public/{method}", params=params, timeout=5).json()
        assert body["error"] == [], body
        return body["result"]

    def private(self, method: str, params: dict | None = None, *, as_json: bool = False) -> dict:
        self.nonce += 1
        nonce = str(self.nonce)
        if as_json:
            data = json.dumps({"nonce": nonce, **(params or {})})
            content_type = "application/json"
        else:
            data = urllib.parse.urlencode({"nonce": nonce, **(params or {})})
            content_type = "application/x-www-form-urlencoded"
        path = f"/0/private/{method}"
        headers = {"API-Key": self.key, "API-Sign": documented_sign(path, nonce, data, self.secret),
                   "Content-Type": content_type, "User-Agent": "documented-client"}
        return requests.post(self.base + path, data=data, headers=headers, timeout=5).json()

    def ok(self, method: str, params: dict | None = None, *, as_json: bool = False) -> dict:
        body = self.private(method, params, as_json=as_json)
        assert body["error"] == [], body
        return body["result"]


def _executions(message: dict) -> list[dict]:
    return message.get("data", []) if message.get("channel") == "executions" else []


def test_documented_client_then_rest_and_ws_see_one_engine(market):
    """REST AmendOrder / EditOrder show in the executions channel; a REST fill shows in TradesHistory,
    Ledgers and the balances channel; WS edit_order, batch_add, batch_cancel, cancel_all and
    cancel_all_orders_after answer as documented; the public ohlc and instrument channels serve."""
    client = DocumentedClient(market.endpoints["rest"], market.endpoints["api_key"], market.endpoints["api_secret"])
    pairs = client.public("AssetPairs", pair="BTC/USD")
    assert list(pairs) == ["BTC/USD"] and pairs["BTC/USD"]["wsname"] == "XBT/USD"
    ex = client.ok("BalanceEx")
    assert set(ex["ZUSD"]) == {"balance", "hold_trade"}
    token = client.ok("GetWebSocketsToken")["token"]
    ws = WsClient(market.endpoints["ws_auth"])
    try:
        assert ws.recv_json()["channel"] == "status"
        ws.send({"method": "subscribe", "params": {"channel": "executions", "token": token, "snap_orders": False}})
        ws.send({"method": "subscribe", "params": {"channel": "balances", "token": token, "snapshot": False}})
        bid, ask = touch(market, "BTC/USD")
        placed = client.ok("AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.01",
                                        "price": str(bid - Decimal("800"))})
        (txid,) = placed["txid"]
        ws.wait_for(lambda m: any(e["order_id"] == txid and e["exec_type"] == "new" for e in _executions(m)))
        assert client.ok("AmendOrder", {"txid": txid, "order_qty": "0.02"})["amend_id"]
        amended = ws.wait_for(lambda m: any(e["order_id"] == txid and e["exec_type"] == "amended"
                                            for e in _executions(m)))
        assert [e["order_qty"] for e in _executions(amended) if e["order_id"] == txid] == [0.02]
        edited = client.ok("EditOrder", {"txid": txid, "pair": "XBTUSD", "price": str(bid - Decimal("900"))})
        new_id = edited["txid"]
        ws.wait_for(lambda m: any(e["order_id"] == new_id and e["exec_type"] == "new" for e in _executions(m)))
        ws.send({"method": "edit_order", "req_id": 5, "params": {"token": token, "order_id": new_id,
                                                                 "symbol": "BTC/USD", "order_qty": 0.03}})
        ack = ws.wait_for(lambda m: m.get("method") == "edit_order")
        assert ack["success"] and ack["result"]["original_order_id"] == new_id and ack["req_id"] == 5
        third = ack["result"]["order_id"]
        assert client.ok("QueryOrders", {"txid": third})[third]["vol"] == "0.03000000"
        ws.send({"method": "edit_order", "params": {"token": token, "order_id": "OXXXXX-XXXXX-XXXXXX",
                                                    "symbol": "BTC/USD", "order_qty": 0.03}})
        refused = ws.wait_for(lambda m: m.get("method") == "edit_order")
        assert refused["success"] is False and refused["error"] == "EOrder:Unknown order"

        filled = client.ok("AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.001"})
        (taker,) = filled["txid"]
        balance_update = ws.wait_for(lambda m: m.get("channel") == "balances" and m.get("type") == "update")
        ledger_ids = {e["ledger_id"] for e in balance_update["data"]}
        history = client.ok("TradesHistory", {"ledgers": "true"})
        fills = [t for t in history["trades"].values() if t["ordertxid"] == taker]
        assert fills and set(fills[0]["ledgers"]) <= ledger_ids | set(client.ok("Ledgers")["ledger"])
        assert set(fills[0]["ledgers"]) & ledger_ids
        assert set(client.ok("QueryLedgers", {"id": ",".join(fills[0]["ledgers"])})) == set(fills[0]["ledgers"])

        batch = client.ok("AddOrderBatch", {"pair": "XBTUSD", "orders": [
            {"ordertype": "limit", "type": "buy", "volume": "0.01", "price": str(bid - Decimal("1000"))},
            {"ordertype": "limit", "type": "buy", "volume": "1000", "price": str(bid - Decimal("1000"))}]},
            as_json=True)
        assert "txid" in batch["orders"][0] and batch["orders"][1] == {"error": "EOrder:Insufficient funds"}
        one = client.private("AddOrderBatch", {"pair": "XBTUSD", "orders": [
            {"ordertype": "limit", "type": "buy", "volume": "0.01", "price": "1"}]}, as_json=True)
        assert one["error"] == ["EGeneral:Invalid arguments"]
        assert client.ok("CancelOrderBatch", {"orders": [batch["orders"][0]["txid"], third]},
                         as_json=True)["count"] == 2
        assert client.private("AmendOrder", {"txid": third, "order_qty": "0.01"})["error"] == ["EOrder:Unknown order"]

        ws.send({"method": "batch_add", "params": {"token": token, "symbol": "BTC/USD", "orders": [
            {"order_type": "limit", "side": "buy", "order_qty": 0.01, "limit_price": float(bid - Decimal("1100"))},
            {"order_type": "limit", "side": "buy", "order_qty": 0.01, "limit_price": float(bid - Decimal("1200"))}]}})
        added = ws.wait_for(lambda m: m.get("method") == "batch_add")
        ids = [o["order_id"] for o in added["result"]]
        ws.send({"method": "batch_cancel", "params": {"token": token, "orders": ids}})
        cancelled = ws.wait_for(lambda m: m.get("method") == "batch_cancel")
        assert cancelled["success"] and cancelled["result"]["count"] == 2
        ws.send({"method": "cancel_all_orders_after", "params": {"token": token, "timeout": 30}})
        armed = ws.wait_for(lambda m: m.get("method") == "cancel_all_orders_after")
        assert armed["success"] and armed["result"]["triggerTime"] > armed["result"]["currentTime"]
        ws.send({"method": "cancel_all_orders_after", "params": {"token": token, "timeout": 0}})
        ws.wait_for(lambda m: m.get("method") == "cancel_all_orders_after")
        client.ok("AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "limit", "volume": "0.01",
                               "price": str(ask + Decimal("1000"))})
        ws.send({"method": "cancel_all", "params": {"token": token}})
        assert ws.wait_for(lambda m: m.get("method") == "cancel_all")["result"]["count"] == 1
        assert client.ok("OpenOrders")["open"] == {}
    finally:
        ws.close()


def test_public_ohlc_and_instrument_channels(market):
    ws = WsClient(market.endpoints["ws_public"])
    try:
        assert ws.recv_json()["channel"] == "status"
        ws.send({"method": "subscribe", "params": {"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 5}})
        ack = ws.wait_for(lambda m: m.get("method") == "subscribe")
        assert ack["success"] and ack["result"]["interval"] == 5
        assert ack["result"]["warnings"] == ["timestamp is deprecated, use interval_begin"]
        snapshot = ws.wait_for(lambda m: m.get("channel") == "ohlc" and m.get("type") == "snapshot")
        candle = snapshot["data"][-1]
        assert set(candle) == {"symbol", "open", "high", "low", "close", "vwap", "trades", "volume",
                               "interval_begin", "interval", "timestamp"}
        assert candle["low"] <= candle["close"] <= candle["high"] and candle["interval"] == 5
        assert candle["interval_begin"].endswith("Z") and len(candle["interval_begin"].split(".")[1]) == 10
        update = ws.wait_for(lambda m: m.get("channel") == "ohlc" and m.get("type") == "update", 30)
        assert update["data"][0]["symbol"] == "BTC/USD"
        ws.send({"method": "subscribe", "params": {"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 7}})
        assert ws.wait_for(lambda m: m.get("method") == "subscribe")["error"] == \
            "EGeneral:Invalid arguments"
        ws.send({"method": "unsubscribe", "params": {"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 5}})
        assert ws.wait_for(lambda m: m.get("method") == "unsubscribe")["success"]
        ws.send({"method": "subscribe", "params": {"channel": "instrument"}})
        instrument = ws.wait_for(lambda m: m.get("channel") == "instrument")
        assert {p["symbol"] for p in instrument["data"]["pairs"]} == {"BTC/USD", "ETH/USD", "XRP/USD", "SOL/USD"}
    finally:
        ws.close()


@pytest.mark.parametrize("method,params,as_json,error", [
    ("Ledgers", {"asset": "NOPE"}, False, "EQuery:Unknown asset"),
    ("Ledgers", {"type": "bogus"}, False, "EGeneral:Invalid arguments"),
    ("QueryLedgers", {"id": "LXXXXX-XXXXX-XXXXXX"}, False, "EGeneral:Invalid arguments"),
    ("QueryTrades", {"txid": "TXXXXX-XXXXX-XXXXXX"}, False, "EGeneral:Invalid arguments"),
    ("QueryTrades", {}, False, "EGeneral:Invalid arguments"),
    ("TradeVolume", {"pair": "NOPE"}, False, "EQuery:Unknown asset pair"),
    ("TradeBalance", {"asset": "NOPE"}, False, "EQuery:Unknown asset"),
    ("ClosedOrders", {"ofs": "-1"}, False, "EGeneral:Invalid arguments"),
    ("AmendOrder", {"txid": "OXXXXX-XXXXX-XXXXXX"}, False, "EGeneral:Invalid arguments"),
    ("AmendOrder", {"txid": "OXXXXX-XXXXX-XXXXXX", "order_qty": "1"}, False, "EOrder:Unknown order"),
    ("AmendOrder", {"txid": "OXXXXX-XXXXX-XXXXXX", "limit_price": "+5"}, False, "EGeneral:Invalid arguments"),
    ("EditOrder", {"txid": "OXXXXX-XXXXX-XXXXXX", "pair": "XBTUSD", "volume": "1"}, False, "EOrder:Unknown order"),
    ("EditOrder", {"pair": "XBTUSD"}, False, "EGeneral:Invalid arguments"),
    ("AddOrderBatch", {"pair": "XBTUSD", "orders": "x"}, False, "EGeneral:Invalid arguments"),
    ("AddOrderBatch", {"pair": "NOPE", "orders": []}, True, "EQuery:Unknown asset pair"),
    ("AddOrderBatch", {"pair": "XBTUSD", "orders": [{"ordertype": "limit", "type": "buy", "volume": "0.01",
                                                     "price": "1", "stptype": "cancel-both"}] * 2}, True,
     "EGeneral:Invalid arguments"),
    ("CancelOrderBatch", {"orders": []}, True, "EGeneral:Invalid arguments"),
    ("CancelOrderBatch", {"orders": [{"nope": 1}]}, True, "EGeneral:Invalid arguments"),
    ("NoSuchMethod", {}, False, "EGeneral:Unknown method"),
])
def test_private_endpoint_when_input_bad_then_kraken_error(market, method, params, as_json, error):
    client = DocumentedClient(market.endpoints["rest"], market.endpoints["api_key"], market.endpoints["api_secret"])
    assert client.private(method, params, as_json=as_json) == {"error": [error]}


@pytest.mark.parametrize("method,params,error", [
    ("OHLC", {"pair": "XBTUSD", "interval": "abc"}, "EGeneral:Invalid arguments"),
    ("Spread", {}, "EGeneral:Invalid arguments"),
    ("Depth", {"pair": "XBTUSD,ETHUSD"}, "EGeneral:Invalid arguments"),
    ("AssetPairs", {"info": "bogus"}, "EGeneral:Invalid arguments"),
    ("Assets", {"asset": "NOPE"}, "EQuery:Unknown asset"),
    ("Ticker", {"pair": "BTC/NOPE"}, "EQuery:Unknown asset pair"),
])
def test_public_endpoint_when_input_bad_then_kraken_error(market, method, params, error):
    body = requests.get(f"{market.endpoints['rest']}/0/public/{method}", params=params, timeout=5).json()
    assert body == {"error": [error]}


def test_edit_and_amend_when_venue_or_rate_faults_then_kraken_errors(market):
    client = DocumentedClient(market.endpoints["rest"], market.endpoints["api_key"], market.endpoints["api_secret"])
    bid, _ = touch(market, "ETH/USD")
    (txid,) = client.ok("AddOrder", {"pair": "ETHUSD", "type": "buy", "ordertype": "limit", "volume": "0.1",
                                     "price": str(bid - Decimal("40"))})["txid"]
    try:
        market.inject_fault({"fault": "venue_status", "status": "cancel_only"})
        assert client.private("EditOrder", {"txid": txid, "pair": "ETHUSD", "volume": "0.2"}) == \
            {"error": ["EService:Market in cancel_only mode"]}
        assert client.private("AmendOrder", {"txid": txid, "order_qty": "0.2"}) == \
            {"error": ["EService:Market in cancel_only mode"]}
        market.clear_faults()
        market.inject_fault({"fault": "rate_limit", "count": 1})
        assert client.private("EditOrder", {"txid": txid, "pair": "ETHUSD", "volume": "0.2"}) == \
            {"error": ["EOrder:Rate limit exceeded"]}
        market.clear_faults()
        market.inject_fault({"fault": "reject_orders", "count": 1, "error": "EOrder:Insufficient funds"})
        assert client.private("AddOrderBatch", {"pair": "ETHUSD", "orders": [
            {"ordertype": "limit", "type": "buy", "volume": "0.1", "price": str(bid - Decimal("41"))}] * 2},
            as_json=True) == {"error": ["EOrder:Insufficient funds"]}
    finally:
        market.clear_faults()
        client.ok("CancelAll")


def test_ws_edit_order_when_field_unsupported_or_token_bad_then_kraken_errors(market):
    ws = WsClient(market.endpoints["ws_auth"])
    try:
        assert ws.recv_json()["channel"] == "status"
        ws.send({"method": "edit_order", "params": {"token": "nope", "order_id": "O", "symbol": "BTC/USD"}})
        assert ws.wait_for(lambda m: m.get("method") == "edit_order")["error"] == "EAPI:Invalid token"
        ws.send({"method": "edit_order", "params": {"token": "nope", "order_id": "O", "symbol": "BTC/USD",
                                                    "display_qty": 1}})
        assert ws.wait_for(lambda m: m.get("method") == "edit_order")["error"] == "Unsupported field: 'display_qty'"
        ws.send({"method": "edit_order", "params": "x"})
        assert ws.wait_for(lambda m: m.get("method") == "edit_order")["error"] == "EGeneral:Invalid arguments"
    finally:
        ws.close()
