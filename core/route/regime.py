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

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from decimal import Context, Decimal

from kraken_runtime.core.config import ScannerSettings
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.route.history import BPS, NS_PER_MS, NS_PER_S, ONE, ZERO, median, text

UNKNOWN = "unknown"
CALM = "calm"
TRENDING = "trending"
VOLATILE = "volatile"
ILLIQUID = "illiquid"
REGIMES: tuple[str, ...] = (UNKNOWN, CALM, TRENDING, VOLATILE, ILLIQUID)
CURRENT_SAMPLES = 5  # the "current" spread and depth: the median of this many latest samples
MAX_SAMPLES = 100_000  # memory bound per symbol, whatever the settings


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


def _median_of_sorted(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _remove(values: list[Decimal], value: Decimal) -> None:
    del values[bisect_left(values, value)]


# Running sums over the samples are kept exact (wide precision: adding a value and later taking the same value
# out leaves no drift), so a sample costs the same at any history length.
_EXACT = Context(prec=200)


@dataclass(slots=True)
class _Sample:
    ts_ns: int
    mid: Decimal
    spread: Decimal
    depth: Decimal
    return_sq: Decimal | None  # (the return from the previous sample, bps) squared; None for the first
    move: Decimal | None  # |mid - the previous sample's mid|


class RegimeTracker:
    """One symbol's samples and its current regime.

    Every measure is kept incrementally, so one sample costs the same at any history length (before, each sample
    sorted and summed the whole history: about 1 ms per symbol at the defaults' 600 samples). The samples are
    in time order, so those older than the lookback window are a prefix of them (`_older` of them): the
    spread and depth yardsticks are kept as sorted lists (of the older prefix and of every sample), and the
    squared returns and absolute moves as exact running sums (of every pair and of the older segment's pairs;
    a recent window's sum is their difference)."""

    def __init__(self, settings: ScannerSettings) -> None:
        self.settings = settings
        self._sample_ns = settings.regime_sample_ms * NS_PER_MS
        self._history_ns = int(settings.regime_history_s * NS_PER_S)
        self._lookback_ns = int(settings.regime_trend_lookback_s * NS_PER_S)
        self._max_samples = max(3, min(MAX_SAMPLES, self._history_ns // self._sample_ns + 2))
        self._samples: deque[_Sample] = deque()
        self._older = 0  # how many of the first samples are older than the lookback window
        self._all_spreads: list[Decimal] = []  # sorted
        self._all_depths: list[Decimal] = []
        self._older_spreads: list[Decimal] = []
        self._older_depths: list[Decimal] = []
        # over the pairs ending at positions 1..len-1 (all) and 1.._older (the older segment: the older samples and
        # the first recent one); the recent window's pairs are the rest
        self._all_sq, self._all_n, self._all_path = ZERO, 0, ZERO
        self._older_sq, self._older_n, self._older_path = ZERO, 0, ZERO
        self.reading = RegimeReading(regime=UNKNOWN, features=(("samples", "0"),))
        self.pending: tuple[str, int] | None = None  # a change measured but not yet confirmed, and on how many samples
        self._last_state_ts_ns: int | None = None

    @property
    def regime(self) -> str:
        return self.reading.regime

    @property
    def samples(self) -> int:
        return len(self._samples)

    def mids(self) -> list[Decimal]:
        return [sample.mid for sample in self._samples]

    def observe(self, snapshot: StateSnapshot) -> RegimeReading:
        """Sample `snapshot` at its own state time (one sample per `regime_sample_ms` of state time at most)."""
        return self.sample(snapshot, snapshot.state_ts_ns)

    def sample(self, snapshot: StateSnapshot, now_ns: int) -> RegimeReading:
        """One timed sample (the scanner's timer, every `regime_sample_ms`): the symbol's latest snapshot at
        `now_ns`. Skipped when the snapshot is no newer than the last one sampled, lacks a two-sided book, or
        comes less than `regime_sample_ms` after the last sample."""
        if snapshot.mid is None or snapshot.spread_bps is None or snapshot.depth_bid is None or snapshot.depth_ask is None:
            return self.reading
        if self._last_state_ts_ns is not None and snapshot.state_ts_ns <= self._last_state_ts_ns:
            return self.reading
        samples = self._samples
        if samples and now_ns - samples[-1].ts_ns < self._sample_ns:
            return self.reading
        self._last_state_ts_ns = snapshot.state_ts_ns
        self._add(now_ns, snapshot.mid, snapshot.spread_bps, min(snapshot.depth_bid, snapshot.depth_ask))
        # The current spread and depth are the medians of the last few samples: one wide tick is noise, a
        # spread that stays wide is illiquidity.
        latest = [samples[i] for i in range(max(0, len(samples) - CURRENT_SAMPLES), len(samples))]
        spread = median([sample.spread for sample in latest])
        depth = median([sample.depth for sample in latest])
        assert spread is not None and depth is not None
        self.reading = self.measure(spread, depth, now_ns)
        return self.reading

    def _pair_in(self, sample: _Sample, older: bool) -> None:
        if sample.return_sq is not None:
            if older:
                self._older_sq, self._older_n = _EXACT.add(self._older_sq, sample.return_sq), self._older_n + 1
            else:
                self._all_sq, self._all_n = _EXACT.add(self._all_sq, sample.return_sq), self._all_n + 1
        if sample.move is not None:
            if older:
                self._older_path = _EXACT.add(self._older_path, sample.move)
            else:
                self._all_path = _EXACT.add(self._all_path, sample.move)

    def _pair_out(self, sample: _Sample, older: bool) -> None:
        if sample.return_sq is not None:
            if older:
                self._older_sq, self._older_n = _EXACT.subtract(self._older_sq, sample.return_sq), self._older_n - 1
            else:
                self._all_sq, self._all_n = _EXACT.subtract(self._all_sq, sample.return_sq), self._all_n - 1
        if sample.move is not None:
            if older:
                self._older_path = _EXACT.subtract(self._older_path, sample.move)
            else:
                self._all_path = _EXACT.subtract(self._all_path, sample.move)

    def _add(self, ts_ns: int, mid: Decimal, spread: Decimal, depth: Decimal) -> None:
        samples = self._samples
        previous = samples[-1] if samples else None
        return_sq = move = None
        if previous is not None:
            move = abs(mid - previous.mid)
            if previous.mid > 0:
                change = (mid - previous.mid) / previous.mid * BPS
                return_sq = change * change
        new = _Sample(ts_ns=ts_ns, mid=mid, spread=spread, depth=depth, return_sq=return_sq, move=move)
        samples.append(new)
        insort(self._all_spreads, spread)
        insort(self._all_depths, depth)
        if previous is not None:
            self._pair_in(new, older=False)
        # the lookback window moves on: its oldest samples join the older prefix (and the older segment takes
        # the pair ending at the new first recent sample)
        cutoff = ts_ns - self._lookback_ns
        while self._older < len(samples) and samples[self._older].ts_ns < cutoff:
            joining = samples[self._older]
            insort(self._older_spreads, joining.spread)
            insort(self._older_depths, joining.depth)
            self._older += 1
            if self._older < len(samples):
                self._pair_in(samples[self._older], older=True)
        # history expires: the first sample leaves, and the pair ending at the next one (now first) with it
        horizon = ts_ns - self._history_ns
        while samples and (samples[0].ts_ns < horizon or len(samples) > self._max_samples):
            gone = samples.popleft()
            _remove(self._all_spreads, gone.spread)
            _remove(self._all_depths, gone.depth)
            if samples:
                self._pair_out(samples[0], older=False)
            if self._older > 0:
                _remove(self._older_spreads, gone.spread)
                _remove(self._older_depths, gone.depth)
                if samples:  # it ended at position 1, within the older segment's pairs (1.._older)
                    self._pair_out(samples[0], older=True)
                self._older -= 1

    def measure(self, spread: Decimal, depth: Decimal, now_ns: int) -> RegimeReading:
        s = self.settings
        samples, older = self._samples, self._older
        # the yardsticks: the samples older than the lookback window (a lasting change is not absorbed into its
        # own yardstick at once), or every sample while fewer than regime_min_samples are that old
        enough = older >= s.regime_min_samples
        spread_median = _median_of_sorted(self._older_spreads if enough else self._all_spreads)
        depth_median = _median_of_sorted(self._older_depths if enough else self._all_depths)
        spread_ratio = spread / spread_median if spread_median else None
        depth_ratio = depth / depth_median if depth_median else None
        recent_n = self._all_n - self._older_n  # the recent window's returns: its samples' pairs
        vol_recent = (_EXACT.subtract(self._all_sq, self._older_sq) / recent_n).sqrt() if recent_n > 0 else None
        # the older segment: the older samples up to and including the first recent one
        vol_before = (self._older_sq / self._older_n).sqrt() if older + 1 > s.regime_min_samples and self._older_n > 0 else None
        vol_ratio = vol_recent / vol_before if vol_recent is not None and vol_before else None
        efficiency: Decimal | None = None
        if len(samples) - older >= 2:
            path = _EXACT.subtract(self._all_path, self._older_path)
            efficiency = abs(samples[-1].mid - samples[older].mid) / path if path > 0 else ZERO
        mids = samples
        measured = classify(samples=len(mids), spread_ratio=spread_ratio, depth_ratio=depth_ratio, vol_ratio=vol_ratio,
                            efficiency=efficiency, settings=s, current=self.reading.regime)
        regime, self.pending = settle(self.reading.regime, self.pending, measured, s.regime_confirm_samples)
        features = (("samples", str(len(mids))), ("spread_ratio", text(spread_ratio)), ("depth_ratio", text(depth_ratio)),
                    ("volatility_bps", text(vol_recent)), ("volatility_ratio", text(vol_ratio)),
                    ("trend_efficiency", text(efficiency)),
                    ("pending", f"{self.pending[0]} {self.pending[1]}/{s.regime_confirm_samples}" if self.pending else "-"))
        return RegimeReading(regime=regime, features=features)
