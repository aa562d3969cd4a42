"""Authenticated WS v2 of the local exchange: tokens, executions, balances and every trading method.

The market here runs on a clock the test advances by hand, so nothing moves unless the test says so:
fills, the dead man's switch and token expiry happen exactly when the clock passes them, with no waiting.
Every frame the server sends is decoded with the project's own codec (core.kraken.codec.decode).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from decimal import ROUND_HALF_UP, Decimal

import pytest

from kraken_runtime.core.kraken import codec
from kraken_runtime.core.kraken import messages as m
from kraken_runtime.core.kraken.rest import KrakenRestClient
from kraken_runtime.core.sim.instruments import INSTRUMENTS
from kraken_runtime.sim_server.app import start_sim

NS = 1_000_000_000
KEY_B = "sim-test-key-b"
SECRET_B = base64.b64encode(hashlib.sha512(b"b").digest()).decode()


class ManualClock:
    def __init__(self) -> None:
        self.now = time.time_ns()

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * NS)


@pytest.fixture(scope="module")
def clock():
    return ManualClock()


@pytest.fixture(scope="module")
def market(clock):
    handle = start_sim(symbols=("BTC/USD", "ETH/USD"), seed=21, clock_ns=clock, rest_tier="pro",
                       accounts={"sim-test-key-a": base64.b64encode(hashlib.sha512(b"a").digest()).decode(),
                                 KEY_B: SECRET_B},
                       balances={"USD": Decimal("50000000"), "BTC": Decimal("100"), "ETH": Decimal("1000")})
    yield handle
    handle.stop()


def _rest(handle, key=None, secret=None) -> KrakenRestClient:
    return KrakenRestClient(version="test", base_url=handle.endpoints["rest"],
                            api_key=key or handle.endpoints["api_key"],
                            api_secret=secret or handle.endpoints["api_secret"], max_attempts=1)


@pytest.fixture
def session(market, connect, clock):
    """open(key=None) -> (client, token) on /v2/auth, the account's open orders cancelled first."""

    def open_(key=None, secret=None):
        with _rest(market, key, secret) as rest:
            token = rest.get_websockets_token().token
            rest.cancel_all()
            rest.cancel_all_orders_after(0)
        client = connect(market.endpoints["ws_auth"])
        assert decode(client.recv()).system == m.SystemState.ONLINE
        settle(market, clock)
        return client, token

    clock.advance(60)  # the REST call counter decays between tests
    settle(market, clock)
    return open_


def settle(handle, clock, deadline_s: float = 10.0) -> None:
    """Wait until the market loop has stepped the model to the clock's time."""
    end = time.monotonic() + deadline_s
    # The loop answers between ticks; one tick may step a long stretch of flow, so each call may wait
    # as long as the whole deadline.
    while handle.call(lambda: handle.exchange.now_ns, timeout=deadline_s) < clock.now:
        assert time.monotonic() < end, "the market loop did not catch up with the clock"


def decode(text: str):
    return codec.decode(text)


def reply(client, method: str, deadline_s: float = 5.0):
    """The next response to `method`, decoded; execution/balance/heartbeat frames before it are skipped."""
    return decode(_raw(client, lambda x: x.get("method") == method, deadline_s))


def _raw(client, predicate, deadline_s=5.0) -> str:
    """The first frame (in arrival order) matching `predicate`; frames it skips are kept for later calls."""
    backlog = client.__dict__.setdefault("backlog", [])
    for index, text in enumerate(backlog):
        if predicate(json.loads(text)):
            return backlog.pop(index)
    end = time.monotonic() + deadline_s
    while True:
        left = end - time.monotonic()
        assert left > 0, "no matching frame before the deadline"
        text = client.recv(left)
        if predicate(json.loads(text)):
            return text
        backlog.append(text)


def executions(client, count: int, deadline_s: float = 5.0) -> list[m.Execution]:
    out: list[m.Execution] = []
    while len(out) < count:
        message = decode(_raw(client, lambda x: x.get("channel") == "executions", deadline_s))
        out.extend(message.executions)
    return out


def subscribe(client, token, channel, **params):
    client.send({"method": "subscribe", "params": {"channel": channel, "token": token, **params}, "req_id": 1})
    ack = reply(client, "subscribe")
    assert isinstance(ack, m.SubscribeAck), ack
    snapshot = decode(_raw(client, lambda x: x.get("channel") == channel))
    return ack, snapshot


def add(client, token, **params) -> m.MethodResponse:
    body = {"order_type": "limit", "side": "buy", "symbol": "BTC/USD", "token": token, **params}
    client.send({"method": "add_order", "params": body, "req_id": 42})
    return reply(client, "add_order")


def book_touch(handle, symbol):
    bids, asks = handle.call(handle.exchange.book, symbol, 1)
    return bids[0][0], asks[0][0]


def test_add_order_then_executions_pending_new_new_then_filled_by_another_account_with_maker_fee_and_balances(
        market, session):
    client_a, token_a = session()
    client_b, token_b = session(KEY_B, SECRET_B)
    ack, snapshot = subscribe(client_a, token_a, "executions")
    assert ack.maxratecount == 125 and snapshot.type == m.FrameType.SNAPSHOT and snapshot.executions == ()
    _, balances = subscribe(client_a, token_a, "balances")
    usd_before = {b.asset: b.balance for b in balances.balances}["USD"]
    bid, ask = book_touch(market, "BTC/USD")
    tick = INSTRUMENTS["BTC/USD"].price_increment
    price = ask - tick if ask - bid > tick else ask  # the best ask: nothing rests ahead of us but the level
    qty = Decimal("0.01000000")
    placed = add(client_a, token_a, side="sell", limit_price=float(price), order_qty=float(qty), cl_ord_id="life-1")
    assert isinstance(placed, m.AddOrderAck) and placed.cl_ord_id == "life-1" and placed.req_id == 42
    pending, new = executions(client_a, 2)
    assert (pending.exec_type, pending.order_status) == (m.ExecType.PENDING_NEW, m.OrderStatus.PENDING_NEW)
    assert pending.order_id == placed.order_id and pending.limit_price == price and pending.order_qty == qty
    assert pending.time_in_force == m.TimeInForce.GTC and pending.cl_ord_id == "life-1"
    assert (new.exec_type, new.order_status, new.cl_ord_id) == (m.ExecType.NEW, m.OrderStatus.NEW, "life-1")
    assert new.symbol is None  # the new event is sparse, as Kraken's
    # account B lifts everything up to our price: our order is the last in the queue there
    asks, _ = market.call(lambda: (market.exchange.book("BTC/USD", 50)[1], None))
    ahead = sum((q for p, q in asks if p <= price), Decimal(0))
    taken = add(client_b, token_b, side="buy", limit_price=float(price), order_qty=float(ahead),
                time_in_force="ioc")
    assert isinstance(taken, m.AddOrderAck), taken
    trade, filled = executions(client_a, 2)
    assert trade.exec_type == m.ExecType.TRADE and trade.liquidity_ind == m.LiquidityIndicator.MAKER
    assert trade.last_qty == qty and trade.last_price == price and trade.cost == price * qty
    inst = INSTRUMENTS["BTC/USD"]
    fee = (price * qty * inst.maker_fee_pct / 100).quantize(Decimal(1).scaleb(-inst.cost_precision), ROUND_HALF_UP)
    assert trade.fees == (m.Fee(asset="USD", qty=fee),) and trade.cl_ord_id == "life-1"
    assert (filled.exec_type, filled.order_status) == (m.ExecType.FILLED, m.OrderStatus.FILLED)
    assert filled.cum_qty == qty
    ledger = [decode(_raw(client_a, lambda x: x.get("channel") == "balances")).entries[0] for _ in range(2)]
    by_asset = {e.asset: e for e in ledger}
    assert by_asset["BTC"].amount == -qty and by_asset["USD"].amount == price * qty
    assert by_asset["USD"].fee == fee and by_asset["USD"].balance == usd_before + price * qty - fee
    assert by_asset["USD"].ref_id == trade.exec_id and by_asset["USD"].type == "trade"


def test_executions_snapshot_then_lists_open_orders_and_recent_trades(market, session):
    client, token = session()
    bid, _ = book_touch(market, "ETH/USD")
    placed = add(client, token, symbol="ETH/USD", limit_price=float(bid * Decimal("0.9")).__round__(2),
                 order_qty=0.5, order_userref=77)
    assert isinstance(placed, m.AddOrderAck) and placed.order_userref == 77
    _, snapshot = subscribe(client, token, "executions", snap_trades=True)
    open_ = [e for e in snapshot.executions if e.exec_type == m.ExecType.NEW]
    assert [e.order_id for e in open_] == [placed.order_id]
    assert open_[0].order_userref == 77 and open_[0].limit_price is not None and open_[0].order_qty == Decimal("0.5")
    trades = [e for e in snapshot.executions if e.exec_type == m.ExecType.TRADE]
    assert trades and all(t.exec_id and t.fees and t.liquidity_ind for t in trades)  # the previous test's fill


def test_amend_then_cancel_by_cl_ord_id_then_unknown_order(market, session):
    client, token = session()
    subscribe(client, token, "executions", snap_orders=False)
    bid, _ = book_touch(market, "BTC/USD")
    price = float(bid - 100)
    placed = add(client, token, limit_price=price, order_qty=0.02, cl_ord_id="amend-me")
    executions(client, 2)
    client.send({"method": "amend_order", "params": {"cl_ord_id": "amend-me", "order_qty": 0.015, "token": token},
                 "req_id": 5})
    amended = reply(client, "amend_order")
    assert isinstance(amended, m.AmendOrderAck) and amended.amend_id and amended.cl_ord_id == "amend-me"
    (report,) = executions(client, 1)
    assert report.exec_type == m.ExecType.AMENDED and report.amended is True and report.order_qty == Decimal("0.015")
    client.send({"method": "cancel_order", "params": {"cl_ord_id": ["amend-me"], "token": token}, "req_id": 6})
    cancelled = reply(client, "cancel_order")
    assert isinstance(cancelled, m.CancelOrderAck) and cancelled.cl_ord_id == "amend-me" and cancelled.req_id == 6
    (report,) = executions(client, 1)
    assert (report.exec_type, report.order_id, report.reason) == (m.ExecType.CANCELED, placed.order_id,
                                                                  "User requested")
    client.send({"method": "cancel_order", "params": {"order_id": [placed.order_id], "token": token}})
    gone = reply(client, "cancel_order")
    assert isinstance(gone, m.MethodError) and gone.error == "EOrder:Unknown order"


def test_post_only_that_would_cross_then_accepted_and_cancelled_with_post_only_reason(market, session):
    client, token = session()
    subscribe(client, token, "executions")
    _, ask = book_touch(market, "BTC/USD")
    placed = add(client, token, limit_price=float(ask), order_qty=0.01, post_only=True)
    assert isinstance(placed, m.AddOrderAck)
    pending, cancelled = executions(client, 2)
    assert pending.exec_type == m.ExecType.PENDING_NEW and pending.post_only is True
    assert (cancelled.exec_type, cancelled.reason) == (m.ExecType.CANCELED, "Post only order")


def test_validate_then_empty_order_id_and_nothing_placed(market, session):
    client, token = session()
    subscribe(client, token, "executions")
    bid, _ = book_touch(market, "BTC/USD")
    placed = add(client, token, limit_price=float(bid - 10), order_qty=0.01, validate=True)
    assert isinstance(placed, m.AddOrderAck) and placed.order_id == ""
    assert market.call(market.exchange.open_orders, market.endpoints["api_key"]) == ()


def test_market_order_when_funds_short_then_insufficient_funds(market, session):
    client, token = session()
    placed = add(client, token, order_type="market", side="sell", order_qty=1000.0)
    assert isinstance(placed, m.MethodError) and placed.error == "EOrder:Insufficient funds"
    placed = add(client, token, limit_price=1.05, order_qty=0.01)
    assert isinstance(placed, m.MethodError) and placed.error == "EOrder:Tick size check failed"
    placed = add(client, token, limit_price=100.0, order_qty=0.00000001)
    assert isinstance(placed, m.MethodError) and placed.error == "EOrder:Order minimum not met"


def test_batch_add_then_results_in_request_order_then_cancel_all_counts_them(market, session):
    client, token = session()
    bid, _ = book_touch(market, "BTC/USD")
    client.send({"method": "batch_add", "req_id": 9, "params": {"symbol": "BTC/USD", "token": token, "orders": [
        {"order_type": "limit", "side": "buy", "limit_price": float(bid - 200), "order_qty": 0.01, "order_userref": 1},
        {"order_type": "limit", "side": "buy", "limit_price": float(bid - 300), "order_qty": 0.01, "order_userref": 2},
    ]}})
    batch = reply(client, "batch_add")
    assert isinstance(batch, m.BatchAddAck) and [o.order_userref for o in batch.orders] == [1, 2]
    assert all(o.order_id for o in batch.orders)
    client.send({"method": "cancel_all", "params": {"token": token}, "req_id": 10})
    done = reply(client, "cancel_all")
    assert isinstance(done, m.CancelAllAck) and done.count == 2


def test_dead_mans_switch_when_it_expires_then_orders_are_cancelled(market, session, clock):
    client, token = session()
    subscribe(client, token, "executions")
    bid, _ = book_touch(market, "ETH/USD")
    placed = add(client, token, symbol="ETH/USD", limit_price=float((bid * Decimal("0.8")).quantize(Decimal("0.01"))),
                 order_qty=1.0)
    executions(client, 2)
    client.send({"method": "cancel_all_orders_after", "params": {"timeout": 5, "token": token}, "req_id": 11})
    armed = reply(client, "cancel_all_orders_after")
    assert isinstance(armed, m.CancelAllOrdersAfterAck)
    assert armed.trigger_time_ns - armed.current_time_ns == 5 * NS
    clock.advance(4)
    client.send({"method": "ping", "req_id": 12})
    assert isinstance(reply(client, "pong"), m.Pong)
    assert market.call(market.exchange.open_orders, market.endpoints["api_key"])  # not yet
    clock.advance(2)
    (report,) = [e for e in executions(client, 1, deadline_s=5) if e.order_id == placed.order_id]
    assert (report.exec_type, report.reason) == (m.ExecType.CANCELED, "CancelAllOrdersAfter Timeout")
    assert market.call(market.exchange.open_orders, market.endpoints["api_key"]) == ()


def test_token_when_unknown_or_expired_then_invalid_token_and_once_used_it_does_not_expire(
        market, session, connect, clock):
    client, token = session()
    client.send({"method": "subscribe", "params": {"channel": "balances", "token": "not-a-token"}, "req_id": 3})
    error = reply(client, "subscribe")
    assert isinstance(error, m.MethodError) and error.error == "EAPI:Invalid token" and error.req_id == 3
    placed = add(client, "not-a-token", limit_price=100.0, order_qty=0.01)
    assert isinstance(placed, m.MethodError) and placed.error == "EAPI:Invalid token"
    with _rest(market) as rest:
        unused = rest.get_websockets_token().token
    subscribe(client, token, "balances")  # uses `token`
    clock.advance(901)
    settle(market, clock, deadline_s=60.0)  # the market loop simulates 901 s of flow first (seconds of CPU)
    client.send({"method": "subscribe", "params": {"channel": "executions", "token": unused}})
    expired = reply(client, "subscribe")
    assert isinstance(expired, m.MethodError) and expired.error == "EAPI:Invalid token"
    bid, _ = book_touch(market, "BTC/USD")
    still = add(client, token, limit_price=float(bid - 10), order_qty=0.01, validate=True)
    assert isinstance(still, m.AddOrderAck)


def test_request_with_unsupported_field_then_kraken_names_it(market, session):
    client, token = session()
    placed = add(client, token, limit_price=100.0, order_qty=0.01, leverage=2)
    assert isinstance(placed, m.MethodError) and placed.error == "Unsupported field: 'leverage'"


def test_trading_rate_counter_when_exceeded_then_rate_limit_exceeded(market, session, clock):
    client, token = session()
    bid, _ = book_touch(market, "ETH/USD")
    price = float((bid * Decimal("0.9")).quantize(Decimal("0.01")))
    errors = []
    for _ in range(130):  # validate-only adds: +1 each against a threshold of 125, no decay (clock held)
        placed = add(client, token, symbol="ETH/USD", limit_price=price, order_qty=0.01, validate=True)
        if isinstance(placed, m.MethodError):
            errors.append(placed.error)
    assert errors and set(errors) == {"EOrder:Rate limit exceeded"} and len(errors) >= 5
    clock.advance(120)  # decays
    settle(market, clock)
    assert isinstance(add(client, token, symbol="ETH/USD", limit_price=price, order_qty=0.01, validate=True),
                      m.AddOrderAck)
