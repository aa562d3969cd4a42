"""WS v2 public endpoint (`/v2`) and the level3 endpoint (`/v2/l3`, token required).

Requests: ping, subscribe, unsubscribe. Channels on /v2: status, instrument, ticker (event_trigger bbo
or trades), trade, book (depth 10/25/100/500/1000). On /v2/l3: level3 (depth 10/100/1000, token).
One ack per symbol; Kraken's error strings for bad requests (PROTOCOL.md 1.2).
"""

from __future__ import annotations

from kraken_runtime.core.sim.api import OHLC_INTERVALS_MIN
from kraken_runtime.sim_server import wsproto
from kraken_runtime.sim_server.hub import Hub, status_message
from kraken_runtime.sim_server.jsontext import dumps
from kraken_runtime.sim_server.transport import ServerWsConnection
from kraken_runtime.sim_server.wsproto import response, clock_ns

PUBLIC_CHANNELS = ("status", "instrument", "ticker", "trade", "book", "ohlc")
OHLC_WARNING = "timestamp is deprecated, use interval_begin"
_ALLOWED = {
    "book": {"channel", "symbol", "depth", "snapshot"},
    "ticker": {"channel", "symbol", "event_trigger", "snapshot"},
    "trade": {"channel", "symbol", "snapshot"},
    "ohlc": {"channel", "symbol", "interval", "snapshot"},
    "instrument": {"channel", "snapshot", "execution_venue", "include_tokenized_assets"},
    "status": {"channel", "snapshot"},
    "level3": {"channel", "symbol", "depth", "snapshot", "token"},
}


class PublicHandler:
    """Handles one WS endpoint; `level3=True` makes it the token-checked level3 endpoint."""

    def __init__(self, hub: Hub, *, level3: bool = False, tokens=None) -> None:
        self.hub = hub
        self.level3 = level3
        self.tokens = tokens

    # ------------------------------------------------------------------ transport callbacks

    def on_open(self, conn: ServerWsConnection) -> None:
        conn.state["subs"] = {}
        conn.state["symbols"] = set()
        self.hub.status_conns.add(conn)
        self.hub.send(conn, status_message(self.hub.faults.venue_status(), conn.id))

    def on_close(self, conn: ServerWsConnection) -> None:
        self.hub.forget(conn)

    def on_message(self, conn: ServerWsConnection, text: str) -> None:
        time_in = clock_ns()
        message, error = wsproto.parse_request(text)
        if message is None:
            self.hub.send(conn, response("", error=error, time_in=time_in, time_out=clock_ns()))
            return
        method = message.get("method")
        req_id = wsproto.valid_req_id(message)
        if method == "ping":
            self.hub.send(conn, dumps({"method": "pong", **({"req_id": req_id} if req_id is not None else {}),
                                       "time_in": wsproto.rfc3339_us(time_in),
                                       "time_out": wsproto.rfc3339_us(clock_ns())}))
            return
        if method not in ("subscribe", "unsubscribe"):
            self.hub.send(conn, response(str(method), req_id=req_id, error=wsproto.ERR_METHOD,
                                         time_in=time_in, time_out=clock_ns()))
            return
        params = message.get("params")
        if not isinstance(params, dict):
            self._error(conn, method, req_id, wsproto.ERR_BAD_ARGS, time_in)
            return
        channel = params.get("channel")
        allowed = ("level3",) if self.level3 else PUBLIC_CHANNELS
        if not isinstance(channel, str) or channel not in allowed:
            self._error(conn, method, req_id, wsproto.ERR_BAD_CHANNEL, time_in)
            return
        for name in params:
            if name not in _ALLOWED[channel]:
                self._error(conn, method, req_id, wsproto.unsupported_field(name), time_in)
                return
        if channel == "status":
            self.hub.send(conn, status_message(self.hub.faults.venue_status(), conn.id))
            self._error(conn, method, req_id, wsproto.ERR_SYMBOL_NOT_FOUND, time_in)
            return
        if channel == "instrument":
            self._instrument(conn, method, req_id, params, time_in)
            return
        if channel == "level3":
            token = params.get("token")
            if not isinstance(token, str) or self.tokens is None or not self.tokens.use(token, self.hub.clock_ns()):
                self._error(conn, method, req_id, wsproto.ERR_INVALID_TOKEN, time_in)
                return
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols or not all(isinstance(s, str) for s in symbols):
            self._error(conn, method, req_id, wsproto.ERR_BAD_ARGS, time_in)
            return
        snapshot = params.get("snapshot", channel != "trade")
        if not isinstance(snapshot, bool):
            self._error(conn, method, req_id, wsproto.ERR_BAD_ARGS, time_in)
            return
        extra: dict = {}
        if channel in ("book", "level3"):
            depth = params.get("depth", 10)
            if depth not in (wsproto.L3_DEPTHS if channel == "level3" else wsproto.BOOK_DEPTHS) or isinstance(depth, bool):
                self._error(conn, method, req_id, wsproto.ERR_DEPTH, time_in)
                return
            extra["depth"] = depth
        if channel == "ticker":
            trigger = params.get("event_trigger", "trades")
            if trigger not in ("bbo", "trades"):
                self._error(conn, method, req_id, wsproto.ERR_BAD_ARGS, time_in)
                return
            extra["event_trigger"] = trigger
        if channel == "ohlc":
            interval = params.get("interval", 1)
            if interval not in OHLC_INTERVALS_MIN or isinstance(interval, bool):
                self._error(conn, method, req_id, wsproto.ERR_BAD_ARGS, time_in)
                return
            extra["interval"] = interval
        known = set(self.hub.market.symbols)
        for symbol in symbols:
            if symbol not in known:
                self.hub.send(conn, response(method, req_id=req_id, error=wsproto.unsupported_pair(symbol),
                                             time_in=time_in, time_out=clock_ns(), extra={"symbol": symbol}))
                continue
            if method == "subscribe":
                self._subscribe(conn, req_id, channel, symbol, snapshot, extra, time_in)
            else:
                self._unsubscribe(conn, req_id, channel, symbol, extra, time_in)

    # ------------------------------------------------------------------ helpers

    def _error(self, conn, method, req_id, error, time_in) -> None:
        self.hub.send(conn, response(method, req_id=req_id, error=error, time_in=time_in, time_out=clock_ns()))

    def _instrument(self, conn, method, req_id, params, time_in) -> None:
        subs = conn.state["subs"]
        snapshot = params.get("snapshot", True)
        if method == "subscribe":
            if ("instrument", None) in subs:
                self._error(conn, method, req_id, wsproto.ERR_ALREADY, time_in)
                return
            subs[("instrument", None)] = {}
            self.hub.instrument_subs.add(conn)
            self.hub.subscribed_conns.add(conn)
            self.hub.send(conn, response(method, req_id=req_id, time_in=time_in, time_out=clock_ns(), result={
                "channel": "instrument", "snapshot": bool(snapshot),
                "warnings": ["tick_size is deprecated, use price_increment"]}))
            if snapshot:
                self.hub.send(conn, dumps({"channel": "instrument", "type": "snapshot",
                                           "data": self.hub.market.instrument_payload()}))
        else:
            if subs.pop(("instrument", None), None) is None:
                self.hub.send(conn, response("subscribe", req_id=req_id, error=wsproto.ERR_NOT_FOUND,
                                             time_in=time_in, time_out=clock_ns()))
                return
            self.hub.instrument_subs.discard(conn)
            self.hub.send(conn, response(method, req_id=req_id, result={"channel": "instrument"},
                                         time_in=time_in, time_out=clock_ns()))

    def _subscribe(self, conn, req_id, channel, symbol, snapshot, extra, time_in) -> None:
        subs = conn.state["subs"]
        key = (channel, symbol)
        if key in subs:
            self.hub.send(conn, response("subscribe", req_id=req_id, error=wsproto.ERR_ALREADY,
                                         time_in=time_in, time_out=clock_ns(), extra={"symbol": symbol}))
            return
        subs[key] = dict(extra)
        conn.state["symbols"].add(symbol)
        self.hub.subscribed_conns.add(conn)
        result = {"channel": channel}
        if channel in ("book", "level3"):
            result["depth"] = extra["depth"]
        if channel == "ticker":
            result["event_trigger"] = extra["event_trigger"]
        if channel == "ohlc":
            result["interval"] = extra["interval"]
        result["snapshot"] = snapshot
        result["symbol"] = symbol
        if channel == "ohlc":
            result["warnings"] = [OHLC_WARNING]
        now = clock_ns()
        self.hub.send(conn, response("subscribe", req_id=req_id, result=result, time_in=time_in, time_out=now))
        hub = self.hub
        if channel == "book":
            if snapshot:
                hub.book_snapshot(conn, symbol, extra["depth"], now)
            else:
                hub.book_subscribe_only(conn, symbol, extra["depth"])
        elif channel == "level3":
            hub.l3_snapshot(conn, symbol, extra["depth"], now, snapshot)
        elif channel == "ticker":
            hub.ticker_subs.setdefault((symbol, extra["event_trigger"]), set()).add(conn)
            if snapshot:
                hub.send(conn, hub.ticker_message(symbol, "snapshot"))
        elif channel == "ohlc":
            hub.ohlc_subs.setdefault((symbol, extra["interval"]), set()).add(conn)
            if snapshot:
                hub.send(conn, hub.ohlc_message(symbol, extra["interval"], "snapshot"))
        elif channel == "trade":
            hub.trade_subs.setdefault(symbol, set()).add(conn)
            if snapshot:
                hub.send(conn, hub.trade_message(symbol, hub.market.recent_trades(symbol, 50), "snapshot"))

    def _unsubscribe(self, conn, req_id, channel, symbol, extra, time_in) -> None:
        subs = conn.state["subs"]
        key = (channel, symbol)
        current = subs.get(key)
        if current is None or (channel in ("book", "level3") and current.get("depth") != extra.get("depth")) \
                or (channel == "ohlc" and current.get("interval") != extra.get("interval")):
            self.hub.send(conn, response("subscribe", req_id=req_id, error=wsproto.ERR_NOT_FOUND,
                                         time_in=time_in, time_out=clock_ns(), extra={"symbol": symbol}))
            return
        del subs[key]
        if not any(s == symbol for (_, s) in subs):
            conn.state["symbols"].discard(symbol)
        hub = self.hub
        result = {"channel": channel}
        if channel == "book":
            hub.book_unsubscribe(conn, symbol, current["depth"])
            result.update(depth=current["depth"], snapshot=True)
        elif channel == "level3":
            hub.l3_unsubscribe(conn, symbol, current["depth"])
            result.update(depth=current["depth"])
        elif channel == "ticker":
            hub.ticker_subs.get((symbol, current["event_trigger"]), set()).discard(conn)
            result["event_trigger"] = current["event_trigger"]
        elif channel == "trade":
            hub.trade_subs.get(symbol, set()).discard(conn)
        elif channel == "ohlc":
            hub.ohlc_subs.get((symbol, current["interval"]), set()).discard(conn)
            result["interval"] = current["interval"]
        result["symbol"] = symbol
        self.hub.send(conn, response("unsubscribe", req_id=req_id, result=result, time_in=time_in,
                                     time_out=clock_ns()))
