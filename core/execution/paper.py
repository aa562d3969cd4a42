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
  amend down, or a fill); an order that joins later is behind us, unless its own venue timestamp says it was
  placed before our order arrived (the level3 view we joined on lags our arrival a little). A trade before we
  arrived (its venue time not after the view we joined on, or before our arrival) or without a venue time never
  counts.
  The level3 book and the trades come on different connections, so either may run ahead of the other, and a
  fill must not count twice (once as the order ahead leaving, once as the trade). Every level3 view carries the
  venue time it is as of. A trade later than the view the queue was last reconciled with is not in it yet: it
  consumes the queue ahead front first, and an order so consumed is never counted ahead again (an older view
  may still show it). A trade not later than that view is already in it: what the views took off the queue
  ahead is kept per span of venue time between two views, and such a trade first takes its own size from the
  removals of its span (they were its fills, or cancels: taken as its fills, which errs towards fewer fills);
  only the rest can have reached us, and only if no order is ahead of us in the view (queues are served front
  first). Venue times are compared with our arrival time on the host's clock: this assumes a synchronised
  clock (NTP); an offset moves the boundary by that much.
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
    join_ts_ns: int | None = None  # L3: venue time of the level3 view we joined on (trades not after it came before us)
    basis_ts_ns: int | None = None  # L3: venue time of the level3 view the queue was last reconciled with
    arrival_ns: int | None = None  # L3: when our order reached the venue (a later order placed before it is ahead)
    # L3: orders at our price known not to be ahead of us: came after us, or were ahead and were consumed by the
    # trades (a level3 view that lags the trades may still show them; they must not count twice)
    behind_l3: frozenset[str] = frozenset()
    # L3: what the level3 views took off the queue ahead and no trade has explained yet, per span of venue time
    # (after, up to and including, size): a trade seen after the view that reflects it takes its share from here
    removed_l3: tuple[tuple[int | None, int, Decimal], ...] = ()
    removed_complete_after_ns: int | None = None  # L3: spans up to this venue time were dropped (REMOVED_SPANS)


REMOVED_SPANS = 32  # spans of level3 removals kept per order (a trade is seen within a few snapshots of its view)
_SPAN_SLACK_NS = 1_000  # trade times are whole microseconds (Kraken), level3 times nanoseconds


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
                        join_ts_ns=ts_ns, basis_ts_ns=ts_ns, arrival_ns=arrival_ns)


def on_l2_level(order: RestingOrder, level_size: Decimal) -> RestingOrder:
    """Our price level's displayed size now (L2): the queue ahead can only be part of it."""
    if order.ahead_l3 is not None or level_size >= order.queue_ahead:
        return order
    return replace(order, queue_ahead=max(level_size, ZERO))


def on_l3_level(order: RestingOrder, orders_at_price: Sequence[QueueItem] | Mapping[str, Decimal],
                ts_ns: int | None = None) -> RestingOrder:
    """The orders at our price now (L3), in queue order, as of venue time `ts_ns`: an order ahead that shrank or
    left moves us up (what it took off is kept, by span of venue time, for the trade that may explain it); a
    newcomer is behind us unless its venue timestamp (a third item, RFC 3339 text) shows it was placed before our
    order arrived. Items: (order id, size) or (order id, size, timestamp)."""
    if order.ahead_l3 is None:
        return order
    if isinstance(orders_at_price, Mapping):
        items: Sequence[QueueItem] = tuple(orders_at_price.items())
    else:
        items = orders_at_price
    now = {item[0]: item[1] for item in items}
    ahead = {oid: min(size, now[oid]) for oid, size in order.ahead_l3.items() if oid in now}
    removed = order.queue_ahead - sum(ahead.values(), ZERO)
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
    spans = order.removed_l3
    if ts_ns is not None and (basis is None or ts_ns > basis):
        if removed > 0:
            spans = (*spans, (basis, ts_ns, removed))
        basis = ts_ns
    complete_after = order.removed_complete_after_ns
    if len(spans) > REMOVED_SPANS:
        complete_after = spans[-REMOVED_SPANS - 1][1]
        spans = spans[-REMOVED_SPANS:]
    return replace(order, ahead_l3=ahead, queue_ahead=sum(ahead.values(), ZERO), behind_l3=frozenset(behind),
                   basis_ts_ns=basis, removed_l3=spans, removed_complete_after_ns=complete_after)


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
    `ts_ns`: its venue time (L3: placed against the level3 views, see the module's docstring)."""
    if order.remaining <= 0:
        return order, None
    reflected = False
    if order.ahead_l3 is not None and order.basis_ts_ns is not None:
        if ts_ns is None or (order.join_ts_ns is not None and ts_ns <= order.join_ts_ns) or \
                (order.arrival_ns is not None and ts_ns < order.arrival_ns):
            return order, None  # before we arrived (or of unknown time)
        reflected = ts_ns <= order.basis_ts_ns
    through = price < order.price if order.side == "buy" else price > order.price
    if through:
        return _fill(order, order.remaining, maker_fee_rate)
    if price != order.price or side == order.side:
        return order, None
    if reflected:
        assert ts_ns is not None
        return _reflected_trade(order, qty, ts_ns, maker_fee_rate)
    consumed_ahead = min(order.queue_ahead, qty)
    left = qty - consumed_ahead
    order = replace(order, queue_ahead=order.queue_ahead - consumed_ahead)
    if order.ahead_l3 is not None and consumed_ahead > 0:
        ahead, consumed = _consume_l3(order.ahead_l3, consumed_ahead)
        order = replace(order, ahead_l3=ahead, behind_l3=order.behind_l3 | consumed)
    if left <= 0:
        return order, None
    return _fill(order, min(left, order.remaining), maker_fee_rate)


def _reflected_trade(order: RestingOrder, qty: Decimal, ts_ns: int,
                     maker_fee_rate: Decimal) -> tuple[RestingOrder, PaperFill | None]:
    """A trade at our price that the level3 view already shows: what it took of the queue ahead is among the
    removals of the span(s) of venue time around it, so it takes that much from them first; only the rest can
    have reached us, and only if no order is ahead of us now (an order still ahead after the trade means it never
    got to us: queues are served front first). Removals that were cancels count as trades here: fewer fills."""
    if order.removed_complete_after_ns is not None and ts_ns <= order.removed_complete_after_ns + _SPAN_SLACK_NS:
        return order, None  # its span's removals were dropped: whatever it did is unknown now
    left = qty
    spans = []
    for after, upto, size in order.removed_l3:
        if left > 0 and (after is None or after < ts_ns + _SPAN_SLACK_NS) and upto >= ts_ns - _SPAN_SLACK_NS:
            take = min(size, left)
            left -= take
            size -= take
        if size > 0:
            spans.append((after, upto, size))
    order = replace(order, removed_l3=tuple(spans))
    if left <= 0 or order.queue_ahead > 0:
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
