"""The kraken venue (live) and the shadow venue (the same with `validate=true`), over Kraken's signed REST API
(core/kraken/rest.py). Runs on the executor's thread; every call is bounded by the client's timeouts.

- submit: AddOrder with our cl_ord_id and a `deadline` (now + the venue timeout: the matching engine refuses the
  order after it, so an order not found by its cl_ord_id past that is provably never placed), limit, post-only
  `oflags=post` or `timeinforce=IOC`. A reply lost on
  the way back is resolved by the REST client looking the order up by cl_ord_id, never by sending it again;
  when even that fails the order is `unknown` and is looked up again on every poll before anything is
  decided about it. An exchange refusal is a rejection (a venue error for the kill ladder). Shadow: the
  exchange validates the order and nothing is placed: the order is acknowledged as `VALIDATED` and expires
  at once with the reason, so decisions and orders are stored exactly as in live.
- poll (every `kraken_poll_interval_ms` while orders are open, and only while the modelled REST call counter
  leaves room for the calls that matter more: cancels and the dead man's switch): QueryOrders for the tracked
  orders (cost 1; TradesHistory costs 4 and would exhaust the counter). When an order's executed volume grew,
  the growth is one fill: size = the volume delta, price = the cost delta / size, fee = the fee delta, maker for
  a post-only order, taker otherwise; its execution id is `<txid>-<executed volume>`, so the same growth seen
  again (after a restart too) is the same execution and is stored once. Closed, canceled and expired follow.
- adopt: an order found open in the database at start (a crash, a kill -9) is tracked again and resolved by
  the same poll: that is the reconciliation at start, and fills missed while down come from TradesHistory.
- The dead man's switch is CancelAllOrdersAfter, armed and refreshed by the executor (`arm`, `disarm`).

What is left (see docs/ARCHITECTURE.md): the authenticated WebSocket (add/amend/cancel, executions and
balances channels) with REST as its fallback; this venue is the REST path alone.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable, Mapping

from kraken_runtime.core.execution.orders import (
    Acked,
    Canceled,
    Executed,
    Expired,
    OrderEvent,
    OrderRecord,
    OutcomeUnknown,
    Rejected,
)
from kraken_runtime.core.kraken.errors import KrakenError, OrderOutcomeUnknown, TransportError, UnknownOrder
from kraken_runtime.core.kraken.ratelimit import RestCallCounter
from kraken_runtime.core.kraken.rest import KrakenRestClient
from kraken_runtime.core.marketdata import StateSnapshot

log = logging.getLogger(__name__)

VenueEvent = tuple[str, OrderEvent]
ZERO = Decimal(0)
POLL_RESERVE = 5  # REST counter points a poll leaves free for cancels and the dead man's switch
NEVER_PLACED_MARGIN_S = 5.0  # clock skew allowance past an AddOrder's deadline


def _rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _first_error(exc: KrakenError) -> str:
    return exc.errors[0] if getattr(exc, "errors", None) else f"{type(exc).__name__}: {exc}"


class KrakenVenue:
    def __init__(self, *, client: KrakenRestClient, pairs: Mapping[str, str], validate_only: bool, poll_interval_ns: int,
                 rest_counter: RestCallCounter | None = None, monotonic_s: Callable[[], float] = time.monotonic,
                 deadline_s: float = 5.0) -> None:
        self.client = client
        self.deadline_s = deadline_s  # every AddOrder carries deadline = now + this: the engine refuses it later
        self.rest_counter = rest_counter
        self.monotonic_s = monotonic_s
        self.pairs = dict(pairs)
        self.validate_only = validate_only
        self.name = "kraken"
        self.poll_interval_ns = poll_interval_ns
        self._next_poll_ns = 0
        self._tracked: dict[str, OrderRecord] = {}  # cl_ord_id -> the order as last seen by us
        self._txids: dict[str, str] = {}  # cl_ord_id -> Kraken's txid
        self._executed: dict[str, tuple[Decimal, Decimal, Decimal]] = {}  # cl_ord_id -> (vol_exec, cost, fee) booked
        self._last_poll_ok = True  # whether the latest look at the exchange answered for every tracked order

    # --- the Venue protocol -----------------------------------------------------------------------------------

    def submit(self, order: OrderRecord, now_ns: int) -> list[VenueEvent]:
        cl = order.client_order_id
        pair = self.pairs.get(order.symbol)
        if pair is None:
            return [(cl, Rejected(reason=f"no Kraken pair known for {order.symbol}", ts_ns=now_ns))]
        try:
            result = self.client.add_order(
                pair=pair, side=order.side, ordertype="limit", volume=order.qty, price=order.price, cl_ord_id=cl,
                oflags=("post",) if order.post_only else (), timeinforce="IOC" if order.time_in_force == "ioc" else None,
                deadline=_rfc3339(now_ns + int(self.deadline_s * 1e9)), validate=self.validate_only)
        except OrderOutcomeUnknown as exc:
            self._tracked[cl] = order
            return [(cl, OutcomeUnknown(reason=str(exc)[:300], ts_ns=now_ns))]
        except TransportError as exc:
            if exc.may_have_reached_exchange:
                self._tracked[cl] = order
                return [(cl, OutcomeUnknown(reason=f"{type(exc).__name__}: {exc}"[:300], ts_ns=now_ns))]
            return [(cl, Rejected(reason=f"not sent: {type(exc).__name__}: {exc}"[:300], ts_ns=now_ns))]
        except KrakenError as exc:
            return [(cl, Rejected(reason=_first_error(exc), ts_ns=now_ns))]
        if self.validate_only:
            return [(cl, Acked(exchange_order_id="VALIDATED", ts_ns=now_ns)),
                    (cl, Expired(reason="shadow: validated by the exchange, not placed", ts_ns=now_ns))]
        txid = result.txids[0]
        self._tracked[cl] = order
        self._txids[cl] = txid
        self._executed[cl] = (ZERO, ZERO, ZERO)
        self._next_poll_ns = min(self._next_poll_ns or now_ns, now_ns)  # look at it on the next tick
        return [(cl, Acked(exchange_order_id=txid, ts_ns=now_ns))]

    def cancel(self, client_order_id: str, now_ns: int, reason: str) -> list[VenueEvent]:
        if client_order_id not in self._tracked:
            return []
        try:
            self.client.cancel_order(cl_ord_id=client_order_id)
        except UnknownOrder:  # not open at the exchange (filled, canceled, or never placed): look now
            return self._poll_now(now_ns)
        except KrakenError as exc:
            log.warning("kraken venue: cancel of %s failed: %s", client_order_id, _first_error(exc))
            self._next_poll_ns = now_ns
            return []
        # Fills that raced the cancel are fetched before the order leaves our tracking. When that look fails
        # (the REST counter is spent, say) the order stays tracked: the next poll finds it canceled at the
        # exchange, with whatever filled before the cancel, and only then does it leave.
        events = self._poll_now(now_ns)
        if client_order_id in self._tracked and self._last_poll_ok:
            self._forget(client_order_id)
            events.append((client_order_id, Canceled(reason=reason, ts_ns=now_ns)))
        return events

    def on_snapshot(self, snapshot: StateSnapshot, now_ns: int) -> list[VenueEvent]:
        return []

    def poll(self, now_ns: int) -> list[VenueEvent]:
        if not self._tracked or now_ns < self._next_poll_ns:
            return []
        if self.rest_counter is not None and self.rest_counter.wait_time(1 + POLL_RESERVE, self.monotonic_s()) > 0:
            return []  # leave the counter to cancels and the dead man's switch; poll on a later tick
        return self._poll_now(now_ns)

    def settle(self, now_ns: int) -> list[VenueEvent]:
        """Poll now, whatever the interval and the counter say (start-up reconciliation, shutdown)."""
        return self._poll_now(now_ns) if self._tracked else []

    # --- reconciliation -----------------------------------------------------------------------------------

    def adopt(self, order: OrderRecord) -> None:
        """An order the database shows open: track it; the next poll resolves it by cl_ord_id."""
        self._tracked[order.client_order_id] = order
        if order.exchange_order_id and order.exchange_order_id != "VALIDATED":
            self._txids[order.client_order_id] = order.exchange_order_id
        cost = (order.avg_fill_price or ZERO) * order.filled_qty
        self._executed[order.client_order_id] = (order.filled_qty, cost, order.fees)  # what is booked already
        self._next_poll_ns = 0

    @property
    def open_ids(self) -> tuple[str, ...]:
        return tuple(self._tracked)

    # --- internals -------------------------------------------------------------------------------------------

    def _forget(self, cl: str) -> None:
        self._tracked.pop(cl, None)
        self._txids.pop(cl, None)
        self._executed.pop(cl, None)

    def _poll_now(self, now_ns: int) -> list[VenueEvent]:
        self._next_poll_ns = now_ns + self.poll_interval_ns
        self._last_poll_ok = False
        events: list[VenueEvent] = []
        try:
            self._resolve_unknown(now_ns, events)
            infos = {}
            txids = [self._txids[cl] for cl in self._tracked if cl in self._txids]
            for start in range(0, len(txids), 50):
                for info in self.client.query_orders(txids[start:start + 50]):
                    infos[info.txid] = info
            by_txid = {txid: cl for cl, txid in self._txids.items()}
            for txid, info in infos.items():
                cl = by_txid.get(txid)
                if cl is None:
                    continue
                booked_vol, booked_cost, booked_fee = self._executed.get(cl, (ZERO, ZERO, ZERO))
                if info.vol_exec > booked_vol:
                    qty = info.vol_exec - booked_vol
                    order = self._tracked[cl]
                    events.append((cl, Executed(
                        exec_id=f"{txid}-{format(info.vol_exec.normalize(), 'f')}", qty=qty,
                        price=(info.cost - booked_cost) / qty, fee=info.fee - booked_fee,
                        liquidity="maker" if order.post_only else "taker", ts_ns=now_ns)))
                    self._executed[cl] = (info.vol_exec, info.cost, info.fee)
                if info.status == "canceled":
                    events.append((cl, Canceled(reason=info.reason or "canceled at the exchange", ts_ns=now_ns)))
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

    def _resolve_unknown(self, now_ns: int, events: list[VenueEvent]) -> None:
        for cl, order in list(self._tracked.items()):
            if cl in self._txids:
                continue
            found = [o for o in self.client.open_orders(cl_ord_id=cl) if o.cl_ord_id == cl]
            if not found:
                found = [o for o in self.client.closed_orders(cl_ord_id=cl).orders if o.cl_ord_id == cl]
            if found:
                self._txids[cl] = found[0].txid
                self._executed.setdefault(cl, (ZERO, ZERO, ZERO))
                events.append((cl, Acked(exchange_order_id=found[0].txid, ts_ns=now_ns)))
            elif now_ns - order.created_at_ns > int((self.deadline_s + NEVER_PLACED_MARGIN_S) * 1e9):
                # Past its deadline (the engine refuses it after that) and the exchange knows no order with this
                # cl_ord_id: it was never placed and never will be.
                events.append((cl, Rejected(reason="not found at the exchange by cl_ord_id: never placed", ts_ns=now_ns)))
                self._forget(cl)

    # --- dead man's switch ----------------------------------------------------------------------------------

    def arm(self, timeout_s: int) -> bool:
        try:
            self.client.cancel_all_orders_after(timeout_s)
            return True
        except KrakenError as exc:
            log.error("kraken venue: dead man's switch not armed: %s", _first_error(exc))
            return False

    def disarm(self) -> None:
        try:
            self.client.cancel_all_orders_after(0)
        except KrakenError as exc:
            log.error("kraken venue: dead man's switch not disarmed: %s", _first_error(exc))

    def close(self) -> None:
        self.client.close()
