"""Rolling 24 h ticker statistics of one symbol, in integer ticks and lots."""

from __future__ import annotations

from collections import deque

__all__ = ["TickerStats", "DAY_NS"]

NS = 1_000_000_000
DAY_NS = 86_400 * NS
MINUTE_NS = 60 * NS


class TickerStats:
    """Rolling 24 h statistics in one-minute buckets, seeded with a synthetic prior day."""

    __slots__ = ("baseline", "baseline_until", "buckets", "volume", "notional", "low", "high", "last")

    def __init__(self, *, start_ns: int, last: int, open_: int, low: int, high: int, volume: int,
                 notional: int) -> None:
        self.baseline = (open_, low, high, volume, notional)
        self.baseline_until = start_ns + DAY_NS
        self.buckets: deque[list[int]] = deque()  # [minute, volume, notional, low, high, open, close, count]
        self.volume = 0
        self.notional = 0
        self.low: int | None = None
        self.high: int | None = None
        self.last = last

    def on_trade(self, ts_ns: int, price: int, lots: int) -> None:
        minute = ts_ns // MINUTE_NS
        buckets = self.buckets
        if buckets and buckets[-1][0] == minute:
            b = buckets[-1]
            b[1] += lots
            b[2] += price * lots
            if price < b[3]:
                b[3] = price
            if price > b[4]:
                b[4] = price
            b[6] = price
            b[7] += 1
        else:
            buckets.append([minute, lots, price * lots, price, price, price, price, 1])
        self.volume += lots
        self.notional += price * lots
        if self.low is None or price < self.low:
            self.low = price
        if self.high is None or price > self.high:
            self.high = price
        self.last = price

    def evict(self, now_ns: int) -> None:
        horizon = (now_ns - DAY_NS) // MINUTE_NS
        buckets = self.buckets
        evicted = False
        while buckets and buckets[0][0] <= horizon:
            b = buckets.popleft()
            self.volume -= b[1]
            self.notional -= b[2]
            evicted = True
        if evicted:
            self.low = min((b[3] for b in buckets), default=None)
            self.high = max((b[4] for b in buckets), default=None)

    def summary(self, now_ns: int) -> tuple[int, int, int, int, int, int]:
        """(last, volume lots, notional, low, high, open) with the prior day while it lasts."""
        self.evict(now_ns)
        volume, notional, low, high = self.volume, self.notional, self.low, self.high
        if now_ns < self.baseline_until:
            open_, b_low, b_high, b_volume, b_notional = self.baseline
            volume += b_volume
            notional += b_notional
            low = b_low if low is None else min(low, b_low)
            high = b_high if high is None else max(high, b_high)
        else:
            open_ = self.buckets[0][5] if self.buckets else self.last
        if low is None or high is None:
            low = high = self.last
        return self.last, volume, notional, low, high, open_

    def window(self, now_ns: int, since_ns: int) -> tuple[int, int]:
        """(volume lots, notional) traded from since_ns to now (recorded buckets only)."""
        self.evict(now_ns)
        since_minute = since_ns // MINUTE_NS
        volume = notional = 0
        for b in self.buckets:
            if b[0] >= since_minute:
                volume += b[1]
                notional += b[2]
        return volume, notional

    def minute_bars(self, now_ns: int) -> list[tuple[int, int, int, int, int, int, int, int]]:
        """The last 24 h's one-minute bars that saw trades, oldest first: (minute start ns, open, high,
        low, close, volume lots, notional, trade count)."""
        self.evict(now_ns)
        return [(b[0] * MINUTE_NS, b[5], b[4], b[3], b[6], b[1], b[2], b[7]) for b in self.buckets]
