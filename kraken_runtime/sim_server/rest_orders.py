"""Private trading endpoints of the local exchange (`POST /0/private/<Method>`): AddOrder,
AddOrderBatch, AmendOrder, EditOrder, CancelOrder, CancelOrderBatch, CancelAll, CancelAllOrdersAfter.

Each goes through Trading (rate counters, faults, venue status) to the one engine the WS side uses, and
hands the events it caused to the hub at once, so WS subscribers see REST orders, amends and fills.
Each handler returns the result object or raises BadRequest with Kraken's error string.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Mapping

from kraken_runtime.core.kraken.codec import ns_to_rfc3339
from kraken_runtime.core.sim.api import AddOrderRequest, AmendOrderRequest, KrakenReject
from kraken_runtime.sim_server.jsontext import format_decimal
from kraken_runtime.sim_server.rest_common import (
    ERR_DEADLINE,
    ERR_UNKNOWN_PAIR,
    BadRequest,
    Params,
    RestApp,
    decimal,
    flag,
    integer,
    publish,
    text,
)
from kraken_runtime.sim_server.wsproto import parse_rfc3339, clock_ns

ERR_UNKNOWN_ORDER = "EOrder:Unknown order"
OFLAGS = ("post", "fcib", "fciq", "nompp")
# AddOrder parameters for what the model does not trade (docs/SIM.md): refused with EGeneral:Invalid arguments.
UNSUPPORTED = ("leverage", "price2", "displayvol", "close[ordertype]", "trigger")


def _check_deadline(app: RestApp, params: Params) -> None:
    deadline = text(params, "deadline")
    if deadline is None:
        return
    try:
        when = parse_rfc3339(deadline)
    except ValueError:
        raise BadRequest() from None
    if when < clock_ns():  # Kraken's engine checks its own clock, as the WS side does
        raise BadRequest(ERR_DEADLINE)


def _raise(result: object) -> None:
    if isinstance(result, KrakenReject):
        raise BadRequest(result.error)


def _order_request(params: Params, symbol: str, validate: bool) -> AddOrderRequest:
    """One order's parameters (AddOrder's, or one entry of AddOrderBatch's `orders`) as the engine's request."""
    side = text(params, "type")
    ordertype = text(params, "ordertype")
    volume = decimal(params, "volume")
    price = decimal(params, "price")
    userref = integer(params, "userref")
    if side not in ("buy", "sell") or ordertype not in ("limit", "market") or volume is None:
        raise BadRequest()
    oflags = [f for f in (text(params, "oflags") or "").split(",") if f]
    if any(f not in OFLAGS for f in oflags):
        raise BadRequest()
    tif = (text(params, "timeinforce") or "GTC").lower()
    if (text(params, "stptype") or "cancel-newest") != "cancel-newest":
        raise BadRequest()  # self-trade prevention cancels the newest order only (docs/SIM.md)
    if any(text(params, name) is not None for name in UNSUPPORTED) or flag(params, "reduce_only") \
            or any(text(params, name) not in (None, "0") for name in ("starttm", "expiretm")):
        raise BadRequest()
    return AddOrderRequest(symbol=symbol, side=side, order_type=ordertype, order_qty=volume,
                           limit_price=price if ordertype == "limit" else None, time_in_force=tif,
                           post_only="post" in oflags, cl_ord_id=text(params, "cl_ord_id"), order_userref=userref,
                           validate=validate)


def _symbol(app: RestApp, params: Params) -> str:
    symbol = app.market.resolve_rest_pair(text(params, "pair") or "")
    if symbol is None:
        raise BadRequest(ERR_UNKNOWN_PAIR)
    return symbol


def add_order(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    """AddOrder: pair, type, ordertype (limit | market), volume, price, oflags (post, fciq, fcib, nompp),
    timeinforce (GTC | IOC | FOK), userref or cl_ord_id, validate, deadline."""
    symbol = _symbol(app, params)
    validate = flag(params, "validate")
    request = _order_request(params, symbol, validate)
    _check_deadline(app, params)
    result, events = app.trading.add_order(account, request, app.clock_ns())
    publish(app, events)
    _raise(result)
    if validate:
        return {"descr": {"order": result.description}}
    return {"descr": {"order": result.description}, "txid": [result.order_id]}


def add_order_batch(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    """AddOrderBatch: 2..15 `orders` (objects, a JSON body) on one `pair`; validated as a whole, then
    placed one by one (one that fails funding answers its own `error`)."""
    symbol = _symbol(app, params)
    orders = params.get("orders")
    if not isinstance(orders, list) or not all(isinstance(o, Mapping) for o in orders) \
            or not 2 <= len(orders) <= 15:
        raise BadRequest()
    validate = flag(params, "validate")
    requests = [_order_request(o, symbol, validate) for o in orders]
    _check_deadline(app, params)
    results, events = app.trading.batch_add(account, symbol, requests, validate, app.clock_ns())
    publish(app, events)
    _raise(results)
    out: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, KrakenReject):
            out.append({"error": result.error})
        elif validate:
            out.append({"descr": {"order": result.description}})
        else:
            out.append({"descr": {"order": result.description}, "txid": result.order_id})
    return {"orders": out}


def _find(app: RestApp, account: str, params: Params) -> tuple[str | None, str | None]:
    """(order_id, cl_ord_id) of the one open order `txid` or `cl_ord_id` names (exactly one of them)."""
    txid, cl_ord_id = text(params, "txid"), text(params, "cl_ord_id")
    if (txid is None) == (cl_ord_id is None):
        raise BadRequest()
    return txid, cl_ord_id


def amend_order(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    """AmendOrder: txid or cl_ord_id; order_qty and/or limit_price (absolute prices only), post_only,
    deadline -> {"amend_id"}. display_qty and trigger_price (icebergs, triggers) are not modelled."""
    order_id, cl_ord_id = _find(app, account, params)
    if text(params, "display_qty") is not None or text(params, "trigger_price") is not None:
        raise BadRequest()
    limit_text = text(params, "limit_price")
    if limit_text is not None and limit_text[0] in "+-#":
        raise BadRequest()  # relative prices are for trailing stops, which the model does not trade
    qty = decimal(params, "order_qty")
    price = decimal(params, "limit_price")
    if qty is None and price is None:
        raise BadRequest()
    _check_deadline(app, params)
    if qty is None:
        current = app.trading.find_open(account, order_id, cl_ord_id)
        if current is None:
            raise BadRequest(ERR_UNKNOWN_ORDER)
        qty = current.order_qty
    request = AmendOrderRequest(order_qty=qty, order_id=order_id, cl_ord_id=cl_ord_id, limit_price=price,
                                post_only=flag(params, "post_only"))
    result, events = app.trading.amend_order(account, request, app.clock_ns())
    publish(app, events)
    _raise(result)
    return {"amend_id": result.amend_id}


def edit_order(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    """EditOrder (legacy cancel-and-replace): txid, pair, volume, price, oflags, userref, validate,
    deadline -> the new txid and the original's."""
    txid = text(params, "txid")
    if txid is None:
        raise BadRequest()
    symbol = _symbol(app, params)
    if text(params, "price2") is not None and text(params, "price2") != "0":
        raise BadRequest()
    oflags = [f for f in (text(params, "oflags") or "").split(",") if f]
    if any(f not in OFLAGS for f in oflags):
        raise BadRequest()
    current = app.trading.find_open(account, txid, None)
    if current is None:
        raise BadRequest(ERR_UNKNOWN_ORDER)
    if current.symbol != symbol:
        raise BadRequest()
    validate = flag(params, "validate")
    _check_deadline(app, params)
    result, events = app.trading.edit_order(
        account, app.clock_ns(), order_id=txid, order_qty=decimal(params, "volume"),
        limit_price=decimal(params, "price"), post_only=("post" in oflags) if oflags else None,
        order_userref=integer(params, "userref"), validate=validate)
    publish(app, events)
    _raise(result)
    p = app.market.pairs[symbol]
    out: dict[str, Any] = {
        "status": "ok", "descr": {"order": result.description},
        "volume": format_decimal(result.order_qty, p.qty_precision),
        "price": format_decimal(result.limit_price or Decimal(0), p.price_precision), "price2": "0",
        "originaltxid": result.original_order_id}
    if not validate:
        out.update({"txid": result.order_id, "orders_cancelled": 1})
    return out


def cancel_order(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    """CancelOrder: txid (an order id or a userref integer) or cl_ord_id -> {"count": n}."""
    txid, cl_ord_id = _find(app, account, params)
    if txid is not None and txid.lstrip("-").isdigit():
        results, events = app.trading.cancel_order(account, app.clock_ns(), order_userref=int(txid))
    else:
        results, events = app.trading.cancel_order(account, app.clock_ns(), order_id=txid, cl_ord_id=cl_ord_id)
    publish(app, events)
    done = [r for r in results if not isinstance(r, KrakenReject)]
    if not done:
        raise BadRequest(results[0].error)
    return {"count": len(done)}


def cancel_order_batch(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    """CancelOrderBatch: up to 50 `orders` (order ids or userrefs, plain or as {"txid": ...}) and/or
    `cl_ord_ids` -> {"count": cancelled}. Ids that match no open order are skipped."""
    orders = params.get("orders") or []
    cl_ord_ids = params.get("cl_ord_ids") or []
    if isinstance(orders, str):
        orders = [o for o in orders.split(",") if o]
    if isinstance(cl_ord_ids, str):
        cl_ord_ids = [o for o in cl_ord_ids.split(",") if o]
    if not isinstance(orders, list) or not isinstance(cl_ord_ids, list) or not 1 <= len(orders) + len(cl_ord_ids) <= 50:
        raise BadRequest()
    count = 0
    events: list[Any] = []
    now = app.clock_ns()
    for entry in orders:
        value = entry.get("txid") if isinstance(entry, Mapping) else entry
        if not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
            raise BadRequest()
        if isinstance(value, int) or value.lstrip("-").isdigit():
            results, caused = app.trading.cancel_order(account, now, order_userref=int(value))
        else:
            results, caused = app.trading.cancel_order(account, now, order_id=value)
        count += sum(1 for r in results if not isinstance(r, KrakenReject))
        events.extend(caused)
    for value in cl_ord_ids:
        if not isinstance(value, str) or not value:
            raise BadRequest()
        results, caused = app.trading.cancel_order(account, now, cl_ord_id=value)
        count += sum(1 for r in results if not isinstance(r, KrakenReject))
        events.extend(caused)
    publish(app, events)
    return {"count": count}


def cancel_all(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    result, events = app.trading.cancel_all(account, app.clock_ns())
    publish(app, events)
    _raise(result)
    return {"count": result.count}


def cancel_after(app: RestApp, account: str, params: Params) -> dict[str, Any]:
    timeout = integer(params, "timeout")
    if timeout is None:
        raise BadRequest()
    result, events = app.trading.cancel_after(account, timeout, app.clock_ns())
    publish(app, events)
    _raise(result)
    trigger = result.trigger_ns or result.current_ns
    return {"currentTime": ns_to_rfc3339(result.current_ns, 0), "triggerTime": ns_to_rfc3339(trigger, 0)}


TRADING: dict[str, Callable[[RestApp, str, Params], dict[str, Any]]] = {
    "AddOrder": add_order, "AddOrderBatch": add_order_batch, "AmendOrder": amend_order, "EditOrder": edit_order,
    "CancelOrder": cancel_order, "CancelOrderBatch": cancel_order_batch, "CancelAll": cancel_all,
    "CancelAllOrdersAfter": cancel_after,
}
