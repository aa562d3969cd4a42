"""A small public-market stand-in used only while core.sim.exchange.SimExchange is unavailable.

It drives core.sim.matching.OrderBook with seeded random adds, cancels and marketable orders so the
public endpoints can serve a live, checksum-consistent book. It has no accounts: trading endpoints
answer `EService:Unavailable` when the server runs on it.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from core.sim.instruments import INSTRUMENTS, PROFILES
from core.sim.matching import ASK, BID, BookOrder, OrderBook


@dataclass(frozen=True, slots=True, kw_only=True)
class _Tick:
    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    last: Decimal
    volume: Decimal
    vwap: Decimal
    low: Decimal
    high: Decimal
    change: Decimal
    change_pct: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class _Level:
    symbol: str
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _Trade:
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    ord_type: str
    trade_id: int
    ts_ns: int


BookLevelChanged = type("BookLevelChanged", (_Level,), {})
TradePrinted = type("TradePrinted", (_Trade,), {})


class StandInExchange:
    def __init__(self, symbols, seed: int, now_ns: int, rate_scale: float = 1.0) -> None:
        self.symbols = tuple(symbols)
        self.rng = random.Random(seed)
        self.books = {s: OrderBook() for s in self.symbols}
        self.trades = {s: deque(maxlen=1000) for s in self.symbols}
        self.open_price: dict[str, Decimal] = {}
        self.rate_scale = rate_scale
        self.last_ns = now_ns
        self.next_id = 1
        self.trade_id = 1
        for symbol in self.symbols:
            self._seed_book(symbol, now_ns)

    def _scale(self, symbol: str) -> tuple[Decimal, Decimal]:
        inst = INSTRUMENTS[symbol]
        return Decimal(1).scaleb(-inst.price_precision), Decimal(1).scaleb(-inst.qty_precision)

    def _ticks(self, symbol: str) -> int:
        inst = INSTRUMENTS[symbol]
        return int(PROFILES[symbol].reference_price.scaleb(inst.price_precision))

    def _lot(self, symbol: str) -> int:
        inst = INSTRUMENTS[symbol]
        price = float(PROFILES[symbol].reference_price)
        quote = self.rng.lognormvariate(0, 1) * 300
        return max(1, int(quote / price * 10 ** inst.qty_precision))

    def _order_id(self) -> str:
        n = self.next_id
        self.next_id += 1
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        text = ""
        for _ in range(16):
            n, r = divmod(n * 2654435761 + 12345 if not text else n, 32)
            text += letters[r]
        return f"O{text[:5]}-{text[5:10]}-{text[10:16]}"

    def _seed_book(self, symbol: str, now_ns: int) -> None:
        mid = self._ticks(symbol)
        book = self.books[symbol]
        gap = max(1, mid // 20000)
        for i in range(1, 1101):
            for side, sign in ((BID, -1), (ASK, 1)):
                price = mid + sign * i * gap
                book.add(BookOrder(self._order_id(), side, price, self._lot(symbol), now_ns))
        self.open_price[symbol] = Decimal(mid).scaleb(-INSTRUMENTS[symbol].price_precision)

    def step(self, now_ns: int) -> list:
        events = []
        dt = max(0.0, (now_ns - self.last_ns) / 1e9)
        self.last_ns = now_ns
        for symbol in self.symbols:
            book = self.books[symbol]
            n = min(200, int(PROFILES[symbol].events_per_second * self.rate_scale * dt + self.rng.random()))
            for _ in range(n):
                roll = self.rng.random()
                side = BID if self.rng.random() < 0.5 else ASK
                best_bid, best_ask = book.best(BID), book.best(ASK)
                if best_bid is None or best_ask is None:
                    self._seed_book(symbol, now_ns)
                    continue
                if roll < 0.55:
                    offset = int(self.rng.expovariate(0.3))
                    price = best_bid - offset if side == BID else best_ask + offset
                    if side == BID and price >= best_ask:
                        price = best_ask - 1
                    if side == ASK and price <= best_bid:
                        price = best_bid + 1
                    book.add(BookOrder(self._order_id(), side, price, self._lot(symbol), now_ns))
                elif roll < 0.9:
                    count = book.level_count(side)
                    if count > 1000:
                        index = self.rng.randrange(min(count, 40))
                        orders = book.level_orders(side, book.price_at(side, index))
                        if orders:
                            book.remove(self.rng.choice(orders).order_id)
                else:
                    result = book.match(side, self._lot(symbol))
                    pp, qp = INSTRUMENTS[symbol].price_precision, INSTRUMENTS[symbol].qty_precision
                    for fill in result.fills:
                        trade = TradePrinted(symbol=symbol, side="buy" if side == BID else "sell",
                                             price=Decimal(fill.price).scaleb(-pp), qty=Decimal(fill.qty).scaleb(-qp),
                                             ord_type="market", trade_id=self.trade_id, ts_ns=now_ns)
                        self.trade_id += 1
                        self.trades[symbol].append(trade)
                        events.append(trade)
                events.append(BookLevelChanged(symbol=symbol, ts_ns=now_ns))
        return events

    def book(self, symbol: str, depth: int):
        inst = INSTRUMENTS[symbol]
        pp, qp = inst.price_precision, inst.qty_precision
        book = self.books[symbol]
        return ([(Decimal(p).scaleb(-pp), Decimal(q).scaleb(-qp)) for p, q in book.depth(BID, depth)],
                [(Decimal(p).scaleb(-pp), Decimal(q).scaleb(-qp)) for p, q in book.depth(ASK, depth)])

    def l3_book(self, symbol: str, depth: int):
        inst = INSTRUMENTS[symbol]
        pp, qp = inst.price_precision, inst.qty_precision
        book = self.books[symbol]
        out = []
        for side in (BID, ASK):
            orders = []
            for i, level in enumerate(book.iter_levels(side)):
                if i >= depth:
                    break
                for o in level.orders.values():
                    orders.append((o.order_id, Decimal(o.price).scaleb(-pp), Decimal(o.qty).scaleb(-qp), o.ts_ns))
            out.append(orders)
        return out[0], out[1]

    def ticker(self, symbol: str):
        (bids, asks) = self.book(symbol, 1)
        trades = list(self.trades[symbol])
        last = trades[-1].price if trades else bids[0][0]
        prices = [t.price for t in trades] or [last]
        volume = sum((t.qty for t in trades), Decimal(0))
        vwap = (sum((t.price * t.qty for t in trades), Decimal(0)) / volume) if volume else last
        change = last - self.open_price[symbol]
        return _Tick(symbol=symbol, bid=bids[0][0], bid_qty=bids[0][1], ask=asks[0][0], ask_qty=asks[0][1],
                     last=last, volume=volume, vwap=vwap, low=min(prices), high=max(prices), change=change,
                     change_pct=(change / self.open_price[symbol] * 100))

    def recent_trades(self, symbol: str, count: int) -> list:
        return list(self.trades[symbol])[-count:]
