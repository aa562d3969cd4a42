"""imbalance: order-book imbalance within `window_bps` of the mid.

L2: (bid depth - ask depth) / (bid depth + ask depth), depth being the quote notional resting within the
window on each side of the L2 book. Where level3 runs, the snapshot also counts the orders resting within
the state's depth window on each side, and the order-count imbalance (bid orders - ask orders) / (both)
is averaged in: many small orders on one side is the crowd leaning, one large order is one participant.
An imbalance of at least `min_imbalance` toward the bids is a buy signal, toward the asks a sell; strength
rises linearly to 1 at `full_imbalance`. No view while either side of the L2 book is empty.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_runtime.core.config import ImbalanceSettings
from kraken_runtime.core.features import depth_within_bps, imbalance
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import Signal
from kraken_runtime.core.route.history import fired_strength, sign, text
from kraken_runtime.core.signals.base import make_signal

NAME = "imbalance"


def imbalance_signal(snapshot: StateSnapshot, settings: ImbalanceSettings) -> Signal:
    mid = snapshot.mid
    bid_depth = depth_within_bps(snapshot.bids, mid, settings.window_bps, side="bid")
    ask_depth = depth_within_bps(snapshot.asks, mid, settings.window_bps, side="ask")
    l2 = imbalance(bid_depth, ask_depth)
    l3 = None
    if snapshot.l3_orders_bid is not None and snapshot.l3_orders_ask is not None:
        l3 = imbalance(Decimal(snapshot.l3_orders_bid), Decimal(snapshot.l3_orders_ask))
    value = l2 if l2 is None or l3 is None else (l2 + l3) / 2
    features = [("imbalance", text(value)), ("l2_imbalance", text(l2)), ("l3_order_imbalance", text(l3)),
                ("bid_depth_usd", text(bid_depth, 2)), ("ask_depth_usd", text(ask_depth, 2)),
                ("l3_orders_bid", text(snapshot.l3_orders_bid)), ("l3_orders_ask", text(snapshot.l3_orders_ask)),
                ("window_bps", text(settings.window_bps)), ("min_imbalance", text(settings.min_imbalance)),
                ("full_imbalance", text(settings.full_imbalance))]
    if value is None or abs(value) < settings.min_imbalance:
        return make_signal(NAME, snapshot, 0, Decimal(0), features)
    return make_signal(NAME, snapshot, sign(value), fired_strength(abs(value), settings.min_imbalance, settings.full_imbalance),
                       features)


class ImbalanceStrategy:
    name = NAME

    def __init__(self, settings: ImbalanceSettings) -> None:
        self.settings = settings

    def on_snapshot(self, snapshot: StateSnapshot) -> Signal:
        return imbalance_signal(snapshot, self.settings)

    def reset(self, symbol: str) -> None:
        """No history to drop."""
