"""The paper venue's fill model, pure. Nothing here touches the real book: paper orders are invisible to the
market, so the model decides what WOULD have filled, and where it cannot know, it errs towards fewer fills.

Takers (IOC, or a limit that crosses): walk the opposite side of the current book level by level up to the
limit price, each level's price and quantity, taker fee. What the book cannot fill inside the limit
expires (IOC) — a paper taker never rests.

Resting post-only orders (maker fee):
- Placed: a post-only order that would cross the book is rejected (Kraken does the same).
- Queue position. Our order joins the BACK of its price level: everything resting there when it arrives is
  ahead of it, everything that comes later is behind it.
- Trades. A public trade at our price whose taker is on the other side (a sell for our bid, a buy for our
  ask) first consumes the queue ahead, front first; only the rest of its size fills us. A trade at our price
  whose taker is on our side cannot have reached our queue and changes nothing. A trade THROUGH our price
  (any trade below our bid, above our ask), or the opposite best price moving through our price, fills what
  remains: the market could not have passed us.
- L3 (`join_l3`, `on_l3_level`): the ids and sizes of the orders ahead are known. The queue ahead shrinks by
  the trades at our price (above) and when one of THOSE orders is reduced or leaves the level (a cancel, an
  amend down, or a fill whose trade we have not seen yet); an order that joins later is behind us, unless its
  own venue timestamp says it was placed before our order arrived (the level3 view lags our arrival a little).
  The level3 book and the trades come on different connections, so either may run ahead of the other: every
  level3 view has the venue time it is as of (`basis_ts_ns`), and a trade whose venue time is not after the
  view the queue was last reconciled with is already reflected in it and is skipped (a trade without a venue
  time too). Counting a fill twice — once as the order ahead leaving the level, once as the trade — is thereby
  impossible; the price is that a trade older than the view never fills us (fewer fills, never more).
- L2 only (`join_l2`, `on_l2_level`), the documented conservative model: the queue ahead is the level's
  displayed size when we arrive. It shrinks by the trades at our price (above), and it is capped by the
  level's displayed size now (orders ahead are part of the level, so a smaller level proves some ahead left;
  a level that vanished inside the shown depth leaves nobody ahead). A cancellation we cannot place is
  assumed to have been BEHIND us. The book and the trades come on one connection, so a snapshot's level and
  trades agree: the venue applies a snapshot's trades BEFORE its levels (the level already shows what those
  trades took, so the reverse would count them twice).
- Trades the caller never saw (more than the snapshot carries between two snapshots the executor took) simply
  do not fill us, which errs on the side of fewer fills.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Mapping, Sequence

from kraken_runtime.core.kraken.codec import rfc3339_to_ns

Level = tuple[Decimal, Decimal]
QueueItem = tuple[str, Decimal] | tuple[str, Decimal, str | None]  # (order id, size[, venue timestamp]) in a level3 level
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
    ahead_l3: Mapping[str, Decimal] | None = None  # L3: order id -> size of the orders ahead, front first; None: L2
    basis_ts_ns: int | None = None  # L3: venue time of the level3 view the queue was last reconciled with
    arrival_ns: int | None = None  # L3: when our order reached the venue (a later order placed before it is ahead)
    # L3: orders at our price known not to be ahead of us: came after us, or were ahead and were consumed by the
    # trades (a level3 view that lags the trades may still show them; they must not count twice)
    behind_l3: frozenset[str] = frozenset()


def join_l2(*, side: str, price: Decimal, qty: Decimal, levels: Sequence[Level]) -> RestingOrder:
    """`levels`: our side of the book (bids for a buy, asks for a sell)."""
    ahead = next((size for level_price, size in levels if level_price == price), ZERO)
    return RestingOrder(side=side, price=price, remaining=qty, queue_ahead=ahead)


def join_l3(*, side: str, price: Decimal, qty: Decimal, orders_at_price: Sequence[QueueItem],
            ts_ns: int | None = None, arrival_ns: int | None = None) -> RestingOrder:
    """`orders_at_price`: (order id, size) of every order resting at our price in the level3 view of venue time
    `ts_ns`, in queue order; `arrival_ns`: when our order reached the venue."""
    ahead: dict[str, Decimal] = {}
    for item in orders_at_price:
        ahead[item[0]] = item[1]
    return RestingOrder(side=side, price=price, remaining=qty, queue_ahead=sum(ahead.values(), ZERO), ahead_l3=ahead,
                        basis_ts_ns=ts_ns, arrival_ns=arrival_ns)


def on_l2_level(order: RestingOrder, level_size: Decimal) -> RestingOrder:
    """Our price level's displayed size now (L2): the queue ahead can only be part of it."""
    if order.ahead_l3 is not None or level_size >= order.queue_ahead:
        return order
    return replace(order, queue_ahead=max(level_size, ZERO))


def on_l3_level(order: RestingOrder, orders_at_price: Sequence[QueueItem] | Mapping[str, Decimal],
                ts_ns: int | None = None) -> RestingOrder:
    """The orders at our price now (L3), in queue order, as of venue time `ts_ns`: an order ahead that shrank or
    left moves us up; a newcomer is behind us unless its venue timestamp (a third item, RFC 3339 text) shows it
    was placed before our order arrived. Items: (order id, size) or (order id, size, timestamp)."""
    if order.ahead_l3 is None:
        return order
    if isinstance(orders_at_price, Mapping):
        items: Sequence[QueueItem] = tuple(orders_at_price.items())
    else:
        items = orders_at_price
    now = {item[0]: item[1] for item in items}
    ahead = {oid: min(size, now[oid]) for oid, size in order.ahead_l3.items() if oid in now}
    behind: set[str] = set()
    for item in items:
        oid = item[0]
        if oid in ahead:
            continue
        if oid in order.behind_l3 or not _placed_before(item, order.arrival_ns):
            behind.add(oid)
        else:  # placed before we arrived, seen only now (the view we joined on lagged): ahead, at the back
            ahead[oid] = item[1]
    basis = order.basis_ts_ns
    if ts_ns is not None and (basis is None or ts_ns > basis):
        basis = ts_ns
    return replace(order, ahead_l3=ahead, queue_ahead=sum(ahead.values(), ZERO), behind_l3=frozenset(behind),
                   basis_ts_ns=basis)


def _placed_before(item: QueueItem, arrival_ns: int | None) -> bool:
    """Whether a newcomer at our price was placed before our order arrived, by its venue timestamp. Without our
    arrival time the caller's view is taken as current (newcomers are behind); a newcomer without a readable
    timestamp is taken as ahead, which errs towards fewer fills."""
    if arrival_ns is None:
        return False
    if len(item) < 3:
        return True
    text = item[2]
    if not text:
        return True
    try:
        return rfc3339_to_ns(text) < arrival_ns
    except ValueError:
        return True


def on_trade(order: RestingOrder, *, price: Decimal, qty: Decimal, maker_fee_rate: Decimal, side: str | None = None,
             ts_ns: int | None = None) -> tuple[RestingOrder, PaperFill | None]:
    """A public trade at `price` of `qty`; `side`: its taker's side (None: unknown, taken as the other side);
    `ts_ns`: its venue time (L3: a trade not after the view the queue was reconciled with is already in it)."""
    if order.remaining <= 0:
        return order, None
    if order.ahead_l3 is not None and order.basis_ts_ns is not None and (ts_ns is None or ts_ns <= order.basis_ts_ns):
        return order, None
    through = price < order.price if order.side == "buy" else price > order.price
    if through:
        return _fill(order, order.remaining, maker_fee_rate)
    if price != order.price or side == order.side:
        return order, None
    consumed_ahead = min(order.queue_ahead, qty)
    left = qty - consumed_ahead
    order = replace(order, queue_ahead=order.queue_ahead - consumed_ahead)
    if order.ahead_l3 is not None and consumed_ahead > 0:
        ahead, consumed = _consume_l3(order.ahead_l3, consumed_ahead)
        order = replace(order, ahead_l3=ahead, behind_l3=order.behind_l3 | consumed)
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


def _consume_l3(ahead: Mapping[str, Decimal], qty: Decimal) -> tuple[dict[str, Decimal], frozenset[str]]:
    """Trades at the price consume the queue from its front (dicts keep the queue order): what is left ahead,
    and the ids consumed whole."""
    result: dict[str, Decimal] = {}
    consumed: set[str] = set()
    for oid, size in ahead.items():
        take = min(size, qty)
        qty -= take
        if size - take > 0:
            result[oid] = size - take
        else:
            consumed.add(oid)
    return result, frozenset(consumed)
