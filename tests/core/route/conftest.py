"""Constructed state snapshots for the route engine's pure tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

import pytest

from kraken_runtime.core.features import depth_within_bps, imbalance, microprice, mid_price, spread_bps
from kraken_runtime.core.marketdata import READY, StateSnapshot

D = Decimal
T0 = 1_700_000_000_000_000_000


def snapshot(*, symbol: str = "BTC/USD", bid: str = "100", ask: str = "100.02", bid_qty: str = "50", ask_qty: str = "50",
             levels: int = 5, step: str = "0.01", ts_ns: int = T0, epoch: int = 1, seq: int = 1, status: str = READY,
             premium_bps: str | None = "0", l3_quality: str | None = None, venue_status: str = "online",
             bids: tuple[tuple[Decimal, Decimal], ...] | None = None,
             asks: tuple[tuple[Decimal, Decimal], ...] | None = None, **extra: Any) -> StateSnapshot:
    """A ready snapshot with `levels` levels a side, `step` apart, each of the given size."""
    b, a = D(bid), D(ask)
    if bids is None:
        bids = tuple((b - D(step) * i, D(bid_qty)) for i in range(levels))
    if asks is None:
        asks = tuple((a + D(step) * i, D(ask_qty)) for i in range(levels))
    mid = mid_price(bids[0][0], asks[0][0])
    depth_bid = depth_within_bps(bids, mid, D(10), side="bid")
    depth_ask = depth_within_bps(asks, mid, D(10), side="ask")
    values: dict[str, Any] = dict(
        symbol=symbol, status=status, epoch=epoch, seq=seq, state_ts_ns=ts_ns, best_bid=bids[0][0], best_bid_qty=bids[0][1],
        best_ask=asks[0][0], best_ask_qty=asks[0][1], mid=mid, spread_bps=spread_bps(bids[0][0], asks[0][0]),
        microprice=microprice(bids[0], asks[0]), depth_bid=depth_bid, depth_ask=depth_ask,
        imbalance=imbalance(depth_bid, depth_ask), trade_imbalance=None, last_trade_price=None, last_trade_qty=None,
        last_trade_side=None, last_trade_ns=None, volatility_bps=((60, None),), l3_quality=None if l3_quality is None else D(l3_quality),
        ref_price=None if premium_bps is None else mid, premium_bps=None if premium_bps is None else D(premium_bps),
        bids=bids, asks=asks, venue_status=venue_status,
    )
    values.update(extra)
    return StateSnapshot(**values)


@pytest.fixture
def make_snapshot() -> Callable[..., StateSnapshot]:
    return snapshot
