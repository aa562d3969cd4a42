"""The kraken venue (live) and the shadow venue (the same with `validate=true`). Runs on the executor's thread;
every call is bounded (the REST client's timeouts, the WebSocket request wait).

Two paths to the exchange. With a private WebSocket session (actors/kraken_ws_session.py; live mode) that is up,
orders go out and are followed over it; when it is down (not yet connected, dropped, reconnecting), over
Kraken's signed REST API (core/kraken/rest.py) as before. Shadow mode uses REST only (nothing rests).

- submit: WS `add_order` (or REST AddOrder) with our cl_ord_id and a `deadline` (now + the venue timeout: the
  matching engine refuses the order after it, so an order not found by its cl_ord_id past that is provably never
  placed), limit, post-only or IOC. The executor's thread waits for the ack, at most the venue timeout. An ack
  that does not come (timeout, connection lost after the request was written) leaves the order `unknown`: it is
  never sent again, and is resolved by its cl_ord_id (a report on the executions channel naming it, or REST
  OpenOrders/ClosedOrders on the poll schedule; past its deadline and not found: never placed). A request that
  could not be written goes over REST instead. An exchange refusal is a rejection (a venue error for the kill
  ladder). Shadow: validated by the exchange, acknowledged as `VALIDATED` and expired at once with the reason.
- Order reports: the executions channel's reports are drained from the session's queue on the executor's
  thread (`poll`, woken by the session's doorbell) and mapped by core/execution/kraken_events.py. Fills are
  booked by cumulative executed volume with the execution id `<txid>-<cumulative volume>` on both paths, so a
  fill seen by the channel and again by a REST poll, or after a restart, is stored once.
- poll: while the session is up, REST QueryOrders only for the orders that need it: an unknown submit past its
  deadline (placed, it would have shown on the channel by its cl_ord_id), an order the channel showed volume
  for that it did not report trade by trade, an order absent from the snapshot after a
  (re)connect, and an order the channel has said nothing about for `WS_QUIET_RECHECK_S`. While it is down: every
  tracked order every `kraken_poll_interval_ms`, and only while the modelled REST call counter leaves room for
  the calls that matter more (cancels and the dead man's switch). QueryOrders costs 1 (TradesHistory costs 4).
- Reconciliation at start and after every reconnect: the executions snapshot's open orders are matched with the
  tracked ones; a tracked order absent from it (filled, canceled or expired while we were away) is looked up
  once by REST for its final status and fills; an unknown submit found in it by cl_ord_id is acknowledged.
  At start, orders the database shows open are adopted (`adopt`) and settled the same way (`settle` waits,
  bounded, for the session's first snapshot; without it, REST answers for all of them).
- cancel: WS `cancel_order` by cl_ord_id (or REST CancelOrder), then the order's final report (fills that raced
  the cancel first) is awaited, bounded; an order whose final status could not be learned stays tracked until
  it is (the next poll).
- amend: WS `amend_order` (post-only, same ids, new limit price; the executor re-prices resting post-only
  orders to the touch with it). None when the session is down: the executor then cancels as before.
- The dead man's switch is cancel_all_orders_after over WS when up, CancelAllOrdersAfter over REST otherwise,
  armed and refreshed by the executor (`arm`, `disarm`).
- balances: the balances channel's snapshot and ledger updates keep `balances` (asset -> total) current; the
  executor hands them to the risk envelope (`take_balances`) for its balance check. They come on the same
  connection as the order reports, after the trade that moved them, so the envelope's own booking of a fill is
  replaced by the exchange's figure right after.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable, Mapping

from kraken_runtime.actors.kraken_ws_session import KrakenWsSession, SessionChanged, SessionDown
from kraken_runtime.core.execution.kraken_events import Booked, fill_from_totals, map_execution
from kraken_runtime.core.execution.orders import (
    Acked,
    Amended,
    Canceled,
    Expired,
    OrderEvent,
    OrderRecord,
    OutcomeUnknown,
    Rejected,
)
from kraken_runtime.core.kraken import messages as m
from kraken_runtime.core.kraken.errors import KrakenError, OrderOutcomeUnknown, TransportError, UnknownOrder
from kraken_runtime.core.kraken.ratelimit import RestCallCounter
from kraken_runtime.core.kraken.rest import KrakenRestClient
from kraken_runtime.core.marketdata import StateSnapshot

log = logging.getLogger(__name__)

VenueEvent = tuple[str, OrderEvent]
ZERO = Decimal(0)
POLL_RESERVE = 5  # REST counter points a poll leaves free for cancels and the dead man's switch
NEVER_PLACED_MARGIN_S = 5.0  # clock skew allowance past an AddOrder's deadline
WS_QUIET_RECHECK_S = 60.0  # while the session is up, an order the channel said nothing about for this long is looked at by REST
START_SNAPSHOT_WAIT_S = 5.0  # start-up reconciliation waits at most this long for the session's first snapshot
GONE_ERRORS = ("Unknown order", "Invalid order")  # WS cancel of an order no longer open
# add_order answers after which the order may still have been placed (the REST client treats the same errors so)
AMBIGUOUS_ERRORS = ("EService:Unavailable", "EService:Busy", "EGeneral:Internal error")


def _rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _first_error(exc: KrakenError) -> str:
    return exc.errors[0] if getattr(exc, "errors", None) else f"{type(exc).__name__}: {exc}"


class KrakenVenue:
    def __init__(self, *, client: KrakenRestClient, pairs: Mapping[str, str], validate_only: bool, poll_interval_ns: int,
                 rest_counter: RestCallCounter | None = None, monotonic_s: Callable[[], float] = time.monotonic,
                 deadline_s: float = 5.0, session: KrakenWsSession | None = None) -> None:
        self.client = client
        self.deadline_s = deadline_s  # every order carries deadline = now + this: the engine refuses it later
        self.rest_counter = rest_counter
        self.monotonic_s = monotonic_s
        self.pairs = dict(pairs)
        self.validate_only = validate_only
        self.session = None if validate_only else session
        self.name = "kraken"
        self.poll_interval_ns = poll_interval_ns
        self._next_poll_ns = 0
        self._tracked: dict[str, OrderRecord] = {}  # cl_ord_id -> the order as last seen by us
        self._txids: dict[str, str] = {}  # cl_ord_id -> Kraken's txid
        self._by_txid: dict[str, str] = {}  # Kraken's txid -> cl_ord_id
        self._executed: dict[str, Booked] = {}  # cl_ord_id -> what is booked (volume, cost, fee)
        self._last_poll_ok = True  # whether the latest look at the exchange answered for every tracked order
        self._lookup: set[str] = set()  # orders a REST look must settle (while the session is up)
        self._ws_seen_ns: dict[str, int] = {}  # cl_ord_id -> when the session last confirmed what we know of it
        self._cancel_reasons: dict[str, str] = {}  # our cancel's reason, for the channel's canceled report
        self._confirmed_generation = 0  # the session connection whose snapshot has been reconciled
        self.balances: dict[str, Decimal] = {}  # the balances channel: asset -> total
        self._balances_changed = False
        self.rest_polls = 0  # QueryOrders calls made (for tests and the bench)

    # --- the Venue protocol -----------------------------------------------------------------------------------

    def bind_wake(self, wake: Callable[[], bool]) -> None:
        """Start the private WebSocket session; `wake` tells the executor that reports are waiting."""
        if self.session is not None:
            self.session.start(wake)

    def submit(self, order: OrderRecord, now_ns: int) -> list[VenueEvent]:
        cl = order.client_order_id
        pair = self.pairs.get(order.symbol)
        if pair is None:
            return [(cl, Rejected(reason=f"no Kraken pair known for {order.symbol}", ts_ns=now_ns))]
        events = self._drain(now_ns)
        if self._ws_up():
            try:
                return events + self._submit_ws(order, now_ns)
            except SessionDown as exc:
                log.warning("kraken venue: add_order not written to the WebSocket (%s); sending over REST", exc)
        return events + self._submit_rest(order, pair, now_ns)

    def _submit_ws(self, order: OrderRecord, now_ns: int) -> list[VenueEvent]:
        assert self.session is not None
        cl = order.client_order_id
        deadline = _rfc3339(now_ns + int(self.deadline_s * 1e9))

        def build(req_id: int, token: str) -> m.Request:
            return m.AddOrder(order_type=m.OrderType.LIMIT, side=m.Side(order.side), symbol=order.symbol, token=token,
                              order_qty=order.qty, limit_price=order.price,
                              time_in_force=m.TimeInForce.IOC if order.time_in_force == "ioc" else None,
                              post_only=True if order.post_only else None, deadline=deadline, cl_ord_id=cl, req_id=req_id)

        answer = self.session.request(build, self.deadline_s)
        if answer is None:
            self._track(order)
            return [(cl, OutcomeUnknown(reason="add_order: no answer on the WebSocket within the venue timeout "
                                         "(it may have been placed; resolved by cl_ord_id)", ts_ns=now_ns))]
        if isinstance(answer, m.MethodError):
            if answer.error.startswith(AMBIGUOUS_ERRORS):  # as over REST: the engine may have taken it
                self._track(order)
                return [(cl, OutcomeUnknown(reason=f"add_order: {answer.error} (resolved by cl_ord_id)", ts_ns=now_ns))]
            return [(cl, Rejected(reason=answer.error, ts_ns=now_ns))]
        if not isinstance(answer, m.AddOrderAck) or not answer.order_id:
            self._track(order)
            return [(cl, OutcomeUnknown(reason=f"add_order: unexpected answer {type(answer).__name__}", ts_ns=now_ns))]
        self._track(order, answer.order_id)
        self._ws_seen_ns[cl] = now_ns
        # Reports that came with the ack (fills of a taker, a post-only cancel) are taken now.
        return [(cl, Acked(exchange_order_id=answer.order_id, ts_ns=now_ns))] + self._drain(now_ns)

    def _submit_rest(self, order: OrderRecord, pair: str, now_ns: int) -> list[VenueEvent]:
        cl = order.client_order_id
        try:
            result = self.client.add_order(
                pair=pair, side=order.side, ordertype="limit", volume=order.qty, price=order.price, cl_ord_id=cl,
                oflags=("post",) if order.post_only else (), timeinforce="IOC" if order.time_in_force == "ioc" else None,
                deadline=_rfc3339(now_ns + int(self.deadline_s * 1e9)), validate=self.validate_only)
        except OrderOutcomeUnknown as exc:
            self._track(order)
            return [(cl, OutcomeUnknown(reason=str(exc)[:300], ts_ns=now_ns))]
        except TransportError as exc:
            if exc.may_have_reached_exchange:
                self._track(order)
                return [(cl, OutcomeUnknown(reason=f"{type(exc).__name__}: {exc}"[:300], ts_ns=now_ns))]
            return [(cl, Rejected(reason=f"not sent: {type(exc).__name__}: {exc}"[:300], ts_ns=now_ns))]
        except KrakenError as exc:
            return [(cl, Rejected(reason=_first_error(exc), ts_ns=now_ns))]
        if self.validate_only:
            return [(cl, Acked(exchange_order_id="VALIDATED", ts_ns=now_ns)),
                    (cl, Expired(reason="shadow: validated by the exchange, not placed", ts_ns=now_ns))]
        txid = result.txids[0]
        self._track(order, txid)
        self._next_poll_ns = min(self._next_poll_ns or now_ns, now_ns)  # look at it on the next tick
        return [(cl, Acked(exchange_order_id=txid, ts_ns=now_ns))]

    def cancel(self, client_order_id: str, now_ns: int, reason: str) -> list[VenueEvent]:
        if client_order_id not in self._tracked:
            return []
        self._cancel_reasons[client_order_id] = reason
        events = self._drain(now_ns)
        if client_order_id not in self._tracked:
            return events  # its final report was waiting
        if self._ws_up() and client_order_id in self._txids:
            try:
                return events + self._cancel_ws(client_order_id, now_ns, reason)
            except SessionDown as exc:
                log.warning("kraken venue: cancel_order not written to the WebSocket (%s); cancelling over REST", exc)
        return events + self._cancel_rest(client_order_id, now_ns, reason)

    def _cancel_ws(self, cl: str, now_ns: int, reason: str) -> list[VenueEvent]:
        assert self.session is not None
        answer = self.session.request(lambda req_id, token: m.CancelOrder(token=token, cl_ord_ids=(cl,), req_id=req_id),
                                      self.deadline_s)
        if isinstance(answer, m.MethodError) and not any(text in answer.error for text in GONE_ERRORS):
            log.warning("kraken venue: cancel of %s refused: %s", cl, answer.error)
            return self._drain(now_ns)
        if answer is None:  # no answer within the venue timeout (or the connection went): a REST look settles it
            self._lookup.add(cl)
            self._next_poll_ns = now_ns
            return self._drain(now_ns)
        # Accepted, or no longer open (filled, canceled): its final report follows on the channel; wait for it.
        events = self._await_gone(cl, now_ns)
        if cl in self._tracked:
            self._lookup.add(cl)  # no final report in time (or no answer at all): a REST look settles it
            self._next_poll_ns = now_ns
        return events

    def _cancel_rest(self, cl: str, now_ns: int, reason: str) -> list[VenueEvent]:
        try:
            self.client.cancel_order(cl_ord_id=cl)
        except UnknownOrder:  # not open at the exchange (filled, canceled, or never placed): look now
            return self._poll_now(now_ns)
        except KrakenError as exc:
            log.warning("kraken venue: cancel of %s failed: %s", cl, _first_error(exc))
            self._next_poll_ns = now_ns
            return []
        # Fills that raced the cancel are fetched before the order leaves our tracking. When that look fails
        # (the REST counter is spent, say) the order stays tracked: the next poll finds it canceled at the
        # exchange, with whatever filled before the cancel, and only then does it leave.
        events = self._poll_now(now_ns)
        if cl in self._tracked and self._last_poll_ok:
            self._forget(cl)
            events.append((cl, Canceled(reason=reason, ts_ns=now_ns)))
        return events

    def amend(self, client_order_id: str, price: Decimal, now_ns: int) -> list[VenueEvent] | None:
        """Move a resting post-only order's limit price (same ids). None: not possible now (the session is down,
        or the order is not one we know resting): the caller decides without it."""
        order = self._tracked.get(client_order_id)
        if order is None or not self._ws_up() or client_order_id not in self._txids:
            return None
        assert self.session is not None

        def build(req_id: int, token: str) -> m.Request:
            return m.AmendOrder(token=token, order_qty=order.qty, cl_ord_id=client_order_id, limit_price=price,
                                post_only=True, deadline=_rfc3339(now_ns + int(self.deadline_s * 1e9)), req_id=req_id)

        try:
            answer = self.session.request(build, self.deadline_s)
        except SessionDown:
            return None
        events = self._drain(now_ns)
        if answer is None:
            log.warning("kraken venue: amend of %s unanswered; its reports will tell", client_order_id)
            return events
        if isinstance(answer, m.MethodError):
            log.info("kraken venue: amend of %s to %s refused: %s", client_order_id, price, answer.error)
            return events
        if client_order_id in self._tracked:
            self._tracked[client_order_id] = replace(self._tracked[client_order_id], price=price)
        return events + [(client_order_id, Amended(price=price, ts_ns=now_ns))]

    def on_snapshot(self, snapshot: StateSnapshot, now_ns: int) -> list[VenueEvent]:
        return []

    def poll(self, now_ns: int) -> list[VenueEvent]:
        events = self._drain(now_ns)
        if not self._tracked or now_ns < self._next_poll_ns:
            return events
        due = self._rest_due(now_ns)
        if not due:
            return events
        if self.rest_counter is not None and self.rest_counter.wait_time(1 + POLL_RESERVE, self.monotonic_s()) > 0:
            return events  # leave the counter to cancels and the dead man's switch; poll on a later tick
        return events + self._poll_now(now_ns, due)

    def settle(self, now_ns: int) -> list[VenueEvent]:
        """Look now, whatever the interval and the counter say (start-up reconciliation, shutdown): the session's
        reports first (at start, its first snapshot, waited for briefly), then REST for what they leave open."""
        if self.session is not None and self._confirmed_generation == 0 and self._tracked:
            self.session.wait_up(min(START_SNAPSHOT_WAIT_S, self.deadline_s))
        events = self._drain(now_ns)
        if not self._tracked:
            return events
        due = self._rest_due(now_ns, settling=True)
        return events + (self._poll_now(now_ns, due) if due else [])

    # --- reconciliation -----------------------------------------------------------------------------------

    def adopt(self, order: OrderRecord) -> None:
        """An order the database shows open: track it; the session's snapshot or a REST look resolves it."""
        txid = order.exchange_order_id if order.exchange_order_id and order.exchange_order_id != "VALIDATED" else None
        self._track(order, txid)
        cost = (order.avg_fill_price or ZERO) * order.filled_qty
        self._executed[order.client_order_id] = Booked(order.filled_qty, cost, order.fees)  # what is booked already
        self._next_poll_ns = 0

    @property
    def open_ids(self) -> tuple[str, ...]:
        return tuple(self._tracked)

    # --- internals -------------------------------------------------------------------------------------------

    def _ws_up(self) -> bool:
        return self.session is not None and self.session.up

    def _track(self, order: OrderRecord, txid: str | None = None) -> None:
        cl = order.client_order_id
        self._tracked[cl] = order
        self._executed.setdefault(cl, Booked())
        if txid:
            self._txids[cl] = txid
            self._by_txid[txid] = cl

    def _forget(self, cl: str) -> None:
        self._tracked.pop(cl, None)
        txid = self._txids.pop(cl, None)
        if txid is not None:
            self._by_txid.pop(txid, None)
        self._executed.pop(cl, None)
        self._lookup.discard(cl)
        self._ws_seen_ns.pop(cl, None)
        self._cancel_reasons.pop(cl, None)

    def _rest_due(self, now_ns: int, *, settling: bool = False) -> list[str]:
        """The tracked orders a REST look is for now: all of them while the session is down (or not
        reconciled yet); otherwise only those the session cannot settle."""
        if not self._ws_up() or self._confirmed_generation == 0:
            return list(self._tracked)
        quiet_ns = int(WS_QUIET_RECHECK_S * 1e9)
        never_placed_ns = int((self.deadline_s + NEVER_PLACED_MARGIN_S) * 1e9)
        # An unknown submit placed by the exchange shows on the channel (its reports name the cl_ord_id): REST is
        # asked once it is past its deadline (to prove it never placed), or when a reconnect's snapshot lacks it.
        return [cl for cl, order in self._tracked.items()
                if cl in self._lookup
                or (cl not in self._txids and now_ns - order.created_at_ns > never_placed_ns)
                or (cl in self._txids and not settling and now_ns - self._ws_seen_ns.get(cl, 0) > quiet_ns)]

    def _drain(self, now_ns: int) -> list[VenueEvent]:
        if self.session is None:
            return []
        events: list[VenueEvent] = []
        for item in self.session.drain():
            if isinstance(item, SessionChanged):
                if item.up:
                    log.info("kraken venue: private WebSocket up (connection %d); reconciling", item.generation)
                else:
                    log.warning("kraken venue: private WebSocket down; REST until it is back")
                    self._next_poll_ns = now_ns
            elif isinstance(item, m.ExecutionsMessage):
                snapshot = item.type == m.FrameType.SNAPSHOT
                for report in item.executions:
                    self._on_report(report, snapshot, now_ns, events)
                if snapshot:
                    self._reconcile(item, now_ns)
            elif isinstance(item, m.AddOrderAck):  # an ack that came after its wait: the txid of an unknown submit
                cl = item.cl_ord_id
                if cl and cl in self._tracked and cl not in self._txids and item.order_id:
                    self._txids[cl] = item.order_id
                    self._by_txid[item.order_id] = cl
                    events.append((cl, Acked(exchange_order_id=item.order_id, ts_ns=now_ns)))
            elif isinstance(item, m.BalancesSnapshot):
                self.balances = {b.asset: b.balance for b in item.balances}
                self._balances_changed = True
            elif isinstance(item, m.BalancesUpdate):
                for entry in item.entries:
                    self.balances[entry.asset] = entry.balance
                self._balances_changed = True
        return events

    def take_balances(self) -> dict[str, Decimal] | None:
        """The balances channel's totals when they changed since the last call (for the risk envelope)."""
        if not self._balances_changed:
            return None
        self._balances_changed = False
        return dict(self.balances)

    def _on_report(self, report: m.Execution, snapshot: bool, now_ns: int, events: list[VenueEvent]) -> None:
        cl = self._by_txid.get(report.order_id)
        if cl is None and report.cl_ord_id in self._tracked:
            cl = report.cl_ord_id
        if cl is None or cl not in self._tracked:
            return  # another process's order on the same key, or one we are done with
        order = self._tracked[cl]
        txid = self._txids.get(cl)
        mapped = map_execution(report, txid=txid, booked=self._executed.get(cl, Booked()), order_qty=order.qty,
                               post_only=order.post_only, snapshot=snapshot, now_ns=now_ns,
                               cancel_reason=self._cancel_reasons.get(cl))
        if txid is None and report.order_id:
            self._txids[cl] = report.order_id
            self._by_txid[report.order_id] = cl
        self._executed[cl] = mapped.booked
        self._ws_seen_ns[cl] = now_ns
        events.extend((cl, event) for event in mapped.events)
        if mapped.lookup:
            self._lookup.add(cl)
            self._next_poll_ns = min(self._next_poll_ns, now_ns)
        elif mapped.done:
            self._forget(cl)

    def _reconcile(self, snapshot: m.ExecutionsMessage, now_ns: int) -> None:
        """After a (re)connect: tracked orders the snapshot does not show open are looked up once by REST."""
        open_ids = {r.order_id for r in snapshot.executions if r.exec_type != m.ExecType.TRADE}
        open_cls = {r.cl_ord_id for r in snapshot.executions if r.cl_ord_id and r.exec_type != m.ExecType.TRADE}
        for cl in list(self._tracked):
            txid = self._txids.get(cl)
            if (txid is None or txid not in open_ids) and cl not in open_cls:
                self._lookup.add(cl)
        self._confirmed_generation = self.session.generation if self.session is not None else 0
        self._next_poll_ns = now_ns
        if self._lookup:
            log.info("kraken venue: %d tracked order(s) not open in the snapshot; looking them up",
                     len(self._lookup))

    def _poll_now(self, now_ns: int, only: list[str] | None = None) -> list[VenueEvent]:
        self._next_poll_ns = now_ns + self.poll_interval_ns
        self._last_poll_ok = False
        events: list[VenueEvent] = []
        wanted = set(self._tracked) if only is None else set(only) & set(self._tracked)
        try:
            self._resolve_unknown(now_ns, events, wanted)
            infos = {}
            txids = [self._txids[cl] for cl in self._tracked if cl in self._txids and cl in wanted]
            for start in range(0, len(txids), 50):
                self.rest_polls += 1
                for info in self.client.query_orders(txids[start:start + 50]):
                    infos[info.txid] = info
            for txid, info in infos.items():
                cl = self._by_txid.get(txid)
                if cl is None or cl not in self._tracked:
                    continue
                self._lookup.discard(cl)
                self._ws_seen_ns[cl] = now_ns
                order = self._tracked[cl]
                fill, self._executed[cl] = fill_from_totals(
                    txid, self._executed.get(cl, Booked()), vol_exec=info.vol_exec, cost=info.cost, fee=info.fee,
                    liquidity="maker" if order.post_only else "taker", ts_ns=now_ns)
                if fill is not None:
                    events.append((cl, fill))
                reason = self._cancel_reasons.get(cl)
                if info.status == "canceled":
                    events.append((cl, Canceled(reason=reason or info.reason or "canceled at the exchange", ts_ns=now_ns)))
                    self._forget(cl)
                elif info.status == "expired":
                    events.append((cl, Expired(reason=info.reason or "expired at the exchange", ts_ns=now_ns)))
                    self._forget(cl)
                elif info.status == "closed":
                    if info.vol_exec < info.vol:  # an IOC closed with its rest unfilled
                        events.append((cl, Expired(reason=info.reason or "closed with the rest unfilled", ts_ns=now_ns)))
                    self._forget(cl)
            self._last_poll_ok = True
        except KrakenError as exc:
            log.warning("kraken venue: poll failed (%s); trying again in %.1fs", _first_error(exc), self.poll_interval_ns / 1e9)
        return events

    def _resolve_unknown(self, now_ns: int, events: list[VenueEvent], wanted: set[str]) -> None:
        for cl, order in list(self._tracked.items()):
            if cl in self._txids or cl not in wanted:
                continue
            found = [o for o in self.client.open_orders(cl_ord_id=cl) if o.cl_ord_id == cl]
            if not found:
                found = [o for o in self.client.closed_orders(cl_ord_id=cl).orders if o.cl_ord_id == cl]
            if found:
                self._txids[cl] = found[0].txid
                self._by_txid[found[0].txid] = cl
                self._executed.setdefault(cl, Booked())
                events.append((cl, Acked(exchange_order_id=found[0].txid, ts_ns=now_ns)))
            elif now_ns - order.created_at_ns > int((self.deadline_s + NEVER_PLACED_MARGIN_S) * 1e9):
                # Past its deadline (the engine refuses it after that) and the exchange knows no order with this
                # cl_ord_id: it was never placed and never will be.
                events.append((cl, Rejected(reason="not found at the exchange by cl_ord_id: never placed", ts_ns=now_ns)))
                self._forget(cl)

    def _await_gone(self, cl: str, now_ns: int) -> list[VenueEvent]:
        """Drain the session's reports until `cl` has left our tracking, at most the venue timeout."""
        assert self.session is not None
        events: list[VenueEvent] = []
        deadline = self.monotonic_s() + self.deadline_s
        while True:
            events += self._drain(now_ns)
            if cl not in self._tracked or cl in self._lookup or not self.session.up:
                return events
            remaining = deadline - self.monotonic_s()
            if remaining <= 0:
                return events
            self.session.wait_items(remaining)

    # --- dead man's switch ----------------------------------------------------------------------------------

    def arm(self, timeout_s: int) -> bool:
        if self._ws_up():
            assert self.session is not None
            try:
                answer = self.session.request(
                    lambda req_id, token: m.CancelAllOrdersAfter(timeout=timeout_s, token=token, req_id=req_id),
                    self.deadline_s)
                if answer is not None and answer.success:
                    return True
                log.warning("kraken venue: cancel_all_orders_after over the WebSocket: %s; trying REST",
                            getattr(answer, "error", "no answer"))
            except SessionDown:
                pass
        try:
            self.client.cancel_all_orders_after(timeout_s)
            return True
        except KrakenError as exc:
            log.error("kraken venue: dead man's switch not armed: %s", _first_error(exc))
            return False

    def disarm(self) -> None:
        if not self.arm(0):
            log.error("kraken venue: dead man's switch not disarmed")

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        self.client.close()
