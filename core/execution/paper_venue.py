"""The paper venue, pure: orders are acknowledged after a configurable latency and filled by the model of
core/execution/paper.py against the latest state snapshot of their symbol. Time is passed in.

- An order reaches the "venue" `latency_ns` after it was submitted; it is then judged on the book of the
  newest snapshot: a post-only order that would cross is rejected, an IOC order walks the depth and expires
  the rest, a post-only GTC order joins the back of its level's queue.
- Which queue model: a snapshot that carries the level3 book (StateSnapshot.l3_bids / l3_asks, the best few
  levels order by order, as of venue time l3_ts_ns) and shows our price — at a carried level, between two, or
  better than the best — gives the L3 model (the orders ahead by id); otherwise (no level3 feed, level3 out of
  sync, or our price deeper than the levels carried) the L2 model (the level's displayed size). An order keeps
  the model it joined with.
- Every later snapshot of the symbol: first its trades not seen before (StateSnapshot.recent_trades past this
  venue's cursor for the symbol; a snapshot without them gives its last trade, when newer than the last one
  seen), in order, at our price or through it; then our level (L3: the orders at our price, reconciled; L2: the
  level's displayed size as a cap); then the opposite best moving through our price. Only then do orders whose
  latency has passed join, on this snapshot (its trades happened before they arrived).
- A symbol without a ready snapshot at acknowledgement time rejects the order (the book is unknown).
- Execution ids are `paper-<client order id>-<n>`, unique and stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from kraken_runtime.core.execution import paper
from kraken_runtime.core.execution.orders import Acked, Canceled, Executed, Expired, OrderEvent, OrderRecord, Rejected
from kraken_runtime.core.marketdata import L3Level, StateSnapshot, TradeTick

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
        self._trade_cursor: dict[str, tuple[int, int]] = {}  # symbol -> (trade stream, newest trade seq taken)
        self.trades_missed = 0  # trades that came and went between two snapshots this venue saw (never counted)
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
        trades = self._new_trades(snapshot)
        self.snapshots[symbol] = snapshot
        events: list[VenueEvent] = []
        if snapshot.ready:
            for cl_ord_id, entry in list(self._orders.items()):
                if entry.resting is None or entry.order.symbol != symbol:
                    continue
                resting, fills = self._update(entry.resting, snapshot, trades, self.fees[symbol].maker)
                entry.resting = resting
                for fill in fills:
                    events.append(self._execution(entry, fill, now_ns))
                if resting.remaining <= 0:
                    del self._orders[cl_ord_id]
        events.extend(self.poll(now_ns))
        return events

    def _new_trades(self, snapshot: StateSnapshot) -> tuple[TradeTick, ...]:
        """The snapshot's trades this venue has not taken yet (the first snapshot of a symbol, or of a restarted
        state holder, only sets the cursor: its trades came before any order could rest on it)."""
        symbol = snapshot.symbol
        if snapshot.trade_stream:
            recent = snapshot.recent_trades
            newest = recent[-1].seq if recent else 0
            cursor = self._trade_cursor.get(symbol)
            self._trade_cursor[symbol] = (snapshot.trade_stream, max(newest, cursor[1]) if cursor and
                                          cursor[0] == snapshot.trade_stream else newest)
            if cursor is None or cursor[0] != snapshot.trade_stream or newest <= cursor[1]:
                return ()
            fresh = tuple(trade for trade in recent if trade.seq > cursor[1])
            self.trades_missed += fresh[0].seq - cursor[1] - 1
            return fresh
        # a snapshot without the trade list (tests, other producers): its last trade, when newer than the last seen
        seen = symbol in self._last_trade_ns
        previous_trade_ns = self._last_trade_ns.get(symbol) or 0
        new_trade = seen and snapshot.last_trade_ns is not None and snapshot.last_trade_ns > previous_trade_ns
        if not seen or new_trade:
            self._last_trade_ns[symbol] = snapshot.last_trade_ns
        if not new_trade or snapshot.last_trade_price is None or snapshot.last_trade_qty is None:
            return ()
        return (TradeTick(0, snapshot.last_trade_price, snapshot.last_trade_qty, snapshot.last_trade_side or "",
                          snapshot.last_trade_ns),)

    @staticmethod
    def _update(resting: paper.RestingOrder, snapshot: StateSnapshot, trades: tuple[TradeTick, ...],
                maker_fee_rate: Decimal) -> tuple[paper.RestingOrder, list[paper.PaperFill]]:
        """One resting order through one snapshot: its new trades, then its level, then the opposite best."""
        fills: list[paper.PaperFill] = []
        for trade in trades:
            resting, fill = paper.on_trade(resting, price=trade.price, qty=trade.qty, maker_fee_rate=maker_fee_rate,
                                           side=trade.side or None, ts_ns=trade.ts_ns)
            if fill is not None:
                fills.append(fill)
        if resting.ahead_l3 is not None:
            l3 = snapshot.l3_bids if resting.side == "buy" else snapshot.l3_asks
            if l3 is not None:
                level = _l3_level(resting.side, resting.price, l3)
                if level is not None:
                    resting = paper.on_l3_level(resting, level, snapshot.l3_ts_ns)
        else:
            levels = snapshot.bids if resting.side == "buy" else snapshot.asks
            level_size = next((size for price, size in levels if price == resting.price), None)
            if level_size is not None:
                resting = paper.on_l2_level(resting, level_size)
            elif _level_visible(resting.side, resting.price, levels):
                resting = paper.on_l2_level(resting, Decimal(0))  # inside the shown depth and empty: nobody ahead
        resting, fill = paper.on_book(resting, best_bid=snapshot.best_bid, best_ask=snapshot.best_ask,
                                      maker_fee_rate=maker_fee_rate)
        if fill is not None:
            fills.append(fill)
        return resting, fills

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
        l3 = snapshot.l3_bids if order.side == "buy" else snapshot.l3_asks
        level = _l3_level(order.side, order.price, l3) if l3 is not None else None
        if level is not None:
            entry.resting = paper.join_l3(side=order.side, price=order.price, qty=order.qty, orders_at_price=level,
                                          ts_ns=snapshot.l3_ts_ns, arrival_ns=now_ns)
        else:
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


def _l3_level(side: str, price: Decimal, levels: tuple[L3Level, ...]) -> tuple[paper.QueueItem, ...] | None:
    """The orders at `price` in the level3 levels carried for our side (best first): empty when the price lies
    between two carried levels or is better than the best (or the side is empty); None when it lies deeper
    than the levels carried (unknown)."""
    for level in levels:
        if level.price == price:
            return tuple(level.orders)
    if not levels:
        return ()
    worst = levels[-1].price
    inside = price > worst if side == "buy" else price < worst
    return () if inside else None
