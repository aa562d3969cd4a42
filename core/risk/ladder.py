"""The kill ladder, pure: what the losses, the drawdown and bursts of errors demand of the safety mode.

- Daily loss: equity now minus equity at the start of the UTC day (realised plus unrealised PnL, fees
  included). At `daily_loss_soft_usd` -> REDUCE_ONLY, at `daily_loss_hard_usd` -> HALTED.
- Drawdown: peak equity minus equity now (peak over the session, including earlier days). At
  `drawdown_soft_usd` -> REDUCE_ONLY, at `drawdown_hard_usd` -> HALTED.
- Error burst: `error_burst_count` venue rejections or errors within `error_burst_window_s` -> REDUCE_ONLY.

The ladder only ever tightens within its state; leaving REDUCE_ONLY or HALTED is an operator's `ctl resume`
(the supervisor's rule). `LadderState` is rebuilt after a restart from the equity the fills give.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from kraken_runtime.core.risk.rules import ACTIVE, HALTED, REDUCE_ONLY
from kraken_runtime.core.risk.types import RiskLimits

NS_PER_DAY = 86_400 * 1_000_000_000
_RANK = {ACTIVE: 0, REDUCE_ONLY: 1, HALTED: 2}


def utc_day(now_ns: int) -> int:
    """Days since the Unix epoch, UTC."""
    return now_ns // NS_PER_DAY


@dataclass(frozen=True, slots=True, kw_only=True)
class LadderState:
    day: int = -1
    day_start_equity: Decimal = Decimal(0)
    peak_equity: Decimal | None = None
    error_times_ns: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LadderVerdict:
    level: str  # active | reduce_only | halted
    rule: str  # daily_loss | drawdown | error_burst | "" when active
    reason: str
    daily_pnl: Decimal
    drawdown: Decimal


def tighter(a: str, b: str) -> str:
    return a if _RANK[a] >= _RANK[b] else b


def record_error(state: LadderState, now_ns: int, window_s: float) -> LadderState:
    """A venue rejection or error; keeps only those inside the window (bounded)."""
    horizon = now_ns - int(window_s * 1_000_000_000)
    kept = tuple(t for t in state.error_times_ns if t > horizon)[-999:]
    return replace(state, error_times_ns=kept + (now_ns,))


def evaluate_ladder(state: LadderState, *, equity: Decimal, now_ns: int, limits: RiskLimits) -> tuple[LadderState, LadderVerdict]:
    day = utc_day(now_ns)
    if day != state.day:
        state = replace(state, day=day, day_start_equity=equity)
    peak = equity if state.peak_equity is None or equity > state.peak_equity else state.peak_equity
    horizon = now_ns - int(limits.error_burst_window_s * 1_000_000_000)
    errors = tuple(t for t in state.error_times_ns if t > horizon)
    state = replace(state, peak_equity=peak, error_times_ns=errors)
    daily_pnl = equity - state.day_start_equity
    drawdown = peak - equity
    level, rule, reason = ACTIVE, "", ""

    def consider(candidate: str, candidate_rule: str, candidate_reason: str) -> None:
        nonlocal level, rule, reason
        if _RANK[candidate] > _RANK[level]:
            level, rule, reason = candidate, candidate_rule, candidate_reason

    loss = -daily_pnl
    if loss >= limits.daily_loss_hard_usd:
        consider(HALTED, "daily_loss", f"daily loss {loss:.2f} USD reached the hard limit {limits.daily_loss_hard_usd}")
    elif loss >= limits.daily_loss_soft_usd:
        consider(REDUCE_ONLY, "daily_loss", f"daily loss {loss:.2f} USD reached the soft limit {limits.daily_loss_soft_usd}")
    if drawdown >= limits.drawdown_hard_usd:
        consider(HALTED, "drawdown", f"drawdown {drawdown:.2f} USD from peak equity reached the hard limit {limits.drawdown_hard_usd}")
    elif drawdown >= limits.drawdown_soft_usd:
        consider(REDUCE_ONLY, "drawdown", f"drawdown {drawdown:.2f} USD from peak equity reached the soft limit {limits.drawdown_soft_usd}")
    if len(errors) >= limits.error_burst_count:
        consider(REDUCE_ONLY, "error_burst", f"{len(errors)} venue rejections or errors within {limits.error_burst_window_s:g} s")
    return state, LadderVerdict(level=level, rule=rule, reason=reason, daily_pnl=daily_pnl, drawdown=drawdown)
