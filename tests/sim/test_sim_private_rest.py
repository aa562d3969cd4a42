"""Private REST of the local exchange: the project's REST client end to end, response shapes against
Kraken's recorded responses (tests/data/kraken/rest), and authentication failures with Kraken's errors."""

from __future__ import annotations

import base64
import json
import time
from decimal import Decimal

import pytest

from kraken_runtime.core.kraken.errors import KrakenError
from kraken_runtime.core.kraken.ratelimit import RestTier
from kraken_runtime.core.kraken.rest import KrakenRestClient
from kraken_runtime.sim_server.app import start_sim


@pytest.fixture(scope="module")
def sim():
    """A roomy REST call counter for this module (the real one is tested on its own below)."""
    handle = start_sim(symbols=("BTC/USD", "ETH/USD", "XRP/USD"), seed=13,
                       rest_tier=RestTier(name="test", max_counter=10_000, decay_per_s=10))
    yield handle
    handle.stop()


def _recorded(shared_kraken, name: str) -> dict:
    return json.loads((shared_kraken / "rest" / name).read_text())


def _first(mapping: dict) -> dict:
    return next(iter(mapping.values()))


def test_balance_and_token_then_shapes_match_kraken(rest_client, sim, shared_kraken, private):
    balances = rest_client.balance()
    assert balances["ZUSD"] == Decimal("100000.0000") and balances["XXBT"] == Decimal("1.0000000000")
    raw = private(sim, "Balance")
    assert raw["error"] == [] and all(isinstance(v, str) for v in raw["result"].values())
    token = private(sim, "GetWebSocketsToken")
    recorded = _recorded(shared_kraken, "rest_responses_assorted.json")["responses"]["websockets_json.rs"]
    assert set(token["result"]) == set(recorded["get_websockets_token_json"]["result"])
    assert token["result"]["expires"] == 900


def test_order_lifecycle_over_rest_then_open_closed_query_and_trades_have_kraken_shapes(rest_client, sim,
                                                                                        shared_kraken, best, private):
    recorded = _recorded(shared_kraken, "rest_responses_private_2024.json")
    bid, _ = best(sim, "BTC/USD")
    price = bid - Decimal("500.0")
    placed = rest_client.add_order(pair="XBTUSD", side="buy", ordertype="limit", volume=Decimal("0.01"),
                                   price=price, cl_ord_id="rest-life-1", oflags=("post",))
    assert len(placed.txids) == 1 and placed.description == f"buy 0.01000000 XBTUSD @ limit {price}"
    (open_order,) = [o for o in rest_client.open_orders() if o.txid == placed.txids[0]]
    assert open_order.status == "open" and open_order.cl_ord_id == "rest-life-1" and "post" in open_order.oflags
    raw_open = private(sim, "OpenOrders")["result"]["open"][placed.txids[0]]
    recorded_open = _first(recorded["OpenOrders_take_profit"]["result"]["open"])
    assert set(raw_open) >= set(recorded_open) and set(raw_open["descr"]) == set(recorded_open["descr"])
    assert rest_client.cancel_order(txid=placed.txids[0]).count == 1
    closed = rest_client.closed_orders()
    (gone,) = [o for o in closed.orders if o.txid == placed.txids[0]]
    assert gone.status == "canceled" and gone.reason == "User requested"
    sold = rest_client.add_order(pair="XBTUSD", side="sell", ordertype="market", volume=Decimal("0.001"),
                                 cl_ord_id="rest-life-2")
    (queried,) = rest_client.query_orders(sold.txids, trades=True)
    assert queried.status == "closed" and queried.vol_exec == Decimal("0.001") and queried.trades
    raw_query = private(sim, "QueryOrders", {"txid": sold.txids[0], "trades": "true"})["result"][sold.txids[0]]
    recorded_closed = _first(recorded["QueryOrders_closed_market"]["result"])
    assert set(raw_query) - {"cl_ord_id"} == set(recorded_closed)  # cl_ord_id: when the order has one
    history = rest_client.trades_history()
    (trade,) = [t for t in history.trades if t.ordertxid == sold.txids[0]]
    assert trade.maker is False and trade.pair == "XXBTZUSD" and trade.fee > 0 and history.count >= 1
    raw_trades = private(sim, "TradesHistory")["result"]
    recorded_trade = _recorded(shared_kraken, "rest_responses_assorted.json")["responses"][
        "account_response_json.rs"]["get_trades_history_json"]["result"]["trades"]["VN6IJE-7BQX2-YXRLGM"]
    assert set(raw_trades) == {"count", "trades"} and set(_first(raw_trades["trades"])) == set(recorded_trade)


def test_add_order_validate_then_descr_without_txid(sim, best, private):
    bid, _ = best(sim, "ETH/USD")
    body = private(sim, "AddOrder", {"pair": "ETHUSD", "type": "buy", "ordertype": "limit", "volume": "0.5",
                                     "price": str(bid - Decimal("50")), "validate": "true"})
    assert body["error"] == [] and set(body["result"]) == {"descr"}


def test_cancel_all_orders_after_then_current_and_trigger_time_and_zero_disables(rest_client, sim, shared_kraken, private):
    armed = rest_client.cancel_all_orders_after(60)
    recorded = _recorded(shared_kraken, "rest_responses_assorted.json")["responses"]["trading_response_json.rs"]
    raw = private(sim, "CancelAllOrdersAfter", {"timeout": "60"})["result"]
    assert set(raw) == set(recorded["get_cancel_all_orders_after_json"]["result"])
    assert armed.current_time.endswith("Z") and armed.trigger_time > armed.current_time
    off = rest_client.cancel_all_orders_after(0)
    assert off.trigger_time == off.current_time
    assert sim.call(sim.exchange.dead_man_trigger_ns, sim.endpoints["api_key"]) == 0


def test_dead_mans_switch_when_timer_runs_out_then_rest_orders_are_cancelled(rest_client, sim, best):
    bid, _ = best(sim, "XRP/USD")
    placed = rest_client.add_order(pair="XRPUSD", side="buy", ordertype="limit", volume=Decimal("100"),
                                   price=(bid * Decimal("0.9")).quantize(Decimal("0.00001")), cl_ord_id="dms-rest")
    rest_client.cancel_all_orders_after(1)
    end = time.monotonic() + 10
    while any(o.txid == placed.txids[0] for o in rest_client.open_orders()):
        assert time.monotonic() < end, "the dead man's switch did not cancel"
    (order,) = rest_client.query_orders(placed.txids)
    assert order.status == "canceled" and order.reason == "CancelAllOrdersAfter Timeout"


@pytest.mark.parametrize("case, expected", [
    ("unknown key", "EAPI:Invalid key"),
    ("bad signature", "EAPI:Invalid signature"),
    ("stale nonce", "EAPI:Invalid nonce"),
    ("non-numeric nonce", "EAPI:Invalid nonce"),
])
def test_authentication_failure_then_kraken_error(sim, case, expected, private):
    if case == "unknown key":
        body = private(sim, "Balance", key="AAAAunknownKEY")
    elif case == "bad signature":
        body = private(sim, "Balance", sign=base64.b64encode(b"x" * 64).decode())
    elif case == "stale nonce":
        assert private(sim, "Balance")["error"] == []
        body = private(sim, "Balance", nonce=1)
    else:
        body = private(sim, "Balance", nonce="abc")
    assert body == {"error": [expected]}


def test_project_client_when_key_unknown_then_typed_kraken_error(sim):
    client = KrakenRestClient(version="t", base_url=sim.endpoints["rest"], api_key="nobody",
                              api_secret=sim.endpoints["api_secret"], max_attempts=1)
    with pytest.raises(KrakenError) as caught:
        client.balance()
    assert "EAPI:Invalid key" in str(caught.value.errors if hasattr(caught.value, "errors") else caught.value)


def test_rest_call_counter_when_exceeded_then_rate_limit_exceeded(private):
    key, secret = "counter-key", base64.b64encode(b"s" * 64).decode()
    handle = start_sim(symbols=("BTC/USD",), seed=3, accounts={key: secret}, rest_tier="intermediate")
    try:
        answers = [private(handle, "Balance", key=key, secret=secret)["error"] for _ in range(24)]
        assert answers[:20] == [[]] * 20  # the counter's maximum is 20 (intermediate tier)
        assert ["EAPI:Rate limit exceeded"] in answers[20:]
        # TradesHistory costs 4: still refused while the counter is full
        assert private(handle, "TradesHistory", key=key, secret=secret)["error"] == ["EAPI:Rate limit exceeded"]
    finally:
        handle.stop()
