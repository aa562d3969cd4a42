"""The market loop and the public fan-out.

One asyncio task steps the exchange model (`exchange.step(now_ns)`) every tick and sends what changed
to the subscribers of every channel: book (per subscribed depth, with checksums), ticker (bbo and
trades triggers), trade, level3 (per depth, with checksums), executions and balances (per account),
plus heartbeats on otherwise idle subscribed connections. It runs on the server's event loop thread;
nothing else touches the exchange concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from kraken_runtime.sim_server import bookviews
from kraken_runtime.sim_server.faults import FaultBoard
from kraken_runtime.sim_server.jsontext import dumps, num
from kraken_runtime.sim_server.market import MarketAdapter
from kraken_runtime.sim_server.transport import ServerWsConnection
from kraken_runtime.sim_server.wsproto import rfc3339_ns, rfc3339_us

log = logging.getLogger(__name__)
NS = 1_000_000_000

HEARTBEAT_INTERVAL_NS = 1_000_000_000


@dataclass
class BookGroup:
    """Subscribers of one (symbol, depth) book stream and the view they were last sent."""

    symbol: str
    depth: int
    bids: list
    asks: list
    conns: set = field(default_factory=set)


@dataclass
class L3Group:
    symbol: str
    depth: int
    bids: list
    asks: list
    conns: set = field(default_factory=set)


class Hub:
    def __init__(self, market: MarketAdapter, faults: FaultBoard, tick_s: float = 0.05,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.market = market
        self.faults = faults
        self.tick_s = tick_s
        self.clock_ns = clock_ns
        self.book_groups: dict[tuple[str, int], BookGroup] = {}
        self.l3_groups: dict[tuple[str, int], L3Group] = {}
        self.ticker_subs: dict[tuple[str, str], set[ServerWsConnection]] = {}  # (symbol, trigger)
        self.trade_subs: dict[str, set[ServerWsConnection]] = {}
        self.ohlc_subs: dict[tuple[str, int], set[ServerWsConnection]] = {}  # (symbol, interval minutes)
        self.instrument_subs: set[ServerWsConnection] = set()
        self.status_conns: set[ServerWsConnection] = set()  # every public/l3/auth connection (status pushes)
        self.subscribed_conns: set[ServerWsConnection] = set()
        self.private_listeners: list[Callable[[list], None]] = []  # auth side: receives account events
        self.tick_listeners: list[Callable[[int], None]] = []  # ref feed, dead man's switch, ...
        self.last_bbo: dict[str, tuple] = {}
        self.ticks = 0
        self.book_messages = 0
        self.behind_ticks = 0
        self._task: asyncio.Task | None = None
        self._last_heartbeat_check = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sim-market")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += self.tick_s
            try:
                self.tick(self.clock_ns())
            except Exception:  # noqa: BLE001 - the market must keep running; the error is logged
                log.exception("market tick failed")
            delay = next_at - loop.time()
            if delay < 0:
                self.behind_ticks += 1
                next_at = loop.time()
                delay = 0
            await asyncio.sleep(delay)

    # ------------------------------------------------------------------ tick

    def tick(self, now_ns: int) -> None:
        self.ticks += 1
        self.faults.expire(now_ns)
        self.absorb(self.market.step(now_ns), now_ns)
        for listener in self.tick_listeners:
            listener(now_ns)
        self._heartbeats(now_ns)

    def absorb(self, events: list, now_ns: int | None = None) -> None:
        """Send out what the exchange model reported: the flow's events from `step`, or the events a
        trading call caused (executions and balances to their account's subscribers at once, and the
        book, level3, ticker and trades of the symbols its matching touched)."""
        if not events:
            return
        if now_ns is None:
            now_ns = self.clock_ns()
        touched: set[str] = set()
        trades: dict[str, list] = {}
        private: list = []
        for event in events:
            kind = type(event).__name__
            if kind == "BookLevelChanged" or kind == "L3OrderEvent":
                touched.add(event.symbol)
            elif kind == "TradePrinted":
                trades.setdefault(event.symbol, []).append(event)
                touched.add(event.symbol)
            elif kind in ("ExecutionEvent", "BalanceChanged"):
                private.append(event)
        if private:
            for listener in self.private_listeners:
                listener(private)
        for symbol in sorted(touched):
            if self.faults.is_stalled(symbol, now_ns):
                continue
            self._publish_book(symbol, now_ns)
            self._publish_l3(symbol, now_ns)
            self._publish_bbo(symbol, now_ns)
        for symbol, printed in trades.items():
            if self.faults.is_stalled(symbol, now_ns):
                continue
            self._publish_trades(symbol, printed)

    def _heartbeats(self, now_ns: int) -> None:
        if now_ns - self._last_heartbeat_check < 200_000_000:
            return
        self._last_heartbeat_check = now_ns
        mono = time.monotonic_ns()
        for conn in list(self.subscribed_conns):
            if conn.closed:
                self.subscribed_conns.discard(conn)
                continue
            if mono - conn.state.get("last_send_ns", 0) < HEARTBEAT_INTERVAL_NS:
                continue
            if self.conn_is_stalled(conn, now_ns):
                continue
            self.send(conn, '{"channel":"heartbeat"}')

    def conn_is_stalled(self, conn: ServerWsConnection, now_ns: int) -> bool:
        symbols = conn.state.get("symbols")
        if not symbols:
            return self.faults.is_stalled(None, now_ns) if conn.state.get("subs") else False
        return any(self.faults.is_stalled(s, now_ns) for s in symbols)

    def send(self, conn: ServerWsConnection, text: str) -> None:
        if conn.send(text):
            conn.state["last_send_ns"] = time.monotonic_ns()

    # ------------------------------------------------------------------ book

    def _book_group(self, symbol: str, depth: int) -> BookGroup:
        key = (symbol, depth)
        group = self.book_groups.get(key)
        if group is None:
            bids, asks = self.market.book_ticks(symbol, depth)
            group = BookGroup(symbol, depth, bids, asks)
            self.book_groups[key] = group
        return group

    def book_snapshot(self, conn: ServerWsConnection, symbol: str, depth: int, now_ns: int) -> None:
        group = self._book_group(symbol, depth)
        group.conns.add(conn)
        inst = self.market.instrument(symbol)
        checksum = self.faults.checksum_for(symbol, bookviews.l2_checksum_ticks(group.bids, group.asks))
        self.book_messages += 1
        self.send(conn, self._book_message("snapshot", symbol, group.bids, group.asks, checksum, inst, now_ns))

    def book_subscribe_only(self, conn: ServerWsConnection, symbol: str, depth: int) -> None:
        """snapshot=false: join the stream at the current view without a snapshot."""
        self._book_group(symbol, depth).conns.add(conn)

    def book_unsubscribe(self, conn: ServerWsConnection, symbol: str, depth: int) -> None:
        group = self.book_groups.get((symbol, depth))
        if group is not None:
            group.conns.discard(conn)
            if not group.conns:
                del self.book_groups[(symbol, depth)]

    def _book_message(self, kind: str, symbol: str, bids, asks, checksum: int, inst, now_ns: int) -> str:
        """One book frame from integer views (price ticks, qty lots), numbers at the pair's precision."""
        pp, qp = inst.price_precision, inst.qty_precision
        fixed = bookviews.fixed_text

        def levels(side) -> str:
            return ",".join(f'{{"price":{fixed(p, pp)},"qty":{fixed(q, qp)}}}' for p, q in side)

        return (f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{symbol}","bids":[{levels(bids)}],'
                f'"asks":[{levels(asks)}],"checksum":{checksum},"timestamp":"{rfc3339_us(now_ns)}"}}]}}')

    def _publish_book(self, symbol: str, now_ns: int) -> None:
        """One diff per subscribed depth, computed once and sent as the same text to all its subscribers."""
        groups = [g for (s, _), g in self.book_groups.items() if s == symbol]
        if not groups:
            return
        inst = self.market.instrument(symbol)
        max_depth = max(g.depth for g in groups)
        bids, asks = self.market.book_ticks(symbol, max_depth)
        checksum = None
        for group in groups:
            new_bids, new_asks = bids[:group.depth], asks[:group.depth]
            bid_changes = bookviews.l2_diff(group.bids, new_bids, group.depth, True)
            ask_changes = bookviews.l2_diff(group.asks, new_asks, group.depth, False)
            group.bids, group.asks = new_bids, new_asks
            if not bid_changes and not ask_changes:
                continue
            if checksum is None:
                checksum = bookviews.l2_checksum_ticks(new_bids, new_asks)
            text = self._book_message("update", symbol, bid_changes, ask_changes,
                                      self.faults.checksum_for(symbol, checksum), inst, now_ns)
            self.book_messages += 1
            for conn in list(group.conns):
                if conn.closed:
                    group.conns.discard(conn)
                    continue
                self.send(conn, text)

    # ------------------------------------------------------------------ level3

    def l3_snapshot(self, conn: ServerWsConnection, symbol: str, depth: int, now_ns: int, snapshot: bool) -> None:
        key = (symbol, depth)
        group = self.l3_groups.get(key)
        if group is None:
            bids, asks = self.market.l3(symbol, depth)
            group = L3Group(symbol, depth, bids, asks)
            self.l3_groups[key] = group
        group.conns.add(conn)
        if not snapshot:
            return
        inst = self.market.instrument(symbol)
        checksum = bookviews.l3_checksum(group.bids, group.asks, inst.price_precision, inst.qty_precision)
        pp, qp = inst.price_precision, inst.qty_precision

        def order(o):
            return {"order_id": o[0], "limit_price": num(o[1], pp), "order_qty": num(o[2], qp),
                    "timestamp": rfc3339_ns(o[3])}

        self.send(conn, dumps({"channel": "level3", "type": "snapshot", "data": [{
            "symbol": symbol, "checksum": checksum,
            "bids": [order(o) for o in group.bids], "asks": [order(o) for o in group.asks],
            "timestamp": rfc3339_ns(now_ns)}]}))

    def l3_unsubscribe(self, conn: ServerWsConnection, symbol: str, depth: int) -> None:
        group = self.l3_groups.get((symbol, depth))
        if group is not None:
            group.conns.discard(conn)
            if not group.conns:
                del self.l3_groups[(symbol, depth)]

    def _publish_l3(self, symbol: str, now_ns: int) -> None:
        groups = [g for (s, _), g in self.l3_groups.items() if s == symbol]
        if not groups:
            return
        inst = self.market.instrument(symbol)
        pp, qp = inst.price_precision, inst.qty_precision
        max_depth = max(g.depth for g in groups)
        bids, asks = self.market.l3(symbol, max_depth)
        for group in groups:
            new_bids = bookviews.l3_levels(bids, group.depth)
            new_asks = bookviews.l3_levels(asks, group.depth)
            bid_events = bookviews.l3_diff(group.bids, new_bids, group.depth, True)
            ask_events = bookviews.l3_diff(group.asks, new_asks, group.depth, False)
            group.bids, group.asks = new_bids, new_asks
            if not bid_events and not ask_events:
                continue
            checksum = bookviews.l3_checksum(new_bids, new_asks, pp, qp)

            def event(e):
                o = e[1]
                return {"event": e[0], "order_id": o[0], "limit_price": num(o[1], pp),
                        "order_qty": num(o[2], qp), "timestamp": rfc3339_ns(o[3])}

            text = dumps({"channel": "level3", "type": "update", "data": [{
                "checksum": checksum, "symbol": symbol,
                "bids": [event(e) for e in bid_events], "asks": [event(e) for e in ask_events],
                "timestamp": rfc3339_ns(now_ns)}]})
            for conn in list(group.conns):
                if conn.closed:
                    group.conns.discard(conn)
                    continue
                self.send(conn, text)

    # ------------------------------------------------------------------ ticker and trades

    def ticker_message(self, symbol: str, kind: str) -> str:
        t = self.market.ticker(symbol)
        inst = self.market.instrument(symbol)
        pp, qp = inst.price_precision, inst.qty_precision
        return dumps({"channel": "ticker", "type": kind, "data": [{
            "symbol": symbol,
            "bid": num(t.bid, pp), "bid_qty": num(t.bid_qty, qp),
            "ask": num(t.ask, pp), "ask_qty": num(t.ask_qty, qp),
            "last": num(t.last, pp), "volume": num(t.volume, qp), "vwap": num(t.vwap, pp),
            "low": num(t.low, pp), "high": num(t.high, pp),
            "change": num(t.change, pp), "change_pct": num(t.change_pct, 2),
            "timestamp": rfc3339_us(self.clock_ns())}]})

    def _publish_bbo(self, symbol: str, now_ns: int) -> None:
        subs = self.ticker_subs.get((symbol, "bbo"))
        t = self.market.ticker(symbol)
        bbo = (t.bid, t.bid_qty, t.ask, t.ask_qty)
        if self.last_bbo.get(symbol) == bbo:
            return
        self.last_bbo[symbol] = bbo
        if subs:
            text = self.ticker_message(symbol, "update")
            for conn in list(subs):
                self.send(conn, text)

    def _publish_trades(self, symbol: str, printed: list) -> None:
        subs = self.trade_subs.get(symbol)
        if subs:
            text = self.trade_message(symbol, printed, "update")
            for conn in list(subs):
                self.send(conn, text)
        tsubs = self.ticker_subs.get((symbol, "trades"))
        if tsubs:
            text = self.ticker_message(symbol, "update")
            for conn in list(tsubs):
                self.send(conn, text)
        for (ohlc_symbol, interval), osubs in self.ohlc_subs.items():
            if ohlc_symbol == symbol and osubs:
                text = self.ohlc_message(symbol, interval, "update")
                for conn in list(osubs):
                    self.send(conn, text)

    def ohlc_message(self, symbol: str, interval: int, kind: str) -> str:
        """The ohlc channel (PROTOCOL.md 1.10): a snapshot of the candles of the last 24 h, or an update
        with the forming candle (sent when a trade prints on the symbol)."""
        inst = self.market.instrument(symbol)
        pp, qp = inst.price_precision, inst.qty_precision
        bars = self.market.exchange.ohlc(symbol, interval)
        if kind == "update":
            bars = bars[-1:]
        return dumps({"channel": "ohlc", "type": kind, "timestamp": rfc3339_ns(self.clock_ns()), "data": [{
            "symbol": symbol, "open": num(b.open, pp), "high": num(b.high, pp), "low": num(b.low, pp),
            "close": num(b.close, pp), "vwap": num(b.vwap, pp), "trades": b.count, "volume": num(b.volume, qp),
            "interval_begin": rfc3339_ns(b.begin_ns), "interval": interval,
            "timestamp": rfc3339_us(b.begin_ns + interval * 60 * NS)} for b in bars]})

    def trade_message(self, symbol: str, printed: list, kind: str) -> str:
        inst = self.market.instrument(symbol)
        pp, qp = inst.price_precision, inst.qty_precision
        return dumps({"channel": "trade", "type": kind, "data": [
            {"symbol": symbol, "side": t.side, "price": num(t.price, pp), "qty": num(t.qty, qp),
             "ord_type": t.ord_type, "trade_id": t.trade_id, "timestamp": rfc3339_us(t.ts_ns)}
            for t in printed]})

    # ------------------------------------------------------------------ connection bookkeeping

    def forget(self, conn: ServerWsConnection) -> None:
        for key, group in list(self.book_groups.items()):
            group.conns.discard(conn)
            if not group.conns:
                del self.book_groups[key]
        for l3_key, l3_group in list(self.l3_groups.items()):
            l3_group.conns.discard(conn)
            if not l3_group.conns:
                del self.l3_groups[l3_key]
        for subs in self.ticker_subs.values():
            subs.discard(conn)
        for subs in self.trade_subs.values():
            subs.discard(conn)
        for subs in self.ohlc_subs.values():
            subs.discard(conn)
        self.instrument_subs.discard(conn)
        self.status_conns.discard(conn)
        self.subscribed_conns.discard(conn)

    def broadcast_status(self, system: str) -> None:
        for conn in list(self.status_conns):
            self.send(conn, status_message(system, conn.id))


def status_message(system: str, connection_id: int) -> str:
    return dumps({"channel": "status", "type": "update", "data": [
        {"version": "2.0.10", "system": system, "api_version": "v2",
         "connection_id": 7204881492680171915 + connection_id}]})




