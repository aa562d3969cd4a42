"""spread_compression: the spread compressing against its own recent distribution.

compression = 1 - spread / median(spread over `history_s`). A compression of at least `min_compression` (liquidity
arriving at the touch) is a signal whose direction is where the microprice leans (toward the side with less
size, the price more likely to trade next): microprice above the mid is a buy, below a sell, at the mid no
view. Strength rises to 1 at `full_compression`. No view until `min_samples` spreads were seen.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_runtime.core.config import SpreadCompressionSettings
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import Signal
from kraken_runtime.core.route.history import ONE, SampledSeries, fired_strength, median, sign, text
from kraken_runtime.core.signals.base import make_signal

NAME = "spread_compression"


def spread_compression_signal(snapshot: StateSnapshot, history: list[Decimal],
                              settings: SpreadCompressionSettings) -> Signal:
    """The signal for `snapshot` given the spreads seen before it (`history`, bps)."""
    spread = snapshot.spread_bps
    typical = median(history) if len(history) >= settings.min_samples else None
    compression = None if spread is None or typical is None or typical <= 0 else ONE - spread / typical
    lean = None
    if snapshot.microprice is not None and snapshot.mid is not None:
        lean = snapshot.microprice - snapshot.mid
    features = [("spread_bps", text(spread)), ("median_spread_bps", text(typical)), ("compression", text(compression)),
                ("microprice_lean", text(lean, 8)), ("samples", str(len(history))), ("min_samples", str(settings.min_samples)),
                ("min_compression", text(settings.min_compression)), ("full_compression", text(settings.full_compression))]
    if compression is None or lean is None or compression < settings.min_compression or sign(lean) == 0:
        return make_signal(NAME, snapshot, 0, Decimal(0), features)
    return make_signal(NAME, snapshot, sign(lean),
                       fired_strength(compression, settings.min_compression, settings.full_compression), features)


class SpreadCompressionStrategy:
    name = NAME

    def __init__(self, settings: SpreadCompressionSettings) -> None:
        self.settings = settings
        self._spreads: dict[str, SampledSeries] = {}

    def on_snapshot(self, snapshot: StateSnapshot) -> Signal:
        series = self._spreads.get(snapshot.symbol)
        if series is None:
            series = self._spreads[snapshot.symbol] = SampledSeries(sample_ms=self.settings.sample_ms,
                                                                    history_s=self.settings.history_s)
        signal = spread_compression_signal(snapshot, series.values(), self.settings)
        series.observe(snapshot.state_ts_ns, snapshot.spread_bps)
        return signal

    def reset(self, symbol: str) -> None:
        self._spreads.pop(symbol, None)
