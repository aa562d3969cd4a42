from decimal import Decimal

import pytest

from kraken_runtime.core.sim.api import AddOrderRequest, AmendOrderRequest, KrakenReject
from kraken_runtime.core.sim.events import BalanceChanged, BookLevelChanged, ExecutionEvent, L3OrderEvent, TradePrinted

T0 = 1_700_000_000 * 1_000_000_000
SEC = 1_000_000_000
TICK = Decimal("0.1")


def best(x, symbol="BTC/USD"):
    bids, asks = x.book(symbol, 1)
    return bids[0][0], asks[0][0]


def execs(events, exec_type=None):
    return [e for e in events if isinstance(e, ExecutionEvent) and (exec_type is None or e.exec_type == exec_type)]


def limit(side, qty, price, **kw):
    return AddOrderRequest(symbol="BTC/USD", side=side, order_type="limit", order_qty=Decimal(qty), limit_price=Decimal(price), **kw)


def test_add_limit_when_passive_then_pending_new_new_and_rests_in_book(exchange):
    bid, ask = best(exchange)
    result, events = exchange.add_order("alice", limit("buy", "0.5", bid - 10 * TICK, cl_ord_id="c-1"), T0 + 1)
    assert result.order_id.startswith("O") and len(result.order_id) == 19 and result.cl_ord_id == "c-1"
    e = execs(events)
    assert [(x.exec_type, x.order_status) for x in e] == [("pending_new", "pending_new"), ("new", "new")]
    assert e[0].time_in_force == "GTC" and e[0].limit_price == bid - 10 * TICK and e[0].order_qty == Decimal("0.50000000")
    assert e[1].symbol is None  # the new report is sparse, as Kraken's
    adds = [x for x in events if isinstance(x, L3OrderEvent)]
    assert [(a.event, a.order_id) for a in adds] == [("add", result.order_id)]
    assert any(isinstance(x, BookLevelChanged) and x.price == bid - 10 * TICK for x in events)
    (view,) = exchange.open_orders("alice")
    assert view.order_id == result.order_id and view.rest_status == "open"
    assert exchange.balances("alice")["USD"] == Decimal("1000000")
    held = (bid - 10 * TICK) * Decimal("0.5") * Decimal("1.0026")
    assert exchange.available_balances("alice")["USD"] == Decimal("1000000") - held


def test_add_limit_when_crossing_then_takes_with_taker_fee_and_updates_balances(exchange):
    bid, ask = best(exchange)
    asks, _ = exchange.book("BTC/USD", 1)[1], None
    qty = min(asks[0][1], Decimal("0.01"))
    result, events = exchange.add_order("alice", limit("buy", qty, ask), T0 + 1)
    trades = execs(events, "trade")
    assert len(trades) == 1 and trades[0].liquidity_ind == "t"
    cost = ask * qty
    fee = (cost * Decimal("0.26") / 100).quantize(Decimal("0.00001"))
    assert trades[0].cost == cost and trades[0].fee == fee and trades[0].fee_asset == "USD"
    assert trades[0].order_status == "filled" and execs(events)[-1].exec_type == "filled"
    assert [x.exec_type for x in execs(events)] == ["pending_new", "new", "trade", "filled"]
    public = [x for x in events if isinstance(x, TradePrinted)]
    assert public[0].side == "buy" and public[0].ord_type == "limit" and public[0].trade_id == trades[0].trade_id
    balances = exchange.balances("alice")
    assert balances["BTC"] == Decimal("10") + qty
    assert balances["USD"] == Decimal("1000000") - cost - fee
    ledger = [x for x in events if isinstance(x, BalanceChanged)]
    assert [(x.asset, x.amount, x.fee) for x in ledger] == [("BTC", qty, 0), ("USD", -cost, fee)]
    (trade,) = exchange.trades_history("alice")
    assert trade.maker is False and trade.rest_pair == "XXBTZUSD"
    assert exchange.closed_orders("alice")[0].status == "filled"


def test_add_post_only_when_it_would_cross_then_cancelled_with_post_only_reason(exchange):
    bid, ask = best(exchange)
    result, events = exchange.add_order("alice", limit("buy", "0.01", ask, post_only=True), T0 + 1)
    assert not isinstance(result, KrakenReject)
    assert [(x.exec_type, x.reason) for x in execs(events)] == [("pending_new", None), ("canceled", "Post only order")]
    assert not any(isinstance(x, TradePrinted) for x in events)
    assert exchange.book("BTC/USD", 1)[1][0][0] == ask


@pytest.mark.parametrize(
    "request_, error",
    [
        (limit("buy", "100", "100000.0"), "EOrder:Insufficient funds"),
        (limit("sell", "11", "200000.0"), "EOrder:Insufficient funds"),
        (limit("buy", "0.01", "100000.05"), "EOrder:Tick size check failed"),
        (limit("buy", "0.000000001", "100000.0"), "EGeneral:Invalid arguments"),
        (limit("buy", "0.00005", "100000.0"), "EOrder:Order minimum not met"),
        (limit("buy", "0.01", "0"), "EOrder:Invalid price"),
        (limit("buy", "0.0001", "1000.0"), "EOrder:Cost minimum not met"),
        (AddOrderRequest(symbol="NOPE/USD", side="buy", order_type="limit", order_qty=Decimal(1), limit_price=Decimal(1)), "EQuery:Unknown asset pair"),
        (AddOrderRequest(symbol="BTC/USD", side="buy", order_type="market", order_qty=Decimal(1), post_only=True), "EGeneral:Invalid arguments"),
    ],
)
def test_add_when_invalid_then_rejects_with_kraken_error(exchange, request_, error):
    result, events = exchange.add_order("alice", request_, T0 + 1)
    assert result == KrakenReject(error=error) and events == []
    assert exchange.open_orders("alice") == ()


def test_add_validate_then_nothing_placed(exchange):
    result, events = exchange.add_order("alice", limit("buy", "0.01", "100000.0", validate=True), T0 + 1)
    assert result.order_id == "" and events == [] and exchange.open_orders("alice") == ()
    assert result.description == "buy 0.01000000 XBTUSD @ limit 100000.0"


def test_market_order_walks_book_and_ioc_fok_remainders_are_cancelled(exchange):
    result, events = exchange.add_order(
        "alice", AddOrderRequest(symbol="BTC/USD", side="sell", order_type="market", order_qty=Decimal("0.5")), T0 + 1)
    assert execs(events)[-1].exec_type == "filled" and execs(events)[-1].cum_qty == Decimal("0.50000000")
    bid, ask = best(exchange)
    _, events = exchange.add_order("alice", limit("buy", "0.01", bid - TICK, time_in_force="ioc"), T0 + 2)
    assert [x.exec_type for x in execs(events)] == ["pending_new", "new", "canceled"]
    bids, asks = exchange.book("BTC/USD", 1)
    too_much = asks[0][1] + Decimal("1")
    _, events = exchange.add_order("alice", limit("buy", too_much, asks[0][0], time_in_force="fok"), T0 + 3)
    assert [x.exec_type for x in execs(events)] == ["pending_new", "canceled"]
    assert not any(isinstance(x, TradePrinted) for x in events)


def test_amend_when_qty_lowered_then_keeps_queue_place_and_when_repriced_goes_to_back(exchange):
    bid, _ = best(exchange)
    mine, _ = exchange.add_order("alice", limit("buy", "0.5", bid), T0 + 1)
    bids, _ = exchange.l3_book("BTC/USD", 1)
    place = [row[0] for row in bids].index(mine.order_id)
    result, events = exchange.amend_order("alice", AmendOrderRequest(order_id=mine.order_id, order_qty=Decimal("0.2")), T0 + 2)
    assert result.amend_id and result.order_id == mine.order_id
    (amended,) = execs(events)
    assert (amended.exec_type, amended.order_status, amended.amended, amended.order_qty) == ("amended", "new", True, Decimal("0.20000000"))
    assert [(x.event, x.order_qty) for x in events if isinstance(x, L3OrderEvent)] == [("modify", Decimal("0.20000000"))]
    bids, _ = exchange.l3_book("BTC/USD", 1)
    assert [row[0] for row in bids].index(mine.order_id) == place
    new_price = bid - 5 * TICK
    _, events = exchange.amend_order("alice", AmendOrderRequest(order_id=mine.order_id, order_qty=Decimal("0.2"), limit_price=new_price), T0 + 3)
    assert [x.event for x in events if isinstance(x, L3OrderEvent)] == ["delete", "add"]
    assert exchange.open_orders("alice")[0].limit_price == new_price and exchange.open_orders("alice")[0].amended


def test_amend_post_only_when_new_price_crosses_then_rejected(exchange):
    bid, ask = best(exchange)
    mine, _ = exchange.add_order("alice", limit("buy", "0.1", bid - TICK), T0 + 1)
    result, events = exchange.amend_order(
        "alice", AmendOrderRequest(order_id=mine.order_id, order_qty=Decimal("0.1"), limit_price=ask, post_only=True), T0 + 2)
    assert isinstance(result, KrakenReject) and events == []


def test_cancel_by_cl_ord_id_then_unknown_afterwards(exchange):
    bid, _ = best(exchange)
    mine, _ = exchange.add_order("alice", limit("buy", "0.1", bid - TICK, cl_ord_id="abc"), T0 + 1)
    result, events = exchange.cancel_order("alice", T0 + 2, cl_ord_id="abc")
    assert result.order_id == mine.order_id
    (cancel,) = execs(events)
    assert (cancel.exec_type, cancel.order_status, cancel.reason) == ("canceled", "canceled", "User requested")
    assert [x.event for x in events if isinstance(x, L3OrderEvent)] == ["delete"]
    assert exchange.cancel_order("alice", T0 + 3, order_id=mine.order_id)[0] == KrakenReject(error="EOrder:Unknown order")
    assert exchange.query_orders("alice", [mine.order_id])[0].rest_status == "canceled"


def test_cancel_all_orders_after_when_it_expires_then_step_cancels_everything(exchange):
    bid, _ = best(exchange)
    for i in range(3):
        exchange.add_order("alice", limit("buy", "0.1", bid - (i + 1) * TICK), T0 + 1)
    result, _ = exchange.cancel_all_orders_after("alice", 5, T0 + SEC)
    assert result.trigger_ns == T0 + 6 * SEC
    assert execs(exchange.step(T0 + 5 * SEC)) == []
    events = exchange.step(T0 + 7 * SEC)
    cancels = execs(events, "canceled")
    assert len(cancels) == 3 and {c.reason for c in cancels} == {"CancelAllOrdersAfter Timeout"}
    assert all(c.ts_ns == T0 + 6 * SEC for c in cancels)
    assert exchange.open_orders("alice") == () and exchange.dead_man_trigger_ns("alice") == 0


def test_cancel_all_orders_after_when_refreshed_or_disabled_then_nothing_cancelled(exchange):
    bid, _ = best(exchange)
    exchange.add_order("alice", limit("buy", "0.1", bid - TICK), T0 + 1)
    exchange.cancel_all_orders_after("alice", 5, T0)
    exchange.cancel_all_orders_after("alice", 5, T0 + 4 * SEC)
    assert execs(exchange.step(T0 + 8 * SEC)) == []
    exchange.cancel_all_orders_after("alice", 0, T0 + 8 * SEC)
    assert execs(exchange.step(T0 + 20 * SEC)) == []
    assert len(exchange.open_orders("alice")) == 1
    assert exchange.cancel_all("alice", T0 + 21 * SEC)[0].count == 1


def test_resting_order_is_filled_by_flow_as_maker_with_maker_fee(make_exchange):
    x = make_exchange(("BTC/USD",), seed=21)
    x.create_account("bob", {"USD": Decimal("1000000")})
    bids, asks = x.book("BTC/USD", 1)
    price = bids[0][0] + TICK if asks[0][0] - bids[0][0] > TICK else bids[0][0]
    mine, _ = x.add_order("bob", limit("buy", "0.002", price), T0 + 1)
    fills = []
    for i in range(1, 1201):
        fills += execs(x.step(T0 + i * 50_000_000), "trade")
        if fills:
            break
    assert fills, "flow never reached the order"
    fill = fills[0]
    assert fill.order_id == mine.order_id and fill.liquidity_ind == "m"
    assert fill.fee == (fill.cost * Decimal("0.16") / 100).quantize(Decimal("0.00001"))


def test_venue_status_refuses_orders_with_kraken_strings(exchange):
    bid, _ = best(exchange)
    resting, _ = exchange.add_order("alice", limit("buy", "0.1", bid - TICK), T0 + 1)
    exchange.set_fault_venue_status("cancel_only")
    assert exchange.add_order("alice", limit("buy", "0.1", bid - TICK), T0 + 2)[0] == KrakenReject(error="EService:Market in cancel_only mode")
    assert not isinstance(exchange.cancel_order("alice", T0 + 2, order_id=resting.order_id)[0], KrakenReject)
    exchange.set_fault_venue_status("post_only")
    assert exchange.add_order("alice", limit("buy", "0.1", bid - TICK), T0 + 3)[0] == KrakenReject(error="EService:Market in post_only mode")
    assert not isinstance(exchange.add_order("alice", limit("buy", "0.1", bid - TICK, post_only=True), T0 + 3)[0], KrakenReject)
    exchange.set_fault_venue_status("maintenance")
    assert exchange.add_order("alice", limit("buy", "0.1", bid - TICK, post_only=True), T0 + 4)[0] == KrakenReject(error="EService:Unavailable")
    assert exchange.venue_status == "maintenance"
    exchange.clear_faults()
    assert exchange.venue_status == "online"


def test_maintenance_freezes_the_flow(make_exchange):
    x = make_exchange(("BTC/USD",), seed=3)
    x.set_fault_venue_status("maintenance")
    assert x.step(T0 + 5 * SEC) == []
    x.set_fault_venue_status("online")
    assert x.step(T0 + 6 * SEC)


def test_reject_orders_refuses_the_next_count_orders(exchange):
    exchange.set_fault_reject_orders(2, "EOrder:Rate limit exceeded")
    bid, _ = best(exchange)
    results = [exchange.add_order("alice", limit("buy", "0.1", bid - TICK), T0 + i)[0] for i in range(3)]
    assert results[:2] == [KrakenReject(error="EOrder:Rate limit exceeded")] * 2
    assert not isinstance(results[2], KrakenReject)


def test_batch_add_validates_whole_batch_then_places_each(exchange):
    bid, _ = best(exchange)
    one = limit("buy", "0.1", bid - TICK)
    bad = limit("buy", "0.1", "1.05")
    assert exchange.batch_add("alice", "BTC/USD", [one], T0)[0] == KrakenReject(error="EGeneral:Invalid arguments")
    assert exchange.batch_add("alice", "BTC/USD", [one, bad], T0)[0] == KrakenReject(error="EOrder:Tick size check failed")
    results, events = exchange.batch_add("alice", "BTC/USD", [one, limit("buy", "0.2", bid - 2 * TICK)], T0)
    assert len(results) == 2 and all(r.order_id for r in results)
    assert len(exchange.open_orders("alice")) == 2 and len(execs(events, "new")) == 2


def test_price_shock_moves_the_market_then_reverts(make_exchange):
    x = make_exchange(("BTC/USD",), seed=12)
    bid0, ask0 = best(x)
    x.set_fault_price_shock("BTC/USD", 5.0, 10)
    events = x.step(T0 + SEC)
    assert any(isinstance(e, TradePrinted) for e in events)
    bid1, ask1 = best(x)
    assert bid1 > bid0 * Decimal("1.04")
    assert "price_shock" in x.active_faults()
    for i in range(2, 16):
        x.step(T0 + i * SEC)
    bid2, _ = best(x)
    assert bid2 < bid0 * Decimal("1.02")
    assert len(x.book("BTC/USD", 1000)[1]) == 1000


def test_spread_blowout_widens_the_spread_for_its_duration(make_exchange):
    x = make_exchange(("ETH/USD",), seed=12)
    x.set_fault_spread_blowout("ETH/USD", 50, 5)
    for i in range(1, 5):
        x.step(T0 + i * SEC)
        bid, ask = best(x, "ETH/USD")
        assert ask - bid >= Decimal("0.50")
    for i in range(5, 40):
        x.step(T0 + i * SEC)
    bid, ask = best(x, "ETH/USD")
    assert ask - bid < Decimal("0.50")


def test_account_activity_is_deterministic(make_exchange):
    def scenario():
        x = make_exchange(("BTC/USD",), seed=30)
        x.create_account("k", {"USD": Decimal("100000"), "BTC": Decimal("1")})
        out = []
        for i in range(1, 40):
            bids, asks = x.book("BTC/USD", 1)
            side = "buy" if i % 2 else "sell"
            price = bids[0][0] if side == "buy" else asks[0][0]
            out.append(x.add_order("k", limit(side, "0.001", price), T0 + i * 100_000_000))
            out.append(x.step(T0 + i * 100_000_000 + 50_000_000))
        return out

    assert scenario() == scenario()


def test_edit_order_when_price_changes_then_original_cancelled_and_replacement_rests_with_new_id(exchange):
    bid, _ = best(exchange)
    placed, _ = exchange.add_order("alice", limit("buy", "0.5", bid - 10 * TICK, order_userref=7), T0 + 1)
    result, events = exchange.edit_order("alice", T0 + 2, order_id=placed.order_id, limit_price=bid - 20 * TICK)
    assert result.original_order_id == placed.order_id and result.order_id != placed.order_id
    assert result.order_qty == Decimal("0.50000000") and result.limit_price == bid - 20 * TICK
    closed = [e for e in execs(events) if e.order_id == placed.order_id]
    assert [(e.exec_type, e.reason) for e in closed] == [("canceled", "Order replaced")]
    (view,) = exchange.open_orders("alice")
    assert view.order_id == result.order_id and view.limit_price == bid - 20 * TICK and view.order_userref == 7


def test_edit_order_when_new_quantity_unfunded_then_rejected_and_original_kept(exchange):
    bid, _ = best(exchange)
    placed, _ = exchange.add_order("alice", limit("buy", "0.5", bid - 10 * TICK), T0 + 1)
    result, events = exchange.edit_order("alice", T0 + 2, order_id=placed.order_id, order_qty=Decimal("1000"))
    assert result == KrakenReject(error="EOrder:Insufficient funds") and events == []
    assert [v.order_id for v in exchange.open_orders("alice")] == [placed.order_id]


def test_edit_order_when_validate_then_nothing_changes(exchange):
    bid, _ = best(exchange)
    placed, _ = exchange.add_order("alice", limit("buy", "0.5", bid - 10 * TICK), T0 + 1)
    result, events = exchange.edit_order("alice", T0 + 2, order_id=placed.order_id, order_qty=Decimal("0.4"),
                                         validate=True)
    assert result.order_id == "" and events == []
    assert exchange.open_orders("alice")[0].order_qty == Decimal("0.50000000")


def test_holds_and_fill_then_ledger_volume_and_candles_agree(exchange):
    bid, ask = best(exchange)
    resting, _ = exchange.add_order("alice", limit("buy", "0.5", bid - 10 * TICK), T0 + 1)
    assert exchange.holds("alice")["USD"] == (bid - 10 * TICK) * Decimal("0.5") * Decimal("1.0026")
    asks = exchange.book("BTC/USD", 1)[1]
    qty = min(asks[0][1], Decimal("0.01"))
    taken, _ = exchange.add_order("alice", limit("buy", qty, ask), T0 + 2)
    (trade,) = [t for t in exchange.trades_history("alice") if t.order_id == taken.order_id]
    ledger = exchange.ledger("alice")
    assert {e.ledger_id for e in ledger[:2]} == set(trade.ledger_ids)
    assert {(e.asset, e.amount) for e in ledger[:2]} == {("BTC", qty), ("USD", -trade.cost)}
    assert exchange.volume_usd("alice", T0) == trade.cost
    bars = exchange.ohlc("BTC/USD", 1)
    assert bars[-1].close == ask and bars[-1].count >= 1 and bars[-1].low <= ask <= bars[-1].high
    assert exchange.spread("BTC/USD")[0] == bid
    with pytest.raises(ValueError):
        exchange.ohlc("BTC/USD", 2)
