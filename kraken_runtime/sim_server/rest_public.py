"""Public REST endpoints of the local exchange (`GET|POST /0/public/<Method>`).

Shapes follow Kraken's (PROTOCOL.md 5.3, tests/data/kraken/rest): numbers as strings at the pair's
precision, results keyed by the pair's REST name, or by the name as requested when the request used the
slash form (rest_common.pairs). Each handler returns the result object or raises BadRequest.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Callable

from kraken_runtime.core.sim.api import OHLC_INTERVALS_MIN
from kraken_runtime.sim_server.jsontext import Num, format_decimal
from kraken_runtime.sim_server.rest_common import (
    ERR_UNKNOWN_ASSET,
    NS,
    BadRequest,
    Params,
    RestApp,
    epoch_ns,
    integer,
    pairs,
    price_places,
    text,
)
from kraken_runtime.sim_server.wsproto import rfc3339_s

COLLATERAL_ASSETS = ("USD", "BTC", "ETH")


def time_(app: RestApp, params: Params) -> dict[str, Any]:
    now = app.clock_ns()
    return {"unixtime": now // NS, "rfc1123": time.strftime("%a, %d %b %y %H:%M:%S +0000", time.gmtime(now // NS))}


def system_status(app: RestApp, params: Params) -> dict[str, Any]:
    return {"status": app.faults.venue_status(), "timestamp": rfc3339_s(app.clock_ns())}


def assets(app: RestApp, params: Params) -> dict[str, Any]:
    market = app.market
    asked = text(params, "asset")
    wanted = {a.strip().upper() for a in asked.split(",")} if asked else None
    aclass = text(params, "aclass")
    if aclass not in (None, "currency"):
        raise BadRequest()
    result = {}
    used = {a for info in market.pairs.values() for a in (info.base, info.quote)}
    for name in sorted(used):
        asset = market.assets[name]
        if wanted is not None and not wanted & {asset.name, asset.rest_name, asset.altname}:
            continue
        result[asset.rest_name] = {"aclass": "currency", "altname": asset.altname, "decimals": asset.decimals,
                                   "display_decimals": asset.display_decimals,
                                   "collateral_value": 1 if name in COLLATERAL_ASSETS else 0, "status": asset.status}
    if wanted is not None and not result:
        raise BadRequest(ERR_UNKNOWN_ASSET)
    return result


def asset_pairs(app: RestApp, params: Params) -> dict[str, Any]:
    info_kind = text(params, "info") or "info"
    if info_kind not in ("info", "fees", "leverage", "margin"):
        raise BadRequest()
    if text(params, "aclass_base") not in (None, "currency"):
        return {}  # tokenized assets: none served
    status = app.faults.venue_status()
    pair_status = "online" if status == "maintenance" else status
    result: dict[str, Any] = {}
    for key, p in pairs(app, params, required=False):
        fees = [[Num(f"{v:f}"), Num(f"{pct:f}")] for v, pct in p.fees]
        fees_maker = [[Num(f"{v:f}"), Num(f"{pct:f}")] for v, pct in p.fees_maker]
        if info_kind == "fees":
            result[key] = {"fees": fees, "fees_maker": fees_maker, "fee_volume_currency": "ZUSD"}
        elif info_kind == "leverage":
            result[key] = {"leverage_buy": [], "leverage_sell": []}
        elif info_kind == "margin":
            result[key] = {"margin_call": 80, "margin_stop": 40}
        else:
            result[key] = {
                "altname": p.altname, "wsname": p.wsname, "aclass_base": "currency", "base": p.base_asset,
                "aclass_quote": "currency", "quote": p.quote_asset, "lot": "unit",
                "cost_decimals": p.cost_precision, "pair_decimals": p.price_precision,
                "lot_decimals": p.qty_precision, "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [],
                "fees": fees, "fees_maker": fees_maker, "fee_volume_currency": "ZUSD",
                "margin_call": 80, "margin_stop": 40, "ordermin": f"{p.qty_min:f}", "costmin": f"{p.cost_min:f}",
                "tick_size": f"{p.price_increment:f}", "status": pair_status,
                "long_position_limit": 0, "short_position_limit": 0}
    return result


def ticker(app: RestApp, params: Params) -> dict[str, Any]:
    market = app.market
    result = {}
    for key, p in pairs(app, params, required=False):
        t = market.ticker(p.symbol)
        pp, qp = price_places(p), p.qty_precision
        trades = market.recent_trades(p.symbol, 1000)
        last_qty = trades[-1].qty if trades else Decimal(0)
        result[key] = {
            "a": [format_decimal(t.ask, pp), str(max(1, int(t.ask_qty))), format_decimal(t.ask_qty, 3)],
            "b": [format_decimal(t.bid, pp), str(max(1, int(t.bid_qty))), format_decimal(t.bid_qty, 3)],
            "c": [format_decimal(t.last, pp), format_decimal(last_qty, qp)],
            "v": [format_decimal(t.volume, qp), format_decimal(t.volume, qp)],
            "p": [format_decimal(t.vwap, pp), format_decimal(t.vwap, pp)],
            "t": [len(trades), len(trades)],
            "l": [format_decimal(t.low, pp), format_decimal(t.low, pp)],
            "h": [format_decimal(t.high, pp), format_decimal(t.high, pp)],
            "o": format_decimal(t.last - t.change, pp),
        }
    return result


def depth(app: RestApp, params: Params) -> dict[str, Any]:
    ((key, p),) = pairs(app, params, required=True, single=True)
    count = integer(params, "count")
    count = 100 if not count else max(1, min(500, count))
    bids, asks = app.market.book(p.symbol, count)
    stamp = app.clock_ns() // NS
    pp, qp = price_places(p), p.qty_precision
    return {key: {"asks": [[format_decimal(price, pp), format_decimal(qty, qp), stamp] for price, qty in asks],
                  "bids": [[format_decimal(price, pp), format_decimal(qty, qp), stamp] for price, qty in bids]}}


def trades(app: RestApp, params: Params) -> dict[str, Any]:
    ((key, p),) = pairs(app, params, required=True, single=True)
    since = epoch_ns(params, "since") or 0
    count = integer(params, "count")
    count = 1000 if not count else max(1, min(1000, count))
    recent = [t for t in app.market.recent_trades(p.symbol, 1000) if t.ts_ns > since][-count:]
    pp, qp = price_places(p), p.qty_precision
    rows = [[format_decimal(t.price, pp), format_decimal(t.qty, qp), Num(f"{t.ts_ns / NS:.7f}"),
             "b" if t.side == "buy" else "s", "m" if t.ord_type == "market" else "l", "", t.trade_id]
            for t in recent]
    return {key: rows, "last": str(recent[-1].ts_ns if recent else since)}


def ohlc(app: RestApp, params: Params) -> dict[str, Any]:
    ((key, p),) = pairs(app, params, required=True, single=True)
    interval = integer(params, "interval") or 1
    if interval not in OHLC_INTERVALS_MIN:
        raise BadRequest()
    since = epoch_ns(params, "since")
    bars = app.exchange.ohlc(p.symbol, interval)[-720:]
    pp, qp = price_places(p), p.qty_precision
    rows = [[b.begin_ns // NS, format_decimal(b.open, pp), format_decimal(b.high, pp), format_decimal(b.low, pp),
             format_decimal(b.close, pp), format_decimal(b.vwap, pp), format_decimal(b.volume, qp), b.count]
            for b in bars if since is None or b.begin_ns > since]
    committed = bars[-2].begin_ns // NS if len(bars) >= 2 else (bars[-1].begin_ns // NS if bars else 0)
    return {key: rows, "last": committed}


def spread(app: RestApp, params: Params) -> dict[str, Any]:
    ((key, p),) = pairs(app, params, required=True, single=True)
    since = epoch_ns(params, "since")
    samples = [s for s in app.market.spreads(p.symbol) if since is None or s[0] > since]
    pp = price_places(p)
    rows = [[ts // NS, format_decimal(bid, pp), format_decimal(ask, pp)] for ts, bid, ask in samples]
    return {key: rows, "last": samples[-1][0] // NS if samples else (since or 0) // NS}


PUBLIC: dict[str, Callable[[RestApp, Params], dict[str, Any]]] = {
    "Time": time_, "SystemStatus": system_status, "Assets": assets, "AssetPairs": asset_pairs, "Ticker": ticker,
    "Depth": depth, "Trades": trades, "OHLC": ohlc, "Spread": spread,
}
