"""premium_gap: the gap between Kraken's mid and the reference venue's.

premium = (Kraken mid - reference mid) / reference mid in bps, as the state holder derives it. Kraken rich by at
least `min_gap_bps` is a sell signal (expecting convergence), cheap a buy; strength rises to 1 at
`full_gap_bps`. When the reference is stale or missing the premium is unknown (None in the snapshot) and
there is no signal: an unknown premium never counts as zero.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_runtime.core.config import PremiumGapSettings
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import Signal
from kraken_runtime.core.route.history import fired_strength, sign, text
from kraken_runtime.core.signals.base import make_signal

NAME = "premium_gap"


def premium_gap_signal(snapshot: StateSnapshot, settings: PremiumGapSettings) -> Signal:
    premium = snapshot.premium_bps
    features = [("premium_bps", text(premium)), ("reference", "fresh" if premium is not None else "stale or missing"),
                ("min_gap_bps", text(settings.min_gap_bps)), ("full_gap_bps", text(settings.full_gap_bps))]
    if premium is None or abs(premium) < settings.min_gap_bps:
        return make_signal(NAME, snapshot, 0, Decimal(0), features)
    return make_signal(NAME, snapshot, -sign(premium), fired_strength(abs(premium), settings.min_gap_bps, settings.full_gap_bps),
                       features)


class PremiumGapStrategy:
    name = NAME

    def __init__(self, settings: PremiumGapSettings) -> None:
        self.settings = settings

    def on_snapshot(self, snapshot: StateSnapshot) -> Signal:
        return premium_gap_signal(snapshot, self.settings)

    def reset(self, symbol: str) -> None:
        """No history to drop."""
