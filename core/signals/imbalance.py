"""imbalance: order-book imbalance within `window_bps` of the mid.

imbalance = (bid depth - ask depth) / (bid depth + ask depth), depth being the quote notional resting within
the window on each side of the L2 book. Bids outweighing asks by at least `min_imbalance` is a buy signal,
the reverse a sell; strength rises linearly to 1 at `full_imbalance`. No view while either side is empty.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_runtime.core.config import ImbalanceSettings
from kraken_runtime.core.features import depth_within_bps, imbalance
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import Signal
from kraken_runtime.core.route.history import fired_strength, sign, text
from kraken_runtime.core.signals import make_signal

NAME = "imbalance"


def imbalance_signal(snapshot: StateSnapshot, settings: ImbalanceSettings) -> Signal:
    mid = snapshot.mid
    bid_depth = depth_within_bps(snapshot.bids, mid, settings.window_bps, side="bid")
    ask_depth = depth_within_bps(snapshot.asks, mid, settings.window_bps, side="ask")
    value = imbalance(bid_depth, ask_depth)
    features = [("imbalance", text(value)), ("bid_depth_usd", text(bid_depth, 2)), ("ask_depth_usd", text(ask_depth, 2)),
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
