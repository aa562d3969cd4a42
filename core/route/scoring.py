"""Opportunity scoring: the strategies' signals on one symbol, weighted, into an explained Intent or nothing.

score = sum(weight x direction x strength) / sum(weight of every strategy that is running and enabled), in
[-1, 1]. A strategy with no current signal counts with strength 0, so one strategy alone cannot reach a
high score when the others see nothing. |score| >= `min_score` makes an intent on the score's side, if the
throttle leaves anything:

- style: maker below `hybrid_score` (limit at our own touch), hybrid below `taker_score` (limit at the far
  touch: it may cross, but never through it), taker from there (limit through the far touch by at most
  `max_slippage_bps`);
- size: `intent_notional_usd` x |score| x throttle factor, in base units at the limit price, 8 decimals
  (the risk envelope and executor round to the pair's lot size and check its minimum);
- reasons: the score and its threshold, the regime and its measures, the throttle's factors, and each
  signal with every feature and threshold it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Sequence

from kraken_runtime.core.config import ScannerSettings
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import ExecutionStyle, Intent, Side, Signal
from kraken_runtime.core.route.history import BPS, NS_PER_MS, ZERO, text
from kraken_runtime.core.route.regime import RegimeReading
from kraken_runtime.core.route.throttle import Throttle

_SIZE_QUANTUM = Decimal("0.00000001")
_SCORE_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True, slots=True, kw_only=True)
class Weighted:
    signal: Signal
    weight: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The outcome of scoring one symbol: an intent, or why not (`skipped`: below_score | throttled | no_price | zero_size)."""

    score: Decimal
    intent: Intent | None
    skipped: str | None


def combined_score(signals: Sequence[Weighted], total_weight: Decimal) -> Decimal:
    if total_weight <= 0:
        return ZERO
    total = sum((w.weight * w.signal.direction * w.signal.strength for w in signals), ZERO)
    return max(Decimal(-1), min(Decimal(1), total / total_weight)).quantize(_SCORE_QUANTUM)


def style_for(score: Decimal, settings: ScannerSettings) -> ExecutionStyle:
    strength = abs(score)
    if strength >= settings.taker_score:
        return "taker"
    if strength >= settings.hybrid_score:
        return "hybrid"
    return "maker"


def limit_price(side: Side, style: ExecutionStyle, snapshot: StateSnapshot, settings: ScannerSettings) -> Decimal | None:
    bid, ask = snapshot.best_bid, snapshot.best_ask
    if bid is None or ask is None:
        return None
    if style == "maker":
        return bid if side == "buy" else ask
    if style == "hybrid":
        return ask if side == "buy" else bid
    far = ask if side == "buy" else bid
    slip = far * settings.max_slippage_bps / BPS
    price = far + slip if side == "buy" else far - slip
    exponent = far.as_tuple().exponent
    quantum = Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
    return price.quantize(quantum, rounding=ROUND_DOWN if side == "buy" else "ROUND_UP")


def signal_reasons(signal: Signal, weight: Decimal) -> list[tuple[str, str]]:
    view = {1: "buy", -1: "sell", 0: "none"}[signal.direction]
    reasons = [(f"{signal.strategy}", f"{view} strength={text(signal.strength)} weight={text(weight)}")]
    reasons += [(f"{signal.strategy}.{name}", value) for name, value in signal.features]
    return reasons


def decide(*, snapshot: StateSnapshot, signals: Sequence[Weighted], total_weight: Decimal, throttle: Throttle,
           regime: RegimeReading, settings: ScannerSettings, now_ns: int) -> Decision:
    score = combined_score(signals, total_weight)
    if abs(score) < settings.min_score or score == 0:
        return Decision(score=score, intent=None, skipped="below_score")
    if throttle.factor <= 0:
        return Decision(score=score, intent=None, skipped="throttled")
    side: Side = "buy" if score > 0 else "sell"
    style = style_for(score, settings)
    price = limit_price(side, style, snapshot, settings)
    if price is None or price <= 0:
        return Decision(score=score, intent=None, skipped="no_price")
    notional = settings.intent_notional_usd * abs(score) * throttle.factor
    size = (notional / price).quantize(_SIZE_QUANTUM, rounding=ROUND_DOWN)
    if size <= 0:
        return Decision(score=score, intent=None, skipped="zero_size")
    direction = 1 if side == "buy" else -1
    agreeing = tuple(w.signal.strategy for w in signals if w.signal.direction == direction and w.weight > 0)
    reasons: list[tuple[str, str]] = [
        ("score", text(score)), ("min_score", text(settings.min_score)), ("hybrid_score", text(settings.hybrid_score)),
        ("taker_score", text(settings.taker_score)), ("total_weight", text(total_weight)),
        ("notional_usd", text(notional, 2)), ("regime", regime.regime),
    ]
    reasons += [(f"regime.{name}", value) for name, value in regime.features]
    reasons += list(throttle.reasons)
    reasons += [("state.bid", text(snapshot.best_bid, 8)), ("state.ask", text(snapshot.best_ask, 8)),
                ("state.spread_bps", text(snapshot.spread_bps)), ("state.epoch", str(snapshot.epoch)),
                ("state.seq", str(snapshot.seq))]
    for weighted in signals:
        reasons += signal_reasons(weighted.signal, weighted.weight)
    intent = Intent(
        intent_id=0, symbol=snapshot.symbol, side=side, size=size, limit_price=price, style=style,
        expires_at_ns=now_ns + settings.intent_ttl_ms * NS_PER_MS, epoch=snapshot.epoch, seq=snapshot.seq,
        state_ts_ns=snapshot.state_ts_ns, score=score, strategies=agreeing, reasons=tuple(reasons),
        created_at_ns=now_ns, recv_ts_ns=snapshot.state_ts_ns,
    )
    return Decision(score=score, intent=intent, skipped=None)
