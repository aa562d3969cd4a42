"""Book and trade features the state holder derives, as pure functions over exact Decimals.

Levels are sequences of (price, qty) pairs, best first (bids descending, asks ascending), such as
`L2Book.bids(n)`. Every function returns None when its inputs cannot support an answer (an empty side, a
window with too few samples): an unknown feature is never reported as zero.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Iterable, Sequence

Level = tuple[Decimal, Decimal]

BPS = Decimal(10_000)
_TWO = Decimal(2)
_ZERO = Decimal(0)
_Q8 = Decimal("0.00000001")  # feature values are rounded to 8 decimals for storage and display


def q8(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(_Q8)


def mid_price(best_bid: Decimal | None, best_ask: Decimal | None) -> Decimal | None:
    if best_bid is None or best_ask is None:
        return None
    return (best_bid + best_ask) / _TWO


def spread_bps(best_bid: Decimal | None, best_ask: Decimal | None) -> Decimal | None:
    if best_bid is None or best_ask is None:
        return None
    mid = (best_bid + best_ask) / _TWO
    if mid <= 0:
        return None
    return (best_ask - best_bid) / mid * BPS


def microprice(bid: Level | None, ask: Level | None) -> Decimal | None:
    """Size-weighted mid: leans toward the side with less size (the price more likely to trade next)."""
    if bid is None or ask is None:
        return None
    bid_price, bid_qty = bid
    ask_price, ask_qty = ask
    total = bid_qty + ask_qty
    if total <= 0:
        return None
    return (bid_price * ask_qty + ask_price * bid_qty) / total


def depth_within_bps(levels: Iterable[Level], mid: Decimal | None, window_bps: Decimal, *, side: str) -> Decimal | None:
    """Quote notional (price x qty) resting within `window_bps` of the mid on one side."""
    if mid is None or mid <= 0:
        return None
    if side == "bid":
        limit = mid * (BPS - window_bps) / BPS
        inside = lambda price: price >= limit  # noqa: E731
    elif side == "ask":
        limit = mid * (BPS + window_bps) / BPS
        inside = lambda price: price <= limit  # noqa: E731
    else:
        raise ValueError(f"side {side!r}; expected 'bid' or 'ask'")
    total = _ZERO
    for price, qty in levels:
        if not inside(price):
            break  # levels are best first: the rest are further away
        total += price * qty
    return total


def imbalance(bid_depth: Decimal | None, ask_depth: Decimal | None) -> Decimal | None:
    """(bid - ask) / (bid + ask) in [-1, 1]; positive when bids outweigh asks."""
    if bid_depth is None or ask_depth is None:
        return None
    total = bid_depth + ask_depth
    if total <= 0:
        return None
    return (bid_depth - ask_depth) / total


@dataclass(frozen=True, slots=True, kw_only=True)
class TradePrint:
    ts_ns: int
    side: str  # taker side: buy | sell
    price: Decimal
    qty: Decimal


class TradeFlow:
    """Taker buy/sell volume over a sliding time window, and the last trade."""

    __slots__ = ("window_ns", "_trades", "_buy", "_sell", "last")

    def __init__(self, window_s: float, max_trades: int = 100_000) -> None:
        self.window_ns = int(window_s * 1e9)
        self._trades: deque[TradePrint] = deque(maxlen=max_trades)
        self._buy = _ZERO
        self._sell = _ZERO
        self.last: TradePrint | None = None

    def add(self, trade: TradePrint) -> None:
        if len(self._trades) == self._trades.maxlen:
            self._forget(self._trades[0])
        self._trades.append(trade)
        if trade.side == "buy":
            self._buy += trade.qty
        else:
            self._sell += trade.qty
        if self.last is None or trade.ts_ns >= self.last.ts_ns:
            self.last = trade

    def _forget(self, trade: TradePrint) -> None:
        if trade.side == "buy":
            self._buy -= trade.qty
        else:
            self._sell -= trade.qty

    def expire(self, now_ns: int) -> None:
        cutoff = now_ns - self.window_ns
        while self._trades and self._trades[0].ts_ns < cutoff:
            self._forget(self._trades.popleft())

    def imbalance(self, now_ns: int) -> Decimal | None:
        self.expire(now_ns)
        return imbalance(self._buy, self._sell)

    def reset(self) -> None:
        self._trades.clear()
        self._buy = self._sell = _ZERO


class RealizedVolatility:
    """Realised volatility of the mid, in bps per window: sqrt(sum of squared log-ish returns).

    The mid is sampled at a fixed interval (the first mid seen in each interval); returns are simple
    returns in bps between consecutive samples, which for the small moves of one interval equal log
    returns to well below a basis point. A window needs at least 2 returns, otherwise None.
    """

    __slots__ = ("sample_ns", "windows_ns", "_samples", "_last_bucket")

    def __init__(self, windows_s: Sequence[int], sample_ms: int) -> None:
        self.sample_ns = sample_ms * 1_000_000
        self.windows_ns = tuple(int(window) * 1_000_000_000 for window in windows_s)
        longest = max(self.windows_ns) // self.sample_ns + 2
        self._samples: deque[tuple[int, Decimal]] = deque(maxlen=max(int(longest), 3))
        self._last_bucket: int | None = None

    def wants(self, now_ns: int) -> bool:
        """Whether a mid at `now_ns` would be a new sample (the first of its interval): lets the caller
        skip computing the mid on every book update."""
        return now_ns // self.sample_ns != self._last_bucket

    def observe(self, now_ns: int, mid: Decimal | None) -> None:
        """Record the mid as the sample of its interval (the first mid seen in each interval counts)."""
        if mid is None or mid <= 0:
            return
        bucket = now_ns // self.sample_ns
        if self._last_bucket != bucket:
            self._samples.append((now_ns, mid))
            self._last_bucket = bucket

    def values(self, now_ns: int) -> dict[int, Decimal | None]:
        """Window length in seconds -> realised volatility in bps (None when too few samples)."""
        result: dict[int, Decimal | None] = {}
        samples = list(self._samples)
        for window_ns in self.windows_ns:
            cutoff = now_ns - window_ns
            inside = [mid for ts, mid in samples if ts >= cutoff]
            returns = [(b - a) / a * BPS for a, b in zip(inside, inside[1:])]
            if len(returns) < 2:
                result[window_ns // 1_000_000_000] = None
                continue
            with localcontext() as ctx:
                ctx.prec = 28
                result[window_ns // 1_000_000_000] = sum((r * r for r in returns), _ZERO).sqrt()
        return result

    def reset(self) -> None:
        self._samples.clear()
        self._last_bucket = None


def premium_bps(kraken_mid: Decimal | None, ref_bid: Decimal | None, ref_ask: Decimal | None) -> Decimal | None:
    """Kraken's mid over the reference venue's mid, in bps; None (unknown, never zero) without both."""
    ref_mid = mid_price(ref_bid, ref_ask)
    if kraken_mid is None or ref_mid is None or ref_mid <= 0:
        return None
    return (kraken_mid - ref_mid) / ref_mid * BPS


@dataclass(frozen=True, slots=True, kw_only=True)
class L3QualityInputs:
    checksums_checked: int
    checksums_failed: int
    resyncs: int
    age_ms: int | None  # since the last L3 frame; None if none yet
    stale_after_ms: int
    top_agrees: bool | None  # L3's best bid/ask equal L2's; None when either is missing


def l3_quality(inputs: L3QualityInputs) -> Decimal | None:
    """A score in [0, 1] for how far the L3 book can be trusted.

    product of: checksum pass rate (1 with no checks yet is not trusted: None); a freshness factor that
    falls linearly to 0 at stale_after_ms; 1 / (1 + resyncs/10); and 0.5 when L3 and L2 disagree on the
    top of book (1 when they agree or cannot be compared).
    """
    if inputs.checksums_checked <= 0 or inputs.age_ms is None:
        return None
    pass_rate = Decimal(inputs.checksums_checked - inputs.checksums_failed) / Decimal(inputs.checksums_checked)
    age = min(max(inputs.age_ms, 0), inputs.stale_after_ms)
    freshness = Decimal(inputs.stale_after_ms - age) / Decimal(inputs.stale_after_ms)
    resync_factor = Decimal(1) / (Decimal(1) + Decimal(inputs.resyncs) / Decimal(10))
    agreement = Decimal("0.5") if inputs.top_agrees is False else Decimal(1)
    return max(_ZERO, min(Decimal(1), pass_rate * freshness * resync_factor * agreement))
