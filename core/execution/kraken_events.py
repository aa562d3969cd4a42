"""Kraken's order reports as the executor's order events, pure: the executions channel (WS v2) and the
cumulative figures of REST QueryOrders map through here, so both paths book a fill the same way.

One rule for fills, whichever path sees them: what is booked for an order is its cumulative executed volume,
cost and fee (`Booked`). A report whose cumulative volume is above what is booked is new volume; its execution
id is `<txid>-<cumulative volume>` (`exec_id_for`). A fill seen by the executions channel, then again by a REST
poll or after a restart (the database's filled quantity seeds `Booked`), is the same cumulative volume and so
the same execution id, stored once; a REST poll that saw two trades as one growth books them as one fill, and
the channel's later report of either is at or below the booked volume and changes nothing.

- executions `trade` (update): when the growth over what is booked is exactly the trade's `last_qty`, the
  trade is the fill (its own price, fee and liquidity). Otherwise a trade was missed (a gap): nothing is
  booked from it and the order is marked for a REST look, which books the growth with the exact fee.
- snapshot trades carry no cumulative volume: they are not booked (the snapshot's open orders and the REST
  look after a reconnect settle what was missed).
- `pending_new` / `new` of an order whose txid we did not know yet: acknowledged (an ambiguous submit found
  by its cl_ord_id). A cumulative volume above the booked one (a snapshot after a reconnect) marks a look.
- `amended` / `restated` with a limit price: `Amended`.
- `filled`, `canceled`, `expired`: the order is done; with volume not yet booked it is looked up first.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_runtime.core.execution.orders import (
    Acked,
    Amended,
    Canceled,
    Executed,
    Expired,
    OrderEvent,
)
from kraken_runtime.core.kraken.messages import ExecType, Execution

ZERO = Decimal(0)
_LIQUIDITY = {"m": "maker", "t": "taker"}


@dataclass(frozen=True, slots=True)
class VenueEventsReady:
    """Kraken venue session -> executor: order reports are waiting in the venue's queue (a doorbell; the
    executor drains the queue on its own thread)."""


@dataclass(frozen=True, slots=True)
class Booked:
    """What is booked of one order: cumulative executed volume, cost and fee."""

    qty: Decimal = ZERO
    cost: Decimal = ZERO
    fee: Decimal = ZERO


@dataclass(frozen=True, slots=True, kw_only=True)
class Mapped:
    events: tuple[OrderEvent, ...] = ()
    booked: Booked = Booked()
    lookup: bool = False  # volume the channel did not show trade by trade: a REST look books it exactly
    done: bool = False  # the order is over at the exchange (and nothing is left to book)


def exec_id_for(txid: str, cum_qty: Decimal) -> str:
    """The execution id of the fill that brought `txid` to `cum_qty`: the same from either path."""
    return f"{txid}-{format(cum_qty.normalize(), 'f')}"


def fill_from_totals(txid: str, booked: Booked, *, vol_exec: Decimal, cost: Decimal, fee: Decimal, liquidity: str,
                     ts_ns: int) -> tuple[Executed | None, Booked]:
    """REST (QueryOrders, ClosedOrders): the growth of the order's totals over what is booked, as one fill."""
    if vol_exec <= booked.qty:
        return None, booked
    qty = vol_exec - booked.qty
    fill = Executed(exec_id=exec_id_for(txid, vol_exec), qty=qty, price=(cost - booked.cost) / qty,
                    fee=fee - booked.fee, liquidity=liquidity, ts_ns=ts_ns)
    return fill, Booked(qty=vol_exec, cost=cost, fee=fee)


def map_execution(report: Execution, *, txid: str | None, booked: Booked, order_qty: Decimal, post_only: bool,
                  snapshot: bool, now_ns: int, cancel_reason: str | None = None) -> Mapped:
    """One execution report of an order we track. `txid` is the order id we know for it (None: an ambiguous
    submit); `cancel_reason`, when we asked for the cancel, is the reason its Canceled carries."""
    ts = report.timestamp_ns or now_ns
    events: list[OrderEvent] = []
    if txid is None and report.order_id:
        events.append(Acked(exchange_order_id=report.order_id, ts_ns=ts))
    order_id = report.order_id or txid or ""
    cum = report.cum_qty
    behind = cum is not None and cum > booked.qty  # volume the exchange shows that is not booked yet
    kind = report.exec_type
    if kind == ExecType.TRADE:
        if snapshot or cum is None:
            # A snapshot's recent trade (no cumulative volume): the open orders and the reconnect's look settle it.
            return Mapped(events=tuple(events), booked=booked, lookup=not snapshot)
        if not behind:
            return Mapped(events=tuple(events), booked=booked, done=booked.qty >= order_qty)
        last_qty = report.last_qty
        if last_qty is None or report.last_price is None or cum - booked.qty != last_qty:
            return Mapped(events=tuple(events), booked=booked, lookup=True)  # a trade was missed: REST books it
        fee = sum((f.qty for f in report.fees), ZERO)
        cost = report.cost if report.cost is not None else last_qty * report.last_price
        liquidity = _LIQUIDITY.get(str(report.liquidity_ind or ""), "maker" if post_only else "taker")
        events.append(Executed(exec_id=exec_id_for(order_id, cum), qty=last_qty, price=report.last_price, fee=fee,
                               liquidity=liquidity, ts_ns=ts))
        after = Booked(qty=cum, cost=report.cum_cost if report.cum_cost is not None else booked.cost + cost,
                       fee=booked.fee + fee)
        return Mapped(events=tuple(events), booked=after, done=cum >= order_qty)
    if kind in (ExecType.FILLED, ExecType.CANCELED, ExecType.EXPIRED):
        if behind or (kind == ExecType.FILLED and booked.qty < order_qty):
            return Mapped(events=tuple(events), booked=booked, lookup=True)
        if kind == ExecType.CANCELED:
            events.append(Canceled(reason=cancel_reason or report.reason or "canceled at the exchange", ts_ns=ts))
        elif kind == ExecType.EXPIRED:
            events.append(Expired(reason=report.reason or "expired at the exchange", ts_ns=ts))
        return Mapped(events=tuple(events), booked=booked, done=True)
    if kind in (ExecType.AMENDED, ExecType.RESTATED) and report.limit_price is not None:
        events.append(Amended(price=report.limit_price, ts_ns=ts))
    return Mapped(events=tuple(events), booked=booked, lookup=behind)
