"""The paper venue, pure: orders are acknowledged after a configurable latency and filled by the model of
core/execution/paper.py against the latest state snapshot of their symbol. Time is passed in.

- An order reaches the "venue" `latency_ns` after it was submitted; it is then judged on the book of that
  moment: a post-only order that would cross is rejected, an IOC order walks the depth and expires the rest,
  a post-only GTC order joins the back of its level's queue (the L2 model: the snapshot has levels, not
  orders; see paper.py for what that means).
- Every later snapshot updates the queue (level size), and its last trade, when newer than the last one seen,
  is a trade at that price; the opposite best moving through the price fills what remains.
- A symbol without a ready snapshot at acknowledgement time rejects the order (the book is unknown).
- Execution ids are `paper-<client order id>-<n>`, unique and stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from kraken_runtime.core.execution import paper
from kraken_runtime.core.execution.orders import Acked, Canceled, Executed, Expired, OrderEvent, OrderRecord, Rejected
from kraken_runtime.core.marketdata import StateSnapshot

VenueEvent = tuple[str, OrderEvent]  # (client order id, event)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeRates:
    maker: Decimal
    taker: Decimal


@dataclass(slots=True, kw_only=True)
class _PaperOrder:
    order: OrderRecord
    due_ns: int
    acked: bool = False
    resting: paper.RestingOrder | None = None
    fills: int = 0


class PaperVenue:
    """State of the paper venue. Not thread-safe: owned by the executor actor."""

    name = "paper"

    def __init__(self, *, fees: Mapping[str, FeeRates], latency_ns: int) -> None:
        self.fees = dict(fees)
        self.latency_ns = latency_ns
        self.snapshots: dict[str, StateSnapshot] = {}
        self._last_trade_ns: dict[str, int | None] = {}
        self._orders: dict[str, _PaperOrder] = {}

    @property
    def open_ids(self) -> tuple[str, ...]:
        return tuple(self._orders)

    def submit(self, order: OrderRecord, now_ns: int) -> list[VenueEvent]:
        self._orders[order.client_order_id] = _PaperOrder(order=order, due_ns=now_ns + self.latency_ns)
        return self.poll(now_ns)

    def cancel(self, client_order_id: str, now_ns: int, reason: str) -> list[VenueEvent]:
        entry = self._orders.pop(client_order_id, None)
        if entry is None:
            return []
        return [(client_order_id, Canceled(reason=reason, ts_ns=now_ns))]

    def on_snapshot(self, snapshot: StateSnapshot, now_ns: int) -> list[VenueEvent]:
        symbol = snapshot.symbol
        seen = symbol in self._last_trade_ns  # the first snapshot's trade happened before any order of ours
        previous_trade_ns = self._last_trade_ns.get(symbol) or 0
        self.snapshots[symbol] = snapshot
        new_trade = seen and snapshot.last_trade_ns is not None and snapshot.last_trade_ns > previous_trade_ns
        if not seen or new_trade:
            self._last_trade_ns[symbol] = snapshot.last_trade_ns
        events = self.poll(now_ns)
        if not snapshot.ready:
            return events
        for cl_ord_id, entry in list(self._orders.items()):
            if entry.resting is None or entry.order.symbol != symbol:
                continue
            rates = self.fees[symbol]
            resting = entry.resting
            levels = snapshot.bids if resting.side == "buy" else snapshot.asks
            level_size = next((size for price, size in levels if price == resting.price), None)
            if level_size is not None:
                resting = paper.on_l2_level(resting, level_size)
            elif _level_visible(resting.side, resting.price, levels):
                resting = paper.on_l2_level(resting, Decimal(0))  # inside the shown depth and empty: nobody ahead
            fills: list[paper.PaperFill] = []
            if new_trade and snapshot.last_trade_price is not None and snapshot.last_trade_qty is not None:
                resting, fill = paper.on_trade(resting, price=snapshot.last_trade_price, qty=snapshot.last_trade_qty,
                                               maker_fee_rate=rates.maker)
                if fill is not None:
                    fills.append(fill)
            resting, fill = paper.on_book(resting, best_bid=snapshot.best_bid, best_ask=snapshot.best_ask,
                                          maker_fee_rate=rates.maker)
            if fill is not None:
                fills.append(fill)
            entry.resting = resting
            for f in fills:
                events.append(self._execution(entry, f, now_ns))
            if resting.remaining <= 0:
                del self._orders[cl_ord_id]
        return events

    def poll(self, now_ns: int) -> list[VenueEvent]:
        """Acknowledge the orders whose latency has passed."""
        events: list[VenueEvent] = []
        for cl_ord_id, entry in list(self._orders.items()):
            if entry.acked or entry.due_ns > now_ns:
                continue
            entry.acked = True
            events.extend(self._arrive(entry, now_ns))
        return events

    def _arrive(self, entry: _PaperOrder, now_ns: int) -> list[VenueEvent]:
        order = entry.order
        cl = order.client_order_id
        snapshot = self.snapshots.get(order.symbol)
        rates = self.fees.get(order.symbol)
        if snapshot is None or not snapshot.ready or rates is None:
            del self._orders[cl]
            return [(cl, Rejected(reason="paper venue: no ready book for the symbol", ts_ns=now_ns))]
        if order.post_only and paper.would_cross(order.side, order.price, snapshot.best_bid, snapshot.best_ask):
            del self._orders[cl]
            return [(cl, Rejected(reason="EOrder:Post only order (paper: the order would have crossed the book)", ts_ns=now_ns))]
        events: list[VenueEvent] = [(cl, Acked(exchange_order_id=f"PAPER-{cl[:18]}", ts_ns=now_ns))]
        if order.time_in_force == "ioc" or not order.post_only:
            for fill in paper.walk_depth(side=order.side, qty=order.qty, limit=order.price, bids=snapshot.bids,
                                         asks=snapshot.asks, taker_fee_rate=rates.taker):
                events.append(self._execution(entry, fill, now_ns))
            filled = sum((e.qty for _, e in events if isinstance(e, Executed)), Decimal(0))
            if filled < order.qty:
                events.append((cl, Expired(reason="ioc: the rest found no liquidity inside the limit", ts_ns=now_ns)))
            del self._orders[cl]
            return events
        levels = snapshot.bids if order.side == "buy" else snapshot.asks
        entry.resting = paper.join_l2(side=order.side, price=order.price, qty=order.qty, levels=levels)
        return events

    def _execution(self, entry: _PaperOrder, fill: paper.PaperFill, now_ns: int) -> VenueEvent:
        entry.fills += 1
        cl = entry.order.client_order_id
        return (cl, Executed(exec_id=f"paper-{cl}-{entry.fills}", qty=fill.qty, price=fill.price, fee=fill.fee,
                             liquidity=fill.liquidity, ts_ns=now_ns))

    def forget(self, client_order_id: str) -> None:
        self._orders.pop(client_order_id, None)

    def adopt(self, order: OrderRecord) -> None:
        """Nothing to adopt: a paper order does not outlive its venue (the executor closes it as canceled)."""

    def settle(self, now_ns: int) -> list[VenueEvent]:
        return self.poll(now_ns)

    def arm(self, timeout_s: int) -> bool:
        return False  # no dead man's switch: nothing rests anywhere but in this process

    def disarm(self) -> None:
        return None


def _level_visible(side: str, price: Decimal, levels: tuple[tuple[Decimal, Decimal], ...]) -> bool:
    """Whether `price` lies within the shown depth of our side (so a missing level means an empty one)."""
    if not levels:
        return False
    worst = levels[-1][0]
    return price >= worst if side == "buy" else price <= worst
