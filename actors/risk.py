"""RiskEnvelopeActor (child `risk`): wiring only. Every decision is core/risk/envelope.py's `evaluate`.

In:  Intent (scanner), StateSnapshot (state holders, latest wins), OrderUpdate / Fill / BalancesChanged
     (executor), SafetyModeChanged (supervisor), ExecutionTick (own timer).
Out: OrderRequest -> executor; IntentDecided and StrategyFill -> scanner; SafetyModeRequested -> supervisor
     (kill ladder); a risk_events row per decision (rule, inputs of every rule that ran, outcome).

The client order id is chosen here, so the order counts in the open-order book (exposure, reservations,
open-order limits) from the moment it is approved, before the executor has even seen it. A decision that
cannot be stored is a rejection: nothing goes out that cannot be explained. On (re)start it rebuilds its
positions from this run's fills and its open orders from this run's order rows (crash-only state).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Callable, Mapping

from kraken_runtime.actors.base import ChildLink, SupervisedActor
from kraken_runtime.actors.execution_metrics import ExecutionMetrics
from kraken_runtime.core.config import RiskSettings
from kraken_runtime.core.execution.positions import EMPTY_LEDGER, Ledger, book_fill, equity, ledger_from_fills
from kraken_runtime.core.kraken.ratelimit import TradingRateCounter, add_order_cost
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import (
    BalancesChanged,
    CancelOrders,
    ExecutionTick,
    Fill,
    Intent,
    IntentDecided,
    OrderRequest,
    OrderUpdate,
    SafetyModeChanged,
    SafetyModeRequested,
    StrategyFill,
)
from kraken_runtime.core.risk import rules
from kraken_runtime.core.risk.envelope import RiskContext, Verdict, evaluate
from kraken_runtime.core.risk.ladder import LadderState, LadderVerdict, evaluate_ladder, record_error, tighter
from kraken_runtime.core.risk.types import Funds, InstrumentRules, MarketView, Proposal, RiskLimits, SymbolExposure
from kraken_runtime.storage import execution as store
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import leave_checkpoints_to_others, reset_thread_connection

log = logging.getLogger(__name__)

ZERO = Decimal(0)
OPEN_STATUSES = frozenset({"pending_new", "new", "partially_filled", "unknown"})


def limits_from(settings: RiskSettings) -> RiskLimits:
    return RiskLimits(
        max_state_age_ms=settings.max_state_age_ms, price_band_bps=settings.price_band_bps,
        max_symbol_exposure_usd=settings.max_symbol_exposure_usd, max_exposure_usd=settings.max_exposure_usd,
        max_open_orders=settings.max_open_orders, max_open_orders_per_symbol=settings.max_open_orders_per_symbol,
        trade_buffer=settings.trade_buffer, rate_headroom=settings.rate_headroom,
        daily_loss_soft_usd=settings.daily_loss_soft_usd, daily_loss_hard_usd=settings.daily_loss_limit_usd,
        drawdown_soft_usd=settings.drawdown_soft_usd, drawdown_hard_usd=settings.drawdown_hard_usd,
        error_burst_count=settings.error_burst_count, error_burst_window_s=settings.error_burst_window_s)


def market_view(snapshot: StateSnapshot) -> MarketView:
    return MarketView(symbol=snapshot.symbol, status=snapshot.status, epoch=snapshot.epoch, state_ts_ns=snapshot.state_ts_ns,
                      best_bid=snapshot.best_bid, best_ask=snapshot.best_ask, mid=snapshot.mid,
                      venue_status=snapshot.venue_status or "online")


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenOrder:
    symbol: str
    side: str
    remaining: Decimal
    price: Decimal
    post_only: bool


def proposal_for(intent: Intent, *, mid: Decimal | None, band_bps: Decimal, tick: Decimal | None) -> Proposal:
    """Maker and hybrid intents: post-only GTC limits at their price. Taker intents: IOC limits, never beyond
    the edge of the price band (a market intent is never an unbounded market order)."""
    taker = intent.style == "taker"
    price = intent.limit_price
    if taker and mid is not None and tick is not None:
        edge = rules.band_edge(intent.side, mid, band_bps, tick)
        price = min(price, edge) if intent.side == "buy" else max(price, edge)
    return Proposal(symbol=intent.symbol, side=intent.side, qty=intent.size, price=price, post_only=not taker,
                    time_in_force="ioc" if taker else "gtc", epoch=intent.epoch, state_ts_ns=intent.state_ts_ns)


class RiskEnvelopeActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, run_id: int, settings: RiskSettings, instruments: Mapping[str, InstrumentRules],
                 send: Callable[[str, Any], bool], metrics: ExecutionMetrics, safety_mode: str,
                 starting_balances: Mapping[str, Decimal], api_tier: str = "starter", executor_name: str = "executor",
                 scanner_name: str | None = "scanner", clock_ns: Callable[[], int] = time.time_ns,
                 monotonic_s: Callable[[], float] = time.monotonic) -> None:
        super().__init__(link=link)
        self.run_id = run_id
        self.settings = settings
        self.limits = limits_from(settings)
        self.instruments = dict(instruments)
        self.send = send
        self.metrics = metrics
        self.safety_mode = safety_mode
        self.starting_balances = dict(starting_balances)
        self.executor_name = executor_name
        self.scanner_name = scanner_name
        self.clock_ns = clock_ns
        self.monotonic_s = monotonic_s
        self.rate_counter = TradingRateCounter(api_tier)
        self.views: dict[str, MarketView] = {}
        self.ledger: Ledger = EMPTY_LEDGER
        self.balances: dict[str, Decimal] = dict(starting_balances)
        self.open_orders: dict[str, OpenOrder] = {}
        self.ladder = LadderState()
        self.ladder_verdict = LadderVerdict(level="active", rule="", reason="", daily_pnl=ZERO, drawdown=ZERO)
        self.requested_level = "active"

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def on_supervised_start(self) -> None:
        # An intent's row and its decision are committed here before the order goes out: like the executor's, this
        # connection leaves WAL checkpoints (and their fsync) to the other writers (storage.db).
        leave_checkpoints_to_others()
        try:  # a restarted instance must not trust the mode it was built with: the stored one is current
            self.safety_mode = repo.current_safety_mode()[0]
        except Exception as exc:  # noqa: BLE001 - unknown mode: nothing new goes out until the supervisor says
            reset_thread_connection()
            log.error("risk: cannot read the safety mode (%s); acting as halted until told otherwise", exc)
            self.safety_mode = "halted"
        fills = store.fills(self.run_id)
        self.ledger = ledger_from_fills(fills)
        for fill in fills:
            self._move_funds(str(fill["symbol"]), str(fill["side"]), Decimal(fill["qty"]), Decimal(fill["price"]), Decimal(fill["fee"]))
        for row in store.open_orders(self.run_id):
            self.open_orders[row["client_order_id"]] = OpenOrder(
                symbol=row["symbol"], side=row["side"], remaining=Decimal(row["qty"]) - Decimal(row["filled_qty"]),
                price=Decimal(row["price"]), post_only=bool(row["post_only"]))
        self.every(self.settings.ladder_interval_ms / 1000, lambda n: ExecutionTick(n=n), name=f"{self.link.name}-ladder")
        log.info("risk: started (run %d): %d fills, %d open orders rebuilt; safety mode %s",
                 self.run_id, len(fills), len(self.open_orders), self.safety_mode)

    # --- messages ---------------------------------------------------------------------------------------------

    def handle(self, message: Any) -> Any:
        match message:
            case StateSnapshot():
                self.views[message.symbol] = market_view(message)
            case Intent():
                return self._decide(message)
            case OrderUpdate():
                self._order_update(message)
            case Fill():
                self._fill(message)
            case BalancesChanged():
                self.balances.update(dict(message.balances))
            case SafetyModeChanged():
                self.safety_mode = message.mode
                if message.mode == "active":
                    self.requested_level = "active"  # an operator resume: the ladder may ask again
            case ExecutionTick():
                self._check_ladder()
                self._publish()
            case _:
                raise TypeError(f"risk: unexpected message {type(message).__name__}")
        return None

    # --- decisions --------------------------------------------------------------------------------------------

    def _decide(self, intent: Intent) -> Verdict | None:
        now = self.clock_ns()
        instrument = self.instruments.get(intent.symbol)
        view = self.views.get(intent.symbol)
        proposal = proposal_for(intent, mid=view.mid if view else None, band_bps=self.limits.price_band_bps,
                                tick=instrument.price_increment if instrument else None)
        if intent.expires_at_ns and now > intent.expires_at_ns:
            stored = self._record(intent, view, "rejected", "state_guard",
                                  f"intent expired {(now - intent.expires_at_ns) / 1e6:.0f} ms ago",
                                  {"expires_at_ns": intent.expires_at_ns, "now_ns": now}, now)
            if stored is not None:
                self.metrics.risk_decisions.labels(rule="expired", outcome="reject").inc()
                self._tell_scanner(intent, accepted=False, reason="intent expired", now=now, intent_id=stored[0])
            return None
        self._check_ladder(now)
        verdict = evaluate(proposal, self._context(intent.symbol, now, view, instrument), self.limits)
        decision = {"approve": "accepted", "resize": "resized", "reject": "rejected"}[verdict.outcome]
        client_order_id = uuid.uuid4().hex if verdict.approved else ""
        details = {
            "proposal": _proposal_dict(proposal), "approved": _proposal_dict(verdict.proposal) if verdict.approved else None,
            "client_order_id": client_order_id or None, "style": intent.style, "strategies": list(intent.strategies),
            "steps": [{"rule": d.rule, "outcome": d.outcome, "reason": d.reason, "inputs": dict(d.inputs)} for d in verdict.steps],
        }
        stored = self._record(intent, view, decision, verdict.rule, verdict.reason, details, now)
        if stored is None:
            return None
        intent_id, event_id = stored
        self.metrics.risk_decisions.labels(rule=verdict.rule, outcome=verdict.outcome).inc()
        self._tell_scanner(intent, accepted=verdict.approved, reason=verdict.reason, now=now, intent_id=intent_id)
        if not verdict.approved:
            # One console line per refused intent (intents are spaced per symbol by the scanner): an intent that
            # never became an order says why, next to the intent line itself.
            log.info("risk: intent #%d %s %s rejected by %s: %s", intent_id, intent.symbol, intent.side, verdict.rule,
                     verdict.reason)
            return verdict
        p = verdict.proposal
        log.info("risk: intent #%d %s %s %s: %s @ %s -> order %s", intent_id, intent.symbol, intent.side, decision,
                 format(p.qty, "f"), format(p.price, "f"), client_order_id)
        self.rate_counter.charge(intent.symbol, add_order_cost(), self.monotonic_s())
        self.open_orders[client_order_id] = OpenOrder(symbol=p.symbol, side=p.side, remaining=p.qty, price=p.price,
                                                      post_only=p.post_only)
        position = self.ledger.by_symbol.get(p.symbol)
        reducing = rules.reducing_qty(p.side, position.qty if position else ZERO) >= p.qty
        self.send(self.executor_name, OrderRequest(
            client_order_id=client_order_id, intent_id=intent_id, risk_event_id=event_id, symbol=p.symbol, side=p.side,
            qty=p.qty, price=p.price, post_only=p.post_only, time_in_force=p.time_in_force, style=intent.style,
            reduce_only=reducing, strategies=intent.strategies, expires_at_ns=intent.expires_at_ns, created_at_ns=now))
        self._publish()
        return verdict

    def _context(self, symbol: str, now: int, view: MarketView | None, instrument: InstrumentRules | None) -> RiskContext:
        exposure = self._exposure(symbol)
        other = sum((self._exposure_usd(s) for s in self._symbols() if s != symbol), ZERO)
        quote = instrument.quote if instrument else None
        base = instrument.base if instrument else None
        now_s = self.monotonic_s()
        return RiskContext(
            now_ns=now, safety_mode=self.safety_mode, view=view, instrument=instrument, exposure=exposure,
            other_symbols_usd=other, open_orders_total=len(self.open_orders),
            rate_level=Decimal(str(round(self.rate_counter.level(symbol, now_s), 6))), rate_cost=Decimal(str(add_order_cost())),
            rate_threshold=Decimal(str(self.rate_counter.tier.threshold)),
            quote_funds=self._funds(quote) if quote else None, base_funds=self._funds(base) if base else None,
            ladder=self.ladder_verdict)

    def _symbols(self) -> set[str]:
        return set(self.ledger.by_symbol) | {o.symbol for o in self.open_orders.values()}

    def _exposure(self, symbol: str) -> SymbolExposure:
        position = self.ledger.by_symbol.get(symbol)
        orders = [o for o in self.open_orders.values() if o.symbol == symbol]
        return SymbolExposure(position_qty=position.qty if position else ZERO,
                              open_buy_qty=sum((o.remaining for o in orders if o.side == "buy"), ZERO),
                              open_sell_qty=sum((o.remaining for o in orders if o.side == "sell"), ZERO),
                              open_orders=len(orders))

    def _exposure_usd(self, symbol: str) -> Decimal:
        view = self.views.get(symbol)
        mark = view.mid if view and view.mid else None
        if mark is None:  # no price: value it at its open orders' prices or the position's average (never 0)
            position = self.ledger.by_symbol.get(symbol)
            prices = [o.price for o in self.open_orders.values() if o.symbol == symbol]
            mark = max(prices) if prices else (position.avg_price if position else ZERO)
        return self._exposure(symbol).gross_qty() * mark

    def _funds(self, asset: str) -> Funds:
        reserved = ZERO
        for o in self.open_orders.values():
            instrument = self.instruments.get(o.symbol)
            if instrument is None:
                continue
            if o.side == "buy" and instrument.quote == asset:
                rate = instrument.maker_fee_rate if o.post_only else instrument.taker_fee_rate
                reserved += o.remaining * o.price * (1 + rate)
            elif o.side == "sell" and instrument.base == asset:
                reserved += o.remaining
        return Funds(available=self.balances.get(asset, ZERO), reserved=reserved)

    def _record(self, intent: Intent, view: MarketView | None, decision: str, rule: str, reason: str,
                details: Mapping[str, Any], now: int) -> tuple[int, int] | None:
        """Store the decision, and the intent with it when the scanner sent it unstored, in one transaction:
        (intent id, risk event id). A decision that cannot be stored is no decision: the intent is refused,
        counted (rule `unstored`), the scanner told, and nothing goes out."""
        state: dict[str, Any] = ({"bid": view.best_bid, "ask": view.best_ask, "mid": view.mid} if view else {})
        state.update(intent.snapshot_state())
        try:
            return store.insert_decision(self.run_id, intent, state=state, decision=decision, rule=rule, reason=reason,
                                         details=details, now_ns=now)
        except Exception as exc:  # noqa: BLE001
            reset_thread_connection()
            log.error("risk: intent on %s %s and its decision not stored (%s): refused, nothing goes out", intent.symbol,
                      intent.side, exc)
            self.metrics.risk_decisions.labels(rule="unstored", outcome="reject").inc()
            self._tell_scanner(intent, accepted=False, reason="the intent and its decision could not be stored", now=now)
            return None

    def _tell_scanner(self, intent: Intent, *, accepted: bool, reason: str, now: int, intent_id: int = 0) -> None:
        if self.scanner_name:
            self.send(self.scanner_name, IntentDecided(intent_id=intent_id or intent.intent_id, symbol=intent.symbol,
                                                       accepted=accepted, reason=reason, ts_ns=now))

    # --- feedback from the executor --------------------------------------------------------------------------

    def _order_update(self, update: OrderUpdate) -> None:
        if update.status in OPEN_STATUSES:
            self.open_orders[update.client_order_id] = OpenOrder(
                symbol=update.symbol, side=update.side, remaining=update.qty - update.filled_qty, price=update.price,
                post_only=update.post_only)
        else:
            self.open_orders.pop(update.client_order_id, None)
        if update.venue_error:
            self.ladder = record_error(self.ladder, update.ts_ns, self.limits.error_burst_window_s)
            self._check_ladder(update.ts_ns)
        self._publish()

    def _fill(self, fill: Fill) -> None:
        before = {key: p.realised for key, p in self.ledger.by_strategy.items()}
        self.ledger = book_fill(self.ledger, symbol=fill.symbol, side=fill.side, qty=fill.qty, price=fill.price, fee=fill.fee,
                                strategies=fill.strategies)
        self._move_funds(fill.symbol, fill.side, fill.qty, fill.price, fill.fee)
        order = self.open_orders.get(fill.client_order_id)
        if order is not None:
            remaining = order.remaining - fill.qty
            if remaining > 0:
                self.open_orders[fill.client_order_id] = replace(order, remaining=remaining)
            else:
                del self.open_orders[fill.client_order_id]
        if self.scanner_name:
            names = fill.strategies or ("unattributed",)
            fee_share = fill.fee / len(names)
            for name in names:
                key = (name, fill.symbol)
                realised = self.ledger.by_strategy[key].realised - before.get(key, ZERO)
                self.send(self.scanner_name, StrategyFill(strategy=name, symbol=fill.symbol, realised_pnl_usd=realised,
                                                          fee_usd=fee_share, ts_ns=fill.ts_recv_ns, intent_id=fill.intent_id,
                                                          exec_id=fill.exec_id))
        self._check_ladder(fill.ts_recv_ns)
        self._publish()

    def _move_funds(self, symbol: str, side: str, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        instrument = self.instruments.get(symbol)
        if instrument is None:
            return
        sign = 1 if side == "buy" else -1
        self.balances[instrument.base] = self.balances.get(instrument.base, ZERO) + sign * qty
        self.balances[instrument.quote] = self.balances.get(instrument.quote, ZERO) - sign * qty * price - fee

    # --- kill ladder ------------------------------------------------------------------------------------------

    def _marks(self) -> dict[str, Decimal | None]:
        return {symbol: view.mid for symbol, view in self.views.items()}

    def _check_ladder(self, now: int | None = None) -> None:
        now = self.clock_ns() if now is None else now
        self.ladder, self.ladder_verdict = evaluate_ladder(self.ladder, equity=equity(self.ledger, self._marks()), now_ns=now,
                                                           limits=self.limits)
        verdict = self.ladder_verdict
        if verdict.level == "active" or tighter(verdict.level, self.requested_level) == self.requested_level:
            return
        self.requested_level = verdict.level
        reason = f"kill ladder: {verdict.reason}"
        log.warning("risk: %s -> requesting %s", reason, verdict.level)
        try:
            store.insert_risk_event(self.run_id, intent_id=None, decision="kill", rule=verdict.rule, reason=reason,
                                    details={"level": verdict.level, "daily_pnl": verdict.daily_pnl,
                                             "drawdown": verdict.drawdown}, now_ns=now)
        except Exception as exc:  # noqa: BLE001 - the request itself still goes to the supervisor (it stores the mode)
            reset_thread_connection()
            log.error("risk: the kill ladder's event not stored (%s)", exc)
        self.link.report(SafetyModeRequested(mode=verdict.level, reason=reason, source=f"kill:{verdict.rule}"))
        if verdict.level == "halted":  # do not wait for the supervisor's round trip to stop resting orders
            self.send(self.executor_name, CancelOrders(reason=reason))

    def _publish(self) -> None:
        marks = self._marks()
        for symbol in set(self.instruments) | self._symbols():
            self.metrics.exposure.labels(symbol=symbol).set(float(self._exposure_usd(symbol)))
        realised = sum((p.realised for p in self.ledger.by_symbol.values()), ZERO)
        fees = sum((p.fees for p in self.ledger.by_symbol.values()), ZERO)
        unrealised = sum((p.unrealised(marks.get(s)) for s, p in self.ledger.by_symbol.items()), ZERO)
        for kind, value in (("realised", realised), ("unrealised", unrealised), ("fees", fees),
                            ("net", realised - fees + unrealised)):
            self.metrics.pnl.labels(kind=kind).set(float(value))


def _proposal_dict(p: Proposal) -> dict[str, Any]:
    return {"symbol": p.symbol, "side": p.side, "qty": p.qty, "price": p.price, "post_only": p.post_only,
            "time_in_force": p.time_in_force, "epoch": p.epoch, "state_ts_ns": p.state_ts_ns}
