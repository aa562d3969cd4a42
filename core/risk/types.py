"""The values the risk rules read and return. Pure data: frozen, slotted, keyword-only; money and sizes
are Decimal."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

Side = Literal["buy", "sell"]
Outcome = Literal["approve", "resize", "reject"]
TimeInForce = Literal["gtc", "ioc"]

ZERO = Decimal(0)
BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    """The order a rule judges: what the intent asks for, as adjusted by the rules before it."""

    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    post_only: bool
    time_in_force: TimeInForce
    epoch: int
    state_ts_ns: int

    @property
    def notional(self) -> Decimal:
        return self.qty * self.price

    def with_(self, *, qty: Decimal | None = None, price: Decimal | None = None) -> "Proposal":
        return replace(self, qty=self.qty if qty is None else qty, price=self.price if price is None else price)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """One rule's verdict. `proposal` is the order after the rule (resized or rounded on `resize`, unchanged
    otherwise). `inputs` are the values the rule read, as text, so the stored decision explains itself."""

    rule: str
    outcome: Outcome
    reason: str
    proposal: Proposal
    inputs: tuple[tuple[str, str], ...] = ()

    @property
    def rejected(self) -> bool:
        return self.outcome == "reject"


def approve(rule: str, proposal: Proposal, reason: str = "ok", /, **inputs: object) -> Decision:
    return Decision(rule=rule, outcome="approve", reason=reason, proposal=proposal, inputs=_inputs(inputs))


def resize(rule: str, proposal: Proposal, reason: str, /, **inputs: object) -> Decision:
    return Decision(rule=rule, outcome="resize", reason=reason, proposal=proposal, inputs=_inputs(inputs))


def reject(rule: str, proposal: Proposal, reason: str, /, **inputs: object) -> Decision:
    return Decision(rule=rule, outcome="reject", reason=reason, proposal=proposal, inputs=_inputs(inputs))


def _inputs(values: dict[str, object]) -> tuple[tuple[str, str], ...]:
    return tuple((name, _text(value)) for name, value in values.items())


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketView:
    """The symbol's current state as the risk envelope last saw it (from the state holder's snapshot)."""

    symbol: str
    status: str  # warming | ready | stale | resyncing | disabled
    epoch: int
    state_ts_ns: int
    best_bid: Decimal | None
    best_ask: Decimal | None
    mid: Decimal | None
    venue_status: str  # online | maintenance | cancel_only | post_only | limit_only | reduce_only


@dataclass(frozen=True, slots=True, kw_only=True)
class InstrumentRules:
    """A pair's trading rules: tick and lot increments, minimums, fees (rates, e.g. 0.0025 for 0.25 %)."""

    symbol: str
    base: str
    quote: str
    price_increment: Decimal
    qty_increment: Decimal
    qty_min: Decimal
    cost_min: Decimal
    maker_fee_rate: Decimal
    taker_fee_rate: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolExposure:
    """This runtime's position in a symbol (base units, signed) and its open orders' remaining sizes."""

    position_qty: Decimal = ZERO
    open_buy_qty: Decimal = ZERO
    open_sell_qty: Decimal = ZERO
    open_orders: int = 0

    def worst_long(self) -> Decimal:
        return self.position_qty + self.open_buy_qty

    def worst_short(self) -> Decimal:
        return self.position_qty - self.open_sell_qty

    def gross_qty(self) -> Decimal:
        """The largest absolute position this symbol can reach if every open order fills."""
        return max(abs(self.worst_long()), abs(self.worst_short()))


@dataclass(frozen=True, slots=True, kw_only=True)
class Funds:
    """Balances of one asset: what the venue says is there, and what our open orders already reserve."""

    available: Decimal
    reserved: Decimal = ZERO

    @property
    def free(self) -> Decimal:
        return self.available - self.reserved


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskLimits:
    """The envelope's limits (from the `risk` configuration section)."""

    max_state_age_ms: int
    price_band_bps: Decimal
    max_symbol_exposure_usd: Decimal
    max_exposure_usd: Decimal
    max_open_orders: int
    max_open_orders_per_symbol: int
    trade_buffer: Decimal
    rate_headroom: Decimal
    daily_loss_soft_usd: Decimal
    daily_loss_hard_usd: Decimal
    drawdown_soft_usd: Decimal
    drawdown_hard_usd: Decimal
    error_burst_count: int
    error_burst_window_s: float
