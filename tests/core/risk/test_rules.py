"""Every risk rule at its boundaries (pure, no clock)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kraken_runtime.core.risk import rules
from kraken_runtime.core.risk.envelope import RiskContext, evaluate
from kraken_runtime.core.risk.ladder import LadderState, LadderVerdict, evaluate_ladder, record_error
from kraken_runtime.core.risk.types import Funds, InstrumentRules, MarketView, Proposal, RiskLimits, SymbolExposure

NOW = 1_700_000_000 * 10**9


def proposal(**kw: object) -> Proposal:
    base: dict[str, object] = dict(symbol="BTC/USD", side="buy", qty=D("0.01"), price=D("50000"), post_only=True,
                                   time_in_force="gtc", epoch=3, state_ts_ns=NOW - 100_000_000)
    base.update(kw)
    return Proposal(**base)  # type: ignore[arg-type]


def view(**kw: object) -> MarketView:
    base: dict[str, object] = dict(symbol="BTC/USD", status="ready", epoch=3, state_ts_ns=NOW - 100_000_000,
                                   best_bid=D("49995"), best_ask=D("50005"), mid=D("50000"), venue_status="online")
    base.update(kw)
    return MarketView(**base)  # type: ignore[arg-type]


INSTRUMENT = InstrumentRules(symbol="BTC/USD", base="BTC", quote="USD", price_increment=D("0.1"),
                             qty_increment=D("0.00000001"), qty_min=D("0.0001"), cost_min=D("0.5"),
                             maker_fee_rate=D("0.0025"), taker_fee_rate=D("0.004"))

LIMITS = RiskLimits(max_state_age_ms=2000, price_band_bps=D("50"), max_symbol_exposure_usd=D("1000"),
                    max_exposure_usd=D("2000"), max_open_orders=10, max_open_orders_per_symbol=2,
                    trade_buffer=D("1.08"), rate_headroom=D("20"), daily_loss_soft_usd=D("50"),
                    daily_loss_hard_usd=D("100"), drawdown_soft_usd=D("80"), drawdown_hard_usd=D("150"),
                    error_burst_count=3, error_burst_window_s=60.0)


# --- 1. safety mode -------------------------------------------------------------------------------------------

def test_safety_mode_when_halted_then_rejects_even_a_reducing_order() -> None:
    d = rules.check_safety_mode(proposal(side="sell"), mode="halted", position_qty=D("1"))
    assert d.outcome == "reject" and "halted" in d.reason


def test_safety_mode_when_reduce_only_and_order_adds_then_rejects() -> None:
    assert rules.check_safety_mode(proposal(side="buy"), mode="reduce_only", position_qty=D("0.5")).rejected
    assert rules.check_safety_mode(proposal(side="sell"), mode="reduce_only", position_qty=D("0")).rejected


def test_safety_mode_when_reduce_only_and_order_reduces_then_approves_or_resizes_to_position() -> None:
    assert rules.check_safety_mode(proposal(side="sell", qty=D("0.01")), mode="reduce_only", position_qty=D("0.01")).outcome == "approve"
    d = rules.check_safety_mode(proposal(side="sell", qty=D("0.02")), mode="reduce_only", position_qty=D("0.01"))
    assert d.outcome == "resize" and d.proposal.qty == D("0.01")
    d = rules.check_safety_mode(proposal(side="buy", qty=D("0.02")), mode="reduce_only", position_qty=D("-0.015"))
    assert d.outcome == "resize" and d.proposal.qty == D("0.015")


def test_safety_mode_active_approves() -> None:
    assert rules.check_safety_mode(proposal(), mode="active", position_qty=D(0)).outcome == "approve"


# --- 2. state guard -------------------------------------------------------------------------------------------

def test_state_guard_when_epoch_is_not_current_then_rejects() -> None:
    d = rules.check_state_guard(proposal(epoch=2), view=view(epoch=3), now_ns=NOW, max_state_age_ms=2000)
    assert d.rejected and "epoch 2" in d.reason


def test_state_guard_at_exactly_the_max_age_approves_and_one_ns_more_rejects() -> None:
    at_limit = proposal(state_ts_ns=NOW - 2000 * 1_000_000)
    assert rules.check_state_guard(at_limit, view=view(), now_ns=NOW, max_state_age_ms=2000).outcome == "approve"
    over = proposal(state_ts_ns=NOW - 2000 * 1_000_000 - 1)
    assert rules.check_state_guard(over, view=view(), now_ns=NOW, max_state_age_ms=2000).rejected


@pytest.mark.parametrize("status", ["warming", "stale", "resyncing", "disabled"])
def test_state_guard_when_symbol_not_ready_then_rejects(status: str) -> None:
    assert rules.check_state_guard(proposal(), view=view(status=status), now_ns=NOW, max_state_age_ms=2000).rejected


def test_state_guard_without_any_state_rejects() -> None:
    assert rules.check_state_guard(proposal(), view=None, now_ns=NOW, max_state_age_ms=2000).rejected


# --- 3. venue status ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["cancel_only", "maintenance", "something_new"])
def test_venue_status_that_forbids_new_orders_rejects(status: str) -> None:
    assert rules.check_venue_status(proposal(post_only=True), venue_status=status).rejected


def test_venue_post_only_allows_only_post_only_orders() -> None:
    assert rules.check_venue_status(proposal(post_only=True), venue_status="post_only").outcome == "approve"
    assert rules.check_venue_status(proposal(post_only=False, time_in_force="ioc"), venue_status="post_only").rejected
    assert rules.check_venue_status(proposal(post_only=False), venue_status="online").outcome == "approve"


# --- 4. price band --------------------------------------------------------------------------------------------

def test_price_band_exactly_at_the_band_approves_and_beyond_rejects() -> None:
    at = proposal(price=D("50250"))  # 50 bps above 50000
    assert rules.check_price_band(at, mid=D("50000"), band_bps=D("50")).outcome == "approve"
    beyond = proposal(price=D("50250.1"))
    d = rules.check_price_band(beyond, mid=D("50000"), band_bps=D("50"))
    assert d.rejected and "bps" in d.reason
    assert rules.check_price_band(proposal(price=D("49749.9"), side="sell"), mid=D("50000"), band_bps=D("50")).rejected


def test_price_band_without_a_mid_rejects() -> None:
    assert rules.check_price_band(proposal(), mid=None, band_bps=D("50")).rejected


def test_band_edge_is_inside_the_band_on_the_tick() -> None:
    buy = rules.band_edge("buy", D("50000.05"), D("50"), D("0.1"))
    sell = rules.band_edge("sell", D("50000.05"), D("50"), D("0.1"))
    assert buy == D("50250.0") and sell == D("49750.1")
    assert rules.check_price_band(proposal(price=buy), mid=D("50000.05"), band_bps=D("50")).outcome == "approve"


# --- 5. instrument --------------------------------------------------------------------------------------------

def test_instrument_rounds_price_never_worse_and_size_down_to_the_lot() -> None:
    d = rules.check_instrument(proposal(side="buy", price=D("50000.19"), qty=D("0.012345678")), rules=INSTRUMENT)
    assert d.outcome == "resize" and d.proposal.price == D("50000.1") and d.proposal.qty == D("0.01234567")
    d = rules.check_instrument(proposal(side="sell", price=D("50000.11")), rules=INSTRUMENT)
    assert d.proposal.price == D("50000.2")


def test_instrument_qty_min_and_cost_min_boundaries() -> None:
    assert rules.check_instrument(proposal(qty=D("0.0001")), rules=INSTRUMENT).outcome == "approve"
    assert rules.check_instrument(proposal(qty=D("0.00009999")), rules=INSTRUMENT).rejected
    cheap = InstrumentRules(**{**{f: getattr(INSTRUMENT, f) for f in INSTRUMENT.__dataclass_fields__}, "cost_min": D("5")})
    assert rules.check_instrument(proposal(qty=D("0.0001"), price=D("50000")), rules=cheap).outcome == "approve"  # cost exactly 5
    assert rules.check_instrument(proposal(qty=D("0.0001"), price=D("49999.9")), rules=cheap).rejected


def test_instrument_unknown_rejects() -> None:
    assert rules.check_instrument(proposal(), rules=None).rejected


# --- 6. exposure ----------------------------------------------------------------------------------------------

def exposure(p: Proposal, sym: SymbolExposure, *, other: str = "0", total_orders: int = 0) -> object:
    return rules.check_exposure(p, mid=D("50000"), symbol=sym, other_symbols_usd=D(other), open_orders_total=total_orders,
                                max_symbol_usd=D("1000"), max_total_usd=D("2000"), max_open_orders=10,
                                max_open_orders_per_symbol=2, lot=D("0.00000001"))


def test_exposure_exactly_at_the_symbol_cap_approves() -> None:
    d = exposure(proposal(qty=D("0.02")), SymbolExposure())  # 0.02 * 50000 = 1000
    assert d.outcome == "approve"  # type: ignore[attr-defined]


def test_exposure_counts_open_orders_and_resizes_to_the_room_left() -> None:
    d = exposure(proposal(qty=D("0.02")), SymbolExposure(position_qty=D("0.005"), open_buy_qty=D("0.005"), open_orders=1))
    assert d.outcome == "resize" and d.proposal.qty == D("0.01")  # type: ignore[attr-defined]


def test_exposure_full_then_rejects() -> None:
    d = exposure(proposal(qty=D("0.01")), SymbolExposure(position_qty=D("0.02")))
    assert d.rejected  # type: ignore[attr-defined]


def test_exposure_total_cap_binds_before_the_symbol_cap() -> None:
    d = exposure(proposal(qty=D("0.02")), SymbolExposure(), other="1750")  # 250 USD left in total
    assert d.outcome == "resize" and d.proposal.qty == D("0.005")  # type: ignore[attr-defined]


def test_exposure_an_order_that_reduces_passes_even_over_the_cap() -> None:
    d = exposure(proposal(side="sell", qty=D("0.01")), SymbolExposure(position_qty=D("0.05")))
    assert d.outcome == "approve"  # type: ignore[attr-defined]


def test_exposure_open_order_limits() -> None:
    assert exposure(proposal(qty=D("0.001")), SymbolExposure(open_orders=2)).rejected  # type: ignore[attr-defined]
    assert exposure(proposal(qty=D("0.001")), SymbolExposure(open_orders=1)).outcome == "approve"  # type: ignore[attr-defined]
    assert exposure(proposal(qty=D("0.001")), SymbolExposure(), total_orders=10).rejected  # type: ignore[attr-defined]


# --- 7. rate counter ------------------------------------------------------------------------------------------

def test_rate_counter_keeps_headroom() -> None:
    p = proposal()
    assert rules.check_rate_counter(p, level=D("59"), cost=D("1"), threshold=D("80"), headroom=D("20")).outcome == "approve"
    assert rules.check_rate_counter(p, level=D("59.5"), cost=D("1"), threshold=D("80"), headroom=D("20")).rejected


# --- 8. balance -----------------------------------------------------------------------------------------------

def test_balance_buy_needs_cost_times_fee_times_buffer_free() -> None:
    p = proposal(qty=D("0.01"), price=D("50000"))  # cost 500, x 1.0025 x 1.08 = 541.35
    need = D("500") * D("1.0025") * D("1.08")
    ok = rules.check_balance(p, quote=Funds(available=need + 100, reserved=D("100")), base=None, fee_rate=D("0.0025"), trade_buffer=D("1.08"))
    assert ok.outcome == "approve"
    short = rules.check_balance(p, quote=Funds(available=need + 100, reserved=D("100.01")), base=None, fee_rate=D("0.0025"), trade_buffer=D("1.08"))
    assert short.rejected


def test_balance_sell_needs_the_base_free_after_reservations() -> None:
    p = proposal(side="sell", qty=D("0.01"))
    assert rules.check_balance(p, quote=None, base=Funds(available=D("0.02"), reserved=D("0.01")), fee_rate=D(0), trade_buffer=D(1)).outcome == "approve"
    assert rules.check_balance(p, quote=None, base=Funds(available=D("0.02"), reserved=D("0.011")), fee_rate=D(0), trade_buffer=D(1)).rejected
    assert rules.check_balance(p, quote=None, base=None, fee_rate=D(0), trade_buffer=D(1)).rejected


# --- 9. kill ladder -------------------------------------------------------------------------------------------

def ladder(equity: str, state: LadderState = LadderState(), now: int = NOW) -> tuple[LadderState, LadderVerdict]:
    return evaluate_ladder(state, equity=D(equity), now_ns=now, limits=LIMITS)


def test_daily_loss_soft_limit_moves_to_reduce_only_and_hard_to_halted() -> None:
    state, v = ladder("0")
    assert v.level == "active"
    _, v = ladder("-49.99", state)
    assert v.level == "active"
    _, v = ladder("-50", state)
    assert v.level == "reduce_only" and v.rule == "daily_loss"
    _, v = ladder("-100", state)
    assert v.level == "halted" and v.rule == "daily_loss"


def test_daily_loss_restarts_at_the_utc_day_but_drawdown_does_not() -> None:
    state, _ = ladder("0")
    state, v = ladder("-90", state)
    assert v.level == "reduce_only"
    next_day = (NOW // (86_400 * 10**9) + 1) * 86_400 * 10**9
    state, v = ladder("-90", state, now=next_day)
    assert v.daily_pnl == 0 and v.drawdown == D("90") and v.level == "reduce_only" and v.rule == "drawdown"
    _, v = ladder("-150", state, now=next_day + 1)
    assert v.level == "halted" and v.rule == "drawdown"


def test_error_burst_moves_to_reduce_only_within_the_window_only() -> None:
    state = LadderState()
    for i in range(2):
        state = record_error(state, NOW + i, 60.0)
    _, v = ladder("0", state, now=NOW + 10)
    assert v.level == "active"
    state = record_error(state, NOW + 20, 60.0)
    _, v = ladder("0", state, now=NOW + 30)
    assert v.level == "reduce_only" and v.rule == "error_burst"
    _, v = ladder("0", state, now=NOW + 61 * 10**9)
    assert v.level == "active"


def test_kill_ladder_rule_rejects_when_halted_and_reduces_when_reduce_only() -> None:
    assert rules.check_kill_ladder(proposal(), level="halted", reason="x", position_qty=D(1)).rejected
    assert rules.check_kill_ladder(proposal(side="buy"), level="reduce_only", reason="x", position_qty=D(1)).rejected
    assert rules.check_kill_ladder(proposal(side="sell"), level="reduce_only", reason="x", position_qty=D(1)).outcome == "approve"


# --- the envelope: the fixed order ----------------------------------------------------------------------------

def context(**kw: object) -> RiskContext:
    base: dict[str, object] = dict(
        now_ns=NOW, safety_mode="active", view=view(), instrument=INSTRUMENT, exposure=SymbolExposure(),
        other_symbols_usd=D(0), open_orders_total=0, rate_level=D(0), rate_cost=D(1), rate_threshold=D(60),
        quote_funds=Funds(available=D("10000")), base_funds=Funds(available=D("1")),
        ladder=LadderVerdict(level="active", rule="", reason="", daily_pnl=D(0), drawdown=D(0)))
    base.update(kw)
    return RiskContext(**base)  # type: ignore[arg-type]


def test_envelope_runs_every_rule_in_the_documented_order_and_approves() -> None:
    v = evaluate(proposal(), context(), LIMITS)
    assert v.outcome == "approve" and tuple(d.rule for d in v.steps) == rules.RULE_ORDER


def test_envelope_stops_at_the_first_reject_in_order() -> None:
    v = evaluate(proposal(epoch=1), context(safety_mode="halted"), LIMITS)
    assert v.rule == "safety_mode" and len(v.steps) == 1
    v = evaluate(proposal(epoch=1), context(), LIMITS)
    assert v.rule == "state_guard" and len(v.steps) == 2


def test_envelope_carries_resizes_forward_and_names_the_last_resizing_rule() -> None:
    v = evaluate(proposal(qty=D("0.030000001"), price=D("50000.05")),
                 context(exposure=SymbolExposure(position_qty=D("0.01"))), LIMITS)
    assert v.outcome == "resize" and v.rule == "exposure"
    assert v.proposal.price == D("50000") and v.proposal.qty == D("0.01")


def test_envelope_rejects_a_resize_that_falls_under_the_pair_minimum() -> None:
    v = evaluate(proposal(qty=D("0.01")), context(exposure=SymbolExposure(position_qty=D("0.01999"))), LIMITS)
    assert v.outcome == "reject" and "minimum" in v.reason
