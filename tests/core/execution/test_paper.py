"""The paper fill model (pure): depth walk for takers, queue position for resting post-only orders."""

from __future__ import annotations

from decimal import Decimal as D

from kraken_runtime.core.execution import paper

BIDS = ((D("99"), D("2")), (D("98"), D("3")))
ASKS = ((D("101"), D("1")), (D("102"), D("2")), (D("105"), D("10")))
MAKER, TAKER = D("0.0025"), D("0.004")


def test_taker_walks_the_depth_up_to_its_limit() -> None:
    fills = paper.walk_depth(side="buy", qty=D("2.5"), limit=D("102"), bids=BIDS, asks=ASKS, taker_fee_rate=TAKER)
    assert [(f.price, f.qty) for f in fills] == [(D("101"), D("1")), (D("102"), D("1.5"))]
    assert fills[1].fee == D("102") * D("1.5") * TAKER and all(f.liquidity == "taker" for f in fills)


def test_taker_leaves_what_the_book_cannot_fill_inside_the_limit() -> None:
    fills = paper.walk_depth(side="buy", qty=D("5"), limit=D("102"), bids=BIDS, asks=ASKS, taker_fee_rate=TAKER)
    assert sum(f.qty for f in fills) == D("3")
    assert paper.walk_depth(side="sell", qty=D("1"), limit=D("100"), bids=BIDS, asks=ASKS, taker_fee_rate=TAKER) == ()


def test_post_only_would_cross_is_detected() -> None:
    assert paper.would_cross("buy", D("101"), D("99"), D("101"))
    assert not paper.would_cross("buy", D("100.9"), D("99"), D("101"))
    assert paper.would_cross("sell", D("99"), D("99"), D("101"))


def test_l2_resting_order_fills_only_after_the_queue_ahead_is_traded() -> None:
    o = paper.join_l2(side="buy", price=D("99"), qty=D("1"), levels=BIDS)
    assert o.queue_ahead == D("2")
    o, f = paper.on_trade(o, price=D("99"), qty=D("1.5"), maker_fee_rate=MAKER)
    assert f is None and o.queue_ahead == D("0.5")
    o, f = paper.on_trade(o, price=D("99"), qty=D("0.8"), maker_fee_rate=MAKER)
    assert f is not None and f.qty == D("0.3") and f.price == D("99") and f.liquidity == "maker"
    assert o.remaining == D("0.7") and o.queue_ahead == 0


def test_l2_cancellations_count_only_when_the_level_shrinks_below_the_queue_ahead() -> None:
    o = paper.join_l2(side="buy", price=D("99"), qty=D("1"), levels=BIDS)
    assert paper.on_l2_level(o, D("5")).queue_ahead == D("2")  # others joined behind
    o = paper.on_l2_level(o, D("0.5"))
    assert o.queue_ahead == D("0.5")


def test_trades_away_from_our_price_do_nothing_and_trades_through_fill_everything() -> None:
    o = paper.join_l2(side="sell", price=D("101"), qty=D("1"), levels=ASKS)
    o2, f = paper.on_trade(o, price=D("100"), qty=D("10"), maker_fee_rate=MAKER)
    assert f is None and o2 == o
    _, f = paper.on_trade(o, price=D("101.5"), qty=D("0.01"), maker_fee_rate=MAKER)
    assert f is not None and f.qty == D("1") and f.price == D("101")


def test_opposite_best_moving_through_our_price_fills_at_our_price() -> None:
    o = paper.join_l2(side="buy", price=D("99"), qty=D("1"), levels=BIDS)
    assert paper.on_book(o, best_bid=D("99"), best_ask=D("99"), maker_fee_rate=MAKER)[1] is None
    _, f = paper.on_book(o, best_bid=D("98"), best_ask=D("98.9"), maker_fee_rate=MAKER)
    assert f is not None and f.price == D("99") and f.qty == D("1")


def test_l3_queue_counts_only_orders_ahead_of_us() -> None:
    o = paper.join_l3(side="buy", price=D("99"), qty=D("1"), orders_at_price=(("A", D("1")), ("B", D("1"))))
    assert o.queue_ahead == D("2")
    o = paper.on_l3_level(o, {"B": D("1"), "C": D("5")})  # A left, C joined behind us
    assert o.queue_ahead == D("1")
    o, f = paper.on_trade(o, price=D("99"), qty=D("1"), maker_fee_rate=MAKER)
    assert f is None and o.queue_ahead == 0
    o, f = paper.on_trade(o, price=D("99"), qty=D("0.4"), maker_fee_rate=MAKER)
    assert f is not None and f.qty == D("0.4")
