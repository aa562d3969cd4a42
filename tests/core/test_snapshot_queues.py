"""What the state holder's snapshot carries for the paper venue's queue model: the newest trades numbered per
state instance, and the level3 book's best levels order by order with the venue time they are as of (recorded
level3 traffic: Kraken's documented BTC/USD example, tests/data/kraken/captures)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from kraken_runtime.core.config import StateSettings
from kraken_runtime.core.kraken.codec import decode, rfc3339_to_ns
from kraken_runtime.core.kraken.book import BookMessage
from kraken_runtime.core.kraken.messages import Trade, TradeMessage
from kraken_runtime.core.marketdata import FeedStatusChanged, MarketBatch
from kraken_runtime.core.symbol_state import L3_QUEUE_LEVELS, RECENT_TRADES, SymbolState

MS = 1_000_000
T0 = 1_780_000_000 * 1_000_000_000


def frames(path: Path) -> list:
    return [decode(line) for line in path.read_text().splitlines() if line.strip()]


def ready_state(kraken_data: Path) -> tuple[SymbolState, int]:
    state = SymbolState("BTC/USD", settings=StateSettings(snapshot_interval_ms=1), book_depth=10, ref_max_age_ms=5000)
    book = [m for m in frames(kraken_data / "captures" / "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl")
            if isinstance(m, BookMessage)]
    state.apply_batch(MarketBatch(symbol="BTC/USD", items=((T0, book[0]),)), T0)
    assert state.due_snapshot(T0) is not None
    return state, T0


def trades(first: int, count: int, side: str = "sell") -> TradeMessage:
    return TradeMessage(type="update", trades=tuple(
        Trade(symbol="BTC/USD", side=side, price=Decimal("44939.4"), qty=Decimal(n) / 100, ord_type="limit",  # type: ignore[arg-type]
              trade_id=n, timestamp="", timestamp_ns=T0 + n) for n in range(first, first + count)))


def test_snapshots_carry_the_newest_trades_numbered_from_one_per_state_instance(kraken_data: Path) -> None:
    state, now = ready_state(kraken_data)
    assert state.snapshot(now).recent_trades == () and state.snapshot(now).trade_stream > 0
    now += MS
    state.apply_batch(MarketBatch(symbol="BTC/USD", items=((now, trades(1, 3)),)), now)
    snap = state.due_snapshot(now)
    assert snap is not None
    assert [(t.seq, t.qty, t.side, t.ts_ns) for t in snap.recent_trades] == [
        (1, Decimal("0.01"), "sell", T0 + 1), (2, Decimal("0.02"), "sell", T0 + 2), (3, Decimal("0.03"), "sell", T0 + 3)]
    assert state.snapshot(now).recent_trades is snap.recent_trades  # not rebuilt while no trade came
    now += MS
    state.apply_batch(MarketBatch(symbol="BTC/USD", items=((now, trades(4, RECENT_TRADES + 5)),)), now)
    carried = state.snapshot(now).recent_trades
    assert len(carried) == RECENT_TRADES and carried[-1].seq == RECENT_TRADES + 8 and carried[0].seq == 9
    other, _ = ready_state(kraken_data)
    assert other.trade_stream != state.trade_stream  # a restarted holder numbers anew, under a new stream


def test_snapshots_carry_the_level3_levels_order_by_order_with_their_venue_time(kraken_data: Path) -> None:
    l3 = frames(kraken_data / "captures" / "ws_v2_level3_BTCUSD_docs_snapshot_3_updates.jsonl")
    state, now = ready_state(kraken_data)
    assert (state.snapshot(now).l3_bids, state.snapshot(now).l3_asks, state.snapshot(now).l3_ts_ns) == (None, None, None)
    seq = state.seq
    now += MS
    state.apply_batch(MarketBatch(symbol="BTC/USD", items=((now, l3[0]),), channel="level3"), now)
    assert state.seq > seq  # a level3 change alone makes a snapshot due
    snap = state.due_snapshot(now)
    assert snap is not None and snap.l3_bids is not None and snap.l3_asks is not None
    assert len(snap.l3_bids) == len(snap.l3_asks) == L3_QUEUE_LEVELS
    touch = snap.l3_bids[0]
    assert touch.price == Decimal("44939.4") and [o.order_id for o in touch.orders][:3] == [
        "OTCFZG-YOE2Q-LQKNM3", "OFGP5R-B3E7G-54EZD6", "OMPHVY-IZPJ4-KOKA3P"]  # queue order, front first
    assert len(touch.orders) == 8 and touch.orders[0].qty == Decimal("0.88968699")
    assert touch.orders[0].ts == "2024-01-08T12:26:39.526146327Z"
    assert snap.l3_bids[1].price == Decimal("44937.1") and snap.l3_asks[0].price == Decimal("44939.5")
    assert snap.l3_ts_ns == rfc3339_to_ns("2024-01-08T12:26:45.110524116Z")  # the snapshot's own time
    assert state.snapshot(now).l3_bids is snap.l3_bids  # not rebuilt while the level3 book did not change
    now += MS
    state.apply_batch(MarketBatch(symbol="BTC/USD", items=((now, l3[1]),), channel="level3"), now)
    snap = state.due_snapshot(now)
    assert snap is not None and snap.l3_bids is not None
    assert snap.l3_ts_ns == rfc3339_to_ns("2024-01-08T12:26:46.001200118Z")
    assert snap.l3_bids[0].orders[-1].order_id == "OQ5WAX-SNVPL-R7VY2E"  # the add joined the back of the touch
    # the level3 connection lost: no level3 queue until a fresh snapshot
    state.on_feed_status(FeedStatusChanged(symbol="BTC/USD", channel="level3", status="disconnected", detail="", ts_ns=now))
    assert state.snapshot(now).l3_bids is None and state.snapshot(now).l3_ts_ns is None
