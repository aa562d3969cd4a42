"""Checks a new or amended order must pass before the engine takes it: the pair, the order's shape,
precision, minimums and funds (what the account's open orders already hold is not available)."""

from __future__ import annotations

from decimal import Decimal
from typing import Mapping, NamedTuple

from kraken_runtime.core.sim.accounts import Account, AccountOrder
from kraken_runtime.core.sim.api import (
    ERR_COST_MINIMUM,
    ERR_INSUFFICIENT_FUNDS,
    ERR_INVALID_ARGUMENTS,
    ERR_INVALID_PRICE,
    ERR_ORDER_MINIMUM,
    ERR_TICK_SIZE,
    ERR_UNKNOWN_PAIR,
    AddOrderRequest,
    KrakenReject,
)
from kraken_runtime.core.sim.instruments import instrument_for
from kraken_runtime.core.sim.matching import ASK, BID
from kraken_runtime.core.sim.symbol_market import SymbolMarket

__all__ = ["CheckedOrder", "validate_add", "check_funds", "holds", "available", "describe", "parse_side",
           "valid_qty", "price_ticks"]


class CheckedOrder(NamedTuple):
    """A request that passed validation, in the engine's units."""

    market: SymbolMarket
    side: int
    lots: int
    limit: int | None


def parse_side(side: str) -> int | None:
    return {"buy": BID, "sell": ASK}.get(side)


def valid_qty(qty: object, increment: Decimal) -> bool:
    return isinstance(qty, Decimal) and qty.is_finite() and qty > 0 and qty % increment == 0


def price_ticks(price: object, market: SymbolMarket) -> int | KrakenReject:
    """A limit price in ticks, or Kraken's error for a bad one."""
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        return KrakenReject(error=ERR_INVALID_PRICE)
    if price % market.inst.price_increment != 0:
        return KrakenReject(error=ERR_TICK_SIZE)
    return int(price.scaleb(market.inst.price_precision))


def holds(markets: Mapping[str, SymbolMarket], account: Account,
          exclude: AccountOrder | None = None) -> dict[str, Decimal]:
    """What the account's resting orders hold, by asset: a buy holds its quote cost plus the taker fee,
    a sell its base quantity."""
    out: dict[str, Decimal] = {}
    for order in account.open.values():
        if order is exclude or order.book_order is None or order.limit is None:
            continue
        m = markets[order.symbol]
        remaining = order.qty - order.cum_qty
        if order.side == BID:
            amount = m.px(order.limit) * m.qx(remaining) * (1 + m.inst.taker_fee_pct / 100)
            out[m.inst.quote] = out.get(m.inst.quote, Decimal(0)) + amount
        else:
            out[m.inst.base] = out.get(m.inst.base, Decimal(0)) + m.qx(remaining)
    return out


def available(markets: Mapping[str, SymbolMarket], account: Account, asset: str,
              exclude: AccountOrder | None = None) -> Decimal:
    return account.balances.get(asset, Decimal(0)) - holds(markets, account, exclude).get(asset, Decimal(0))


def check_funds(markets: Mapping[str, SymbolMarket], account: Account, m: SymbolMarket, side: int, lots: int,
                limit: int | None, exclude: AccountOrder | None = None) -> KrakenReject | None:
    inst = m.inst
    if side == BID:
        if limit is not None:
            need = m.px(limit) * m.qx(lots)
        else:
            _, cost_units = m.book.cost_to_fill(BID, lots)
            need = Decimal(cost_units).scaleb(m.pexp + m.qexp)
        need *= 1 + inst.taker_fee_pct / 100
        if need > available(markets, account, inst.quote, exclude):
            return KrakenReject(error=ERR_INSUFFICIENT_FUNDS)
    elif m.qx(lots) > available(markets, account, inst.base, exclude):
        return KrakenReject(error=ERR_INSUFFICIENT_FUNDS)
    return None


def validate_add(markets: Mapping[str, SymbolMarket], account: Account, request: AddOrderRequest,
                 check_funds_now: bool = True) -> CheckedOrder | KrakenReject:
    inst = instrument_for(request.symbol)
    m = markets.get(inst.symbol) if inst is not None else None
    if inst is None or m is None:
        return KrakenReject(error=ERR_UNKNOWN_PAIR)
    side = parse_side(request.side)
    if side is None or request.order_type not in ("limit", "market") or request.time_in_force not in ("gtc", "ioc", "fok"):
        return KrakenReject(error=ERR_INVALID_ARGUMENTS)
    if request.order_type == "limit":
        if request.limit_price is None:
            return KrakenReject(error=ERR_INVALID_ARGUMENTS)
    elif request.post_only or request.time_in_force == "fok" or request.limit_price is not None:
        return KrakenReject(error=ERR_INVALID_ARGUMENTS)
    if request.cl_ord_id is not None:
        if request.order_userref is not None or not (0 < len(request.cl_ord_id) <= 36):
            return KrakenReject(error=ERR_INVALID_ARGUMENTS)
        if any(o.cl_ord_id == request.cl_ord_id for o in account.open.values()):
            return KrakenReject(error=ERR_INVALID_ARGUMENTS)
    qty = request.order_qty
    if not valid_qty(qty, inst.qty_increment):
        return KrakenReject(error=ERR_INVALID_ARGUMENTS)
    limit = None
    if request.limit_price is not None:
        ticks = price_ticks(request.limit_price, m)
        if isinstance(ticks, KrakenReject):
            return ticks
        limit = ticks
    if qty < inst.qty_min:
        return KrakenReject(error=ERR_ORDER_MINIMUM)
    lots = int(qty.scaleb(inst.qty_precision))
    cost: Decimal | None
    if limit is not None:
        cost = m.px(limit) * qty
    else:
        touch = m.book.best(ASK if side == BID else BID)
        cost = m.px(touch) * qty if touch is not None else None
    if cost is not None and cost < inst.cost_min:
        return KrakenReject(error=ERR_COST_MINIMUM)
    if check_funds_now:
        funds = check_funds(markets, account, m, side, lots, limit)
        if funds is not None:
            return funds
    return CheckedOrder(m, side, lots, limit)


def describe(request: AddOrderRequest, m: SymbolMarket) -> str:
    """REST's descr.order, e.g. 'buy 1.25000000 XBTUSD @ limit 27500.0'."""
    qty = format(request.order_qty.quantize(m.inst.qty_increment), "f")
    if request.order_type == "limit" and request.limit_price is not None:
        return f"{request.side} {qty} {m.inst.altname} @ limit {format(request.limit_price.quantize(m.inst.price_increment), 'f')}"
    return f"{request.side} {qty} {m.inst.altname} @ market"
