"""Authenticated WS v2 endpoint (`/v2/auth`, also `/auth/v2`): Kraken's ws-auth.kraken.com/v2, mirrored.

Requests are parsed with core.kraken.codec.decode_request and every reply is written with
codec.encode_message, so the wire format is exactly the one the project's client reads and writes.

- Token: from REST GetWebSocketsToken, in `params.token` of every private subscribe and trading
  request. A token must be used within its lifetime (900 s by default); once used it does not expire
  (PROTOCOL.md 4.1). Bad or expired: `EAPI:Invalid token`.
- `executions` (snap_orders, snap_trades, order_status, ratecounter): snapshot of open orders (and the
  last 50 fills), then one update per execution report, pushed as soon as the exchange model reports
  it: a trading request's own events, and fills of resting orders by the market's flow inside `step`.
- `balances`: snapshot, then one ledger entry per update.
- add_order, amend_order, edit_order, cancel_order (one reply per order), cancel_all,
  cancel_all_orders_after, batch_add, batch_cancel, ping; public channels are served here too, as on
  Kraken. edit_order (legacy cancel-and-replace) is parsed here: the project's codec has no request
  type for it, since the project's own client amends instead.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import overload

from kraken_runtime.core.kraken import messages as m
from kraken_runtime.core.kraken.codec import decode_request, encode_message, ns_to_rfc3339
from kraken_runtime.core.kraken.wire import DecodeError
from kraken_runtime.core.sim.api import AddOrderRequest, AmendOrderRequest, KrakenReject
from kraken_runtime.sim_server import wsproto
from kraken_runtime.sim_server.transport import ServerWsConnection
from kraken_runtime.sim_server.ws_public import PublicHandler

ERR_INVALID_TOKEN = "EAPI:Invalid token"
ERR_INVALID_ARGS = "EGeneral:Invalid arguments"
ERR_DEADLINE = "EService:Deadline elapsed"
ERR_UNKNOWN_ORDER = "EOrder:Unknown order"
PRIVATE = ("executions", "balances")
SNAPSHOT_TRADES = 50
_QUIET_STATUSES = frozenset({"new", "filled", "canceled", "expired"})  # order_status: false
_TRADING = {"add_order", "amend_order", "cancel_order", "cancel_all", "cancel_all_orders_after", "batch_add",
            "batch_cancel"}


@overload
def wire_decimal(value: Decimal) -> Decimal: ...
@overload
def wire_decimal(value: None) -> None: ...
def wire_decimal(value: Decimal | None) -> Decimal | None:
    """A Decimal as Kraken writes floats on this endpoint: no trailing zeros, at least one decimal
    (`0.005`, `26500.0`, `132.9995`)."""
    if value is None:
        return None
    value = value.normalize()
    if value == value.to_integral_value():
        return value.quantize(Decimal("0.0"))
    return value


def _enum(cls, value):
    return cls(value) if value is not None else None


class AuthHandler:
    def __init__(self, server) -> None:
        self.server = server
        self.hub = server.hub
        self.trading = server.trading
        self.exchange = server.exchange
        self.public = PublicHandler(server.hub)
        self.executions: dict[str, set[ServerWsConnection]] = {}  # account -> subscribed connections
        self.balances: dict[str, set[ServerWsConnection]] = {}
        self.hub.private_listeners.append(self.on_private_events)

    # ------------------------------------------------------------------ transport callbacks

    def on_open(self, conn: ServerWsConnection) -> None:
        self.public.on_open(conn)  # status frame, public bookkeeping

    def on_close(self, conn: ServerWsConnection) -> None:
        self.hub.forget(conn)
        for table in (self.executions, self.balances):
            for account, conns in list(table.items()):
                conns.discard(conn)
                if not conns:
                    del table[account]

    async def on_message(self, conn: ServerWsConnection, text: str) -> None:
        time_in = wsproto.clock_ns()
        raw, error = wsproto.parse_request(text)
        if raw is None:
            self._send_error(conn, "", None, error or wsproto.ERR_MALFORMED, time_in)
            return
        method = raw.get("method")
        params = raw.get("params")
        if method in ("subscribe", "unsubscribe") and isinstance(params, dict) and params.get("channel") not in PRIVATE:
            self.public.on_message(conn, text)
            return
        req_id = wsproto.valid_req_id(raw)
        if method == "edit_order":
            await self._edit_order(conn, params, req_id, time_in)
            return
        try:
            request = decode_request(text)
        except DecodeError as exc:
            self._send_error(conn, str(method or ""), req_id, _kraken_error(exc.reason), time_in)
            return
        name = str(method)
        if name in _TRADING:
            account = self.trading.account_for_token(getattr(request, "token", None), self.server.clock_ns())
            if account is None:
                self._send_error(conn, name, req_id, ERR_INVALID_TOKEN, time_in)
                return
            delay = self.server.faults.ack_delay_s(self.server.clock_ns())
            if delay:
                await asyncio.sleep(delay)
            deadline = getattr(request, "deadline", None)
            if isinstance(deadline, str) and wsproto.parse_rfc3339(deadline) < wsproto.clock_ns():
                self._send_error(conn, name, req_id, ERR_DEADLINE, time_in)
                return
            getattr(self, "_" + name)(conn, account, request, time_in)
        elif isinstance(request, m.Ping):
            self._send(conn, m.Pong(method="pong", req_id=req_id, time_in=_t(time_in), time_out=_t(wsproto.clock_ns())))
        elif isinstance(request, m.Subscribe):
            self._subscribe(conn, request, time_in)
        elif isinstance(request, m.Unsubscribe):
            self._unsubscribe(conn, request, time_in)

    # ------------------------------------------------------------------ helpers

    def _send(self, conn: ServerWsConnection, message) -> None:
        self.hub.send(conn, encode_message(message))

    def _send_error(self, conn, method: str, req_id, error: str, time_in: int) -> None:
        self._send(conn, m.MethodError(method=method, req_id=req_id, error=error, time_in=_t(time_in),
                                       time_out=_t(wsproto.clock_ns())))

    def _times(self, time_in: int) -> dict:
        return {"time_in": _t(time_in), "time_out": _t(wsproto.clock_ns())}

    def _now(self) -> int:
        return self.server.clock_ns()

    # ------------------------------------------------------------------ subscriptions

    def _subscribe(self, conn: ServerWsConnection, request: m.Subscribe, time_in: int) -> None:
        account = self.trading.account_for_token(request.token, self._now())
        if account is None:
            self._send(conn, m.SubscribeError(method="subscribe", req_id=request.req_id, error=ERR_INVALID_TOKEN,
                                              **self._times(time_in)))
            return
        table = self.executions if request.channel == "executions" else self.balances
        subs = conn.state.setdefault("private", {})
        if request.channel in subs:
            self._send(conn, m.SubscribeError(method="subscribe", req_id=request.req_id, error=wsproto.ERR_ALREADY,
                                              **self._times(time_in)))
            return
        table.setdefault(account, set()).add(conn)
        self.hub.subscribed_conns.add(conn)
        if request.channel == "executions":
            snap_orders = request.snap_orders if request.snap_orders is not None else True
            snap_trades = bool(request.snap_trades)
            subs["executions"] = {"account": account, "seq": 0,
                                  "order_status": request.order_status if request.order_status is not None else True}
            self._send(conn, m.SubscribeAck(method="subscribe", req_id=request.req_id, channel="executions",
                                            maxratecount=self.trading.max_rate_count, snap_orders=snap_orders,
                                            snap_trades=snap_trades, **self._times(time_in)))
            self._executions_snapshot(conn, account, snap_orders, snap_trades)
        else:
            snapshot = request.snapshot if request.snapshot is not None else True
            subs["balances"] = {"account": account, "seq": 0}
            self._send(conn, m.SubscribeAck(method="subscribe", req_id=request.req_id, channel="balances",
                                            snapshot=snapshot, **self._times(time_in)))
            if snapshot:
                self._balances_snapshot(conn, account)

    def _unsubscribe(self, conn: ServerWsConnection, request: m.Unsubscribe, time_in: int) -> None:
        subs = conn.state.setdefault("private", {})
        entry = subs.pop(request.channel, None)
        if entry is None:
            self._send(conn, m.SubscribeError(method="subscribe", req_id=request.req_id, error=wsproto.ERR_NOT_FOUND,
                                              **self._times(time_in)))
            return
        table = self.executions if request.channel == "executions" else self.balances
        conns = table.get(entry["account"], set())
        conns.discard(conn)
        if not conns:
            table.pop(entry["account"], None)
        self._send(conn, m.UnsubscribeAck(method="unsubscribe", req_id=request.req_id, channel=request.channel,
                                          **self._times(time_in)))

    def _next_seq(self, conn: ServerWsConnection, channel: str) -> int:
        entry = conn.state["private"][channel]
        entry["seq"] += 1
        return entry["seq"]

    def _executions_snapshot(self, conn: ServerWsConnection, account: str, snap_orders: bool, snap_trades: bool) -> None:
        reports: list[m.Execution] = []
        if snap_orders:
            for order in self.exchange.open_orders(account):
                reports.append(m.Execution(
                    order_id=order.order_id, exec_type=m.ExecType.NEW, order_status=m.OrderStatus(order.status),
                    timestamp=_t(order.opened_ns), cl_ord_id=order.cl_ord_id, order_userref=order.order_userref,
                    symbol=order.symbol, side=m.Side(order.side), order_type=m.OrderType(order.order_type),
                    order_qty=wire_decimal(order.order_qty), limit_price=wire_decimal(order.limit_price),
                    limit_price_type="static" if order.limit_price is not None else None,
                    time_in_force=m.TimeInForce(order.time_in_force.lower()), post_only=order.post_only,
                    cum_qty=wire_decimal(order.cum_qty), cum_cost=wire_decimal(order.cum_cost),
                    avg_price=wire_decimal(order.avg_price), fee_usd_equiv=wire_decimal(order.fee),
                    fee_ccy_pref="fciq", amended=order.amended or None))
        if snap_trades:
            for trade in reversed(self.exchange.trades_history(account)[:SNAPSHOT_TRADES]):
                reports.append(m.Execution(
                    order_id=trade.order_id, exec_type=m.ExecType.TRADE, timestamp=_t(trade.ts_ns),
                    cl_ord_id=trade.cl_ord_id, symbol=trade.symbol, side=m.Side(trade.side),
                    order_type=m.OrderType(trade.order_type), exec_id=trade.exec_id, trade_id=trade.trade_id,
                    last_qty=wire_decimal(trade.qty), last_price=wire_decimal(trade.price),
                    cost=wire_decimal(trade.cost), fees=(m.Fee(asset=trade.fee_asset, qty=wire_decimal(trade.fee)),),
                    liquidity_ind=m.LiquidityIndicator("m" if trade.maker else "t")))
        self._send(conn, m.ExecutionsMessage(type=m.FrameType.SNAPSHOT, sequence=self._next_seq(conn, "executions"),
                                             executions=tuple(reports)))

    def _balances_snapshot(self, conn: ServerWsConnection, account: str) -> None:
        balances = tuple(
            m.AssetBalance(asset=asset, asset_class="currency", balance=wire_decimal(amount),
                           wallets=(m.Wallet(type="spot", id="main", balance=wire_decimal(amount)),))
            for asset, amount in sorted(self.exchange.balances(account).items()))
        self._send(conn, m.BalancesSnapshot(sequence=self._next_seq(conn, "balances"), balances=balances))

    # ------------------------------------------------------------------ pushed account events

    def on_private_events(self, events: list) -> None:
        """Called by the hub with the account events the exchange model reported (any account)."""
        for event in events:
            if type(event).__name__ == "ExecutionEvent":
                conns = self.executions.get(event.account)
                if not conns:
                    continue
                report = execution_report(event)
                for conn in list(conns):
                    entry = conn.state.get("private", {}).get("executions")
                    if entry is None or conn.closed:
                        continue
                    if not entry["order_status"] and event.exec_type not in _QUIET_STATUSES | {"trade"}:
                        continue
                    self._send(conn, m.ExecutionsMessage(type=m.FrameType.UPDATE,
                                                         sequence=self._next_seq(conn, "executions"),
                                                         executions=(report,)))
            else:
                conns = self.balances.get(event.account)
                if not conns:
                    continue
                entry = ledger_entry(event)
                for conn in list(conns):
                    if conn.closed or "balances" not in conn.state.get("private", {}):
                        continue
                    self._send(conn, m.BalancesUpdate(sequence=self._next_seq(conn, "balances"), entries=(entry,)))

    # ------------------------------------------------------------------ trading methods

    def _publish(self, events: list) -> None:
        self.hub.absorb(events, self._now())

    def _add_order(self, conn, account: str, request: m.AddOrder, time_in: int) -> None:
        order = _order_request(request, request.symbol, bool(request.validate))
        if isinstance(order, KrakenReject):
            self._send_error(conn, "add_order", request.req_id, order.error, time_in)
            return
        result, events = self.trading.add_order(account, order, self._now())
        if isinstance(result, KrakenReject):
            self._send_error(conn, "add_order", request.req_id, result.error, time_in)
        else:
            self._send(conn, m.AddOrderAck(method="add_order", req_id=request.req_id, order_id=result.order_id,
                                           cl_ord_id=result.cl_ord_id, order_userref=result.order_userref,
                                           **self._times(time_in)))
        self._publish(events)

    def _batch_add(self, conn, account: str, request: m.BatchAdd, time_in: int) -> None:
        orders = []
        for item in request.orders:
            order = _order_request(item, request.symbol, bool(request.validate))
            if isinstance(order, KrakenReject):
                self._send_error(conn, "batch_add", request.req_id, order.error, time_in)
                return
            orders.append(order)
        result, events = self.trading.batch_add(account, request.symbol, orders, bool(request.validate), self._now())
        if isinstance(result, KrakenReject):
            self._send_error(conn, "batch_add", request.req_id, result.error, time_in)
        else:
            acks = []
            for item in result:
                if isinstance(item, KrakenReject):  # a funding failure rejects only its own order
                    acks.append(m.AddOrderAck(method="add_order", order_id="", warnings=(item.error,)))
                else:
                    acks.append(m.AddOrderAck(method="add_order", order_id=item.order_id, cl_ord_id=item.cl_ord_id,
                                              order_userref=item.order_userref))
            self._send(conn, m.BatchAddAck(method="batch_add", req_id=request.req_id, orders=tuple(acks),
                                           **self._times(time_in)))
        self._publish(events)

    def _amend_order(self, conn, account: str, request: m.AmendOrder, time_in: int) -> None:
        amend = AmendOrderRequest(order_qty=request.order_qty, order_id=request.order_id, cl_ord_id=request.cl_ord_id,
                                  limit_price=request.limit_price, post_only=bool(request.post_only))
        result, events = self.trading.amend_order(account, amend, self._now())
        if isinstance(result, KrakenReject):
            self._send_error(conn, "amend_order", request.req_id, result.error, time_in)
        else:
            self._send(conn, m.AmendOrderAck(method="amend_order", req_id=request.req_id, amend_id=result.amend_id,
                                             order_id=result.order_id, cl_ord_id=result.cl_ord_id,
                                             **self._times(time_in)))
        self._publish(events)

    async def _edit_order(self, conn: ServerWsConnection, params: object, req_id: int | None, time_in: int) -> None:
        """edit_order: order_id and symbol required; order_qty, limit_price, post_only, order_userref,
        deadline, validate. A new order replaces the original (new id, back of the queue)."""
        name = "edit_order"
        if not isinstance(params, dict):
            self._send_error(conn, name, req_id, ERR_INVALID_ARGS, time_in)
            return
        unknown = sorted(set(params) - _EDIT_FIELDS)
        if unknown:
            self._send_error(conn, name, req_id, f"Unsupported field: '{unknown[0]}'", time_in)
            return
        account = self.trading.account_for_token(params.get("token"), self._now())
        if account is None:
            self._send_error(conn, name, req_id, ERR_INVALID_TOKEN, time_in)
            return
        order_id, symbol = params.get("order_id"), params.get("symbol")
        userref = params.get("order_userref")
        try:
            qty = _ws_decimal(params.get("order_qty"))
            price = _ws_decimal(params.get("limit_price"))
        except ValueError:
            self._send_error(conn, name, req_id, ERR_INVALID_ARGS, time_in)
            return
        post_only, validate, deadline = params.get("post_only"), params.get("validate", False), params.get("deadline")
        if not isinstance(order_id, str) or not isinstance(symbol, str) \
                or (userref is not None and (isinstance(userref, bool) or not isinstance(userref, int))) \
                or (post_only is not None and not isinstance(post_only, bool)) or not isinstance(validate, bool) \
                or (deadline is not None and not isinstance(deadline, str)):
            self._send_error(conn, name, req_id, ERR_INVALID_ARGS, time_in)
            return
        current = self.trading.find_open(account, order_id, None)
        served = self.exchange.instrument(symbol)
        if current is None or served is None or served.symbol != current.symbol:
            self._send_error(conn, name, req_id, ERR_UNKNOWN_ORDER if current is None else ERR_INVALID_ARGS, time_in)
            return
        delay = self.server.faults.ack_delay_s(self._now())
        if delay:
            await asyncio.sleep(delay)
        try:
            elapsed = deadline is not None and wsproto.parse_rfc3339(deadline) < wsproto.clock_ns()
        except ValueError:
            self._send_error(conn, name, req_id, ERR_INVALID_ARGS, time_in)
            return
        if elapsed:
            self._send_error(conn, name, req_id, ERR_DEADLINE, time_in)
            return
        result, events = self.trading.edit_order(account, self._now(), order_id=order_id, order_qty=qty,
                                                 limit_price=price, post_only=post_only, order_userref=userref,
                                                 validate=validate)
        if isinstance(result, KrakenReject):
            self._send_error(conn, name, req_id, result.error, time_in)
        else:
            self._send(conn, m.EditOrderAck(method=name, req_id=req_id, order_id=result.order_id,
                                            original_order_id=result.original_order_id, **self._times(time_in)))
        self._publish(events)

    def _cancel_order(self, conn, account: str, request: m.CancelOrder, time_in: int) -> None:
        targets = ([("order_id", v) for v in request.order_ids] + [("cl_ord_id", v) for v in request.cl_ord_ids]
                   + [("order_userref", v) for v in request.order_userrefs])
        for kind, value in targets:
            results, events = self.trading.cancel_order(account, self._now(), **{kind: value})
            for result in results:
                if isinstance(result, KrakenReject):
                    self._send_error(conn, "cancel_order", request.req_id, result.error, time_in)
                elif kind == "cl_ord_id":
                    self._send(conn, m.CancelOrderAck(method="cancel_order", req_id=request.req_id,
                                                      cl_ord_id=result.cl_ord_id, **self._times(time_in)))
                else:
                    self._send(conn, m.CancelOrderAck(method="cancel_order", req_id=request.req_id,
                                                      order_id=result.order_id, **self._times(time_in)))
            self._publish(events)

    def _batch_cancel(self, conn, account: str, request: m.BatchCancel, time_in: int) -> None:
        count = 0
        events: list = []
        for value in request.orders + request.cl_ord_ids:
            kind = "order_id" if self.trading.find_open(account, value, None) is not None else "cl_ord_id"
            results, caused = self.trading.cancel_order(account, self._now(), **{kind: value})
            count += sum(1 for r in results if not isinstance(r, KrakenReject))
            events.extend(caused)
        self._send(conn, m.BatchCancelAck(method="batch_cancel", req_id=request.req_id, count=count,
                                          **self._times(time_in)))
        self._publish(events)

    def _cancel_all(self, conn, account: str, request: m.CancelAll, time_in: int) -> None:
        result, events = self.trading.cancel_all(account, self._now())
        if isinstance(result, KrakenReject):
            self._send_error(conn, "cancel_all", request.req_id, result.error, time_in)
        else:
            self._send(conn, m.CancelAllAck(method="cancel_all", req_id=request.req_id, count=result.count,
                                            **self._times(time_in)))
        self._publish(events)

    def _cancel_all_orders_after(self, conn, account: str, request: m.CancelAllOrdersAfter, time_in: int) -> None:
        result, events = self.trading.cancel_after(account, request.timeout, self._now())
        if isinstance(result, KrakenReject):
            self._send_error(conn, "cancel_all_orders_after", request.req_id, result.error, time_in)
            return
        trigger_ns = result.trigger_ns or result.current_ns
        self._send(conn, m.CancelAllOrdersAfterAck(
            method="cancel_all_orders_after", req_id=request.req_id,
            current_time=ns_to_rfc3339(result.current_ns, 0), current_time_ns=result.current_ns,
            trigger_time=ns_to_rfc3339(trigger_ns, 0), trigger_time_ns=trigger_ns, **self._times(time_in)))
        self._publish(events)


# ---------------------------------------------------------------------------------------------- mapping


_EDIT_FIELDS = frozenset({"token", "order_id", "symbol", "order_qty", "limit_price", "post_only", "order_userref",
                          "deadline", "validate"})


def _ws_decimal(value: object) -> Decimal | None:
    """A WS number as a Decimal (JSON numbers arrive as float or int; their shortest text is what Kraken sent)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    result = Decimal(repr(value) if isinstance(value, float) else str(value))
    if not result.is_finite():
        raise ValueError(value)
    return result


def _t(ns: int) -> str:
    return ns_to_rfc3339(ns, 6)


def _kraken_error(reason: str) -> str:
    """A decode failure as Kraken words it: `Unsupported field: 'x'` names the field; the rest are
    `EGeneral:Invalid arguments`."""
    marker = "Unsupported field: "
    if marker in reason:
        return reason[reason.index(marker):].split(" for the given")[0]
    return ERR_INVALID_ARGS


def _order_request(order: m.AddOrder | m.BatchOrder, symbol: str, validate: bool) -> AddOrderRequest | KrakenReject:
    """A codec request as the exchange model's AddOrderRequest; what the model does not support (stop
    types, icebergs, GTD, cash_order_qty, margin, ...) is refused with EGeneral:Invalid arguments."""
    if order.order_qty is None or order.margin or order.reduce_only or order.triggers is not None \
            or order.conditional is not None or order.display_qty is not None:
        return KrakenReject(error=ERR_INVALID_ARGS)
    return AddOrderRequest(symbol=symbol, side=str(order.side), order_type=str(order.order_type),
                           order_qty=order.order_qty, limit_price=order.limit_price,
                           time_in_force=str(order.time_in_force or "gtc"), post_only=bool(order.post_only),
                           cl_ord_id=order.cl_ord_id, order_userref=order.order_userref, validate=validate)


def execution_report(event) -> m.Execution:
    """An exchange-model ExecutionEvent as Kraken's execution report (fields left None are not sent)."""
    fees: tuple[m.Fee, ...] = ()
    if event.fee is not None and event.fee_asset is not None:
        fees = (m.Fee(asset=event.fee_asset, qty=wire_decimal(event.fee)),)
    return m.Execution(
        order_id=event.order_id, exec_type=m.ExecType(event.exec_type), order_status=m.OrderStatus(event.order_status),
        timestamp=_t(event.ts_ns), cl_ord_id=event.cl_ord_id, order_userref=event.order_userref, symbol=event.symbol,
        side=_enum(m.Side, event.side), order_type=_enum(m.OrderType, event.order_type),
        order_qty=wire_decimal(event.order_qty), limit_price=wire_decimal(event.limit_price),
        limit_price_type=event.limit_price_type,
        time_in_force=m.TimeInForce(event.time_in_force.lower()) if event.time_in_force else None,
        post_only=event.post_only, cum_qty=wire_decimal(event.cum_qty), cum_cost=wire_decimal(event.cum_cost),
        avg_price=wire_decimal(event.avg_price), exec_id=event.exec_id, trade_id=event.trade_id,
        last_qty=wire_decimal(event.last_qty), last_price=wire_decimal(event.last_price),
        cost=wire_decimal(event.cost), fees=fees, liquidity_ind=_enum(m.LiquidityIndicator, event.liquidity_ind),
        fee_usd_equiv=wire_decimal(event.fee_usd_equiv), fee_ccy_pref=event.fee_ccy_pref, amended=event.amended,
        reason=event.reason)


def ledger_entry(event) -> m.LedgerEntry:
    """An exchange-model BalanceChanged as a `balances` update entry (PROTOCOL.md 4.3)."""
    return m.LedgerEntry(
        ledger_id=event.ledger_id, ref_id=event.ref_id, timestamp=_t(event.ts_ns), timestamp_ns=event.ts_ns,
        type=event.ledger_type, asset=event.asset, asset_class="currency", category=event.ledger_type,
        wallet_type="spot", wallet_id="main", amount=wire_decimal(event.amount), fee=wire_decimal(event.fee),
        balance=wire_decimal(event.balance))
