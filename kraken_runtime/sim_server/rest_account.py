"""Private account endpoints of the local exchange (`POST /0/private/<Method>`): balances, orders,
trades, ledger, trade volume and WebSocket tokens, all read from the one engine the WS side uses.

Shapes follow Kraken's (PROTOCOL.md 5.4, tests/data/kraken/rest): numbers as strings, times as epoch
seconds (JSON numbers), pairs under REST names (XXBTZUSD in trades, the altname in `descr`), assets
under Kraken's legacy codes (XXBT, ZUSD). Each handler returns the result object or raises BadRequest.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Iterable, TypeVar

from kraken_runtime.core.sim.accounts import AccountTrade, OrderView
from kraken_runtime.core.sim.events import BalanceChanged
from kraken_runtime.core.sim.instruments import ASSETS
from kraken_runtime.sim_server.jsontext import format_decimal
from kraken_runtime.sim_server.rest_common import (
    ERR_INVALID_ORDER,
    ERR_UNKNOWN_ASSET,
    NS,
    PAGE,
    BadRequest,
    Params,
    RestApp,
    epoch_ns,
    epoch_s,
    flag,
    id_list,
    page,
    pairs,
    text,
)

T = TypeVar("T")
DAY_NS = 86_400 * NS
VOLUME_WINDOW_NS = 30 * DAY_NS  # TradeVolume: Kraken's 30-day volume


def _rest_asset(name: str) -> tuple[str, int]:
    """(REST asset code, decimals) for a WS asset name."""
    asset = ASSETS.get(name)
    return (asset.rest_name, asset.decimals) if asset is not None else (name, 8)


def _asset_names(params: Params) -> set[str] | None:
    """The WS names of an `asset` filter (comma list of any spelling, or 'all'); None for all."""
    asked = text(params, "asset")
    if asked is None or asked.lower() == "all":
        return None
    out = set()
    for name in (a.strip() for a in asked.split(",")):
        match = [a.name for a in ASSETS.values() if name.upper() in (a.name, a.rest_name, a.altname)]
        if not match:
            raise BadRequest(ERR_UNKNOWN_ASSET)
        out.add(match[0])
    return out


def _window(params: Params, items: Iterable[T], ts: Callable[[T], int]) -> list[T]:
    start, end = epoch_ns(params, "start"), epoch_ns(params, "end")
    return [i for i in items if (start is None or ts(i) >= start) and (end is None or ts(i) <= end)]


# ------------------------------------------------------------------------------------ balances


def balance(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    out = {}
    for name, amount in sorted(app.exchange.balances(account).items()):
        key, places = _rest_asset(name)
        out[key] = format_decimal(amount, places)
    return out


def balance_ex(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    """Totals (what open orders hold included) and what open orders hold, per asset (PROTOCOL.md 5.4)."""
    holds = app.exchange.holds(account)
    out = {}
    for name, amount in sorted(app.exchange.balances(account).items()):
        key, places = _rest_asset(name)
        out[key] = {"balance": format_decimal(amount, places),
                    "hold_trade": format_decimal(holds.get(name, Decimal(0)), places)}
    return out


def _usd_value(app: RestApp, asset: str) -> Decimal | None:
    """One unit of `asset` in USD: 1 for USD, else the mid of a served ASSET/USD pair (None when none)."""
    if asset == "USD":
        return Decimal(1)
    for inst in app.market.pairs.values():
        if inst.base == asset and inst.quote == "USD":
            touch = app.exchange.spread(inst.symbol)
            return (touch[0] + touch[1]) / 2 if touch is not None else None
    return None


def trade_balance(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    """Spot only: equivalent balance = trade balance = equity = free margin; margin fields are 0; uv is
    the value of what open orders hold. Valued at the mids of the served X/USD pairs (assets without one
    count 0), in `asset` (default ZUSD)."""
    wanted = _asset_names({"asset": text(params, "asset") or "ZUSD"})
    (target,) = wanted or {"USD"}
    unit = _usd_value(app, target)
    if unit is None or unit == 0:
        raise BadRequest(ERR_UNKNOWN_ASSET)
    _, places = _rest_asset(target)

    def value(amounts: dict[str, Decimal]) -> Decimal:
        return sum(((_usd_value(app, a) or Decimal(0)) * q for a, q in amounts.items()), Decimal(0)) / unit

    equity = format_decimal(value(app.exchange.balances(account)), places)
    zero = format_decimal(Decimal(0), places)
    return {"eb": equity, "tb": equity, "m": zero, "n": zero, "c": zero, "v": zero, "e": equity, "mf": equity,
            "uv": format_decimal(value(app.exchange.holds(account)), places)}


# ------------------------------------------------------------------------------------ orders


def order_json(app: RestApp, view: OrderView, with_trades: bool) -> dict[str, Any]:
    p = app.market.pairs[view.symbol]
    pp = p.price_precision
    qp = p.qty_precision
    cp = max(p.cost_precision, pp)
    price_text = format_decimal(view.limit_price, pp) if view.limit_price is not None else "0"
    qty_text = format_decimal(view.order_qty, qp)
    if view.order_type == "limit":
        descr_order = f"{view.side} {qty_text} {p.altname} @ limit {price_text}"
    else:
        descr_order = f"{view.side} {qty_text} {p.altname} @ market"
    oflags = ["fciq"] if view.side == "buy" else ["fcib"]
    if view.post_only:
        oflags.insert(0, "post")
    out: dict[str, Any] = {"refid": None, "userref": view.order_userref if view.order_userref is not None else 0}
    if view.cl_ord_id is not None:
        out["cl_ord_id"] = view.cl_ord_id
    out.update({
        "status": view.rest_status,
        "opentm": epoch_s(view.opened_ns),
        "starttm": 0,
        "expiretm": 0,
        "descr": {"pair": p.altname, "type": view.side, "ordertype": view.order_type, "price": price_text,
                  "price2": "0", "leverage": "none", "order": descr_order, "close": ""},
        "vol": qty_text,
        "vol_exec": format_decimal(view.cum_qty, qp),
        "cost": format_decimal(view.cum_cost, cp),
        "fee": format_decimal(view.fee, cp),
        "price": format_decimal(view.avg_price, pp),
        "stopprice": format_decimal(Decimal(0), cp),
        "limitprice": format_decimal(Decimal(0), cp),
        "misc": "amended" if view.amended else "",
        "oflags": ",".join(oflags),
    })
    if with_trades and view.trade_ids:
        out["trades"] = list(view.trade_ids)
    if not view.is_open:
        out["reason"] = view.reason
        out["closetm"] = epoch_s(view.closed_ns)
    return out


def _filter_orders(views: Iterable[OrderView], params: Params) -> list[OrderView]:
    userref = text(params, "userref")
    cl_ord_id = text(params, "cl_ord_id")
    return [v for v in views if (userref is None or str(v.order_userref) == userref)
            and (cl_ord_id is None or v.cl_ord_id == cl_ord_id)]


def open_orders(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    views = _filter_orders(app.exchange.open_orders(account), params)
    with_trades = flag(params, "trades")
    return {"open": {v.order_id: order_json(app, v, with_trades) for v in views}}


def closed_orders(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    ofs = page(params)
    closetime = text(params, "closetime") or "both"
    if closetime not in ("open", "close", "both"):
        raise BadRequest()
    views = _filter_orders(app.exchange.closed_orders(account), params)
    views = _window(params, views, (lambda v: v.opened_ns) if closetime == "open" else (lambda v: v.closed_ns or 0))
    with_trades = flag(params, "trades")
    return {"closed": {v.order_id: order_json(app, v, with_trades) for v in views[ofs:ofs + PAGE]},
            "count": len(views)}


def query_orders(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    views = _filter_orders(app.exchange.query_orders(account, id_list(params, "txid", 50)), params)
    if not views:
        raise BadRequest(ERR_INVALID_ORDER)
    with_trades = flag(params, "trades")
    return {v.order_id: order_json(app, v, with_trades) for v in views}


# ------------------------------------------------------------------------------------ trades


def trade_json(app: RestApp, trade: AccountTrade, with_ledgers: bool) -> dict[str, Any]:
    p = app.market.pairs[trade.symbol]
    pp = p.price_precision
    cp = max(p.cost_precision, pp)
    out: dict[str, Any] = {
        "ordertxid": trade.order_id, "postxid": "TP" + trade.exec_id[2:], "pair": p.rest_name,
        "time": epoch_s(trade.ts_ns), "type": trade.side, "ordertype": trade.order_type,
        "price": format_decimal(trade.price, pp), "cost": format_decimal(trade.cost, cp),
        "fee": format_decimal(trade.fee, cp), "vol": format_decimal(trade.qty, p.qty_precision),
        "margin": format_decimal(Decimal(0), cp), "leverage": "0", "misc": "", "trade_id": trade.trade_id,
        "maker": trade.maker}
    if with_ledgers:
        out["ledgers"] = list(trade.ledger_ids)
    return out


def trades_history(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    ofs = page(params)
    if (text(params, "type") or "all") not in ("all", "any position", "closed position", "closing position",
                                               "no position"):
        raise BadRequest()
    found = _window(params, app.exchange.trades_history(account), lambda t: t.ts_ns)
    with_ledgers = flag(params, "ledgers")
    return {"count": len(found),
            "trades": {t.exec_id: trade_json(app, t, with_ledgers) for t in found[ofs:ofs + PAGE]}}


def query_trades(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    wanted = id_list(params, "txid", 20)
    by_id = {t.exec_id: t for t in app.exchange.trades_history(account)}
    found = [by_id[i] for i in wanted if i in by_id]
    if not found:
        raise BadRequest()
    return {t.exec_id: trade_json(app, t, False) for t in found}


# ------------------------------------------------------------------------------------ ledger


def ledger_json(entry: BalanceChanged) -> dict[str, Any]:
    key, places = _rest_asset(entry.asset)
    return {"refid": entry.ref_id, "time": epoch_s(entry.ts_ns), "type": entry.ledger_type, "subtype": "",
            "aclass": "currency", "asset": key, "amount": format_decimal(entry.amount, places),
            "fee": format_decimal(entry.fee, places), "balance": format_decimal(entry.balance, places)}


def ledgers(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    ofs = page(params)
    if text(params, "aclass") not in (None, "currency"):
        raise BadRequest()
    kind = text(params, "type") or "all"
    if kind not in ("all", "trade", "deposit", "withdrawal", "transfer", "margin", "adjustment", "rollover",
                    "credit", "settled", "staking", "dividend", "sale", "nft_rebate"):
        raise BadRequest()
    assets = _asset_names(params)
    found = [e for e in app.exchange.ledger(account)
             if (assets is None or e.asset in assets) and kind in ("all", e.ledger_type)]
    found = _window(params, found, lambda e: e.ts_ns)
    out: dict[str, Any] = {"ledger": {e.ledger_id: ledger_json(e) for e in found[ofs:ofs + PAGE]}}
    if not flag(params, "without_count"):
        out["count"] = len(found)
    return out


def query_ledgers(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    wanted = id_list(params, "id", 20)
    by_id = {e.ledger_id: e for e in app.exchange.ledger(account)}
    found = [by_id[i] for i in wanted if i in by_id]
    if not found:
        raise BadRequest()
    return {e.ledger_id: ledger_json(e) for e in found}


# ------------------------------------------------------------------------------------ fees, tokens


def trade_volume(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    """The account's 30-day volume (USD-quoted fills) and, per pair asked, the fees the engine charges:
    tier 0 of the pair's schedule (the engine does not move accounts up tiers), the next tier shown."""
    volume = app.exchange.volume_usd(account, app.clock_ns() - VOLUME_WINDOW_NS)
    out: dict[str, Any] = {"currency": "ZUSD", "volume": format_decimal(volume, 4)}
    asked = pairs(app, params, required=False) if text(params, "pair") is not None else []
    if asked:
        out["fees"] = {}
        out["fees_maker"] = {}
        for key, p in asked:
            for name, charged, schedule in (("fees", p.taker_fee_pct, p.fees), ("fees_maker", p.maker_fee_pct,
                                                                                 p.fees_maker)):
                nxt = schedule[1] if len(schedule) > 1 else schedule[0]
                out[name][key] = {"fee": format_decimal(charged, 4), "minfee": format_decimal(schedule[-1][1], 4),
                                  "maxfee": format_decimal(schedule[0][1], 4),
                                  "nextfee": format_decimal(nxt[1], 4), "nextvolume": format_decimal(nxt[0], 4),
                                  "tiervolume": format_decimal(schedule[0][0], 4)}
    return out


def websockets_token(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    token = app.trading.tokens.issue(account, app.clock_ns())
    return {"token": token, "expires": int(app.trading.tokens.ttl_s)}


ACCOUNT: dict[str, Callable[[RestApp, str, Params], dict[str, Any]]] = {
    "Balance": balance, "BalanceEx": balance_ex, "TradeBalance": trade_balance, "OpenOrders": open_orders,
    "ClosedOrders": closed_orders, "QueryOrders": query_orders, "TradesHistory": trades_history,
    "QueryTrades": query_trades, "Ledgers": ledgers, "QueryLedgers": query_ledgers, "TradeVolume": trade_volume,
    "GetWebSocketsToken": websockets_token,
}
