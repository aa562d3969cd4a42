"""Messages between actors: frozen, slotted, keyword-only dataclasses with tuples, never lists (pykka does
not copy messages, so a mutable one would be shared state). Commands are imperative, events past tense.
Times are integer nanoseconds (`*_ns`) or, for the supervisor's injected monotonic clock, seconds (`*_s`).

Sections
  1. Supervision   children <-> supervisor: lifecycle reports and heartbeats
  2. Control       operator commands and the state they change (safety mode, strategies)
  3. Supervisor requests   asks at the edges (daemon, tests): start, stop, status, tick
  4. Route engine  strategies -> scanner -> risk envelope: signals and intents
  5. Risk and execution   risk envelope <-> executor, kill ladder -> supervisor: orders, fills, balances
  (market events and state snapshots live in core/marketdata.py)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from kraken_runtime.core.control import Command

# === 1. Supervision =========================================================================================


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildStarted:
    """A child instance finished `on_start`; it is running."""

    actor: str
    generation: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildFailed:
    """A child instance raised. `phase` says where: start (on_start), message (a tell), ask (an ask or a
    proxy call), stop (on_stop), hung (heartbeat deadline passed), died (found dead by the liveness sweep)."""

    actor: str
    generation: int
    phase: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildExited:
    """A child instance stopped without an error and without being asked to."""

    actor: str
    generation: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestHeartbeat:
    """Supervisor -> child: answer with Heartbeat(seq) between messages."""

    seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """Child -> supervisor: the answer to RequestHeartbeat(seq), with the child's own view of its mailbox."""

    actor: str
    generation: int
    seq: int
    mailbox: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseTick:
    """A child's own timer fired (e.g. the run lease renews runs.heartbeat_at_ns)."""

    seq: int


# === 2. Control =============================================================================================


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyModeChanged:
    """Broadcast to the children that act on it (risk envelope, executor)."""

    mode: str  # active | reduce_only | halted
    reason: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyEnablementChanged:
    strategy: str
    enabled: bool


# === 3. Supervisor requests (asks at the edges, always with a timeout) ======================================


@dataclass(frozen=True, slots=True, kw_only=True)
class StartChildren:
    """Start every child in spec order, waiting for each one's on_start (bounded by its start timeout)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StopChildren:
    """Stop every child in reverse spec order within `deadline_s` seconds in total."""

    deadline_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorTick:
    """Run one sweep: liveness, heartbeats, due restarts, control polling, metrics."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetStatus:
    """Reply with the `status --json` document."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyControl:
    """Apply one command now and reply with its CommandResult (tests and in-process callers)."""

    command: Command


# === 4. Route engine ========================================================================================

Side = Literal["buy", "sell"]
ExecutionStyle = Literal["maker", "taker", "hybrid"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """A strategy's view of one symbol on one snapshot (made on the scanner's thread, actors/strategy.py).

    `direction` is +1 (buy), -1 (sell) or 0 (no view); `strength` is in [0, 1]. `features` holds every
    feature value and threshold the strategy used, as (name, value) pairs, so an intent can explain itself.
    """

    strategy: str
    symbol: str
    direction: int
    strength: Decimal
    epoch: int
    seq: int
    state_ts_ns: int
    features: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Intent:
    """Scanner -> risk envelope: a scored, explained wish to trade, tied to the snapshot it was decided on.

    Sizes and prices are Decimal; `limit_price` is never None (market intents become bounded limit IOC
    orders). `expires_at_ns` bounds how long the intent may wait for the risk envelope and executor.
    `reasons` carries every signal, feature value and threshold behind it, as (name, value) pairs;
    `strategies` names the strategies it is attributed to (PnL feedback). `intent_id` is the row id in
    `intents` once stored (0 before).
    """

    intent_id: int
    symbol: str
    side: Side
    size: Decimal
    limit_price: Decimal
    style: ExecutionStyle
    expires_at_ns: int
    epoch: int
    seq: int
    state_ts_ns: int
    score: Decimal
    strategies: tuple[str, ...]
    reasons: tuple[tuple[str, str], ...]
    created_at_ns: int
    recv_ts_ns: int  # receipt of the frame that produced the state (tick-to-intent latency)

    def snapshot_state(self) -> dict[str, str | int]:
        """The snapshot it was decided on, as stored with it in `intents.state`: the `state.*` reasons (bid,
        ask, spread) with epoch, seq, state time and the frame's receive time."""
        state: dict[str, str | int] = {name[6:]: value for name, value in self.reasons if name.startswith("state.")}
        state.update(epoch=self.epoch, seq=self.seq, state_ts_ns=self.state_ts_ns, recv_ts_ns=self.recv_ts_ns)
        return state


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyFill:
    """Risk envelope / executor -> scanner: a fill attributed to a strategy (feedback loop, scorecard).

    An intent attributed to several strategies gives one StrategyFill per strategy, each with its share of the
    realised PnL and of the fee. `realised_pnl_usd` is after nothing: the fee is separate (`fee_usd` >= 0),
    and the scorecard judges `realised_pnl_usd - fee_usd`. `intent_id` and `exec_id` trace it back.
    """

    strategy: str
    symbol: str
    realised_pnl_usd: Decimal
    fee_usd: Decimal
    ts_ns: int
    intent_id: int = 0
    exec_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentDecided:
    """Risk envelope -> scanner: what became of an intent (its reject rate throttles the symbol)."""

    intent_id: int
    symbol: str
    accepted: bool
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanTick:
    """The scanner's own timer: score every symbol, publish metrics, store the scorecard when due."""

    n: int


# === 5. Risk and execution ==================================================================================
# risk envelope -> executor: OrderRequest; executor -> risk envelope: OrderUpdate, Fill, BalancesChanged;
# risk envelope -> supervisor: SafetyModeRequested (kill ladder); the executor's and risk envelope's timers.


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """Risk envelope -> executor: an approved (possibly resized) order. `risk_event_id` is the stored
    decision; `time_in_force` ioc for taker intents (bounded by the price band), gtc post-only otherwise."""

    client_order_id: str  # chosen by the risk envelope, so its open-order book counts the order at once
    intent_id: int
    risk_event_id: int
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    post_only: bool
    time_in_force: str  # gtc | ioc
    style: ExecutionStyle
    reduce_only: bool
    strategies: tuple[str, ...]
    expires_at_ns: int
    created_at_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrders:
    """To the executor: cancel every open order (of `symbol`, or all when empty)."""

    reason: str
    symbol: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate:
    """Executor -> risk envelope: an order's status changed (open-order exposure and reservations)."""

    client_order_id: str
    intent_id: int
    symbol: str
    side: Side
    status: str  # pending_new | new | partially_filled | filled | canceled | expired | rejected | unknown
    qty: Decimal
    filled_qty: Decimal
    price: Decimal
    post_only: bool
    reason: str
    venue_error: bool  # a rejection or error by the venue (counts toward the kill ladder's error burst)
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """Executor -> risk envelope: one execution, stored once (unique `exec_id`). Fee in the quote currency."""

    exec_id: str
    client_order_id: str
    intent_id: int
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    liquidity: str  # maker | taker
    strategies: tuple[str, ...]
    ts_exchange_ns: int
    ts_recv_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BalancesChanged:
    """Executor -> risk envelope: the venue's balances (asset -> available), e.g. from the balances channel."""

    balances: tuple[tuple[str, Decimal], ...]
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyModeRequested:
    """A child -> supervisor: tighten the safety mode (kill ladder). Only an operator's resume loosens it."""

    mode: str  # reduce_only | halted
    reason: str
    source: str  # e.g. kill:daily_loss


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionTick:
    """The risk envelope's and executor's own timers (kill ladder, paper latency, order timeouts, metrics)."""

    n: int
