"""One symbol of the local exchange: its order book, its order flow, and the public events its changes
produce (book levels, level3 orders, trades, ticker statistics).

A market knows nothing of the exchange around it. It reports into the `EventLog` it is given, draws
order ids from the `IdGen` it is given, and hands every fill of an account's order to `on_fill` (the
order engine books balances, fees and executions there).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Protocol

from kraken_runtime.core.sim.accounts import AccountOrder
from kraken_runtime.core.sim.events import BookLevelChanged, EventLog, L3OrderEvent, TradePrinted
from kraken_runtime.core.sim.flow import SymbolFlow
from kraken_runtime.core.sim.ids import IdGen
from kraken_runtime.core.sim.instruments import Instrument, MarketProfile
from kraken_runtime.core.sim.matching import BookOrder, MatchResult, OrderBook
from kraken_runtime.core.sim.ticker_stats import TickerStats

__all__ = ["SymbolMarket", "FillHandler", "SIDE_BOOK", "SIDE_TRADE"]

SIDE_BOOK = ("bid", "ask")
SIDE_TRADE = ("buy", "sell")


class FillHandler(Protocol):
    def __call__(self, market: "SymbolMarket", order: AccountOrder, price: int, lots: int, trade_id: int, ts: int,
                 /, *, maker: bool) -> None: ...


class SymbolMarket:
    """One symbol: its book, its flow, and the public events its changes produce."""

    def __init__(self, *, instrument: Instrument, profile: MarketProfile, flow: SymbolFlow, log: EventLog,
                 ids: IdGen, on_fill: FillHandler, recent_trades_kept: int) -> None:
        self.inst = instrument
        self.profile = profile
        self.flow = flow
        self.book = OrderBook()
        self.symbol = instrument.symbol
        self.pexp = -instrument.price_precision
        self.qexp = -instrument.qty_precision
        self.trade_seq = 0
        self.recent: deque[TradePrinted] = deque(maxlen=recent_trades_kept)
        self.stats: TickerStats | None = None
        self.log = log
        self._emit = log.events.append  # the hot path: one bound method, no EventLog.append frame
        self._ids = ids
        self._on_fill = on_fill

    # conversions
    def px(self, ticks: int) -> Decimal:
        return Decimal(ticks).scaleb(self.pexp)

    def qx(self, lots: int) -> Decimal:
        return Decimal(lots).scaleb(self.qexp)

    def level_event(self, side: int, price: int, ts: int) -> None:
        if self.log.public:
            self._emit(
                BookLevelChanged(
                    symbol=self.symbol, side=SIDE_BOOK[side], price=self.px(price),
                    qty=self.qx(self.book.level_qty(side, price)), ts_ns=ts,
                )
            )

    def l3_event(self, event: str, order: BookOrder, qty: int, ts: int) -> None:
        if self.log.public:
            self._emit(
                L3OrderEvent(
                    symbol=self.symbol, event=event, order_id=order.order_id, side=SIDE_BOOK[order.side],
                    limit_price=self.px(order.price), order_qty=self.qx(qty), order_ts_ns=order.ts_ns, ts_ns=ts,
                )
            )

    # book changes -----------------------------------------------------------------------------
    def rest(self, order: BookOrder, ts: int) -> None:
        self.book.add(order)
        self.l3_event("add", order, order.qty, ts)
        self.level_event(order.side, order.price, ts)

    def remove(self, order_id: str, ts: int) -> BookOrder | None:
        order = self.book.remove(order_id)
        if order is not None:
            self.l3_event("delete", order, order.qty, ts)
            self.level_event(order.side, order.price, ts)
        return order

    def reduce(self, order: BookOrder, new_qty: int, ts: int) -> None:
        """Lower a resting order's quantity in place (it keeps its queue place; its L3 time is now)."""
        self.book.reduce(order.order_id, new_qty)
        order.ts_ns = ts
        self.l3_event("modify", order, new_qty, ts)
        self.level_event(order.side, order.price, ts)

    def take(self, side: int, qty: int, limit: int | None, ts: int, ord_type: str,
             taker: AccountOrder | None) -> MatchResult:
        owner = taker.account if taker is not None else None
        result = self.book.match(side, qty, limit, owner)
        public = self.log.public
        emit = self._emit
        stats = self.stats
        for fill in result.fills:
            self.trade_seq += 1
            trade_id = self.trade_seq
            trade = TradePrinted(
                symbol=self.symbol, side=SIDE_TRADE[side], price=self.px(fill.price), qty=self.qx(fill.qty),
                ord_type=ord_type, trade_id=trade_id, ts_ns=ts,
            )
            self.recent.append(trade)
            if stats is not None:
                stats.on_trade(ts, fill.price, fill.qty)
            maker = fill.maker
            if public:
                emit(trade)
                if maker.qty == 0:
                    self.l3_event("delete", maker, fill.qty, ts)
                else:
                    self.l3_event("modify", maker, maker.qty, ts)
            if isinstance(maker.ref, AccountOrder):
                self._on_fill(self, maker.ref, fill.price, fill.qty, trade_id, ts, maker=True)
            if taker is not None:
                self._on_fill(self, taker, fill.price, fill.qty, trade_id, ts, maker=False)
        for price in result.touched_prices:
            self.level_event(1 - side, price, ts)
        return result

    # MarketOps for the flow -------------------------------------------------------------------
    def flow_rest(self, side: int, price: int, qty: int, ts_ns: int, order_ts_ns: int | None = None) -> None:
        order = BookOrder(self._ids.next("O"), side, price, qty, ts_ns if order_ts_ns is None else order_ts_ns)
        self.rest(order, ts_ns)

    def flow_cancel(self, order_id: str, ts_ns: int) -> None:
        self.remove(order_id, ts_ns)

    def flow_take(self, side: int, qty: int, limit: int | None, ts_ns: int, rest_remainder: bool) -> None:
        result = self.take(side, qty, limit, ts_ns, "market" if limit is None else "limit", None)
        if rest_remainder and limit is not None and result.remaining > 0:
            self.flow_rest(side, limit, result.remaining, ts_ns)
