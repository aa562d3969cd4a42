"""The order state machine, pure.

    pending_new ──ack──> new ──fill──> partially_filled ──fill──> filled
         │                 │                  │
         │                 └──cancel/expire───┴──> canceled | expired
         ├──reject──> rejected
         └──outcome unknown (timeout, lost connection)──> unknown ──ack/fill/reject/cancel──> (as above)

- The row with its `client_order_id` is written in pending_new BEFORE the venue is called (the executor's
  rule); `unknown` is an ambiguous submit, resolved by looking the order up by its client order id before
  anything new goes out.
- Fills are unique by execution id: a fill seen again changes nothing. A fill is applied in any state (a
  fill can overtake the cancel that raced it); reaching the full size makes the order filled.
- Terminal states (filled, canceled, expired, rejected) ignore every event but a late fill.
- An amend (`Amended`) changes an open order's limit price in place; ids, fills and status stay.
- Overfilling raises: the venue and our record disagree, which no rule may paper over.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

OrderStatus = Literal["pending_new", "new", "partially_filled", "filled", "canceled", "expired", "rejected", "unknown"]
TERMINAL: frozenset[str] = frozenset({"filled", "canceled", "expired", "rejected"})
OPEN: frozenset[str] = frozenset({"pending_new", "new", "partially_filled", "unknown"})


class OrderInvariantError(RuntimeError):
    """An event that contradicts the order's record (overfill, wrong side or symbol)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRecord:
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    post_only: bool
    time_in_force: str  # gtc | ioc
    status: str = "pending_new"
    exchange_order_id: str | None = None
    filled_qty: Decimal = Decimal(0)
    avg_fill_price: Decimal | None = None
    fees: Decimal = Decimal(0)
    exec_ids: frozenset[str] = frozenset()
    last_error: str | None = None
    intent_id: int = 0
    strategies: tuple[str, ...] = ()
    created_at_ns: int = 0
    updated_at_ns: int = 0

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


# --- events ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Acked:
    exchange_order_id: str
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Executed:
    exec_id: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    liquidity: str  # maker | taker
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Canceled:
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Expired:
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeUnknown:
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Amended:
    """The venue moved the resting order's limit price (amend_order: same ids, new price)."""

    price: Decimal
    ts_ns: int


OrderEvent = Acked | Rejected | Executed | Canceled | Expired | OutcomeUnknown | Amended


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    order: OrderRecord
    changed: bool
    fill: Executed | None = None  # the new fill this event applied (None for a duplicate)


def apply_event(order: OrderRecord, event: OrderEvent) -> Transition:
    match event:
        case Executed():
            return _apply_fill(order, event)
        case _ if order.status in TERMINAL:
            return Transition(order=order, changed=False)
        case Acked():
            status = order.status if order.status in ("new", "partially_filled") else ("partially_filled" if order.filled_qty > 0 else "new")
            changed = status != order.status or order.exchange_order_id != event.exchange_order_id
            return Transition(order=replace(order, status=status, exchange_order_id=event.exchange_order_id,
                                            updated_at_ns=event.ts_ns), changed=changed)
        case Rejected():
            if order.status not in ("pending_new", "unknown"):
                # A reject of an order the venue already accepted: an amend or cancel was refused, not the order.
                return Transition(order=replace(order, last_error=event.reason, updated_at_ns=event.ts_ns), changed=True)
            return Transition(order=replace(order, status="rejected", last_error=event.reason, updated_at_ns=event.ts_ns), changed=True)
        case Canceled():
            return Transition(order=replace(order, status="canceled", last_error=event.reason or order.last_error,
                                            updated_at_ns=event.ts_ns), changed=True)
        case Expired():
            return Transition(order=replace(order, status="expired", last_error=event.reason or order.last_error,
                                            updated_at_ns=event.ts_ns), changed=True)
        case Amended():
            return Transition(order=replace(order, price=event.price, updated_at_ns=event.ts_ns),
                              changed=event.price != order.price)
        case OutcomeUnknown():
            if order.status != "pending_new":
                return Transition(order=order, changed=False)
            return Transition(order=replace(order, status="unknown", last_error=event.reason, updated_at_ns=event.ts_ns), changed=True)
    raise TypeError(f"not an order event: {event!r}")


def _apply_fill(order: OrderRecord, fill: Executed) -> Transition:
    if fill.exec_id in order.exec_ids:
        return Transition(order=order, changed=False)
    if fill.qty <= 0 or fill.price <= 0:
        raise OrderInvariantError(f"{order.client_order_id}: fill {fill.exec_id} has qty {fill.qty} @ {fill.price}")
    filled = order.filled_qty + fill.qty
    if filled > order.qty:
        raise OrderInvariantError(f"{order.client_order_id}: fill {fill.exec_id} of {fill.qty} overfills "
                                  f"{order.filled_qty}/{order.qty}")
    previous_cost = (order.avg_fill_price or Decimal(0)) * order.filled_qty
    avg = (previous_cost + fill.price * fill.qty) / filled
    if filled == order.qty:
        status = "filled"
    elif order.status in TERMINAL:
        status = order.status  # a late partial fill of a canceled/expired order
    else:
        status = "partially_filled"
    updated = replace(order, status=status, filled_qty=filled, avg_fill_price=avg, fees=order.fees + fill.fee,
                      exec_ids=order.exec_ids | {fill.exec_id}, updated_at_ns=fill.ts_ns)
    return Transition(order=updated, changed=True, fill=fill)
