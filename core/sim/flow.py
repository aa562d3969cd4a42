"""The seeded order-flow generator and price process of one symbol.

A latent fair price follows a geometric random walk whose volatility depends on a Markov regime
(calm / normal / volatile, switching at exponential times). Flow events arrive as a self-exciting
Poisson process (every taker order raises the intensity for a few seconds; rare shocks raise it a lot),
so trading comes in bursts. Each event is one of:

- a limit add around the fair price (most near the touch, some deep in the book), with a lognormal,
  heavy-tailed size; an add that crosses the book is a marketable limit order (this is how the book
  follows the fair price);
- a cancel of a resting flow order, mostly near the touch;
- a taker order (market or marketable limit) whose side leans toward the fair price and whose size
  is lognormal with a Pareto tail.

After every event each side is kept between `levels_target` and `levels_max` populated levels (far
orders are added or trimmed), so a depth-1000 book is always full.

Floats appear only as the model's random draws and parameters; everything that reaches the book is an
integer number of ticks or lots. Determinism: one random.Random(seed) per symbol and time passed in.

The flow decides; a `MarketOps` (the exchange) applies the decisions to the book and emits events.
"""

from __future__ import annotations

import math
import random
from itertools import islice
from typing import Protocol

from kraken_runtime.core.sim.instruments import Instrument, MarketProfile
from kraken_runtime.core.sim.matching import ASK, BID, OrderBook
from kraken_runtime.core.sim.script import MarketScript

__all__ = ["MarketOps", "SymbolFlow", "REGIMES", "MODES"]

_NS = 1_000_000_000
_SECONDS_PER_DAY = 86_400.0
_EXCITATION_TAU_S = 2.0
_BRANCHING = 0.5  # mean events triggered per taker order, via the excitation

# name, volatility multiplier, event-rate multiplier, taker-share multiplier
REGIMES: tuple[tuple[str, float, float, float], ...] = (
    ("calm", 0.5, 0.6, 0.7),
    ("normal", 1.0, 1.0, 1.0),
    ("volatile", 2.5, 1.8, 1.6),
)
# Regime transition weights: from -> (to calm, to normal, to volatile)
_TRANSITIONS = ((0.0, 0.85, 0.15), (0.5, 0.0, 0.5), (0.2, 0.8, 0.0))

# Venue modes the flow respects.
MODES = ("online", "cancel_only", "post_only", "maintenance")


class MarketOps(Protocol):
    """What the flow needs from the exchange: the book and three ways to change it."""

    book: OrderBook

    def flow_rest(self, side: int, price: int, qty: int, ts_ns: int, order_ts_ns: int | None = None) -> None:
        """Rest a new anonymous order (it must not cross)."""

    def flow_cancel(self, order_id: str, ts_ns: int) -> None:
        """Cancel an anonymous resting order."""

    def flow_take(self, side: int, qty: int, limit: int | None, ts_ns: int, rest_remainder: bool) -> None:
        """Send an anonymous taker order (market if limit is None); rest what is left if asked."""


class SymbolFlow:
    """Order flow and price process of one symbol."""

    def __init__(
        self,
        *,
        instrument: Instrument,
        profile: MarketProfile,
        seed: int,
        start_ns: int,
        rate_scale: float = 1.0,
        volatility_scale: float = 1.0,
        regime_mean_duration_s: float = 300.0,
        regimes_enabled: bool = True,
        levels_target: int = 1100,
        levels_max: int = 1400,
    ) -> None:
        self.symbol = instrument.symbol
        self.rng = random.Random(seed)
        tick = float(instrument.price_increment)
        self.lots_per_unit = 10 ** instrument.qty_precision
        self.tick = tick
        self.qty_min_lots = int(instrument.qty_min * self.lots_per_unit)
        ref_ticks = int(profile.reference_price / instrument.price_increment)
        self.fair = float(ref_ticks)  # in ticks
        self.min_fair = max(20.0, ref_ticks * 0.02)
        self.spread_ticks = max(1, round(profile.spread_bps * 1e-4 * ref_ticks))
        self.gap_ticks = max(1.0, profile.level_gap_bps * 1e-4 * ref_ticks)
        self.near_mean_ticks = max(2.0, 12.0 * self.gap_ticks, 2.0 * self.spread_ticks)
        self.levels_target = levels_target
        self.levels_max = max(levels_max, levels_target + 50)
        self.span_ticks = max(3.0 * levels_target * self.gap_ticks, 1.5 * levels_target)
        self.sigma = profile.daily_volatility_pct / 100.0 / math.sqrt(_SECONDS_PER_DAY) * volatility_scale
        self.base_rate = max(0.01, profile.events_per_second * rate_scale)
        self.burst_probability = min(0.01, 1.0 / (self.base_rate * 120.0))
        self.median_order_quote = profile.median_order_quote
        self.median_taker_quote = profile.median_taker_quote
        self.taker_share = profile.taker_share
        self.cancel_share = profile.cancel_share
        self.regimes_enabled = regimes_enabled
        self.regime_mean_ns = int(regime_mean_duration_s * _NS)
        self.regime = 1
        self.regime_until_ns = start_ns + self._regime_duration()
        self.excitation = 0.0
        self.last_ns = start_ns
        self.mode = "online"
        # faults
        self.shock_mult = 1.0
        self.shock_until_ns = 0
        self.pending_shock: tuple[float, int] | None = None  # (pct, seconds_ns)
        self.blowout_half_ticks = 0
        self.blowout_until_ns = 0
        self.pending_blowout: tuple[float, int] | None = None
        self.script: MarketScript | None = None  # a scripted phase sequence (core/sim/script.py), set by the admin API
        self.events = 0
        self.next_ns = start_ns + self._interarrival_ns()

    # ---- random draws -------------------------------------------------------------------------

    def _regime_duration(self) -> int:
        return max(_NS, int(self.rng.expovariate(1.0) * self.regime_mean_ns))

    def _interarrival_ns(self) -> int:
        rate = self.base_rate * (1.0 - _BRANCHING) * REGIMES[self.regime][2] + self.excitation
        return max(1, int(self.rng.expovariate(rate) * _NS))

    def _lots_for_quote(self, quote: float, price_ticks: float) -> int:
        lots = int(quote / (price_ticks * self.tick) * self.lots_per_unit)
        return max(self.qty_min_lots, lots)

    def _resting_size(self, price_ticks: float) -> int:
        rng = self.rng
        u = rng.random()
        if u < 0.08:
            return self.qty_min_lots  # dust at the minimum, as on the real book
        quote = self.median_order_quote * rng.lognormvariate(0.0, 1.1)
        if u > 0.97:
            quote *= rng.paretovariate(1.5) * 4.0  # whales
        lots = self._lots_for_quote(quote, price_ticks)
        if rng.random() < 0.3:
            lots = _round_significant(lots, 2)  # people like round sizes
        return max(self.qty_min_lots, lots)

    def _taker_size(self, price_ticks: float) -> int:
        rng = self.rng
        if rng.random() < 0.9:
            quote = self.median_taker_quote * rng.lognormvariate(0.0, 1.2)
        else:
            quote = self.median_taker_quote * 2.0 * min(rng.paretovariate(1.2), 300.0)
        return self._lots_for_quote(quote, price_ticks)

    # ---- faults and modes ---------------------------------------------------------------------

    def request_price_shock(self, pct: float, seconds: float) -> None:
        self.pending_shock = (pct, int(seconds * _NS))

    def request_spread_blowout(self, factor: float, seconds: float) -> None:
        self.pending_blowout = (factor, int(seconds * _NS))

    def clear_faults(self) -> None:
        self.pending_shock = None
        self.pending_blowout = None
        self.shock_until_ns = 0
        self.shock_mult = 1.0
        self.blowout_until_ns = 0
        self.blowout_half_ticks = 0

    def fair_ticks(self) -> float:
        return self.fair * self.shock_mult

    # ---- the book at start --------------------------------------------------------------------

    def seed_book(self, ops: MarketOps, ts_ns: int) -> None:
        """Fill both sides with levels_target levels around the fair price (no flow events)."""
        rng = self.rng
        fair = self.fair
        half = self.spread_ticks / 2.0
        for side in (BID, ASK):
            price = math.floor(fair - half) if side == BID else math.ceil(fair + half)
            if side == ASK and price <= math.floor(fair - half):
                price += 1
            for k in range(self.levels_target):
                if price < 1:
                    break
                for _ in range(1 + int(rng.expovariate(0.7))):
                    age = int(rng.expovariate(1.0 / 600.0) * _NS)
                    ops.flow_rest(side, price, self._resting_size(fair), ts_ns, ts_ns - age)
                extra = self.gap_ticks * (1.0 + 2.0 * k / self.levels_target) - 1.0
                gap = 1 + (int(rng.expovariate(1.0 / extra)) if extra > 0.05 else 0)
                price = price - gap if side == BID else price + gap

    # ---- one event ----------------------------------------------------------------------------

    def run_next(self, ops: MarketOps) -> None:
        """Process the event due at self.next_ns and schedule the next one."""
        ts = self.next_ns
        rng = self.rng
        dt_s = (ts - self.last_ns) / _NS
        self.last_ns = ts
        self.events += 1
        if self.regimes_enabled and ts >= self.regime_until_ns:
            weights = _TRANSITIONS[self.regime]
            self.regime = rng.choices((0, 1, 2), weights=weights)[0]
            self.regime_until_ns = ts + self._regime_duration()
        regime = REGIMES[self.regime]
        if dt_s > 0.0:
            sigma = self.sigma * regime[1]
            self.fair *= math.exp(sigma * math.sqrt(dt_s) * rng.gauss(0.0, 1.0) - 0.5 * sigma * sigma * dt_s)
            if self.fair < self.min_fair:
                self.fair = self.min_fair
            self.excitation *= math.exp(-dt_s / _EXCITATION_TAU_S)
        action = ""
        if self.script is not None:
            if self.script.finished(ts):
                self.script = None
            else:
                action = self.script.apply(self, ts, dt_s)
                if action == "frozen":  # nothing happens
                    self.next_ns = ts + self._interarrival_ns()
                    return
                if action == "follow" and self.mode in ("online", "post_only"):
                    # The book keeps up with the scripted price, and market makers quote around it at once,
                    # so a moving market stays a liquid one (illiquidity is a phase of its own).
                    fair = self.fair_ticks()
                    self._sweep_to(ops, ts, fair)
                    half = self.spread_ticks / 2.0
                    for side, price in ((BID, math.floor(fair - half)), (ASK, math.ceil(fair + half))):
                        if price >= 1 and not ops.book.crosses(side, price):
                            ops.flow_rest(side, price, self._resting_size(fair), ts)

        trading = self.mode in ("online", "post_only")
        if trading:
            self._apply_faults(ops, ts)
        if self.mode != "maintenance" and self.mode != "cancel_only":
            u = rng.random()
            taker_share = self.taker_share * regime[3]
            if self.mode == "post_only":
                taker_share = 0.0
            if u < taker_share:
                self._taker(ops, ts)
                # Hawkes-style self-excitation with branching ratio _BRANCHING (< 1: stationary).
                self.excitation += _BRANCHING / (_EXCITATION_TAU_S * taker_share)
            elif u < taker_share + self.cancel_share:
                self._cancel(ops, ts)
            else:
                self._add(ops, ts)
            if rng.random() < self.burst_probability:
                self.excitation += self.base_rate * 2.0  # a news burst, about every two minutes
            self._keep_depth(ops, ts)
            if action == "thin" and self.blowout_half_ticks:
                self._clear_band(ops, ts)  # scripted illiquidity: nobody stays quoted near the price
        self.next_ns = ts + self._interarrival_ns()

    def _apply_faults(self, ops: MarketOps, ts: int) -> None:
        if self.pending_shock is not None:
            pct, duration = self.pending_shock
            self.pending_shock = None
            self.shock_mult = max(0.05, 1.0 + pct / 100.0)
            self.shock_until_ns = ts + duration
            self._sweep_to(ops, ts, self.fair_ticks())
            self.excitation += self.base_rate * 3.0
        elif self.shock_until_ns and ts >= self.shock_until_ns:
            self.shock_until_ns = 0
            self.shock_mult = 1.0
            self._sweep_to(ops, ts, self.fair_ticks())
        if self.pending_blowout is not None:
            factor, duration = self.pending_blowout
            self.pending_blowout = None
            typical = max(float(self.spread_ticks), self.gap_ticks * 2.0)
            self.blowout_half_ticks = max(1, math.ceil(typical * max(1.0, factor) / 2.0))
            self.blowout_until_ns = ts + duration
            self._clear_band(ops, ts)
        elif self.blowout_until_ns and ts >= self.blowout_until_ns:
            self.blowout_until_ns = 0
            self.blowout_half_ticks = 0

    def _sweep_to(self, ops: MarketOps, ts: int, target: float) -> None:
        """Move the book to target at once: take everything between the touch and the target."""
        book = ops.book
        bid, ask = book.best(BID), book.best(ASK)
        if ask is not None and target > ask:
            limit = int(math.floor(target))
            qty = book.fillable_qty(BID, limit, 10**30, owner=None)
            if qty > 0:
                ops.flow_take(BID, qty, limit, ts, False)
        elif bid is not None and target < bid:
            limit = max(1, int(math.ceil(target)))
            qty = book.fillable_qty(ASK, limit, 10**30, owner=None)
            if qty > 0:
                ops.flow_take(ASK, qty, limit, ts, False)

    def _clear_band(self, ops: MarketOps, ts: int) -> None:
        """Spread blowout: cancel flow orders within the blown-out half spread of the fair price."""
        book = ops.book
        fair = self.fair_ticks()
        low = fair - self.blowout_half_ticks
        high = fair + self.blowout_half_ticks
        for side in (BID, ASK):
            victims: list[str] = []
            for level in book.iter_levels(side):
                if (side == BID and level.price < low) or (side == ASK and level.price > high):
                    break
                victims.extend(o.order_id for o in level.orders.values() if o.owner is None)
            for order_id in victims:
                ops.flow_cancel(order_id, ts)

    def _taker(self, ops: MarketOps, ts: int) -> None:
        rng = self.rng
        book = ops.book
        bid, ask = book.best(BID), book.best(ASK)
        if bid is None and ask is None:
            return
        fair = self.fair_ticks()
        if ask is None:
            side = ASK
        elif bid is None:
            side = BID
        else:
            mid = (bid + ask) / 2.0
            scale = max(float(self.spread_ticks), self.gap_ticks) * 3.0
            p_buy = 0.5 + 0.4 * math.tanh((fair - mid) / scale)
            side = BID if rng.random() < p_buy else ASK
        qty = self._taker_size(fair)
        if rng.random() < 0.65:
            ops.flow_take(side, qty, None, ts, False)
        else:
            touch = ask if side == BID else bid
            if touch is None:  # not reached: a missing side makes the taker hit the other one
                return
            through = int(rng.expovariate(1.0 / (2.0 * self.gap_ticks)))
            limit = touch + through if side == BID else max(1, touch - through)
            ops.flow_take(side, qty, limit, ts, True)

    def _cancel(self, ops: MarketOps, ts: int) -> None:
        rng = self.rng
        book = ops.book
        side = BID if rng.random() < 0.5 else ASK
        n = book.level_count(side)
        if n == 0:
            return
        if rng.random() < 0.65:
            index = min(n - 1, int(rng.expovariate(1.0 / 15.0)))
        else:
            index = rng.randrange(n)
        level = book.level(side, book.price_at(side, index))
        if level is None:  # not reached: price_at names an existing level
            return
        orders = level.orders
        pick = next(islice(orders.values(), rng.randrange(len(orders)), None))
        if pick.owner is None:
            ops.flow_cancel(pick.order_id, ts)

    def _add(self, ops: MarketOps, ts: int) -> None:
        rng = self.rng
        book = ops.book
        side = BID if rng.random() < 0.5 else ASK
        fair = self.fair_ticks()
        half = self.spread_ticks / 2.0
        u = rng.random()
        bid, ask = book.best(BID), book.best(ASK)
        wide = bid is not None and ask is not None and ask - bid > 3 * self.spread_ticks
        if u < (0.7 if wide else 0.35) and not self.blowout_half_ticks:
            # A market maker quoting at the touch: join it, or improve it while the spread is wide.
            same, other = book.best(side), book.best(1 - side)
            if same is not None and other is not None:
                room = other - same - self.spread_ticks
                step = rng.randint(0, room) if room > 0 else 0
                if side == BID:
                    price = min(same + step, math.floor(fair - half))
                else:
                    price = max(same - step, math.ceil(fair + half))
                if price >= 1 and not book.crosses(side, price):
                    ops.flow_rest(side, price, self._resting_size(fair), ts)
                    return
            distance = 0.0
        elif u < 0.82:
            distance = rng.expovariate(1.0 / self.near_mean_ticks)
        else:
            distance = rng.random() * self.span_ticks
        if side == BID:
            price = math.floor(fair - half - distance)
            if self.blowout_half_ticks:
                price = min(price, math.floor(fair - self.blowout_half_ticks))
        else:
            price = math.ceil(fair + half + distance)
            if self.blowout_half_ticks:
                price = max(price, math.ceil(fair + self.blowout_half_ticks))
        if price < 1:
            return
        qty = self._resting_size(fair)
        if book.crosses(side, price):
            if self.mode == "post_only" or self.blowout_half_ticks:
                other = book.best(1 - side)
                if other is None:  # not reached: crossing needs an opposite side
                    return
                price = other - 1 if side == BID else other + 1
                if price < 1:
                    return
                ops.flow_rest(side, price, qty, ts)
            else:
                ops.flow_take(side, qty, price, ts, True)
            return
        ops.flow_rest(side, price, qty, ts)

    def _keep_depth(self, ops: MarketOps, ts: int) -> None:
        book = ops.book
        rng = self.rng
        for side in (BID, ASK):
            n = book.level_count(side)
            if n < self.levels_target:
                fair = self.fair_ticks()
                worst = book.worst(side)
                if worst is None:
                    half = self.spread_ticks / 2.0
                    worst = math.floor(fair - half) + 1 if side == BID else math.ceil(fair + half) - 1
                for _ in range(min(self.levels_target - n, 2000)):
                    gap = 1 + int(rng.expovariate(1.0 / (2.0 * self.gap_ticks)))
                    price = worst - gap if side == BID else worst + gap
                    if price < 1:
                        break
                    ops.flow_rest(side, price, self._resting_size(fair), ts)
                    worst = price
            elif n > self.levels_max:
                for _ in range(n - self.levels_max):
                    worst = book.worst(side)
                    if worst is None:
                        break
                    orders = book.level_orders(side, worst)
                    if any(o.owner is not None for o in orders):
                        break
                    for order in orders:
                        ops.flow_cancel(order.order_id, ts)


def _round_significant(value: int, digits: int) -> int:
    if value <= 0:
        return value
    magnitude = 10 ** max(0, len(str(value)) - digits)
    return max(magnitude, (value // magnitude) * magnitude)
