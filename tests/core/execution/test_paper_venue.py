"""The paper venue (pure, time passed in): latency, post-only crossing, IOC depth walk, queue fills, cancel."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from kraken_runtime.core.execution.orders import Acked, Canceled, Executed, Expired, OrderRecord, Rejected
from kraken_runtime.core.execution.paper_venue import FeeRates, PaperVenue
from kraken_runtime.core.marketdata import L3Level, QueuedOrder, StateSnapshot, TradeTick

MS = 1_000_000


def snap(*, bids: Any = ((D("99"), D("2")),), asks: Any = ((D("101"), D("1")), (D("102"), D("5"))),
         trade: tuple[str, str, int] | None = None, status: str = "ready", trades: tuple[TradeTick, ...] = (),
         stream: int = 0, l3_bids: tuple[L3Level, ...] | None = None, l3_ts: int | None = None) -> StateSnapshot:
    price, qty, ts = trade if trade else (None, None, None)
    return StateSnapshot(
        symbol="X/USD", status=status, epoch=1, seq=1, state_ts_ns=0, best_bid=bids[0][0] if bids else None,
        best_bid_qty=None, best_ask=asks[0][0] if asks else None, best_ask_qty=None, mid=D("100"), spread_bps=None,
        microprice=None, depth_bid=None, depth_ask=None, imbalance=None, trade_imbalance=None,
        last_trade_price=D(price) if price else None, last_trade_qty=D(qty) if qty else None, last_trade_side=None,
        last_trade_ns=ts, volatility_bps=(), l3_quality=None, ref_price=None, premium_bps=None, bids=tuple(bids),
        asks=tuple(asks), venue_status="online", recent_trades=trades, trade_stream=stream, l3_bids=l3_bids,
        l3_asks=() if l3_bids is not None else None, l3_ts_ns=l3_ts)


def order(cl: str, *, side: str = "buy", qty: str = "1", price: str = "99", post_only: bool = True, tif: str = "gtc") -> OrderRecord:
    return OrderRecord(client_order_id=cl, symbol="X/USD", side=side, qty=D(qty), price=D(price), post_only=post_only,
                       time_in_force=tif)


def venue() -> PaperVenue:
    v = PaperVenue(fees={"X/USD": FeeRates(maker=D("0.0025"), taker=D("0.004"))}, latency_ns=50 * MS)
    v.on_snapshot(snap(trade=("100", "1", 1)), 0)
    return v


def test_order_is_acknowledged_only_after_the_latency() -> None:
    v = venue()
    assert v.submit(order("a"), 0) == []
    assert v.poll(49 * MS) == []
    events = v.poll(50 * MS)
    assert [type(e) for _, e in events] == [Acked]


def test_post_only_that_would_cross_is_rejected() -> None:
    v = venue()
    v.submit(order("a", price="101"), 0)
    events = v.poll(50 * MS)
    assert isinstance(events[0][1], Rejected) and "Post only" in events[0][1].reason


def test_ioc_walks_the_depth_and_expires_the_rest() -> None:
    v = venue()
    v.submit(order("a", qty="3", price="101.5", post_only=False, tif="ioc"), 0)
    events = [e for _, e in v.poll(50 * MS)]
    fills = [e for e in events if isinstance(e, Executed)]
    assert [(f.price, f.qty, f.liquidity) for f in fills] == [(D("101"), D("1"), "taker")]
    assert isinstance(events[-1], Expired) and v.open_ids == ()


def test_resting_order_fills_after_the_queue_ahead_is_traded_at_its_price() -> None:
    v = venue()
    v.submit(order("a", qty="1"), 0)
    v.poll(50 * MS)
    assert v.on_snapshot(snap(trade=("99", "1.5", 2)), 60 * MS) == []  # 2 ahead, 0.5 left
    events = v.on_snapshot(snap(bids=((D("99"), D("0.5")),), trade=("99", "1", 3)), 70 * MS)
    fills = [e for _, e in events if isinstance(e, Executed)]
    assert len(fills) == 1 and fills[0].qty == D("0.5") and fills[0].liquidity == "maker"
    assert fills[0].exec_id == "paper-a-1"


def test_same_trade_seen_twice_counts_once() -> None:
    v = venue()
    v.submit(order("a", qty="1"), 0)
    v.poll(50 * MS)
    v.on_snapshot(snap(trade=("99", "1.5", 2)), 60 * MS)
    assert v.on_snapshot(snap(trade=("99", "1.5", 2)), 61 * MS) == []


def test_ask_moving_through_a_resting_bid_fills_it_at_its_price() -> None:
    v = venue()
    v.submit(order("a", qty="1"), 0)
    v.poll(50 * MS)
    events = v.on_snapshot(snap(bids=((D("97"), D("1")),), asks=((D("98"), D("1")),)), 60 * MS)
    assert [(e.price, e.qty) for _, e in events if isinstance(e, Executed)] == [(D("99"), D("1"))]
    assert v.open_ids == ()


def test_cancel_and_unready_book_rejects() -> None:
    v = venue()
    v.submit(order("a"), 0)
    v.poll(50 * MS)
    assert isinstance(v.cancel("a", 60 * MS, "timeout")[0][1], Canceled)
    assert v.cancel("a", 61 * MS, "again") == []
    v.on_snapshot(snap(status="resyncing"), 70 * MS)
    v.submit(order("b"), 80 * MS)
    assert isinstance(v.poll(200 * MS)[0][1], Rejected)


# --- trades carried in the snapshot, the level3 queue --------------------------------------------------------------


def tick(seq: int, qty: str, *, price: str = "99", side: str = "sell", ts: int | None = None) -> TradeTick:
    return TradeTick(seq, D(price), D(qty), side, ts if ts is not None else 10_000 + seq)


def level(price: str, *orders: tuple[str, str] | tuple[str, str, str]) -> L3Level:
    return L3Level(D(price), tuple(QueuedOrder(o[0], D(o[1]), o[2] if len(o) > 2 else None) for o in orders))


def carried_venue(**first: Any) -> PaperVenue:
    v = PaperVenue(fees={"X/USD": FeeRates(maker=D("0.0025"), taker=D("0.004"))}, latency_ns=50 * MS)
    v.on_snapshot(snap(stream=7, trades=(tick(1, "3"), tick(2, "3")), **first), 0)  # before any order: not ours
    return v


def executed(events: list[Any]) -> list[Executed]:
    return [e for _, e in events if isinstance(e, Executed)]


def test_trades_of_snapshots_coalesced_away_are_taken_from_the_next_one_once() -> None:
    v = carried_venue()
    v.submit(order("a", qty="1"), 0)
    v.poll(50 * MS)  # joins the L2 queue: 2 ahead at 99
    # the snapshot carrying trade 3 was replaced on the way (latest wins): the next one still carries it
    events = v.on_snapshot(snap(stream=7, trades=(tick(2, "3"), tick(3, "1.5"), tick(4, "1"))), 60 * MS)
    assert [f.qty for f in executed(events)] == [D("0.5")]
    assert executed(v.on_snapshot(snap(stream=7, trades=(tick(3, "1.5"), tick(4, "1"))), 70 * MS)) == []  # seen
    assert v.trades_missed == 0


def test_trades_beyond_what_a_snapshot_carries_are_counted_missed_and_never_fill() -> None:
    v = carried_venue()
    v.submit(order("a", qty="1"), 0)
    v.poll(50 * MS)
    events = v.on_snapshot(snap(stream=7, trades=(tick(9, "0.5"),)), 60 * MS)  # 3..8 never seen
    assert executed(events) == [] and v.trades_missed == 6


def test_a_restarted_state_holder_starts_a_new_trade_stream_whose_first_snapshot_only_sets_the_cursor() -> None:
    v = carried_venue()
    v.submit(order("a", qty="1"), 0)
    v.poll(50 * MS)
    assert executed(v.on_snapshot(snap(stream=8, trades=(tick(1, "9"),)), 60 * MS)) == []
    assert [f.qty for f in executed(v.on_snapshot(snap(stream=8, trades=(tick(1, "9"), tick(2, "2.5"))), 70 * MS))] \
        == [D("0.5")]


def test_l2_a_snapshot_whose_level_already_shows_its_trades_counts_them_once() -> None:
    """Trades first, then the level: 2 ahead, a trade of 1.5 leaves the level at 0.5 — that is the same 0.5 ahead."""
    v = carried_venue()
    v.submit(order("a", qty="1"), 0)
    v.poll(50 * MS)
    assert executed(v.on_snapshot(snap(bids=((D("99"), D("0.5")),), stream=7, trades=(tick(3, "1.5"),)), 60 * MS)) == []
    assert [f.qty for f in executed(v.on_snapshot(snap(bids=((D("99"), D("0.5")),), stream=7,
                                                       trades=(tick(4, "0.7"),)), 70 * MS))] == [D("0.2")]


def test_an_order_arriving_on_a_snapshot_does_not_take_that_snapshots_trades() -> None:
    v = carried_venue()
    v.submit(order("a", qty="1"), 0)
    # the level emptied by a trade of 2 that the same snapshot carries: the order arrives after it, nobody ahead
    events = v.on_snapshot(snap(bids=((D("98.5"), D("1")),), stream=7, trades=(tick(3, "2"),)), 50 * MS)
    assert [type(e) for _, e in events] == [Acked] and executed(events) == []


def test_l3_order_joins_behind_the_orders_at_its_price_and_fills_after_they_traded_or_left() -> None:
    book = (level("99", ("A", "1"), ("B", "1")), level("98", ("C", "4")))
    v = carried_venue(l3_bids=book, l3_ts=40 * MS)  # venue times: the view we join on is from 40 ms; we arrive at 50
    v.submit(order("a", qty="1"), 0)
    v.poll(50 * MS)
    # B cancelled (the view at 55 ms no longer shows it); newcomer D, placed at 55 ms, is behind us
    after = (level("99", ("A", "1"), ("D", "5", "1970-01-01T00:00:00.055Z")), level("98", ("C", "4")))
    assert executed(v.on_snapshot(snap(stream=7, l3_bids=after, l3_ts=55 * MS), 60 * MS)) == []
    events = v.on_snapshot(snap(stream=7, trades=(tick(3, "0.6", ts=56 * MS),), l3_bids=after, l3_ts=55 * MS), 70 * MS)
    assert executed(events) == []  # 0.4 of A still ahead
    events = v.on_snapshot(snap(stream=7, trades=(tick(4, "0.5", ts=57 * MS),), l3_bids=after, l3_ts=55 * MS), 80 * MS)
    assert [(f.qty, f.liquidity) for f in executed(events)] == [(D("0.1"), "maker")]


def test_l3_order_at_a_price_between_or_better_than_the_carried_levels_has_nobody_ahead_and_deeper_uses_l2() -> None:
    book = (level("99", ("A", "1")), level("97", ("C", "4")))
    for price, model in (("99.5", "l3"), ("98", "l3"), ("96", "l2")):
        v = carried_venue(l3_bids=book, l3_ts=10_000, bids=((D("99"), D("1")), (D("97"), D("4")), (D("96"), D("3"))))
        v.submit(order("a", qty="1", price=price), 0)
        v.poll(50 * MS)
        resting = v._orders["a"].resting
        assert resting is not None and (resting.ahead_l3 is not None) == (model == "l3"), price
        assert resting.queue_ahead == (D("3") if model == "l2" else 0), price
