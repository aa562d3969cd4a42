"""Reference venue feed (`/ref`): best bid/ask in the message format of Binance US's public
book-ticker stream, `{"u": update id, "s": "BTCUSD", "b": bid, "B": bid qty, "a": ask, "A": ask qty}`
(prices and quantities as strings with 8 decimals), correlated with the local Kraken book: the
reference price is the Kraken best bid/ask `lag_ms` ago, shifted by `basis_bps`.

On connect every symbol streams. Binance's `{"method": "SUBSCRIBE", "params": ["btcusd@bookTicker"],
"id": 1}` narrows the stream to the listed symbols and is answered `{"result": null, "id": 1}`;
UNSUBSCRIBE removes symbols.
"""

from __future__ import annotations

import json
import random
from collections import deque
from decimal import Decimal

from kraken_runtime.sim_server.jsontext import dumps
from kraken_runtime.sim_server.transport import ServerWsConnection

NS = 1_000_000_000


def ref_name(symbol: str) -> str:
    return symbol.replace("/", "")


class RefFeed:
    def __init__(self, server, *, basis_bps: float, lag_ms: float, seed: int) -> None:
        self.server = server
        self.basis = Decimal(str(1 + basis_bps / 10_000))
        self.lag_ns = int(lag_ms * 1_000_000)
        self.rng = random.Random(seed ^ 0x5EF)
        self.history: dict[str, deque] = {s: deque(maxlen=4096) for s in server.symbols}
        self.last_sent: dict[str, tuple] = {}
        self.last_text: dict[str, str] = {}  # the latest quote per symbol, sent to a connection when it opens
        self.update_id = 400_900_000
        self.conns: set[ServerWsConnection] = set()
        self.by_ref_name = {ref_name(s).lower(): s for s in server.symbols}
        server.hub.tick_listeners.append(self.on_tick)

    # ------------------------------------------------------------------ transport callbacks

    def on_open(self, conn: ServerWsConnection) -> None:
        conn.state["ref_symbols"] = set(self.server.symbols)
        self.conns.add(conn)
        for text in self.last_text.values():  # a live venue's quotes flow at once; ours change only on ticks
            conn.send(text)

    def on_close(self, conn: ServerWsConnection) -> None:
        self.conns.discard(conn)

    def on_message(self, conn: ServerWsConnection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            conn.send(dumps({"error": {"code": 3, "msg": "Invalid JSON"}}))
            return
        if not isinstance(message, dict):
            return
        method = message.get("method")
        params = message.get("params") or []
        ident = message.get("id")
        symbols = set()
        for stream in params if isinstance(params, list) else []:
            name = str(stream).split("@")[0].lower()
            if name in self.by_ref_name:
                symbols.add(self.by_ref_name[name])
        if method == "SUBSCRIBE":
            if conn.state.get("ref_narrowed"):
                conn.state["ref_symbols"] |= symbols
            else:
                conn.state["ref_symbols"] = symbols
                conn.state["ref_narrowed"] = True
        elif method == "UNSUBSCRIBE":
            conn.state["ref_symbols"] -= symbols
        elif method == "LIST_SUBSCRIPTIONS":
            conn.send(dumps({"result": [f"{ref_name(s).lower()}@bookTicker" for s in sorted(conn.state["ref_symbols"])],
                             "id": ident}))
            return
        conn.send(dumps({"result": None, "id": ident}))

    # ------------------------------------------------------------------ market

    def on_tick(self, now_ns: int) -> None:
        market = self.server.market
        for symbol in self.server.symbols:
            bids, asks = market.book(symbol, 1)
            if not bids or not asks:
                continue
            history = self.history[symbol]
            history.append((now_ns, bids[0][0], asks[0][0]))
            target = now_ns - self.lag_ns
            lagged = None
            while len(history) > 1 and history[1][0] <= target:
                history.popleft()
            if history and history[0][0] <= target:
                lagged = history[0]
            if lagged is None:
                continue
            if self.server.faults.is_stalled(symbol, now_ns):
                continue
            _, bid, ask = lagged
            if self.last_sent.get(symbol) == (bid, ask):
                continue
            self.last_sent[symbol] = (bid, ask)
            if not self.conns:
                continue
            self.update_id += 1
            inst = market.instrument(symbol)
            places = inst.price_precision
            quantum = Decimal(1).scaleb(-places)
            ref_bid = (bid * self.basis).quantize(quantum)
            ref_ask = max((ask * self.basis).quantize(quantum), ref_bid + quantum)
            text = dumps({"u": self.update_id, "s": ref_name(symbol),
                          "b": f"{ref_bid:.8f}", "B": f"{Decimal(self.rng.randint(1, 500_000)).scaleb(-5):.8f}",
                          "a": f"{ref_ask:.8f}", "A": f"{Decimal(self.rng.randint(1, 500_000)).scaleb(-5):.8f}"})
            self.last_text[symbol] = text
            for conn in list(self.conns):
                if symbol in conn.state.get("ref_symbols", ()):
                    conn.send(text)
