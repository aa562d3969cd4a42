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


# --- the queue model at its boundaries -------------------------------------------------------------------------

T_JOIN = 1_000  # venue time of the level3 view an order joined on
ARRIVED = 2_000  # when it reached the venue


def l3_order(*ahead: tuple[str, str], qty: str = "1") -> paper.RestingOrder:
    return paper.join_l3(side="buy", price=D("99"), qty=D(qty), orders_at_price=tuple((oid, D(q)) for oid, q in ahead),
                         ts_ns=T_JOIN, arrival_ns=ARRIVED)


def trade(o: paper.RestingOrder, qty: str, *, price: str = "99", side: str | None = "sell", ts: int | None = 5_000):
    return paper.on_trade(o, price=D(price), qty=D(qty), maker_fee_rate=MAKER, side=side, ts_ns=ts)


def test_l3_trades_consuming_exactly_the_queue_ahead_fill_nothing_and_the_next_trade_fills() -> None:
    o = l3_order(("A", "1"), ("B", "0.5"))
    o, f = trade(o, "1.5")
    assert f is None and o.queue_ahead == 0 and o.ahead_l3 == {}
    o, f = trade(o, "0.25")
    assert f is not None and f.qty == D("0.25") and f.price == D("99") and f.fee == D("99") * D("0.25") * MAKER
    assert o.remaining == D("0.75")


def test_l3_a_trade_one_lot_larger_than_the_queue_ahead_fills_that_lot_and_never_more_than_we_rest() -> None:
    o = l3_order(("A", "1"))
    o, f = trade(o, "1.00000001")
    assert f is not None and f.qty == D("0.00000001")
    o, f = trade(o, "5")
    assert f is not None and f.qty == D("0.99999999") and o.remaining == 0
    assert trade(o, "1")[1] is None  # filled: nothing more


def test_a_trade_at_our_price_whose_taker_is_on_our_side_changes_nothing() -> None:
    o = l3_order(("A", "1"))
    after, f = trade(o, "3", side="buy")  # a buyer lifted an ask at 99: it never reached the bids' queue
    assert f is None and after.queue_ahead == D("1")
    after, f = trade(o, "3", side=None)  # the side unknown: taken as the other side
    assert f is not None and f.qty == D("1")


def test_l3_a_trade_before_we_arrived_or_of_unknown_time_is_skipped() -> None:
    o = l3_order(("A", "1"))
    for ts in (T_JOIN - 1, T_JOIN, ARRIVED - 1, None):  # before the view we joined on, before we arrived, unknown
        after, f = trade(o, "5", ts=ts)
        assert f is None and after == o
        after, f = trade(o, "5", price="98", ts=ts)
        assert f is None and after == o
    after, f = trade(o, "5", price="98", ts=ARRIVED)  # through our price once we are there: all of it
    assert f is not None and f.qty == D("1") and after.remaining == 0


def test_l3_a_trade_seen_after_the_view_that_shows_it_fills_only_what_its_own_removals_do_not_explain() -> None:
    """Level3 ran ahead of the trades: the view at 3000 shows A (1) gone; the trade that took it (2500) comes
    after. It takes A's share from the removals of its span first: 1 of 1 -> nothing for us; a second trade in
    that span has no removal left to explain it and nobody is ahead of us now -> it filled us."""
    o = paper.on_l3_level(l3_order(("A", "1")), (), 3_000)
    assert o.queue_ahead == 0 and o.removed_l3 == ((T_JOIN, 3_000, D("1")),)
    o, f = trade(o, "1", ts=2_500)
    assert f is None and o.removed_l3 == ()
    o, f = trade(o, "0.3", ts=2_600)
    assert f is not None and f.qty == D("0.3")


def test_l3_a_reflected_trade_never_reaches_us_while_an_order_is_still_ahead() -> None:
    o = paper.on_l3_level(l3_order(("A", "1"), ("B", "1")), (("B", D("1"), None),), 3_000)
    o, f = trade(o, "1.5", ts=2_500)  # A's 1 explained; 0.5 more cannot have passed B, still there after it
    assert f is None and o.queue_ahead == D("1")


def test_l3_a_cancel_in_another_span_of_time_does_not_eat_a_later_trades_fill() -> None:
    o = l3_order(("A", "1"), ("B", "1"))
    o = paper.on_l3_level(o, (("A", D("1"), None),), 3_000)  # B cancelled, between 1000 and 3000
    o = paper.on_l3_level(o, (), 5_000)  # A gone, between 3000 and 5000: the trade at 4500 took it, and 0.4 of us
    assert o.removed_l3 == ((T_JOIN, 3_000, D("1")), (3_000, 5_000, D("1")))
    o, f = trade(o, "1.4", ts=4_500)
    assert f is not None and f.qty == D("0.4")
    assert o.removed_l3 == ((T_JOIN, 3_000, D("1")),)  # B's cancel stays unexplained


def test_l3_cancels_ahead_move_us_up_newcomers_are_behind_amends_down_count() -> None:
    o = l3_order(("A", "1"), ("B", "2"), ("C", "0.5"))
    late = "1970-01-01T00:00:00.000003Z"  # 3000 ns: placed after we arrived
    o = paper.on_l3_level(o, (("A", D("1"), None), ("C", D("0.2"), None), ("N", D("9"), late)), 3_000)
    # B cancelled, C amended down to 0.2, N came after us
    assert o.ahead_l3 == {"A": D("1"), "C": D("0.2")} and o.queue_ahead == D("1.2") and o.basis_ts_ns == 3_000
    assert o.behind_l3 == frozenset({"N"})
    o, f = trade(o, "1.2", ts=3_001)  # consumes A and C exactly: N, behind us, is what trades next
    assert f is None and o.queue_ahead == 0
    o, f = trade(o, "0.4", ts=3_002)
    assert f is not None and f.qty == D("0.4")


def test_l3_a_newcomer_placed_before_we_arrived_is_ahead_of_us() -> None:
    """The level3 view we joined on lags our arrival: an order placed in between shows up later, and is ahead."""
    o = l3_order(("A", "1"))
    earlier = "1970-01-01T00:00:00.000001500Z"  # 1500 ns: after the view (1000) but before we arrived (2000)
    o = paper.on_l3_level(o, (("A", D("1"), None), ("E", D("0.7"), earlier), ("X", D("1"), "garbage")), 2_500)
    assert list(o.ahead_l3 or {}) == ["A", "E", "X"] and o.queue_ahead == D("2.7")  # no readable time: taken as ahead
    o, f = trade(o, "2.7", ts=2_600)
    assert f is None and o.queue_ahead == 0


def test_l3_a_view_lagging_the_trades_never_counts_a_consumed_order_twice() -> None:
    """Level3 and trades come on different connections: the trade that took A may be seen before the view
    that still shows A (older than the trade): A must not come back ahead, nor B be taken for consumed."""
    o = l3_order(("A", "1"), ("B", "1"))
    o, f = trade(o, "1", ts=5_000)  # A consumed
    assert f is None and o.ahead_l3 == {"B": D("1")}
    o = paper.on_l3_level(o, (("A", D("1"), None), ("B", D("1"), None)), 4_000)  # the view before that trade
    assert o.ahead_l3 == {"B": D("1")} and o.basis_ts_ns == 4_000
    o = paper.on_l3_level(o, (("B", D("1"), None),), 5_000)  # the view after it: nothing new
    assert o.queue_ahead == D("1")
    o, f = trade(o, "1", ts=5_000)  # the same trade seen again (its time is in the view now): skipped
    assert f is None and o.queue_ahead == D("1")


def test_l3_a_level_that_vanished_leaves_nobody_ahead() -> None:
    o = paper.on_l3_level(l3_order(("A", "1"), ("B", "1")), (), 3_000)
    assert o.queue_ahead == 0 and o.ahead_l3 == {}
    _, f = trade(o, "0.1", ts=3_001)
    assert f is not None and f.qty == D("0.1")


def test_l2_queue_is_capped_by_the_displayed_level_and_never_grows() -> None:
    o = paper.join_l2(side="sell", price=D("101"), qty=D("1"), levels=ASKS)
    assert o.queue_ahead == D("1")
    assert paper.on_l2_level(o, D("7")).queue_ahead == D("1")
    o = paper.on_l2_level(o, D("0"))
    assert o.queue_ahead == 0
    _, f = paper.on_trade(o, price=D("101"), qty=D("0.3"), maker_fee_rate=MAKER, side="buy")
    assert f is not None and f.qty == D("0.3")
    _, f = paper.on_trade(o, price=D("101"), qty=D("0.3"), maker_fee_rate=MAKER, side="sell")
    assert f is None  # a seller hit a bid at 101: not our queue


def test_l3_a_reflected_trade_older_than_the_removals_kept_fills_nothing() -> None:
    o = l3_order(*((f"O{n}", "1") for n in range(paper.REMOVED_SPANS + 2)))
    for n in range(paper.REMOVED_SPANS + 2):  # one order leaves per view, every 10 us
        o = paper.on_l3_level(o, tuple((oid, size, None) for oid, size in list((o.ahead_l3 or {}).items())[1:]),
                              ARRIVED + (n + 1) * 10_000)
    assert o.queue_ahead == 0 and len(o.removed_l3) == paper.REMOVED_SPANS
    _, f = trade(o, "2", ts=ARRIVED + 15_000)  # its span is no longer kept: unknown, no fill
    assert f is None
    _, f = trade(o, "2", ts=ARRIVED + (paper.REMOVED_SPANS + 2) * 10_000 - 5_000)  # the newest span: 1 explained
    assert f is not None and f.qty == D("1")
