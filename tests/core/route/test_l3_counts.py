"""The state holder counts the level3 orders near the mid for the imbalance strategy (recorded level3 traffic)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from kraken_runtime.core.config import StateSettings
from kraken_runtime.core.kraken.codec import decode
from kraken_runtime.core.marketdata import MarketBatch
from kraken_runtime.core.symbol_state import SymbolState

T0 = 1_780_000_000 * 1_000_000_000


def test_level3_orders_within_the_window_are_counted_per_side_and_unknown_without_level3(kraken_data: Path):
    path = kraken_data / "captures" / "ws_v2_level3_BTCUSD_docs_snapshot_3_updates.jsonl"
    snapshot = next(decode(line) for line in path.read_text().splitlines() if line.strip())
    state = SymbolState("BTC/USD", settings=StateSettings(), book_depth=10, ref_max_age_ms=5000)
    assert state.l3_orders_within(Decimal("44939.5"), Decimal(10)) == (None, None)
    state.apply_batch(MarketBatch(symbol="BTC/USD", items=((T0, snapshot),), channel="level3"), T0)
    assert state.l3 is not None
    view = state.l3.l2_view()
    mid = (view.bids[0].price + view.asks[0].price) / 2
    bids, asks = state.l3_orders_within(mid, Decimal(10_000))  # the whole book
    assert bids == sum(len(state.l3.orders_at("bid", level.price)) for level in view.bids)
    assert asks == sum(len(state.l3.orders_at("ask", level.price)) for level in view.asks)
    near_bids, near_asks = state.l3_orders_within(mid, Decimal("0.000001"))  # nothing is that close
    assert (near_bids, near_asks) == (0, 0) and bids > 0 and asks > 0
    touch = state.l3_orders_within(mid, (view.asks[0].price - mid) / mid * 10_000)  # exactly the touch on each side
    assert touch == (len(state.l3.orders_at("bid", view.bids[0].price)), len(state.l3.orders_at("ask", view.asks[0].price)))
    assert state.book.best_bid() is None and state.snapshot(T0).l3_orders_bid is None  # no L2 mid yet: unknown, not 0
