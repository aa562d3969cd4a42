"""Bounded, time-sampled series of exact Decimals and the statistics the route engine takes over them."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Iterable, Sequence

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
BPS = Decimal(10_000)
ZERO = Decimal(0)
ONE = Decimal(1)
_Q4 = Decimal("0.0001")


class SampledSeries:
    """(time ns, value) samples at least `sample_ms` apart, keeping `history_s` of them (and at most
    `max_samples`, so memory is bounded whatever the settings)."""

    __slots__ = ("sample_ns", "history_ns", "_samples")

    def __init__(self, *, sample_ms: int, history_s: float, max_samples: int = 100_000) -> None:
        self.sample_ns = sample_ms * NS_PER_MS
        self.history_ns = int(history_s * NS_PER_S)
        self._samples: deque[tuple[int, Decimal]] = deque(maxlen=max(3, min(max_samples, self.history_ns // self.sample_ns + 2)))

    def observe(self, ts_ns: int, value: Decimal | None) -> bool:
        """Record `value` if the last sample is at least one interval old; False when it was skipped."""
        if value is None:
            return False
        samples = self._samples
        if samples and ts_ns - samples[-1][0] < self.sample_ns:
            return False
        samples.append((ts_ns, value))
        cutoff = ts_ns - self.history_ns
        while samples and samples[0][0] < cutoff:
            samples.popleft()
        return True

    def __len__(self) -> int:
        return len(self._samples)

    def values(self) -> list[Decimal]:
        return [value for _, value in self._samples]

    def since(self, cutoff_ns: int) -> list[tuple[int, Decimal]]:
        return [(ts, value) for ts, value in self._samples if ts >= cutoff_ns]

    def at_or_before(self, ts_ns: int) -> tuple[int, Decimal] | None:
        """The newest sample no newer than `ts_ns`."""
        found = None
        for sample in self._samples:
            if sample[0] > ts_ns:
                break
            found = sample
        return found

    def last(self) -> tuple[int, Decimal] | None:
        return self._samples[-1] if self._samples else None

    def clear(self) -> None:
        self._samples.clear()


def median(values: Sequence[Decimal]) -> Decimal | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def returns_bps(values: Sequence[Decimal]) -> list[Decimal]:
    return [(b - a) / a * BPS for a, b in zip(values, values[1:]) if a > 0]


def rms(values: Iterable[Decimal]) -> Decimal | None:
    items = list(values)
    if not items:
        return None
    return (sum((value * value for value in items), ZERO) / len(items)).sqrt()


def ramp(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    """0 at `low`, 1 at `high` and beyond, linear between; 4 decimals."""
    if value <= low:
        return ZERO
    if value >= high:
        return ONE
    return ((value - low) / (high - low)).quantize(_Q4)


def sign(value: Decimal) -> int:
    return 1 if value > 0 else -1 if value < 0 else 0


_QUANTA = tuple(Decimal(1).scaleb(-places) for places in range(13))  # text()'s exponents, made once


def text(value: Decimal | int | str | None, places: int = 4) -> str:
    """A feature value for reasons and storage: Decimals rounded to `places`, None as 'unknown'. On every
    snapshot's path (each strategy's reasons): the exponent is looked up, not built (1.66 -> 0.76 µs a call)."""
    if value is None:
        return "unknown"
    if isinstance(value, Decimal):
        return format(value.quantize(_QUANTA[places] if 0 <= places < 13 else Decimal(1).scaleb(-places)), "f")
    return str(value)


MIN_STRENGTH = Decimal("0.0001")


def fired_strength(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    """The strength of a signal that fired at `value` (>= `low`): the ramp, and never 0 (it fired)."""
    return max(MIN_STRENGTH, ramp(value, low, high))
