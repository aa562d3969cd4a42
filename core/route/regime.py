"""Regime detection per symbol: unknown, calm, trending, volatile or illiquid.

Each measure is judged against the symbol's own recent distribution, sampled every `regime_sample_ms` over
`regime_history_s` (the current spread and depth are the medians of the last CURRENT_SAMPLES samples; their
yardstick is the median of the samples older than `regime_trend_lookback_s`, or of all of them while fewer
than `regime_min_samples` are that old):
- illiquid: the spread at `regime_illiquid_spread_ratio` x its median or more, or the thinner side's depth
  at `regime_illiquid_depth_ratio` x its median or less;
- volatile: realised volatility over the last `regime_trend_lookback_s` (root mean square of the sample
  returns) at `regime_volatile_ratio` x the volatility of the history before that or more (unknown until
  that earlier history has more than `regime_min_samples` samples);
- trending: the efficiency ratio |net move| / sum of |moves| over `regime_trend_lookback_s` at least
  `regime_trend_efficiency` (a straight walk is 1, noise near 0);
- calm: none of these.
The first that holds wins, in that order (illiquidity and volatility matter most to capital). Until
`regime_min_samples` samples exist the regime is unknown, and an unknown regime decides nothing.

Hysteresis, so a measure hovering at a threshold does not flip the regime (and the size throttle) on every
sample:
- margin: while a regime holds, its own threshold is relaxed by `regime_hysteresis` (a fraction, default 0.1):
  a trending symbol stays trending down to 0.9 x `regime_trend_efficiency`, a volatile one down to 0.9 x
  `regime_volatile_ratio`, an illiquid one while its spread ratio is at 0.9 x its threshold or more or its
  depth ratio at 1.1 x its threshold or less. Entering a regime needs the full threshold.
- confirmation: a new regime replaces the current one only after it has been measured on
  `regime_confirm_samples` consecutive samples (default 3: 1.5 s at the default 500 ms sampling; 1 = at
  once). Leaving or entering `unknown` (too few samples) is immediate: there is nothing to confirm against.
The reading's features say which regime is pending and for how many samples.

The scanner samples every symbol on a timer (`regime_sample_ms`) from its latest snapshot (`sample`); a
snapshot no newer than the last one sampled adds nothing (a silent feed is not a calm market).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_runtime.core.config import ScannerSettings
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.route.history import NS_PER_S, ONE, ZERO, SampledSeries, median, returns_bps, rms, text

UNKNOWN = "unknown"
CALM = "calm"
TRENDING = "trending"
VOLATILE = "volatile"
ILLIQUID = "illiquid"
REGIMES: tuple[str, ...] = (UNKNOWN, CALM, TRENDING, VOLATILE, ILLIQUID)
CURRENT_SAMPLES = 5  # the "current" spread and depth: the median of this many latest samples


@dataclass(frozen=True, slots=True, kw_only=True)
class RegimeReading:
    regime: str
    features: tuple[tuple[str, str], ...]


def efficiency_ratio(values: list[Decimal]) -> Decimal | None:
    if len(values) < 2:
        return None
    path = sum((abs(b - a) for a, b in zip(values, values[1:])), ZERO)
    if path <= 0:
        return ZERO
    return abs(values[-1] - values[0]) / path


def classify(*, samples: int, spread_ratio: Decimal | None, depth_ratio: Decimal | None, vol_ratio: Decimal | None,
             efficiency: Decimal | None, settings: ScannerSettings, current: str = UNKNOWN) -> str:
    """The regime for these measures (the pure rule; RegimeTracker measures). `current`'s own threshold is
    relaxed by `regime_hysteresis` (staying in a regime is easier than entering it)."""
    if samples < settings.regime_min_samples:
        return UNKNOWN

    def relaxed(regime: str) -> Decimal:
        return ONE - settings.regime_hysteresis if regime == current else ONE

    if (spread_ratio is not None and spread_ratio >= settings.regime_illiquid_spread_ratio * relaxed(ILLIQUID)) or \
            (depth_ratio is not None and depth_ratio <= settings.regime_illiquid_depth_ratio * (2 - relaxed(ILLIQUID))):
        return ILLIQUID
    if vol_ratio is not None and vol_ratio >= settings.regime_volatile_ratio * relaxed(VOLATILE):
        return VOLATILE
    if efficiency is not None and efficiency >= settings.regime_trend_efficiency * relaxed(TRENDING):
        return TRENDING
    return CALM


def settle(current: str, pending: tuple[str, int] | None, measured: str, confirm: int) -> tuple[str, tuple[str, int] | None]:
    """Confirmation: (the regime now, the pending change and how many consecutive samples measured it) after
    one sample measured `measured` while `current` held with `pending` waiting. A change takes effect on its
    `confirm`-th consecutive sample; `unknown` on either side takes effect at once."""
    if measured == current:
        return current, None
    if current == UNKNOWN or measured == UNKNOWN:
        return measured, None
    count = pending[1] + 1 if pending is not None and pending[0] == measured else 1
    if count >= confirm:
        return measured, None
    return current, (measured, count)


def _baseline(series: SampledSeries, cutoff_ns: int, min_samples: int) -> list[Decimal]:
    """The distribution the latest values are judged against: the samples older than the lookback window
    (so a lasting change is not absorbed into its own yardstick at once), or every sample while fewer than
    `min_samples` are that old."""
    older = [value for ts, value in series.since(0) if ts < cutoff_ns]
    return older if len(older) >= min_samples else series.values()


class RegimeTracker:
    """One symbol's samples and its current regime."""

    def __init__(self, settings: ScannerSettings) -> None:
        self.settings = settings
        sample_ms, history_s = settings.regime_sample_ms, settings.regime_history_s
        self.mids = SampledSeries(sample_ms=sample_ms, history_s=history_s)
        self.spreads = SampledSeries(sample_ms=sample_ms, history_s=history_s)
        self.depths = SampledSeries(sample_ms=sample_ms, history_s=history_s)
        self.reading = RegimeReading(regime=UNKNOWN, features=(("samples", "0"),))
        self.pending: tuple[str, int] | None = None  # a change measured but not yet confirmed, and on how many samples
        self._last_state_ts_ns: int | None = None

    @property
    def regime(self) -> str:
        return self.reading.regime

    def observe(self, snapshot: StateSnapshot) -> RegimeReading:
        """Sample `snapshot` at its own state time (one sample per `regime_sample_ms` of state time at most)."""
        return self.sample(snapshot, snapshot.state_ts_ns)

    def sample(self, snapshot: StateSnapshot, now_ns: int) -> RegimeReading:
        """One timed sample (the scanner's timer, every `regime_sample_ms`): the symbol's latest snapshot at
        `now_ns`. Skipped when the snapshot is no newer than the last one sampled or lacks a two-sided book."""
        ts = now_ns
        if snapshot.mid is None or snapshot.spread_bps is None or snapshot.depth_bid is None or snapshot.depth_ask is None:
            return self.reading
        if self._last_state_ts_ns is not None and snapshot.state_ts_ns <= self._last_state_ts_ns:
            return self.reading
        if not self.mids.observe(ts, snapshot.mid):
            return self.reading
        self._last_state_ts_ns = snapshot.state_ts_ns
        self.spreads.observe(ts, snapshot.spread_bps)
        self.depths.observe(ts, min(snapshot.depth_bid, snapshot.depth_ask))
        # The current spread and depth are the medians of the last few samples: one wide tick is noise, a
        # spread that stays wide is illiquidity.
        spread = median(self.spreads.values()[-CURRENT_SAMPLES:])
        depth = median(self.depths.values()[-CURRENT_SAMPLES:])
        assert spread is not None and depth is not None
        self.reading = self.measure(spread, depth, ts)
        return self.reading

    def measure(self, spread: Decimal, depth: Decimal, now_ns: int) -> RegimeReading:
        s = self.settings
        cutoff = now_ns - int(s.regime_trend_lookback_s * NS_PER_S)
        spread_median = median(_baseline(self.spreads, cutoff, s.regime_min_samples))
        depth_median = median(_baseline(self.depths, cutoff, s.regime_min_samples))
        spread_ratio = spread / spread_median if spread_median else None
        depth_ratio = depth / depth_median if depth_median else None
        mids = self.mids.values()
        recent = [value for _, value in self.mids.since(cutoff)]
        older = mids[:len(mids) - len(recent) + 1]  # up to and including the first recent sample
        vol_recent = rms(returns_bps(recent))
        vol_before = rms(returns_bps(older)) if len(older) > s.regime_min_samples else None
        vol_ratio = vol_recent / vol_before if vol_recent is not None and vol_before else None
        efficiency = efficiency_ratio(recent)
        measured = classify(samples=len(mids), spread_ratio=spread_ratio, depth_ratio=depth_ratio, vol_ratio=vol_ratio,
                            efficiency=efficiency, settings=s, current=self.reading.regime)
        regime, self.pending = settle(self.reading.regime, self.pending, measured, s.regime_confirm_samples)
        features = (("samples", str(len(mids))), ("spread_ratio", text(spread_ratio)), ("depth_ratio", text(depth_ratio)),
                    ("volatility_bps", text(vol_recent)), ("volatility_ratio", text(vol_ratio)),
                    ("trend_efficiency", text(efficiency)),
                    ("pending", f"{self.pending[0]} {self.pending[1]}/{s.regime_confirm_samples}" if self.pending else "-"))
        return RegimeReading(regime=regime, features=features)
