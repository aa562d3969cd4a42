"""The paper venue (pure, time passed in): latency, post-only crossing, IOC depth walk, queue fills, cancel."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from kraken_runtime.core.execution.orders import Acked, Canceled, Executed, Expired, OrderRecord, Rejected
from kraken_runtime.core.execution.paper_venue import FeeRates, PaperVenue
from kraken_runtime.core.marketdata import StateSnapshot

MS = 1_000_000


def snap(*, bids: Any = ((D("99"), D("2")),), asks: Any = ((D("101"), D("1")), (D("102"), D("5"))),
         trade: tuple[str, str, int] | None = None, status: str = "ready") -> StateSnapshot:
    price, qty, ts = trade if trade else (None, None, None)
    return StateSnapshot(
        symbol="X/USD", status=status, epoch=1, seq=1, state_ts_ns=0, best_bid=bids[0][0] if bids else None,
        best_bid_qty=None, best_ask=asks[0][0] if asks else None, best_ask_qty=None, mid=D("100"), spread_bps=None,
        microprice=None, depth_bid=None, depth_ask=None, imbalance=None, trade_imbalance=None,
        last_trade_price=D(price) if price else None, last_trade_qty=D(qty) if qty else None, last_trade_side=None,
        last_trade_ns=ts, volatility_bps=(), l3_quality=None, ref_price=None, premium_bps=None, bids=tuple(bids),
        asks=tuple(asks), venue_status="online")


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
