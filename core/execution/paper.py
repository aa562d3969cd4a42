"""The paper venue's fill model, pure. Nothing here touches the real book: paper orders are invisible to the
market, so the model decides what WOULD have filled.

Takers (IOC, or a limit that crosses): walk the opposite side of the current book level by level up to the
limit price, each level's price and quantity, taker fee. What the book cannot fill inside the limit
expires (IOC) — a paper taker never rests.

Resting post-only orders (maker fee):
- Placed: a post-only order that would cross the book is rejected (Kraken does the same).
- Queue position. Our order joins the BACK of its price level, so the quantity ahead of it is the whole
  level at that moment.
  * L3 (`join_l3`): the ids and sizes of the orders ahead are known; the queue ahead shrinks only when one
    of THOSE orders is reduced or leaves (cancelled or filled) — orders joining after ours never count.
  * L2 only (`join_l2`), the documented conservative model: the queue ahead shrinks by the trades at our
    price on our side, and never below nothing but never above the level's displayed size (orders ahead
    are part of the level, so a smaller level proves some ahead left); a cancellation we cannot place
    is assumed to have been BEHIND us. It never fills earlier than the real queue would.
- Fills. A trade at our price on our side first consumes the queue ahead; only the rest of its size
  fills us. A trade THROUGH our price (a sell below our bid, a buy above our ask), or the opposite best
  price moving through our price, fills what remains at our price: the market could not have passed us.
- Trades seen are the ones the caller saw; a trade it missed (coalesced state) simply does not fill us,
  which errs on the side of fewer fills.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Mapping, Sequence

Level = tuple[Decimal, Decimal]
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperFill:
    price: Decimal
    qty: Decimal
    fee: Decimal
    liquidity: str  # maker | taker


def would_cross(side: str, price: Decimal, best_bid: Decimal | None, best_ask: Decimal | None) -> bool:
    if side == "buy":
        return best_ask is not None and price >= best_ask
    return best_bid is not None and price <= best_bid


def walk_depth(*, side: str, qty: Decimal, limit: Decimal, bids: Sequence[Level], asks: Sequence[Level],
               taker_fee_rate: Decimal) -> tuple[PaperFill, ...]:
    """A taker's fills: the opposite side, best first, up to `limit`, until `qty` is filled."""
    levels = asks if side == "buy" else bids
    remaining = qty
    fills: list[PaperFill] = []
    for price, size in levels:
        if remaining <= 0:
            break
        if (side == "buy" and price > limit) or (side == "sell" and price < limit):
            break
        take = min(size, remaining)
        if take <= 0:
            continue
        fills.append(PaperFill(price=price, qty=take, fee=price * take * taker_fee_rate, liquidity="taker"))
        remaining -= take
    return tuple(fills)


@dataclass(frozen=True, slots=True, kw_only=True)
class RestingOrder:
    """A resting paper post-only order and its place in the queue."""

    side: str
    price: Decimal
    remaining: Decimal
    queue_ahead: Decimal
    ahead_l3: Mapping[str, Decimal] | None = None  # order id -> size of the orders ahead (L3), None for L2


def join_l2(*, side: str, price: Decimal, qty: Decimal, levels: Sequence[Level]) -> RestingOrder:
    """`levels`: our side of the book (bids for a buy, asks for a sell)."""
    ahead = next((size for level_price, size in levels if level_price == price), ZERO)
    return RestingOrder(side=side, price=price, remaining=qty, queue_ahead=ahead)


def join_l3(*, side: str, price: Decimal, qty: Decimal, orders_at_price: Sequence[tuple[str, Decimal]]) -> RestingOrder:
    """`orders_at_price`: (order id, size) of every order resting at our price now, in queue order."""
    ahead = dict(orders_at_price)
    return RestingOrder(side=side, price=price, remaining=qty, queue_ahead=sum(ahead.values(), ZERO), ahead_l3=ahead)


def on_l2_level(order: RestingOrder, level_size: Decimal) -> RestingOrder:
    """Our price level's displayed size now (L2): the queue ahead can only be part of it."""
    if order.ahead_l3 is not None or level_size >= order.queue_ahead:
        return order
    return replace(order, queue_ahead=max(level_size, ZERO))


def on_l3_level(order: RestingOrder, orders_at_price: Mapping[str, Decimal]) -> RestingOrder:
    """The orders at our price now (L3): an order ahead that shrank or left moves us up; newcomers are behind."""
    if order.ahead_l3 is None:
        return order
    ahead = {oid: min(size, orders_at_price[oid]) for oid, size in order.ahead_l3.items() if oid in orders_at_price}
    return replace(order, ahead_l3=ahead, queue_ahead=sum(ahead.values(), ZERO))


def on_trade(order: RestingOrder, *, price: Decimal, qty: Decimal, maker_fee_rate: Decimal) -> tuple[RestingOrder, PaperFill | None]:
    """A public trade at `price` of `qty`. Trades that do not reach our price change nothing."""
    if order.remaining <= 0:
        return order, None
    through = price < order.price if order.side == "buy" else price > order.price
    if through:
        return _fill(order, order.remaining, maker_fee_rate)
    if price != order.price:
        return order, None
    consumed_ahead = min(order.queue_ahead, qty)
    left = qty - consumed_ahead
    order = replace(order, queue_ahead=order.queue_ahead - consumed_ahead)
    if order.ahead_l3 is not None and consumed_ahead > 0:
        order = replace(order, ahead_l3=_consume_l3(order.ahead_l3, consumed_ahead))
    if left <= 0:
        return order, None
    return _fill(order, min(left, order.remaining), maker_fee_rate)


def on_book(order: RestingOrder, *, best_bid: Decimal | None, best_ask: Decimal | None,
            maker_fee_rate: Decimal) -> tuple[RestingOrder, PaperFill | None]:
    """The opposite best price moved through ours: whoever offered it would have traded with us first."""
    if order.remaining <= 0:
        return order, None
    if order.side == "buy" and best_ask is not None and best_ask < order.price:
        return _fill(order, order.remaining, maker_fee_rate)
    if order.side == "sell" and best_bid is not None and best_bid > order.price:
        return _fill(order, order.remaining, maker_fee_rate)
    return order, None


def _fill(order: RestingOrder, qty: Decimal, maker_fee_rate: Decimal) -> tuple[RestingOrder, PaperFill]:
    fill = PaperFill(price=order.price, qty=qty, fee=order.price * qty * maker_fee_rate, liquidity="maker")
    return replace(order, remaining=order.remaining - qty), fill


def _consume_l3(ahead: Mapping[str, Decimal], qty: Decimal) -> dict[str, Decimal]:
    """Trades at the price consume the queue from its front (dicts keep the queue order)."""
    result: dict[str, Decimal] = {}
    for oid, size in ahead.items():
        take = min(size, qty)
        qty -= take
        if size - take > 0:
            result[oid] = size - take
    return result
