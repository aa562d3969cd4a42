"""Kraken's spot rate limits as pure models (PROTOCOL.md §6). Time is passed in; nothing here reads a clock.

Two counters, both "leaky buckets" that rise by a cost per call and decay linearly over time:

- ``RestCallCounter``: the per-API-key REST call counter (§6.1). Ledger and trade-history calls cost 4,
  AddOrder and CancelOrder cost 0 here (they use the trading counter), every other private call 1.
  Tiers: intermediate max 20, decay 0.5/s; pro max 20, decay 1/s; starter (legacy docs) max 15, 0.33/s.
- ``TradingRateCounter``: the per-pair trading counter of the matching engine (§6.2), shared by REST, WS
  and FIX. Add +1; amend +1 plus +3/+2/+1 for orders younger than 5/10/15 s; edit +1 plus
  +6/+5/+4/+2/+1 under 5/10/15/45/90 s; cancel +8/+6/+5/+4/+2/+1 under 5/10/15/45/90/300 s, 0 after.
  Tiers: starter threshold 60, decay 1/s; intermediate 125, 2.34/s; pro 180, 3.75/s.

A call is admitted when ``level + cost <= limit`` (Kraken rejects calls once the counter is over its
maximum). ``headroom`` lowers the limit this model admits to, to absorb what the model cannot see:
Kraken decays the REST counter "every couple of seconds" rather than continuously, and other clients of
the same key (another process, the website) add to the same counter.

The counters are ordinary mutable objects (they are state, not messages); an owner that shares one
between threads must lock around it. ``now`` is any monotonic time in seconds; a ``now`` earlier than the
last one seen is treated as no time passing, never as time running backwards.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "RestTier",
    "TradingTier",
    "REST_TIERS",
    "TRADING_TIERS",
    "rest_call_cost",
    "add_order_cost",
    "amend_order_cost",
    "edit_order_cost",
    "cancel_order_cost",
    "batch_add_cost",
    "batch_cancel_cost",
    "RestCallCounter",
    "TradingRateCounter",
]

_EPSILON = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class RestTier:
    name: str
    max_counter: float
    decay_per_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingTier:
    name: str
    threshold: float
    decay_per_s: float
    max_open_orders_per_pair: int


REST_TIERS: dict[str, RestTier] = {
    # "starter" is absent from the current docs page; older docs and third-party code use 15 and 0.33/s.
    "starter": RestTier(name="starter", max_counter=15, decay_per_s=0.33),
    "intermediate": RestTier(name="intermediate", max_counter=20, decay_per_s=0.5),
    "pro": RestTier(name="pro", max_counter=20, decay_per_s=1.0),
}

TRADING_TIERS: dict[str, TradingTier] = {
    "starter": TradingTier(name="starter", threshold=60, decay_per_s=1.0, max_open_orders_per_pair=60),
    "intermediate": TradingTier(name="intermediate", threshold=125, decay_per_s=2.34, max_open_orders_per_pair=80),
    "pro": TradingTier(name="pro", threshold=180, decay_per_s=3.75, max_open_orders_per_pair=225),
}

# REST counter cost by private endpoint; anything not listed costs 1.
_REST_COSTS: dict[str, int] = {
    "Ledgers": 4,
    "QueryLedgers": 4,
    "TradesHistory": 4,
    "QueryTrades": 4,
    "AddOrder": 0,
    "CancelOrder": 0,
}


def rest_call_cost(endpoint: str) -> int:
    """What one call to a private ``endpoint`` (``"TradesHistory"``) adds to the REST call counter."""
    return _REST_COSTS.get(endpoint, 1)


def _by_age(age_s: float, brackets: tuple[tuple[float, int], ...]) -> int:
    if age_s < 0:
        raise ValueError("order age cannot be negative")
    for upper_s, cost in brackets:
        if age_s < upper_s:
            return cost
    return 0


_AMEND_BRACKETS = ((5.0, 3), (10.0, 2), (15.0, 1))
_EDIT_BRACKETS = ((5.0, 6), (10.0, 5), (15.0, 4), (45.0, 2), (90.0, 1))
_CANCEL_BRACKETS = ((5.0, 8), (10.0, 6), (15.0, 5), (45.0, 4), (90.0, 2), (300.0, 1))


def add_order_cost() -> float:
    """AddOrder: +1, applied on receipt even when the order then fails validation."""
    return 1.0


def amend_order_cost(order_age_s: float) -> float:
    """AmendOrder on an order that has rested ``order_age_s`` seconds: +1 fixed, +3/+2/+1 under 5/10/15 s."""
    return 1.0 + _by_age(order_age_s, _AMEND_BRACKETS)


def edit_order_cost(order_age_s: float) -> float:
    """EditOrder: +1 fixed, +6/+5/+4/+2/+1 under 5/10/15/45/90 s."""
    return 1.0 + _by_age(order_age_s, _EDIT_BRACKETS)


def cancel_order_cost(order_age_s: float) -> float:
    """CancelOrder: +8/+6/+5/+4/+2/+1 under 5/10/15/45/90/300 s; 0 for orders older than 300 s."""
    return float(_by_age(order_age_s, _CANCEL_BRACKETS))


def batch_add_cost(order_count: int) -> float:
    """AddOrderBatch of ``order_count`` orders: +n/2."""
    if order_count < 1:
        raise ValueError("a batch has at least one order")
    return order_count / 2


def batch_cancel_cost(order_ages_s: Iterable[float]) -> float:
    """CancelOrderBatch: the cancel penalty of each order by its own age (8*n ... 1*n for equal ages)."""
    return float(sum(cancel_order_cost(age) for age in order_ages_s))


class _LeakyBucket:
    """A level that rises by costs and decays linearly to zero; ``limit`` is the most it may reach."""

    __slots__ = ("_limit", "_decay_per_s", "_level", "_at")

    def __init__(self, *, limit: float, decay_per_s: float, level: float, now: float) -> None:
        if decay_per_s <= 0:
            raise ValueError("decay must be positive")
        self._limit = float(limit)
        self._decay_per_s = float(decay_per_s)
        self._level = max(0.0, float(level))
        self._at = float(now)

    def _advance(self, now: float) -> None:
        if now > self._at:
            self._level = max(0.0, self._level - (now - self._at) * self._decay_per_s)
            self._at = float(now)

    def level(self, now: float) -> float:
        self._advance(now)
        return self._level

    def wait_time(self, cost: float, now: float) -> float:
        if cost < 0:
            raise ValueError("cost cannot be negative")
        if cost > self._limit + _EPSILON:
            return math.inf
        excess = self.level(now) + cost - self._limit
        return 0.0 if excess <= _EPSILON else excess / self._decay_per_s

    def try_acquire(self, cost: float, now: float) -> bool:
        if self.wait_time(cost, now) > 0.0:
            return False
        self._level += cost
        return True

    def charge(self, cost: float, now: float) -> None:
        self._advance(now)
        self._level += cost

    def saturate(self, now: float) -> None:
        self._advance(now)
        self._level = max(self._level, self._limit)


class RestCallCounter:
    """The REST call counter of one API key (§6.1), modelled so calls stay under it.

    ``try_acquire(cost, now)`` admits and charges a call if it fits; ``wait_time(cost, now)`` is how long
    until it would (0.0 if now, ``math.inf`` if never); ``saturate(now)`` records that Kraken answered
    ``EAPI:Rate limit exceeded`` (the real counter is at least at its maximum).
    """

    __slots__ = ("tier", "limit", "_bucket")

    def __init__(
        self,
        tier: str | RestTier = "intermediate",
        *,
        now: float = 0.0,
        initial_level: float = 0.0,
        headroom: float = 0.0,
    ) -> None:
        self.tier = REST_TIERS[tier] if isinstance(tier, str) else tier
        if not 0 <= headroom < self.tier.max_counter:
            raise ValueError("headroom must be within [0, max_counter)")
        self.limit = self.tier.max_counter - headroom
        self._bucket = _LeakyBucket(limit=self.limit, decay_per_s=self.tier.decay_per_s, level=initial_level, now=now)

    def level(self, now: float) -> float:
        return self._bucket.level(now)

    def wait_time(self, cost: float, now: float) -> float:
        return self._bucket.wait_time(cost, now)

    def try_acquire(self, cost: float, now: float) -> bool:
        return self._bucket.try_acquire(cost, now)

    def charge(self, cost: float, now: float) -> None:
        """Add ``cost`` unconditionally (a call that went out regardless)."""
        self._bucket.charge(cost, now)

    def saturate(self, now: float) -> None:
        self._bucket.saturate(now)

    def __repr__(self) -> str:
        level = self._bucket._level
        return f"RestCallCounter(tier={self.tier.name!r}, limit={self.limit}, level_at_last_update={level:.3f})"


class TradingRateCounter:
    """The per-pair trading rate counters of one account (§6.2), one bucket per pair.

    Costs come from ``add_order_cost``, ``amend_order_cost(age)``, ``cancel_order_cost(age)`` etc.: the
    caller knows how long each order has rested. Same shape as ``RestCallCounter`` with a ``pair`` first.
    """

    __slots__ = ("tier", "limit", "_buckets")

    def __init__(self, tier: str | TradingTier = "starter", *, headroom: float = 0.0) -> None:
        self.tier = TRADING_TIERS[tier] if isinstance(tier, str) else tier
        if not 0 <= headroom < self.tier.threshold:
            raise ValueError("headroom must be within [0, threshold)")
        self.limit = self.tier.threshold - headroom
        self._buckets: dict[str, _LeakyBucket] = {}

    def _bucket(self, pair: str, now: float) -> _LeakyBucket:
        bucket = self._buckets.get(pair)
        if bucket is None:
            bucket = self._buckets[pair] = _LeakyBucket(
                limit=self.limit, decay_per_s=self.tier.decay_per_s, level=0.0, now=now
            )
        return bucket

    def level(self, pair: str, now: float) -> float:
        bucket = self._buckets.get(pair)
        return 0.0 if bucket is None else bucket.level(now)

    def wait_time(self, pair: str, cost: float, now: float) -> float:
        return self._bucket(pair, now).wait_time(cost, now)

    def try_acquire(self, pair: str, cost: float, now: float) -> bool:
        return self._bucket(pair, now).try_acquire(cost, now)

    def charge(self, pair: str, cost: float, now: float) -> None:
        self._bucket(pair, now).charge(cost, now)

    def saturate(self, pair: str, now: float) -> None:
        """Kraken answered ``EOrder:Rate limit exceeded`` for ``pair``."""
        self._bucket(pair, now).saturate(now)

    def forget_idle(self, now: float) -> int:
        """Drop pairs whose counter has decayed to zero (bounds the dict); returns how many were dropped."""
        idle = [pair for pair, bucket in self._buckets.items() if bucket.level(now) <= 0.0]
        for pair in idle:
            del self._buckets[pair]
        return len(idle)

    def __repr__(self) -> str:
        return f"TradingRateCounter(tier={self.tier.name!r}, limit={self.limit}, pairs={len(self._buckets)})"
