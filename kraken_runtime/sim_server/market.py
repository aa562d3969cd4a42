"""Adapter between the server and the exchange model (core.sim.exchange.SimExchange).

It gives the server the views it needs in plain lists of Decimals (best first), and the instrument
data in both WS v2 and REST shapes, so the server does not depend on the model's internals.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

from kraken_runtime.core.sim.exchange import SimExchange
from kraken_runtime.core.sim.instruments import ASSETS, INSTRUMENTS, Instrument
from kraken_runtime.sim_server.jsontext import Num


SPREADS_KEPT = 200  # recent (time, bid, ask) samples per symbol for REST Spread


class MarketAdapter:
    def __init__(self, exchange: SimExchange) -> None:
        self.exchange = exchange
        self.assets = ASSETS
        self.symbols: tuple[str, ...] = tuple(exchange.symbols)
        self.pairs: dict[str, Instrument] = {symbol: INSTRUMENTS[symbol] for symbol in self.symbols}
        self._spreads: dict[str, deque[tuple[int, Decimal, Decimal]]] = {
            symbol: deque(maxlen=SPREADS_KEPT) for symbol in self.symbols}
        self.by_rest_name: dict[str, str] = {}
        for symbol, info in self.pairs.items():
            for name in (info.rest_name, info.altname, info.wsname, symbol):
                self.by_rest_name[name.upper()] = symbol

    # ------------------------------------------------------------------ market

    def step(self, now_ns: int) -> list:
        events = self.exchange.step(now_ns)
        for symbol, kept in self._spreads.items():
            touch = self.exchange.spread(symbol)
            if touch is not None and (not kept or kept[-1][1:] != touch):
                kept.append((now_ns, *touch))
        return events

    def spreads(self, symbol: str) -> list[tuple[int, Decimal, Decimal]]:
        """The top of book each time it changed, sampled once per market tick: (time ns, bid, ask), oldest first."""
        return list(self._spreads[symbol])

    def instrument(self, symbol: str) -> Instrument:
        return self.pairs[symbol]

    def book(self, symbol: str, depth: int) -> tuple[list, list]:
        bids, asks = self.exchange.book(symbol, depth)
        return list(bids), list(asks)

    def book_ticks(self, symbol: str, depth: int) -> tuple[list, list]:
        """(bids, asks) best first as (price ticks, qty lots) integers at the pair's precisions."""
        return self.exchange.book_ticks(symbol, depth)

    def l3(self, symbol: str, depth: int) -> tuple[list, list]:
        """Orders of the top `depth` levels: (order_id, price, qty, order_ts_ns), best level first."""
        bids, asks = self.exchange.l3_book(symbol, depth)
        return list(bids), list(asks)

    def ticker(self, symbol: str):
        return self.exchange.ticker(symbol)

    def recent_trades(self, symbol: str, count: int) -> list:
        return list(self.exchange.recent_trades(symbol, count))

    def resolve_rest_pair(self, name: str) -> str | None:
        return self.by_rest_name.get(name.upper())

    # ------------------------------------------------------------------ instrument channel

    def instrument_payload(self) -> dict:
        assets: dict[str, dict] = {}
        for info in self.pairs.values():
            for name in (info.base, info.quote):
                if name not in assets:
                    asset = self.assets[name]
                    assets[name] = {"id": name, "status": asset.status, "precision": asset.decimals,
                                    "precision_display": asset.display_decimals, "borrowable": False,
                                    "collateral_value": 1.0 if name in ("USD", "BTC", "ETH") else 0.0,
                                    "margin_rate": 0.02}
        pairs = []
        for info in self.pairs.values():
            pairs.append({
                "symbol": info.symbol, "base": info.base, "quote": info.quote, "status": "online",
                "qty_precision": info.qty_precision, "qty_increment": Num(_sci(info.qty_increment)),
                "price_precision": info.price_precision, "cost_precision": info.cost_precision,
                "marginable": False, "has_index": True, "cost_min": Num(f"{info.cost_min.normalize():f}"),
                "tick_size": Num(_sci(info.price_increment)), "price_increment": Num(_sci(info.price_increment)),
                "qty_min": Num(f"{info.qty_min.normalize():f}"),
            })
        return {"assets": list(assets.values()), "pairs": pairs}


def _sci(value: Decimal) -> str:
    """Kraken writes increments like 1e-08 and 0.1: Python's float repr rules."""
    return repr(float(value))
