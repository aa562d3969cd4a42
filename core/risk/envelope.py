"""The risk envelope: the rules of core/risk/rules.py in their fixed order over one proposal.

`evaluate` runs every rule on the proposal as the previous rules left it (resized, rounded) and stops at
the first reject. The verdict carries every step, so the stored risk event names the deciding rule and
the inputs of each rule that ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_runtime.core.risk import rules
from kraken_runtime.core.risk.ladder import LadderVerdict
from kraken_runtime.core.risk.types import Decision, Funds, InstrumentRules, MarketView, Proposal, RiskLimits, SymbolExposure


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskContext:
    """Everything the rules read about the world at the moment of the decision."""

    now_ns: int
    safety_mode: str
    view: MarketView | None
    instrument: InstrumentRules | None
    exposure: SymbolExposure
    other_symbols_usd: Decimal
    open_orders_total: int
    rate_level: Decimal
    rate_cost: Decimal
    rate_threshold: Decimal
    quote_funds: Funds | None
    base_funds: Funds | None
    ladder: LadderVerdict


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    outcome: str  # approve | resize | reject (resize: some rule changed the order; it may go out as resized)
    rule: str  # the deciding rule: the rejecting one, else the last that resized, else "all"
    reason: str
    proposal: Proposal  # the order as approved
    steps: tuple[Decision, ...]

    @property
    def approved(self) -> bool:
        return self.outcome != "reject"


def evaluate(proposal: Proposal, ctx: RiskContext, limits: RiskLimits) -> Verdict:
    steps: list[Decision] = []
    p = proposal
    mid = ctx.view.mid if ctx.view is not None else None
    checks = (
        lambda q: rules.check_safety_mode(q, mode=ctx.safety_mode, position_qty=ctx.exposure.position_qty),
        lambda q: rules.check_state_guard(q, view=ctx.view, now_ns=ctx.now_ns, max_state_age_ms=limits.max_state_age_ms),
        lambda q: rules.check_venue_status(q, venue_status=ctx.view.venue_status if ctx.view is not None else "unknown"),
        lambda q: rules.check_price_band(q, mid=mid, band_bps=limits.price_band_bps),
        lambda q: rules.check_instrument(q, rules=ctx.instrument),
        lambda q: rules.check_exposure(
            q, mid=mid, symbol=ctx.exposure, other_symbols_usd=ctx.other_symbols_usd,
            open_orders_total=ctx.open_orders_total, max_symbol_usd=limits.max_symbol_exposure_usd,
            max_total_usd=limits.max_exposure_usd, max_open_orders=limits.max_open_orders,
            max_open_orders_per_symbol=limits.max_open_orders_per_symbol,
            lot=ctx.instrument.qty_increment if ctx.instrument is not None else Decimal(1)),
        lambda q: rules.check_rate_counter(q, level=ctx.rate_level, cost=ctx.rate_cost, threshold=ctx.rate_threshold,
                                           headroom=limits.rate_headroom),
        lambda q: rules.check_balance(
            q, quote=ctx.quote_funds, base=ctx.base_funds, trade_buffer=limits.trade_buffer,
            fee_rate=_fee_rate(q, ctx.instrument)),
        lambda q: rules.check_kill_ladder(q, level=ctx.ladder.level, reason=ctx.ladder.reason,
                                          position_qty=ctx.exposure.position_qty),
    )
    deciding = ""
    for check in checks:
        decision = check(p)
        steps.append(decision)
        if decision.rejected:
            return Verdict(outcome="reject", rule=decision.rule, reason=decision.reason, proposal=p, steps=tuple(steps))
        if decision.outcome == "resize":
            deciding = decision.rule
            p = decision.proposal
    if ctx.instrument is not None and (p.qty < ctx.instrument.qty_min or p.notional < ctx.instrument.cost_min):
        # a resize after the instrument rule went under the pair's minimums: the venue would refuse it
        return Verdict(outcome="reject", rule=deciding, reason=f"resized to {p.qty} @ {p.price}, below the pair's minimum "
                       f"size {ctx.instrument.qty_min} or cost {ctx.instrument.cost_min}", proposal=p, steps=tuple(steps))
    if deciding:
        reasons = "; ".join(d.reason for d in steps if d.outcome == "resize")
        return Verdict(outcome="resize", rule=deciding, reason=reasons, proposal=p, steps=tuple(steps))
    return Verdict(outcome="approve", rule="all", reason="every rule approved", proposal=p, steps=tuple(steps))


def _fee_rate(p: Proposal, instrument: InstrumentRules | None) -> Decimal:
    if instrument is None:
        return Decimal(0)
    return instrument.maker_fee_rate if p.post_only else instrument.taker_fee_rate
