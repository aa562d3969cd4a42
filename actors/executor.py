"""ExecutorActor (child `executor`): wiring only. The order state machine is core/execution/orders.py, the
paper venue core/execution/paper_venue.py.

In:  OrderRequest / CancelOrders (risk envelope), StateSnapshot (state holders, latest wins; the paper venue
     fills against it), SafetyModeChanged (supervisor: HALTED cancels every open order), ExecutionTick (timer),
     VenueEventsReady (the kraken venue's WebSocket reader: order reports wait in the venue's queue).
Out: OrderUpdate and Fill -> risk envelope; order and fill rows; one console line per execution.

Nothing is sent twice, nothing is sent unrecorded: the order row (pending_new, with the client order id the
risk envelope chose) is written BEFORE the venue is called; a row that cannot be written means the venue is
never called and the order is reported rejected. A fill is stored once per execution id and only a new one
is passed on. On (re)start, orders this process cannot know the fate of are reconciled first (the paper
venue: a resting paper order lives only in memory, so an order left open by an earlier instance is
cancelled — it never reached any real venue).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable, Protocol

from kraken_runtime.actors.base import ChildLink, SupervisedActor
from kraken_runtime.actors.execution_metrics import ExecutionMetrics
from kraken_runtime.core.config import ExecutorSettings
from kraken_runtime.core.execution.kraken_events import VenueEventsReady
from kraken_runtime.core.execution.orders import (
    Acked,
    Amended,
    Canceled,
    Executed,
    OrderEvent,
    OrderRecord,
    OutcomeUnknown,
    Rejected,
    apply_event,
)
from kraken_runtime.core.marketdata import StateSnapshot
from kraken_runtime.core.messages import BalancesChanged, CancelOrders, ExecutionTick, Fill, OrderRequest, OrderUpdate, SafetyModeChanged, Side
from kraken_runtime.storage import execution as store
from kraken_runtime.storage.db import leave_checkpoints_to_others, reset_thread_connection

log = logging.getLogger(__name__)

BPS = Decimal(10_000)
STOP_RETRY_S = 0.5  # pause between a clean stop's rounds of cancel + settle while orders are still unsettled
SWITCH_RETRY_NS = 2_000_000_000  # after a refused arm of the dead man's switch, wait this long before the next try
VenueEvent = tuple[str, OrderEvent]


class Venue(Protocol):
    """What the executor needs of a venue. Calls return the order events they caused, in order."""

    name: str

    def submit(self, order: OrderRecord, now_ns: int) -> list[VenueEvent]: ...

    def cancel(self, client_order_id: str, now_ns: int, reason: str) -> list[VenueEvent]: ...

    def on_snapshot(self, snapshot: StateSnapshot, now_ns: int) -> list[VenueEvent]: ...

    def poll(self, now_ns: int) -> list[VenueEvent]: ...

    def adopt(self, order: OrderRecord) -> None:
        """Track an order the database shows open; the next poll reconciles it with the venue."""

    def settle(self, now_ns: int) -> list[VenueEvent]:
        """Poll now, whatever the interval (start-up reconciliation, shutdown)."""

    def arm(self, timeout_s: int) -> bool:
        """Arm or refresh the venue's dead man's switch; False when the venue has none or refused."""

    def disarm(self) -> None:
        """Disarm the dead man's switch (clean shutdown)."""


# Optional venue methods, looked up with getattr (the paper venue has none of them):
#   bind_wake(wake: Callable[[], bool]) -> None: the venue starts its own reader (the kraken venue's private
#       WebSocket) and calls `wake` when reports wait for `poll`; False from `wake` means the executor is gone.
#   amend(client_order_id, price, now_ns) -> list[VenueEvent] | None: move a resting order's limit price in
#       place; None when the venue cannot now (the executor then re-prices by cancelling, as without it).
#   close() -> None: release sockets and threads (stop, crash).
#   take_balances() -> dict[str, Decimal] | None: the venue's balances when they changed (the kraken venue's
#       balances channel); passed on to the risk envelope as BalancesChanged.


class ExecutorActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, run_id: int, shard: str, mode: str, settings: ExecutorSettings,
                 venue_factory: Callable[[], Venue], send: Callable[[str, Any], bool], metrics: ExecutionMetrics,
                 quote_of: Callable[[str], str], risk_name: str = "risk", clock_ns: Callable[[], int] = time.time_ns,
                 console: Callable[[str], None] | None = None,
                 peer_state: Callable[[str], str | None] | None = None, market_fresh_ms: int = 10_000,
                 stop_budget_s: float = 4.0, monotonic_s: Callable[[], float] = time.monotonic) -> None:
        super().__init__(link=link)
        self.run_id = run_id
        self.shard = shard
        self.mode = mode
        self.settings = settings
        self.venue_factory = venue_factory
        self.venue: Venue | None = None
        self.send = send
        self.metrics = metrics
        self.quote_of = quote_of
        self.risk_name = risk_name
        self.clock_ns = clock_ns
        self.console = console or (lambda line: log.info("%s", line))
        self.orders: dict[str, OrderRecord] = {}
        self.order_ids: dict[str, int] = {}  # client order id -> orders.id
        self.submitted_ns: dict[str, int] = {}
        self._symbols_seen: set[str] = set()
        self.requests: dict[str, OrderRequest] = {}  # open orders' requests (style, intent expiry) for hybrids
        self.snapshots: dict[str, StateSnapshot] = {}
        self._last_known: dict[str, OrderRecord] = {}  # the final record of orders that just left `orders`
        self.safety_mode = "active"
        self.peer_state = peer_state  # the directory's view of a child (running | restarting | disabled ...)
        self.market_fresh_ns = market_fresh_ms * 1_000_000
        self.last_snapshot_ns = 0
        self.switch_armed_ns = 0  # when the dead man's switch was last armed (0: not armed)
        self.switch_failed_ns = 0  # when arming was last refused
        self.stop_budget_s = stop_budget_s  # how long a clean stop keeps trying to cancel and settle at the venue
        self.monotonic_s = monotonic_s
        self.priced_ns: dict[str, int] = {}  # resting post-only orders: when their price was last set (placed, amended)

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def on_supervised_start(self) -> None:
        leave_checkpoints_to_others()  # no WAL checkpoint (and its fsync) inside an order's commit
        self.venue = self.venue_factory()
        bind_wake = getattr(self.venue, "bind_wake", None)
        if bind_wake is not None:
            bind_wake(self._wake)
        self._reconcile_at_start()
        self.every(self.settings.tick_interval_ms / 1000, lambda n: ExecutionTick(n=n), name=f"{self.link.name}-tick")

    def on_supervised_stop(self) -> None:
        """Cancel every open order and learn its final status (fills that raced the cancel included) before the
        process goes. A venue call refused on the way (the key's REST counter spent after a restart storm, a
        timeout) is tried again until the stop budget runs out: an order left `new` in the database with its
        fills unrecorded is what this stop exists to prevent. What is still open then is named, and the next
        start reconciles it."""
        reason = "executor stopping (clean shutdown)"
        deadline = self.monotonic_s() + self.stop_budget_s
        self._cancel_all(reason)
        self._run(lambda venue, at: venue.settle(at))  # the final status of what was cancelled or raced a fill
        while self.orders and self.venue is not None and self.monotonic_s() < deadline:
            time.sleep(min(STOP_RETRY_S, max(0.0, deadline - self.monotonic_s())))  # the stopping actor's own thread
            self._cancel_all(reason)
            self._run(lambda venue, at: venue.settle(at))
        if self.orders:
            log.error("executor: stopped with %d order(s) not settled at the venue after %.1fs (%s); the next start "
                      "reconciles them", len(self.orders), self.stop_budget_s,
                      ", ".join(f"{cl} {o.status}" for cl, o in sorted(self.orders.items())))
        if self.venue is not None and self.switch_armed_ns:
            self.venue.disarm()
            self.switch_armed_ns = 0
            self.metrics.dead_mans_switch.set(0)
        self._close_venue()

    def on_supervised_failure(self) -> None:
        self._close_venue()  # its reader thread and socket must not outlive this instance

    def _close_venue(self) -> None:
        close = getattr(self.venue, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - closing a broken connection; it is gone either way
                log.warning("executor: closing the venue: %s", exc)

    def _forward_balances(self) -> None:
        take = getattr(self.venue, "take_balances", None)
        balances = take() if take is not None else None
        if balances:
            self.send(self.risk_name, BalancesChanged(balances=tuple(sorted(balances.items())), ts_ns=self.clock_ns()))

    def _wake(self) -> bool:
        """The venue's reader thread: reports are waiting. False once this actor is gone."""
        try:
            self.actor_ref.tell(VenueEventsReady())
            return True
        except Exception:  # noqa: BLE001 - pykka.ActorDeadError: the executor stopped or was replaced
            return False

    def _reconcile_at_start(self) -> None:
        """Before anything new goes out, every order the database shows open for this shard and mode is settled.
        Paper: a resting paper order lives only in memory, so one left open by an earlier instance is closed as
        canceled. Kraken: the venue adopts it and settles it at once (the private WebSocket's executions snapshot
        for what is still open; REST QueryOrders by txid, or OpenOrders/ClosedOrders by cl_ord_id for an unknown
        submit, for the rest; executed volume the database lacks becomes fills). A row a kill left behind its
        stored fills is first brought up to them."""
        now = self.clock_ns()
        left = store.open_orders_of_shard(self.shard, mode=self.mode, up_to_run_id=self.run_id)
        assert self.venue is not None
        for row in left:
            exec_ids, fees, fill_qty, fill_cost = store.fills_of_order_summary(int(row["id"]))
            record = _record_from_row(row, exec_ids=exec_ids, fees=fees)
            self.order_ids[record.client_order_id] = int(row["id"])
            if fill_qty > record.filled_qty:
                record = self._repair_from_fills(record, exec_ids, fill_qty, fill_cost, now)
                if not record.is_open:
                    continue
            self.orders[record.client_order_id] = record
            if self.mode == "paper":
                self._apply(record.client_order_id, Canceled(reason="paper venue restarted: a resting paper order does "
                                                              "not survive its executor", ts_ns=now))
            else:
                self.venue.adopt(record)
                self._tell_update(record, status=record.status, reason="reconciling", venue_error=False, now=now)
                if record.status == "pending_new":  # its sender died between the row and the answer: ambiguous
                    self._apply(record.client_order_id, OutcomeUnknown(reason="the process sending it stopped before "
                                                                       "the venue answered", ts_ns=now))
        if left and self.mode == "paper":
            log.warning("executor: %d paper order(s) left open by an earlier instance closed as canceled", len(left))
        elif left:
            self._run(lambda venue, at: venue.settle(at))
            still = [cl for cl in self.orders if self.orders[cl].status == "unknown"]
            log.warning("executor: reconciled %d order(s) left open by an earlier instance; %d still unknown",
                        len(left), len(still))

    def _repair_from_fills(self, record: OrderRecord, exec_ids: frozenset[str], qty: Decimal, cost: Decimal,
                           now: int) -> OrderRecord:
        """A process killed between storing a fill and updating its order row leaves the row behind its fills:
        the fills are the truth (each is unique by execution id and was stored first). The row is brought up
        to them; an order they fill completely is filled (its txid, when the row never learned it, is the
        prefix of the `<txid>-<cumulative volume>` execution id)."""
        exchange_id = record.exchange_order_id
        if not exchange_id and self.mode != "paper" and exec_ids:
            exchange_id = max(exec_ids).rsplit("-", 1)[0]
        status = "filled" if qty >= record.qty else ("partially_filled" if record.status in ("new", "partially_filled")
                                                      else record.status)
        fixed = replace(record, filled_qty=qty, avg_fill_price=cost / qty, status=status, exchange_order_id=exchange_id,
                        updated_at_ns=now)
        log.warning("executor: order %s row showed %s filled but its stored fills add up to %s (a stop between the "
                    "two writes); the row follows the fills (%s)", record.client_order_id, record.filled_qty, qty, status)
        store.update_order(record.client_order_id, now_ns=now, status=fixed.status, filled_qty=fixed.filled_qty,
                           avg_fill_price=fixed.avg_fill_price, exchange_order_id=fixed.exchange_order_id,
                           last_error=fixed.last_error)
        self._tell_update(fixed, status=fixed.status, reason="reconciling: the row follows its stored fills",
                          venue_error=False, now=now)
        return fixed

    # --- messages ---------------------------------------------------------------------------------------------

    def handle(self, message: Any) -> Any:
        match message:
            case OrderRequest():
                self._submit(message)
            case StateSnapshot():
                self.last_snapshot_ns = self.clock_ns()
                self.snapshots[message.symbol] = message
                self._run(lambda venue, now: venue.on_snapshot(message, now))
            case ExecutionTick():
                self._run(lambda venue, now: venue.poll(now))
                self._expire_makers()
                self._dead_mans_switch()
            case VenueEventsReady():
                self._run(lambda venue, now: venue.poll(now))
                self._forward_balances()
            case CancelOrders():
                self._cancel_all(message.reason, symbol=message.symbol)
            case SafetyModeChanged():
                self.safety_mode = message.mode
                if message.mode == "halted":
                    self._cancel_all(f"safety mode halted: {message.reason}")
            case _:
                raise TypeError(f"executor: unexpected message {type(message).__name__}")
        return None

    def _run(self, call: Callable[[Venue, int], list[VenueEvent]]) -> None:
        assert self.venue is not None
        for cl_ord_id, event in call(self.venue, self.clock_ns()):
            self._apply(cl_ord_id, event)

    def _submit(self, request: OrderRequest) -> None:
        now = self.clock_ns()
        record = OrderRecord(client_order_id=request.client_order_id, symbol=request.symbol, side=request.side,
                             qty=request.qty, price=request.price, post_only=request.post_only,
                             time_in_force=request.time_in_force, intent_id=request.intent_id,
                             strategies=request.strategies, created_at_ns=now, updated_at_ns=now)
        if request.client_order_id in self.orders:
            log.error("executor: client order id %s seen twice; the second request is dropped", request.client_order_id)
            return
        if any(o.status == "unknown" for o in self.orders.values()):
            # The ambiguous submit is looked up by cl_ord_id on the venue's poll schedule (a lookup per request
            # would spend the REST counter the lookup itself needs); until it is resolved nothing new goes out.
            self._tell_update(record, status="rejected", reason="an earlier order's outcome is still unknown; "
                              "nothing new goes out until it is resolved", venue_error=False, now=now)
            return
        try:
            self.order_ids[record.client_order_id] = store.insert_order(
                self.run_id, intent_id=request.intent_id, client_order_id=record.client_order_id,
                venue=self.venue.name if self.venue else "paper", mode=self.mode, symbol=record.symbol, side=record.side,
                order_type="limit", price=record.price, qty=record.qty, post_only=record.post_only,
                reduce_only=request.reduce_only, time_in_force=record.time_in_force, now_ns=now)
        except Exception as exc:  # noqa: BLE001 - no row, no order: the venue is never called
            reset_thread_connection()
            log.error("executor: order row for %s %s not stored (%s); not sent", record.side, record.symbol, exc)
            self._tell_update(record, status="rejected", reason="order row could not be stored; not sent", venue_error=False, now=now)
            return
        self.orders[record.client_order_id] = record
        self.requests[record.client_order_id] = request
        self.submitted_ns[record.client_order_id] = now
        self.metrics.orders.labels(symbol=record.symbol, side=record.side, status="pending_new").inc()
        self._tell_update(record, status="pending_new", reason="", venue_error=False, now=now)
        style = "post-only" if record.post_only else record.time_in_force
        self.console(f"order: {record.side.upper()} {record.qty} {record.symbol} @ {record.price} {style} sent "
                     f"(order {record.client_order_id}, intent #{record.intent_id})")
        self._run(lambda venue, at: venue.submit(record, at))

    def _apply(self, cl_ord_id: str, event: OrderEvent) -> None:
        record = self.orders.get(cl_ord_id)
        if record is None:
            log.warning("executor: %s for unknown order %s ignored", type(event).__name__, cl_ord_id)
            return
        transition = apply_event(record, event)
        if not transition.changed:
            return
        order = transition.order
        self.orders[cl_ord_id] = order
        now = self.clock_ns()
        if transition.fill is not None:
            self._store_fill(order, transition.fill, now)
        try:
            store.update_order(cl_ord_id, now_ns=now, status=order.status, filled_qty=order.filled_qty,
                               avg_fill_price=order.avg_fill_price, exchange_order_id=order.exchange_order_id,
                               last_error=order.last_error, price=order.price if order.price != record.price else None)
        except Exception as exc:  # noqa: BLE001 - the in-memory record stays right; the next change rewrites the row
            reset_thread_connection()
            log.error("executor: order %s status %s not stored: %s", cl_ord_id, order.status, exc)
        if order.status != record.status:
            self.metrics.orders.labels(symbol=order.symbol, side=order.side, status=order.status).inc()
        if isinstance(event, Acked) and cl_ord_id in self.submitted_ns:
            self.metrics.ack_seconds.observe((now - self.submitted_ns[cl_ord_id]) / 1e9)
        venue_error = isinstance(event, Rejected) and record.status in ("pending_new", "unknown")
        reason = getattr(event, "reason", "")
        if isinstance(event, Rejected):
            log.warning("executor: order %s %s %s @ %s rejected: %s", cl_ord_id, order.side, order.symbol, order.price, reason)
        if isinstance(event, Amended):
            self.priced_ns[cl_ord_id] = now
            self.console(f"order: {order.side.upper()} {order.symbol} re-priced {record.price} -> {order.price} "
                         f"(amended in place; order {cl_ord_id})")
        self._tell_update(order, status=order.status, reason=reason, venue_error=venue_error, now=now)
        if not order.is_open and order.status in ("canceled", "expired"):
            self.console(f"order: {order.side.upper()} {order.symbol} @ {order.price} {order.status} with "
                         f"{order.filled_qty}/{order.qty} filled ({reason or 'no reason given'}; order {cl_ord_id})")
        if not order.is_open:
            self.submitted_ns.pop(cl_ord_id, None)
            self.priced_ns.pop(cl_ord_id, None)
            self.orders.pop(cl_ord_id, None)
            self._last_known = {cl_ord_id: order}  # read right after by a hybrid's crossing
            if not isinstance(event, Canceled) or "hybrid" not in event.reason:
                self.requests.pop(cl_ord_id, None)
        self._publish_open()

    def _store_fill(self, order: OrderRecord, fill: Executed, now: int) -> None:
        new = True
        try:
            new = store.insert_fill(self.run_id, order_id=self.order_ids[order.client_order_id], exec_id=fill.exec_id,
                                    symbol=order.symbol, side=order.side, price=fill.price, qty=fill.qty, fee=fill.fee,
                                    fee_currency=self.quote_of(order.symbol), liquidity=fill.liquidity,
                                    ts_exchange_ns=fill.ts_ns, now_ns=now)
        except Exception as exc:  # noqa: BLE001 - re-raised: a fill we cannot store must not pass unrecorded
            reset_thread_connection()
            log.error("executor: fill %s of %s not stored: %s", fill.exec_id, order.client_order_id, exc)
            raise
        if not new:
            return
        self.metrics.fills.labels(symbol=order.symbol, side=order.side, liquidity=fill.liquidity).inc()
        self.console(f"execution: {order.side.upper()} {fill.qty} {order.symbol} @ {fill.price} {fill.liquidity} "
                     f"fee {fill.fee:.6f} {self.quote_of(order.symbol)} (order {order.client_order_id}, "
                     f"{order.filled_qty}/{order.qty} filled, strategies {'+'.join(order.strategies) or '-'})")
        self.send(self.risk_name, Fill(exec_id=fill.exec_id, client_order_id=order.client_order_id, intent_id=order.intent_id,
                                       symbol=order.symbol, side=side_of(order.side), price=fill.price, qty=fill.qty,
                                       fee=fill.fee, liquidity=fill.liquidity, strategies=order.strategies,
                                       ts_exchange_ns=fill.ts_ns, ts_recv_ns=now))

    def _tell_update(self, order: OrderRecord, *, status: str, reason: str, venue_error: bool, now: int) -> None:
        self.send(self.risk_name, OrderUpdate(
            client_order_id=order.client_order_id, intent_id=order.intent_id, symbol=order.symbol,
            side=side_of(order.side), status=status, qty=order.qty, filled_qty=order.filled_qty,
            price=order.price, post_only=order.post_only, reason=reason, venue_error=venue_error, ts_ns=now))

    def _expire_makers(self) -> None:
        """A resting post-only order (maker or hybrid) still open after maker_timeout_ms is cancelled: the
        signal that placed it is that old, and a stale quote is a free option for others. T = hybrid_cross_ms
        after its price was last set, while its intent has not expired (the signal still holds) and the mode is
        active: on a venue that amends (the kraken venue over its WebSocket), an order no longer at the touch is
        re-priced in place to the touch (post-only, at most hybrid_max_cross_bps from its first price; same
        ids, no cancel and new order); a hybrid order at the touch (or on a venue without amend) is cancelled
        and its rest crosses as an IOC at the opposite best, at most hybrid_max_cross_bps worse than its maker
        price (never unbounded; the same approved intent, not decided again)."""
        now = self.clock_ns()
        limit_ns = self.settings.maker_timeout_ms * 1_000_000
        cross_ns = self.settings.hybrid_cross_ms * 1_000_000
        reason = f"maker timeout {self.settings.maker_timeout_ms} ms"
        assert self.venue is not None
        amend = getattr(self.venue, "amend", None)
        for cl_ord_id, order in list(self.orders.items()):
            if not order.post_only or order.status not in ("new", "partially_filled"):
                continue
            request = self.requests.get(cl_ord_id)
            priced_ns = self.priced_ns.get(cl_ord_id, order.created_at_ns)
            holds = (request is not None and cross_ns > 0 and now - priced_ns >= cross_ns and now < request.expires_at_ns
                     and self.safety_mode == "active")
            if holds and request is not None and amend is not None and now - order.created_at_ns < limit_ns:
                touch = self._touch_price(order, request)
                events = amend(cl_ord_id, touch, now) if touch is not None else None
                if events is not None:
                    self.priced_ns[cl_ord_id] = now  # the next look is T ms from now, amended or refused
                    for cl, event in events:
                        self._apply(cl, event)
                    continue
            if holds and request is not None and request.style == "hybrid":
                price = self._cross_price(order)
                if price is not None:
                    self._cross(order, request, price, now)
                    continue
            if now - order.created_at_ns >= limit_ns:
                for cl, event in self.venue.cancel(cl_ord_id, now, reason):
                    self._apply(cl, event)

    def _touch_price(self, order: OrderRecord, request: OrderRequest) -> Decimal | None:
        """Where a resting post-only order no longer at the touch is re-priced: its own side's best (the best
        bid for a buy), when the market moved away from it by at most hybrid_max_cross_bps of the price it was
        first placed at (a quote never chases further). None: at the touch already, or too far."""
        snapshot = self.snapshots.get(order.symbol)
        if snapshot is None or not snapshot.ready:
            return None
        touch = snapshot.best_bid if order.side == "buy" else snapshot.best_ask
        if touch is None or touch == order.price:
            return None
        bps = self.settings.hybrid_max_cross_bps / BPS
        if order.side == "buy":
            if touch < order.price or touch > request.price * (1 + bps):
                return None
        elif touch > order.price or touch < request.price * (1 - bps):
            return None
        return touch

    def _cross_price(self, order: OrderRecord) -> Decimal | None:
        snapshot = self.snapshots.get(order.symbol)
        if snapshot is None or not snapshot.ready:
            return None
        best = snapshot.best_ask if order.side == "buy" else snapshot.best_bid
        if best is None:
            return None
        worst = order.price * (1 + self.settings.hybrid_max_cross_bps / BPS if order.side == "buy"
                               else 1 - self.settings.hybrid_max_cross_bps / BPS)
        if (order.side == "buy" and best > worst) or (order.side == "sell" and best < worst):
            return None  # the market moved away further than a hybrid may chase
        return best

    def _cross(self, order: OrderRecord, request: OrderRequest, price: Decimal, now: int) -> None:
        assert self.venue is not None
        for cl, event in self.venue.cancel(order.client_order_id, now, "hybrid: crossing as a taker"):
            self._apply(cl, event)
        left = self.orders.get(order.client_order_id)
        if left is not None and left.is_open:
            return  # not cancelled (yet): never two orders for one intent at once
        final = self.requests.pop(order.client_order_id, request)
        record = self._last_known.get(order.client_order_id, order)
        remaining = record.qty - record.filled_qty
        if remaining <= 0:
            return
        self._submit(replace(final, client_order_id=uuid.uuid4().hex, qty=remaining, price=price, post_only=False,
                             time_in_force="ioc", style="taker", created_at_ns=now))

    def _dead_mans_switch(self) -> None:
        """Kraken venue: CancelAllOrdersAfter(dead_mans_switch_s), refreshed every dead_mans_switch_refresh_s only
        while the feeds (a fresh snapshot), the risk envelope (running) and this executor are healthy. When they
        are not, it is left to run out and the exchange cancels everything."""
        timeout_s = self.settings.dead_mans_switch_s
        if self.venue is None or self.mode == "paper" or timeout_s <= 0:
            return
        now = self.clock_ns()
        if self.switch_armed_ns and now - self.switch_armed_ns < self.settings.dead_mans_switch_refresh_s * 1_000_000_000:
            return
        if now - self.switch_failed_ns < SWITCH_RETRY_NS:  # a refused arm is tried again after a pause, not every tick
            return
        healthy = now - self.last_snapshot_ns <= self.market_fresh_ns and (
            self.peer_state is None or self.peer_state(self.risk_name) == "running")
        if not healthy:
            if self.switch_armed_ns and now - self.switch_armed_ns >= timeout_s * 1_000_000_000:
                self.switch_armed_ns = 0
                self.metrics.dead_mans_switch.set(0)
            return
        if self.venue.arm(timeout_s):
            self.switch_armed_ns = now
            self.metrics.dead_mans_switch.set(1)
        else:
            self.switch_failed_ns = now

    def _cancel_all(self, reason: str, *, symbol: str = "") -> None:
        if self.venue is None:
            return
        for cl_ord_id, order in list(self.orders.items()):
            if symbol and order.symbol != symbol:
                continue
            events = self.venue.cancel(cl_ord_id, self.clock_ns(), reason)
            if not events and order.status == "pending_new":
                events = [(cl_ord_id, Canceled(reason=reason, ts_ns=self.clock_ns()))]
            for cl, event in events:
                self._apply(cl, event)

    def _publish_open(self) -> None:
        counts: dict[str, int] = {}
        for order in self.orders.values():
            counts[order.symbol] = counts.get(order.symbol, 0) + 1
        self._symbols_seen |= set(counts)
        for symbol in self._symbols_seen:
            self.metrics.open_orders.labels(symbol=symbol).set(counts.get(symbol, 0))


def side_of(side: str) -> Side:
    if side == "buy":
        return "buy"
    if side == "sell":
        return "sell"
    raise ValueError(f"order side {side!r} is neither buy nor sell")


def _record_from_row(row: dict[str, Any], *, exec_ids: frozenset[str] = frozenset(), fees: Decimal = Decimal(0)) -> OrderRecord:
    return OrderRecord(client_order_id=row["client_order_id"], symbol=row["symbol"], side=row["side"], qty=Decimal(row["qty"]),
                       price=Decimal(row["price"]), post_only=bool(row["post_only"]), time_in_force=row["time_in_force"],
                       status=row["status"], exchange_order_id=row["exchange_order_id"], exec_ids=exec_ids, fees=fees,
                       filled_qty=Decimal(row["filled_qty"]), avg_fill_price=row["avg_fill_price"],
                       intent_id=int(row["intent_id"] or 0), strategies=tuple(row["strategies"]),
                       created_at_ns=int(row["created_at_ns"]), updated_at_ns=int(row["updated_at_ns"]))
