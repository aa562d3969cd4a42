"""REST API of the local exchange: /0/public/* (GET or POST) and /0/private/* (POST, signed).

Kraken's envelope `{"error": [...], "result": ...}` with HTTP 200, its error strings, numbers as
strings in results, pair keys in Kraken's REST names (XXBTZUSD), asset keys in its legacy codes.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

from kraken_runtime.sim_server import rest_orders
from kraken_runtime.sim_server.jsontext import Num, dumps, format_decimal
from kraken_runtime.sim_server.rest_common import (
    ERR_INVALID_ARGS,
    ERR_UNKNOWN_ASSET,
    ERR_UNKNOWN_METHOD,
    ERR_UNKNOWN_PAIR,
    NS,
    envelope,
)
from kraken_runtime.sim_server.transport import HttpRequest, HttpResponse
from kraken_runtime.sim_server.wsproto import rfc3339_s


def _private_params(request: HttpRequest) -> dict[str, str] | None:
    """The body's parameters: form-encoded (Kraken's documented format) or a JSON object (its official
    signing sample also accepts JSON, nonce inside). Values as strings; None when unreadable."""
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        try:
            obj = json.loads(request.body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(obj, dict):
            return None
        return {str(k): (",".join(map(str, v)) if isinstance(v, list) else
                         ("true" if v is True else "false" if v is False else str(v))) for k, v in obj.items()}
    return request.form()


def _fmt(value: Decimal | None, places: int) -> str:
    return format_decimal(value if value is not None else Decimal(0), places)


def _vol(value: Decimal, places: int) -> str:
    return format_decimal(value, places)


class RestApi:
    def __init__(self, app) -> None:
        self.app = app  # the SimServer: .market, .trading, .faults, .clock_ns

    # ------------------------------------------------------------------ routing

    async def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith("/0/public/"):
            name = path[len("/0/public/"):]
            handler = getattr(self, f"public_{name}", None)
            if handler is None:
                return envelope(errors=[ERR_UNKNOWN_METHOD])
            params = {k: v[-1] for k, v in request.query.items()}
            if request.method == "POST" and request.body:
                params.update(request.form())
            return handler(params)
        if path.startswith("/0/private/"):
            name = path[len("/0/private/"):]
            handler = getattr(self, f"private_{name}", None)
            if handler is None:
                return envelope(errors=[ERR_UNKNOWN_METHOD])
            if request.method != "POST":
                return envelope(errors=[ERR_INVALID_ARGS])
            trading = self.app.trading
            form = _private_params(request)
            if form is None:
                return envelope(errors=[ERR_INVALID_ARGS])
            api_key, error = trading.authenticate_rest(path, request.headers, request.body, form)
            if error:
                return envelope(errors=[error])
            now = self.app.clock_ns()
            error = trading.charge_rest(api_key, name, now)
            if error:
                return envelope(errors=[error])
            if name in ("AddOrder", "CancelOrder", "CancelAll", "CancelAllOrdersAfter"):
                delay = self.app.faults.ack_delay_s(now)
                if delay:
                    await asyncio.sleep(delay)
            result = handler(api_key, form)
            if isinstance(result, HttpResponse):
                return result
            return envelope(result)
        return HttpResponse(404, dumps({"error": ["EGeneral:Unknown method"]}).encode())

    # ------------------------------------------------------------------ public

    def _pairs(self, params) -> tuple[list[str] | None, str | None]:
        market = self.app.market
        text = params.get("pair")
        if not text:
            return list(market.symbols), None
        out = []
        for name in text.split(","):
            symbol = market.resolve_rest_pair(name.strip())
            if symbol is None:
                return None, ERR_UNKNOWN_PAIR
            out.append(symbol)
        return out, None

    def public_Time(self, params) -> HttpResponse:
        now = self.app.clock_ns()
        return envelope({"unixtime": now // NS,
                         "rfc1123": time.strftime("%a, %d %b %y %H:%M:%S +0000", time.gmtime(now // NS))})

    def public_SystemStatus(self, params) -> HttpResponse:
        return envelope({"status": self.app.faults.venue_status(), "timestamp": rfc3339_s(self.app.clock_ns())})

    def public_Assets(self, params) -> HttpResponse:
        market = self.app.market
        wanted = None
        if params.get("asset"):
            wanted = {a.strip().upper() for a in params["asset"].split(",")}
        result = {}
        used = {a for info in market.pairs.values() for a in (info.base, info.quote)}
        for name in sorted(used):
            asset = market.assets[name]
            if wanted is not None and not wanted & {asset.name, asset.rest_name, asset.altname}:
                continue
            result[asset.rest_name] = {"aclass": "currency", "altname": asset.altname, "decimals": asset.decimals,
                                       "display_decimals": asset.display_decimals,
                                       "collateral_value": 1 if name in ("USD", "BTC", "ETH") else 0,
                                       "status": asset.status}
        if wanted is not None and not result:
            return envelope(errors=[ERR_UNKNOWN_ASSET])
        return envelope(result)

    def public_AssetPairs(self, params) -> HttpResponse:
        symbols, error = self._pairs(params)
        if symbols is None:
            return envelope(errors=[error or ERR_UNKNOWN_PAIR])
        market = self.app.market
        info_kind = params.get("info", "info")
        result: dict[str, Any] = {}
        for symbol in symbols:
            p = market.pairs[symbol]
            fees = [[Num(f"{v:f}"), Num(f"{pct:f}")] for v, pct in p.fees]
            fees_maker = [[Num(f"{v:f}"), Num(f"{pct:f}")] for v, pct in p.fees_maker]
            if info_kind == "fees":
                result[p.rest_name] = {"fees": fees, "fees_maker": fees_maker, "fee_volume_currency": "ZUSD"}
                continue
            if info_kind == "leverage":
                result[p.rest_name] = {"leverage_buy": [], "leverage_sell": []}
                continue
            if info_kind == "margin":
                result[p.rest_name] = {"margin_call": 80, "margin_stop": 40}
                continue
            result[p.rest_name] = {
                "altname": p.altname, "wsname": p.wsname, "aclass_base": "currency", "base": p.base_asset,
                "aclass_quote": "currency", "quote": p.quote_asset, "lot": "unit",
                "cost_decimals": p.cost_precision, "pair_decimals": p.price_precision,
                "lot_decimals": p.qty_precision, "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [],
                "fees": fees, "fees_maker": fees_maker, "fee_volume_currency": "ZUSD",
                "margin_call": 80, "margin_stop": 40, "ordermin": f"{p.qty_min:f}", "costmin": f"{p.cost_min:f}",
                "tick_size": f"{p.price_increment:f}", "status": self._pair_status(),
                "long_position_limit": 0, "short_position_limit": 0}
        return envelope(result)

    def _pair_status(self) -> str:
        status = self.app.faults.venue_status()
        return "online" if status == "maintenance" else status

    def _price_places(self, p) -> int:
        return max(p.price_precision, p.cost_precision)

    def public_Ticker(self, params) -> HttpResponse:
        symbols, error = self._pairs(params)
        if symbols is None:
            return envelope(errors=[error or ERR_UNKNOWN_PAIR])
        market = self.app.market
        result = {}
        for symbol in symbols:
            p = market.pairs[symbol]
            t = market.ticker(symbol)
            pp, qp = self._price_places(p), p.qty_precision
            trades = market.recent_trades(symbol, 1)
            last_qty = trades[-1].qty if trades else Decimal(0)
            count = len(market.recent_trades(symbol, 1000))
            result[p.rest_name] = {
                "a": [_fmt(t.ask, pp), str(max(1, int(t.ask_qty))), format_decimal(t.ask_qty, 3)],
                "b": [_fmt(t.bid, pp), str(max(1, int(t.bid_qty))), format_decimal(t.bid_qty, 3)],
                "c": [_fmt(t.last, pp), _vol(last_qty, qp)],
                "v": [_vol(t.volume, qp), _vol(t.volume, qp)],
                "p": [_fmt(t.vwap, pp), _fmt(t.vwap, pp)],
                "t": [count, count],
                "l": [_fmt(t.low, pp), _fmt(t.low, pp)],
                "h": [_fmt(t.high, pp), _fmt(t.high, pp)],
                "o": _fmt(t.last - t.change, pp),
            }
        return envelope(result)

    def public_Depth(self, params) -> HttpResponse:
        if not params.get("pair"):
            return envelope(errors=[ERR_INVALID_ARGS])
        symbols, error = self._pairs(params)
        if symbols is None or len(symbols) != 1:
            return envelope(errors=[error or ERR_INVALID_ARGS])
        try:
            count = int(params.get("count", "100"))
        except ValueError:
            return envelope(errors=[ERR_INVALID_ARGS])
        count = max(1, min(500, count))
        market = self.app.market
        symbol = symbols[0]
        p = market.pairs[symbol]
        bids, asks = market.book(symbol, count)
        stamp = self.app.clock_ns() // NS
        pp, qp = self._price_places(p), p.qty_precision
        return envelope({p.rest_name: {
            "asks": [[_fmt(price, pp), _vol(qty, qp), stamp] for price, qty in asks],
            "bids": [[_fmt(price, pp), _vol(qty, qp), stamp] for price, qty in bids]}})

    def public_Trades(self, params) -> HttpResponse:
        if not params.get("pair"):
            return envelope(errors=[ERR_INVALID_ARGS])
        symbols, error = self._pairs(params)
        if symbols is None or len(symbols) != 1:
            return envelope(errors=[error or ERR_INVALID_ARGS])
        market = self.app.market
        symbol = symbols[0]
        p = market.pairs[symbol]
        try:
            since = int(params.get("since", "0") or 0)
            count = max(1, min(1000, int(params.get("count", "1000"))))
        except ValueError:
            return envelope(errors=[ERR_INVALID_ARGS])
        trades = [t for t in market.recent_trades(symbol, 1000) if t.ts_ns > since]
        trades = trades[-count:]
        pp, qp = self._price_places(p), p.qty_precision
        rows = [[_fmt(t.price, pp), _vol(t.qty, qp), Num(f"{t.ts_ns / NS:.7f}"), "b" if t.side == "buy" else "s",
                 "m" if t.ord_type == "market" else "l", "", t.trade_id] for t in trades]
        last = str(trades[-1].ts_ns if trades else since)
        return envelope({p.rest_name: rows, "last": last})

    # ------------------------------------------------------------------ private

    def private_GetWebSocketsToken(self, account: str, form) -> dict:
        token = self.app.trading.tokens.issue(account, self.app.clock_ns())
        return {"token": token, "expires": int(self.app.trading.tokens.ttl_s)}

    def private_Balance(self, account: str, form) -> dict:
        return rest_orders.balance(self.app, account)

    def private_AddOrder(self, account: str, form):
        return rest_orders.add_order(self.app, account, form)

    def private_CancelOrder(self, account: str, form):
        return rest_orders.cancel_order(self.app, account, form)

    def private_CancelAll(self, account: str, form):
        return rest_orders.cancel_all(self.app, account)

    def private_CancelAllOrdersAfter(self, account: str, form):
        return rest_orders.cancel_after(self.app, account, form)

    def private_OpenOrders(self, account: str, form):
        return rest_orders.open_orders(self.app, account, form)

    def private_ClosedOrders(self, account: str, form):
        return rest_orders.closed_orders(self.app, account, form)

    def private_QueryOrders(self, account: str, form):
        return rest_orders.query_orders(self.app, account, form)

    def private_TradesHistory(self, account: str, form):
        return rest_orders.trades_history(self.app, account, form)
