"""momentum: adaptive momentum; the lookback shortens as volatility rises.

The mid is sampled every `sample_ms`. Per-sample volatility `vol` is the root mean square of the sample
returns (bps) over `history_s`. The lookback is `base_lookback_s x reference_volatility_bps / vol`, bounded by
[`min_lookback_s`, `max_lookback_s`]: a fast market is judged on recent moves, a slow one on a longer
stretch. z = return over the lookback / (vol x sqrt(samples in the lookback)), the move measured in its own
expected noise. |z| >= `min_z` is a signal in the move's direction; strength rises to 1 at `full_z`. No view
until `min_samples` mids were seen or while the market has not moved at all.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_runtime.core.config import MomentumSettings
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import Signal
from kraken_runtime.core.route.history import BPS, NS_PER_S, ZERO, SampledSeries, fired_strength, returns_bps, rms, sign, text
from kraken_runtime.core.signals.base import make_signal

NAME = "momentum"


def adaptive_lookback_s(vol_bps: Decimal, settings: MomentumSettings) -> float:
    if vol_bps <= 0:
        return settings.max_lookback_s
    lookback = settings.base_lookback_s * float(settings.reference_volatility_bps / vol_bps)
    return min(settings.max_lookback_s, max(settings.min_lookback_s, lookback))


def momentum_signal(snapshot: StateSnapshot, samples: list[tuple[int, Decimal]], settings: MomentumSettings) -> Signal:
    """The signal for `snapshot` given the mids sampled so far (oldest first, the newest may be this one's)."""
    mid = snapshot.mid
    features: list[tuple[str, str]] = [("samples", str(len(samples))), ("min_samples", str(settings.min_samples))]
    if mid is None or len(samples) < settings.min_samples:
        return make_signal(NAME, snapshot, 0, ZERO, features + [("mid", text(mid, 8))])
    vol = rms(returns_bps([value for _, value in samples])) or ZERO
    lookback_s = adaptive_lookback_s(vol, settings)
    start_ns = snapshot.state_ts_ns - int(lookback_s * NS_PER_S)
    past = None
    for ts, value in samples:
        if ts > start_ns:
            break
        past = (ts, value)
    if past is None:
        past = samples[0]
    steps = max(1, (snapshot.state_ts_ns - past[0]) // (settings.sample_ms * 1_000_000))
    move_bps = (mid - past[1]) / past[1] * BPS if past[1] > 0 else ZERO
    expected = vol * Decimal(steps).sqrt()
    z = move_bps / expected if expected > 0 else None
    features += [("volatility_bps", text(vol)), ("lookback_s", f"{lookback_s:.2f}"), ("move_bps", text(move_bps)),
                 ("z", text(z)), ("min_z", text(settings.min_z)), ("full_z", text(settings.full_z))]
    if z is None or abs(z) < settings.min_z:
        return make_signal(NAME, snapshot, 0, ZERO, features)
    return make_signal(NAME, snapshot, sign(z), fired_strength(abs(z), settings.min_z, settings.full_z), features)


class MomentumStrategy:
    name = NAME

    def __init__(self, settings: MomentumSettings) -> None:
        self.settings = settings
        self._mids: dict[str, SampledSeries] = {}

    def on_snapshot(self, snapshot: StateSnapshot) -> Signal:
        series = self._mids.get(snapshot.symbol)
        if series is None:
            series = self._mids[snapshot.symbol] = SampledSeries(sample_ms=self.settings.sample_ms,
                                                                 history_s=self.settings.history_s)
        series.observe(snapshot.state_ts_ns, snapshot.mid)
        return momentum_signal(snapshot, series.since(0), self.settings)

    def reset(self, symbol: str) -> None:
        self._mids.pop(symbol, None)
