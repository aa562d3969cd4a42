"""Latest-per-interval coalescing, pure: of a stream of values, at most one is let out per interval, and it is
the newest one seen when the interval has passed (never a stale one). Used for market_ticker rows: Kraken sends
a ticker on every best-bid/offer change (tens a second on a busy pair), while a stored row per second per
symbol is all a window count or chart needs. Trades are never coalesced: each is a fact."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class LatestPerInterval(Generic[T]):
    """`offer(value, now_ns)` keeps the newest value; `take(now_ns)` returns it once `interval_ns` has passed
    since the last value taken (the first at once), else None; `drain()` returns what is held (at shutdown)."""

    __slots__ = ("interval_ns", "_held", "_last_taken_ns", "offered", "taken")

    def __init__(self, interval_ns: int) -> None:
        if interval_ns < 0:
            raise ValueError(f"interval_ns must be >= 0 (got {interval_ns})")
        self.interval_ns = interval_ns
        self._held: T | None = None
        self._last_taken_ns: int | None = None
        self.offered = 0
        self.taken = 0

    def offer(self, value: T) -> None:
        self._held = value
        self.offered += 1

    def take(self, now_ns: int) -> T | None:
        if self._held is None:
            return None
        if self._last_taken_ns is not None and now_ns - self._last_taken_ns < self.interval_ns:
            return None
        value, self._held = self._held, None
        self._last_taken_ns = now_ns
        self.taken += 1
        return value

    def drain(self) -> T | None:
        value, self._held = self._held, None
        if value is not None:
            self.taken += 1
        return value
