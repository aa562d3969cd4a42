"""The order engine: places accounts' orders in the symbol markets, books their fills (balances, fees,
ledger, executions), amends and cancels them, and keeps each account's dead man's switch.

It reports into the exchange's `EventLog`; the facade (core/sim/exchange.py) drains it per call.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping, Sequence

from kraken_runtime.core.sim.accounts import OPEN_STATUSES, Account, AccountOrder, AccountTrade, OrderView
from kraken_runtime.core.sim.api import (
    ERR_INVALID_ARGUMENTS,
    ERR_ORDER_MINIMUM,
    ERR_POST_ONLY_AMEND,
    ERR_UNKNOWN_ORDER,
    REASON_AMEND_BELOW_FILLED,
    REASON_FOK,
    REASON_IOC,
    REASON_NO_LIQUIDITY,
    REASON_POST_ONLY,
    REASON_REPLACED,
    REASON_SELF_TRADE,
    REASON_USER,
    AddOrderRequest,
    AmendOrderRequest,
    AmendOrderResult,
    EditOrderResult,
    EngineAddOrderResult,
    KrakenReject,
)
from kraken_runtime.core.sim.events import BalanceChanged, EventLog, ExecutionEvent
from kraken_runtime.core.sim.ids import IdGen
from kraken_runtime.core.sim.matching import BID, BookOrder
from kraken_runtime.core.sim.symbol_market import SIDE_TRADE, SymbolMarket
from kraken_runtime.core.sim.validation import (
    CheckedOrder,
    check_funds,
    describe,
    price_ticks,
    valid_qty,
    validate_add,
)

__all__ = ["OrderEngine", "USD_LIKE"]

NS = 1_000_000_000
USD_LIKE = ("USD", "USDT", "USDC")


class OrderEngine:
    """Accounts and their orders across the symbol markets. Not thread-safe (the server serialises)."""

    def __init__(self, *, markets: Mapping[str, SymbolMarket], ids: IdGen, log: EventLog) -> None:
        self.markets = markets
        self.accounts: dict[str, Account] = {}
        self._ids = ids
        self._log = log

    def account(self, api_key: str) -> Account:
        account = self.accounts.get(api_key)
        if account is None:
            raise KeyError(f"no account {api_key!r}")
        return account

    # ---- placing ------------------------------------------------------------------------------

    def place(self, account: Account, request: AddOrderRequest, checked: CheckedOrder,
              now_ns: int) -> EngineAddOrderResult:
        m, side, lots, limit = checked
        order = AccountOrder(
            order_id=self._ids.next("O"), account=account.api_key, symbol=m.symbol, side=side,
            order_type=request.order_type, qty=lots, limit=limit, tif=request.time_in_force,
            post_only=request.post_only, cl_ord_id=request.cl_ord_id, userref=request.order_userref, opened_ns=now_ns,
        )
        account.orders[order.order_id] = order
        account.open[order.order_id] = order
        result = EngineAddOrderResult(order_id=order.order_id, cl_ord_id=request.cl_ord_id,
                                      order_userref=request.order_userref, symbol=m.symbol,
                                      description=describe(request, m))
        log = self._log
        log.append(self.report(order, "pending_new", now_ns, full=True))
        book = m.book
        crosses = limit is None or book.crosses(side, limit)
        if order.post_only and crosses:
            self.close(order, "canceled", now_ns, REASON_POST_ONLY)
            return result
        if order.tif == "fok" and book.fillable_qty(side, limit, lots, owner=account.api_key) < lots:
            self.close(order, "canceled", now_ns, REASON_FOK)
            return result
        order.status = "new"
        log.append(ExecutionEvent(account=account.api_key, exec_type="new", order_status="new",
                                  order_id=order.order_id, cl_ord_id=order.cl_ord_id, order_userref=order.userref,
                                  ts_ns=now_ns))
        self._execute(m, order, now_ns)
        return result

    def _execute(self, m: SymbolMarket, order: AccountOrder, now_ns: int) -> None:
        """Match an order's remainder as a taker, then rest it, or cancel what cannot rest."""
        remaining = order.qty - order.cum_qty
        self_trade = False
        if order.limit is None or m.book.crosses(order.side, order.limit):
            result = m.take(order.side, remaining, order.limit, now_ns, order.order_type, order)
            remaining = result.remaining
            self_trade = result.self_trade
        if remaining == 0 or order.status not in OPEN_STATUSES:
            return
        if self_trade:
            self.close(order, "canceled", now_ns, REASON_SELF_TRADE)
        elif order.limit is None:
            self.close(order, "canceled", now_ns, REASON_NO_LIQUIDITY)
        elif order.tif in ("ioc", "fok"):
            self.close(order, "canceled", now_ns, REASON_IOC if order.tif == "ioc" else REASON_FOK)
        else:
            book_order = BookOrder(order.order_id, order.side, order.limit, remaining, now_ns, owner=order.account,
                                   ref=order)
            order.book_order = book_order
            m.rest(book_order, now_ns)

    # ---- fills --------------------------------------------------------------------------------

    def on_fill(self, m: SymbolMarket, order: AccountOrder, price: int, lots: int, trade_id: int, ts: int, *,
                maker: bool) -> None:
        """Book one fill of an account's order: balances, fees, executions, ledger entries."""
        account = self.accounts[order.account]
        inst = m.inst
        qty = m.qx(lots)
        last_price = m.px(price)
        cost = last_price * qty
        pct = inst.maker_fee_pct if maker else inst.taker_fee_pct
        fee = (cost * pct / 100).quantize(Decimal(1).scaleb(-inst.cost_precision), ROUND_HALF_UP)
        exec_id = self._ids.next("T")
        balances = account.balances
        if order.side == BID:
            base_amount, quote_amount = qty, -cost
        else:
            base_amount, quote_amount = -qty, cost
        balances[inst.base] = balances.get(inst.base, Decimal(0)) + base_amount
        balances[inst.quote] = balances.get(inst.quote, Decimal(0)) + quote_amount - fee
        order.cum_qty += lots
        order.cum_cost += cost
        order.fee += fee
        order.trade_ids.append(exec_id)
        filled = order.cum_qty >= order.qty
        order.status = "filled" if filled else "partially_filled"
        base_entry = BalanceChanged(account=account.api_key, asset=inst.base, amount=base_amount, fee=Decimal(0),
                                    balance=balances[inst.base], ledger_id=self._ids.next("L"), ref_id=exec_id,
                                    ledger_type="trade", ts_ns=ts)
        quote_entry = BalanceChanged(account=account.api_key, asset=inst.quote, amount=quote_amount, fee=fee,
                                     balance=balances[inst.quote], ledger_id=self._ids.next("L"), ref_id=exec_id,
                                     ledger_type="trade", ts_ns=ts)
        account.trades.append(AccountTrade(
            exec_id=exec_id, trade_id=trade_id, order_id=order.order_id, cl_ord_id=order.cl_ord_id, symbol=m.symbol,
            rest_pair=inst.rest_name, side=SIDE_TRADE[order.side], order_type=order.order_type, price=last_price,
            qty=qty, cost=cost, fee=fee, fee_asset=inst.quote, maker=maker, ts_ns=ts,
            ledger_ids=(base_entry.ledger_id, quote_entry.ledger_id),
        ))
        account.ledger += (base_entry, quote_entry)
        usd_fee = fee if inst.quote in USD_LIKE else None
        log = self._log
        log.append(ExecutionEvent(
            account=account.api_key, exec_type="trade", order_status=order.status, order_id=order.order_id, ts_ns=ts,
            symbol=m.symbol, side=SIDE_TRADE[order.side], order_type=order.order_type, cl_ord_id=order.cl_ord_id,
            order_userref=order.userref, exec_id=exec_id, trade_id=trade_id, last_qty=qty, last_price=last_price,
            cost=cost, liquidity_ind="m" if maker else "t", fee=fee, fee_asset=inst.quote, fee_usd_equiv=usd_fee,
            cum_qty=m.qx(order.cum_qty), cum_cost=order.cum_cost, avg_price=self.avg_price(m, order),
        ))
        log.append(base_entry)
        log.append(quote_entry)
        if filled:
            order.book_order = None
            self._finish(account, order, ts)
            log.append(self.report(order, "filled", ts))

    @staticmethod
    def avg_price(m: SymbolMarket, order: AccountOrder) -> Decimal:
        if order.cum_qty == 0:
            return Decimal(0)
        return (order.cum_cost / m.qx(order.cum_qty)).quantize(Decimal(1).scaleb(m.pexp), ROUND_HALF_UP)

    def _finish(self, account: Account, order: AccountOrder, ts: int) -> None:
        order.closed_ns = ts
        if account.open.pop(order.order_id, None) is not None:
            account.closed.append(order)

    def close(self, order: AccountOrder, status: str, ts: int, reason: str) -> None:
        """Cancel (or expire) an open order: out of the book, closed, and reported."""
        account = self.accounts[order.account]
        m = self.markets[order.symbol]
        if order.book_order is not None:
            m.remove(order.order_id, ts)
            order.book_order = None
        order.status = status
        order.reason = reason
        self._finish(account, order, ts)
        self._log.append(self.report(order, status, ts))

    def report(self, order: AccountOrder, exec_type: str, ts: int, *, full: bool = False) -> ExecutionEvent:
        """The execution report of `exec_type` for the order as it is now, with the fields Kraken sends."""
        m = self.markets[order.symbol]
        account, status, order_id = order.account, order.status, order.order_id
        cl_ord_id, userref = order.cl_ord_id, order.userref
        limit_price = m.px(order.limit) if order.limit is not None else None
        if full:
            return ExecutionEvent(
                account=account, exec_type=exec_type, order_status=status, order_id=order_id, ts_ns=ts,
                cl_ord_id=cl_ord_id, order_userref=userref, symbol=m.symbol, side=SIDE_TRADE[order.side],
                order_type=order.order_type, order_qty=m.qx(order.qty), limit_price=limit_price,
                limit_price_type="static" if order.limit is not None else None,
                time_in_force=order.tif.upper(), post_only=order.post_only,
                fee_ccy_pref="fciq", cum_cost=order.cum_cost, fee_usd_equiv=Decimal(0),
            )
        if exec_type == "amended":
            return ExecutionEvent(
                account=account, exec_type=exec_type, order_status=status, order_id=order_id, ts_ns=ts,
                cl_ord_id=cl_ord_id, order_userref=userref, order_qty=m.qx(order.qty), limit_price=limit_price,
                limit_price_type="static", cum_qty=m.qx(order.cum_qty), amended=True, reason=REASON_USER,
                post_only=order.post_only,
            )
        usd_fee = order.fee if m.inst.quote in USD_LIKE else None
        return ExecutionEvent(
            account=account, exec_type=exec_type, order_status=status, order_id=order_id, ts_ns=ts,
            cl_ord_id=cl_ord_id, order_userref=userref, symbol=m.symbol, side=SIDE_TRADE[order.side],
            cum_qty=m.qx(order.cum_qty), cum_cost=order.cum_cost, avg_price=self.avg_price(m, order),
            fee_usd_equiv=usd_fee, reason=order.reason,
        )

    # ---- amend and cancel ---------------------------------------------------------------------

    def amend(self, account: Account, request: AmendOrderRequest, now_ns: int) -> AmendOrderResult | KrakenReject:
        """Amend qty and/or price in place (PROTOCOL.md 4.5). The order keeps its id; it keeps its queue
        place when only its quantity goes down; a price change or a larger quantity sends it to the back
        of its (new) level, matching first if the new price crosses (or rejecting the amend when
        post_only is set). A new quantity at or below the filled quantity cancels the remainder."""
        order = self.find_open(account, request.order_id, request.cl_ord_id)
        if order is None:
            return KrakenReject(error=ERR_UNKNOWN_ORDER)
        m = self.markets[order.symbol]
        inst = m.inst
        qty = request.order_qty
        if not valid_qty(qty, inst.qty_increment):
            return KrakenReject(error=ERR_INVALID_ARGUMENTS)
        if qty < inst.qty_min:
            return KrakenReject(error=ERR_ORDER_MINIMUM)
        new_lots = int(qty.scaleb(inst.qty_precision))
        new_limit = order.limit
        if request.limit_price is not None:
            if order.limit is None:
                return KrakenReject(error=ERR_INVALID_ARGUMENTS)
            ticks = price_ticks(request.limit_price, m)
            if isinstance(ticks, KrakenReject):
                return ticks
            new_limit = ticks
        book_order = order.book_order
        if book_order is None or new_limit is None:  # only resting limit orders can be amended
            return KrakenReject(error=ERR_UNKNOWN_ORDER)
        price_changed = new_limit != order.limit
        if price_changed and (request.post_only or order.post_only) and m.book.crosses(order.side, new_limit):
            return KrakenReject(error=ERR_POST_ONLY_AMEND)
        if new_lots > order.cum_qty:
            funds = check_funds(self.markets, account, m, order.side, new_lots - order.cum_qty, new_limit,
                                exclude=order)
            if funds is not None:
                return funds
        amend_id = self._ids.next("T")
        result = AmendOrderResult(amend_id=amend_id, order_id=order.order_id if request.order_id else None,
                                  cl_ord_id=order.cl_ord_id if request.cl_ord_id else None)
        if new_lots <= order.cum_qty:
            order.qty = max(new_lots, order.cum_qty)
            order.amended = True
            self.close(order, "canceled", now_ns, REASON_AMEND_BELOW_FILLED)
            return result
        new_remaining = new_lots - order.cum_qty
        order.qty = new_lots
        order.amended = True
        if request.post_only:
            order.post_only = True
        if not price_changed and new_remaining <= book_order.qty:
            if new_remaining < book_order.qty:
                m.reduce(book_order, new_remaining, now_ns)
            self._log.append(self.report(order, "amended", now_ns))
        else:
            m.remove(order.order_id, now_ns)
            order.book_order = None
            order.limit = new_limit
            self._log.append(self.report(order, "amended", now_ns))
            self._execute(m, order, now_ns)
        return result

    def edit(self, account: Account, order: AccountOrder, *, order_qty: Decimal | None, limit_price: Decimal | None,
             post_only: bool | None, order_userref: int | None, validate: bool,
             now_ns: int) -> EditOrderResult | KrakenReject:
        """Cancel-and-replace (Kraken's EditOrder): the replacement has a new id, the remaining quantity
        asked for (or the original's remainder) and goes to the back of its level. It is checked first
        (funds counting the original's hold as free); only then is the original cancelled."""
        m = self.markets[order.symbol]
        if order.limit is None or order.book_order is None:
            return KrakenReject(error=ERR_UNKNOWN_ORDER)
        qty = order_qty if order_qty is not None else m.qx(order.qty - order.cum_qty)
        request = AddOrderRequest(
            symbol=m.symbol, side=SIDE_TRADE[order.side], order_type=order.order_type, order_qty=qty,
            limit_price=limit_price if limit_price is not None else m.px(order.limit), time_in_force=order.tif,
            post_only=order.post_only if post_only is None else post_only, cl_ord_id=None,
            order_userref=order.userref if order_userref is None else order_userref,
        )
        checked = validate_add(self.markets, account, request, check_funds_now=False)
        if isinstance(checked, KrakenReject):
            return checked
        funds = check_funds(self.markets, account, checked.market, checked.side, checked.lots, checked.limit,
                            exclude=order)
        if funds is not None:
            return funds
        if validate:
            return EditOrderResult(order_id="", original_order_id=order.order_id, description=describe(request, m),
                                   order_qty=request.order_qty, limit_price=request.limit_price)
        self.close(order, "canceled", now_ns, REASON_REPLACED)
        placed = self.place(account, request, checked, now_ns)
        return EditOrderResult(order_id=placed.order_id, original_order_id=order.order_id,
                               description=placed.description, order_qty=request.order_qty,
                               limit_price=request.limit_price)

    def find_open(self, account: Account, order_id: str | None, cl_ord_id: str | None) -> AccountOrder | None:
        if order_id:
            return account.open.get(order_id)
        if cl_ord_id:
            for order in account.open.values():
                if order.cl_ord_id == cl_ord_id:
                    return order
        return None

    def cancel_account_orders(self, account: Account, ts: int, reason: str) -> int:
        orders = list(account.open.values())
        for order in orders:
            self.close(order, "canceled", ts, reason)
        return len(orders)

    def next_dead_man(self) -> tuple[int, Account | None]:
        """The earliest armed dead man's switch: (trigger ns, account), or (0, None)."""
        best: tuple[int, Account | None] = (0, None)
        for account in self.accounts.values():
            if account.dead_man_ns and (best[1] is None or account.dead_man_ns < best[0]):
                best = (account.dead_man_ns, account)
        return best

    # ---- views --------------------------------------------------------------------------------

    def view(self, order: AccountOrder) -> OrderView:
        m = self.markets[order.symbol]
        return OrderView(
            order_id=order.order_id, symbol=order.symbol, rest_pair=m.inst.rest_name, side=SIDE_TRADE[order.side],
            order_type=order.order_type, order_qty=m.qx(order.qty),
            limit_price=m.px(order.limit) if order.limit is not None else None, time_in_force=order.tif,
            post_only=order.post_only, cl_ord_id=order.cl_ord_id, order_userref=order.userref, status=order.status,
            cum_qty=m.qx(order.cum_qty), cum_cost=order.cum_cost, fee=order.fee, avg_price=self.avg_price(m, order),
            opened_ns=order.opened_ns, closed_ns=order.closed_ns, reason=order.reason, amended=order.amended,
            trade_ids=tuple(order.trade_ids),
        )


def with_symbol(requests: Sequence[AddOrderRequest], symbol: str) -> list[AddOrderRequest]:
    return [replace(request, symbol=symbol) for request in requests]
