"""Private REST endpoints of the local exchange (`POST /0/private/<Method>`), behind the signature,
nonce and rate-limit checks in rest.py.

Shapes follow Kraken's recorded responses (tests/data/kraken/rest): numbers as strings at the pair's
precision, times as epoch seconds (JSON numbers), pair names as REST names (XXBTZUSD in trades, the
altname in `descr`), asset keys as Kraken's legacy codes (XXBT, ZUSD). Every handler returns a result
object (wrapped by rest.py in `{"error": [], "result": ...}`) or an HttpResponse carrying Kraken's error.
Engine events (executions, balances, the book) are handed to the hub at once, so WS subscribers see
REST orders too.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from kraken_runtime.core.kraken.codec import ns_to_rfc3339
from kraken_runtime.core.sim.api import AddOrderRequest, KrakenReject
from kraken_runtime.sim_server.jsontext import Num, format_decimal
from kraken_runtime.sim_server.rest_common import ERR_INVALID_ARGS, ERR_UNKNOWN_PAIR, NS, envelope
from kraken_runtime.sim_server.transport import HttpResponse
from kraken_runtime.sim_server.wsproto import parse_rfc3339, wall_ns

PAGE = 50


def _error(error: str) -> HttpResponse:
    return envelope(errors=[error])


def _publish(app, events) -> None:
    if events:
        app.hub.absorb(events, app.clock_ns())


def _time(ns: int | None) -> Num:
    """Epoch seconds as Kraken writes them: a JSON number with up to 7 decimals (1688666559.8974)."""
    if not ns:
        return Num("0")
    seconds, rem = divmod(ns, NS)
    frac = f"{rem:09d}"[:7].rstrip("0")
    return Num(f"{seconds}.{frac}" if frac else f"{seconds}")


def _bool(value: str | None) -> bool:
    return str(value).lower() in ("true", "1", "yes")


def _dec(value: str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValueError(value) from None
    if not result.is_finite():
        raise ValueError(value)
    return result


# ------------------------------------------------------------------------------------------ account


def balance(app, account: str) -> dict:
    market = app.market
    out = {}
    for name, amount in sorted(app.exchange.balances(account).items()):
        asset = market.assets.get(name)
        key = asset.rest_name if asset is not None else name
        places = asset.decimals if asset is not None else 8
        out[key] = format_decimal(amount, places)
    return out


# ------------------------------------------------------------------------------------------ orders


def add_order(app, account: str, form: dict):
    """AddOrder: pair, type, ordertype (limit | market), volume, price, oflags (post, fciq, fcib),
    timeinforce (GTC | IOC | FOK), userref or cl_ord_id, validate. deadline is accepted and checked."""
    symbol = app.market.resolve_rest_pair(form.get("pair", ""))
    if symbol is None:
        return _error(ERR_UNKNOWN_PAIR)
    side = form.get("type")
    ordertype = form.get("ordertype")
    try:
        volume = _dec(form.get("volume"))
        price = _dec(form.get("price"))
        userref = int(form["userref"]) if form.get("userref") not in (None, "") else None
    except ValueError:
        return _error(ERR_INVALID_ARGS)
    if side not in ("buy", "sell") or ordertype not in ("limit", "market") or volume is None:
        return _error(ERR_INVALID_ARGS)
    if ordertype == "market":
        price = None
    oflags = [flag for flag in (form.get("oflags") or "").split(",") if flag]
    if any(flag not in ("post", "fcib", "fciq", "nompp") for flag in oflags):
        return _error(ERR_INVALID_ARGS)
    tif = (form.get("timeinforce") or "GTC").lower()
    if any(form.get(name) for name in ("leverage", "price2", "displayvol", "close[ordertype]")) \
            or any(form.get(name) not in (None, "", "0") for name in ("starttm", "expiretm")) \
            or _bool(form.get("reduce_only")) or form.get("trigger"):
        return _error(ERR_INVALID_ARGS)  # what the model does not support (docs/SIM.md)
    if form.get("deadline"):
        try:
            if parse_rfc3339(form["deadline"]) < wall_ns():
                return _error("EService:Deadline elapsed")
        except ValueError:
            return _error(ERR_INVALID_ARGS)
    validate = _bool(form.get("validate"))
    request = AddOrderRequest(symbol=symbol, side=side, order_type=ordertype, order_qty=volume, limit_price=price,
                              time_in_force=tif, post_only="post" in oflags, cl_ord_id=form.get("cl_ord_id") or None,
                              order_userref=userref, validate=validate)
    result, events = app.trading.add_order(account, request, app.clock_ns())
    _publish(app, events)
    if isinstance(result, KrakenReject):
        return _error(result.error)
    if validate:
        return {"descr": {"order": result.description}}
    return {"descr": {"order": result.description}, "txid": [result.order_id]}


def cancel_order(app, account: str, form: dict):
    """CancelOrder: txid (an order id or a userref integer) or cl_ord_id -> {"count": n}."""
    txid = form.get("txid") or None
    cl_ord_id = form.get("cl_ord_id") or None
    if (txid is None) == (cl_ord_id is None):
        return _error(ERR_INVALID_ARGS)
    if txid is not None and txid.lstrip("-").isdigit():
        results, events = app.trading.cancel_order(account, app.clock_ns(), order_userref=int(txid))
    else:
        results, events = app.trading.cancel_order(account, app.clock_ns(), order_id=txid, cl_ord_id=cl_ord_id)
    _publish(app, events)
    done = [r for r in results if not isinstance(r, KrakenReject)]
    if not done:
        return _error(results[0].error)
    return {"count": len(done)}


def cancel_all(app, account: str):
    result, events = app.trading.cancel_all(account, app.clock_ns())
    _publish(app, events)
    if isinstance(result, KrakenReject):
        return _error(result.error)
    return {"count": result.count}


def cancel_after(app, account: str, form: dict):
    try:
        timeout = int(form.get("timeout", ""))
    except ValueError:
        return _error(ERR_INVALID_ARGS)
    result, events = app.trading.cancel_after(account, timeout, app.clock_ns())
    _publish(app, events)
    if isinstance(result, KrakenReject):
        return _error(result.error)
    trigger = result.trigger_ns or result.current_ns
    return {"currentTime": ns_to_rfc3339(result.current_ns, 0), "triggerTime": ns_to_rfc3339(trigger, 0)}


# ------------------------------------------------------------------------------------------ queries


def _order_json(app, view, with_trades: bool) -> dict:
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
    out = {
        "refid": None,
        "userref": view.order_userref if view.order_userref is not None else 0,
    }
    if view.cl_ord_id is not None:
        out["cl_ord_id"] = view.cl_ord_id
    out.update({
        "status": view.rest_status,
        "opentm": _time(view.opened_ns),
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
        out["closetm"] = _time(view.closed_ns)
    return out


def _filter(views, form: dict):
    userref = form.get("userref")
    cl_ord_id = form.get("cl_ord_id")
    out = []
    for view in views:
        if userref not in (None, "") and str(view.order_userref) != userref:
            continue
        if cl_ord_id and view.cl_ord_id != cl_ord_id:
            continue
        out.append(view)
    return out


def open_orders(app, account: str, form: dict):
    views = _filter(app.exchange.open_orders(account), form)
    with_trades = _bool(form.get("trades"))
    return {"open": {v.order_id: _order_json(app, v, with_trades) for v in views}}


def _window(form: dict) -> tuple[int | None, int | None, int]:
    def stamp(name):
        text = form.get(name)
        if not text:
            return None
        try:
            return int(Decimal(text) * NS)
        except (InvalidOperation, ValueError):
            raise ValueError(name) from None

    ofs = int(form.get("ofs") or 0)
    if ofs < 0:
        raise ValueError("ofs")
    return stamp("start"), stamp("end"), ofs


def closed_orders(app, account: str, form: dict):
    try:
        start, end, ofs = _window(form)
    except ValueError:
        return _error(ERR_INVALID_ARGS)
    views = _filter(app.exchange.closed_orders(account), form)
    use_open = form.get("closetime") == "open"
    if start is not None:
        views = [v for v in views if (v.opened_ns if use_open else v.closed_ns or 0) >= start]
    if end is not None:
        views = [v for v in views if (v.opened_ns if use_open else v.closed_ns or 0) <= end]
    page = views[ofs:ofs + PAGE]
    with_trades = _bool(form.get("trades"))
    return {"closed": {v.order_id: _order_json(app, v, with_trades) for v in page}, "count": len(views)}


def query_orders(app, account: str, form: dict):
    txids = [t for t in (form.get("txid") or "").split(",") if t]
    if not txids or len(txids) > 50:
        return _error(ERR_INVALID_ARGS)
    views = app.exchange.query_orders(account, txids)
    if not views:
        return _error("EOrder:Invalid order")
    with_trades = _bool(form.get("trades"))
    return {v.order_id: _order_json(app, v, with_trades) for v in views}


def trades_history(app, account: str, form: dict):
    try:
        start, end, ofs = _window(form)
    except ValueError:
        return _error(ERR_INVALID_ARGS)
    trades = list(app.exchange.trades_history(account))
    if start is not None:
        trades = [t for t in trades if t.ts_ns >= start]
    if end is not None:
        trades = [t for t in trades if t.ts_ns <= end]
    out = {}
    for trade in trades[ofs:ofs + PAGE]:
        p = app.market.pairs[trade.symbol]
        pp = p.price_precision
        cp = max(p.cost_precision, pp)
        out[trade.exec_id] = {
            "ordertxid": trade.order_id, "postxid": "TP" + trade.exec_id[2:], "pair": p.rest_name,
            "time": _time(trade.ts_ns), "type": trade.side, "ordertype": trade.order_type,
            "price": format_decimal(trade.price, pp), "cost": format_decimal(trade.cost, cp),
            "fee": format_decimal(trade.fee, cp), "vol": format_decimal(trade.qty, p.qty_precision),
            "margin": format_decimal(Decimal(0), cp), "leverage": "0", "misc": "", "trade_id": trade.trade_id,
            "maker": trade.maker}
    return {"count": len(trades), "trades": out}
