"""A price-time-priority limit order book with matching, in integer ticks and lots.

Pure and reusable (the local exchange and a paper venue share it): no accounts, no fees, no Decimal,
no events. Prices are integer ticks (price / price_increment), quantities integer lots
(qty / qty_increment). Callers turn the return values into whatever events they publish.

Each side keeps a dict of price -> PriceLevel plus an ascending sorted list of its prices, so the best
price, depth walks and level insert/delete are cheap; each level keeps its orders in an insertion
ordered dict (FIFO queue with O(1) removal by id).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Hashable, Iterator, NamedTuple

__all__ = ["BID", "ASK", "BookOrder", "PriceLevel", "Fill", "MatchResult", "OrderBook", "opposite"]

BID = 0
ASK = 1


def opposite(side: int) -> int:
    return 1 - side


class BookOrder:
    """A resting order. Mutable book-internal record; `owner` is None for anonymous flow and any
    hashable (e.g. an API key) for orders whose fills someone must be told about; `ref` is an opaque
    back-reference for the caller."""

    __slots__ = ("order_id", "side", "price", "qty", "ts_ns", "owner", "ref")

    def __init__(self, order_id: str, side: int, price: int, qty: int, ts_ns: int, owner: Hashable | None = None,
                 ref: object = None) -> None:
        self.order_id = order_id
        self.side = side
        self.price = price
        self.qty = qty
        self.ts_ns = ts_ns
        self.owner = owner
        self.ref = ref

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        side = "bid" if self.side == BID else "ask"
        return f"BookOrder({self.order_id}, {side}, {self.price}, {self.qty}, owner={self.owner!r})"


class PriceLevel:
    __slots__ = ("price", "qty", "orders")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0
        self.orders: dict[str, BookOrder] = {}


class Fill(NamedTuple):
    """One match against a resting order at the maker's price. maker.qty is already the remainder."""

    maker: BookOrder
    price: int
    qty: int


class MatchResult(NamedTuple):
    fills: list[Fill]
    remaining: int
    self_trade: bool  # stopped at a resting order of the same owner (taker remainder must be cancelled)
    touched_prices: list[int]  # maker-side prices whose level changed, in the order touched


class OrderBook:
    """Both sides of one instrument's book."""

    __slots__ = ("_levels", "_prices", "_orders")

    def __init__(self) -> None:
        self._levels: tuple[dict[int, PriceLevel], dict[int, PriceLevel]] = ({}, {})
        self._prices: tuple[list[int], list[int]] = ([], [])  # ascending; best bid last, best ask first
        self._orders: dict[str, BookOrder] = {}

    # ---- queries -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: str) -> bool:
        return order_id in self._orders

    def get(self, order_id: str) -> BookOrder | None:
        return self._orders.get(order_id)

    def best(self, side: int) -> int | None:
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side == BID else prices[0]

    def worst(self, side: int) -> int | None:
        prices = self._prices[side]
        if not prices:
            return None
        return prices[0] if side == BID else prices[-1]

    def level_count(self, side: int) -> int:
        return len(self._prices[side])

    def price_at(self, side: int, index: int) -> int:
        """The price of the index-th level from the best (0 = best)."""
        prices = self._prices[side]
        return prices[-1 - index] if side == BID else prices[index]

    def level_qty(self, side: int, price: int) -> int:
        level = self._levels[side].get(price)
        return 0 if level is None else level.qty

    def level_orders(self, side: int, price: int) -> list[BookOrder]:
        level = self._levels[side].get(price)
        return [] if level is None else list(level.orders.values())

    def level(self, side: int, price: int) -> PriceLevel | None:
        return self._levels[side].get(price)

    def iter_levels(self, side: int) -> Iterator[PriceLevel]:
        """Levels best first."""
        levels = self._levels[side]
        prices = self._prices[side]
        order = reversed(prices) if side == BID else iter(prices)
        for price in order:
            yield levels[price]

    def depth(self, side: int, n: int) -> list[tuple[int, int]]:
        """Top n levels as (price, qty), best first."""
        levels = self._levels[side]
        prices = self._prices[side]
        chosen = prices[: -n - 1 : -1] if side == BID else prices[:n]
        return [(p, levels[p].qty) for p in chosen]

    def fillable_qty(self, taker_side: int, limit: int | None, cap: int, owner: Hashable | None = None) -> int:
        """How much a taker on taker_side could fill now up to limit (None = any price), at most cap,
        stopping at the first resting order of the same owner (self-trade prevention)."""
        total = 0
        for level in self.iter_levels(opposite(taker_side)):
            if limit is not None and (level.price > limit if taker_side == BID else level.price < limit):
                break
            if owner is None:
                total += level.qty
            else:
                for order in level.orders.values():
                    if order.owner == owner:
                        return min(total, cap)
                    total += order.qty
                    if total >= cap:
                        return cap
            if total >= cap:
                return cap
        return min(total, cap)

    def cost_to_fill(self, taker_side: int, qty: int, limit: int | None = None) -> tuple[int, int]:
        """(fillable lots, sum of price*lots) for a taker walking the book up to qty and limit."""
        filled = 0
        cost = 0
        for level in self.iter_levels(opposite(taker_side)):
            if limit is not None and (level.price > limit if taker_side == BID else level.price < limit):
                break
            take = min(level.qty, qty - filled)
            filled += take
            cost += take * level.price
            if filled >= qty:
                break
        return filled, cost

    def crosses(self, side: int, price: int) -> bool:
        """Would a limit order on side at price take liquidity?"""
        other = self.best(opposite(side))
        if other is None:
            return False
        return price >= other if side == BID else price <= other

    # ---- mutations -----------------------------------------------------------------------------

    def add(self, order: BookOrder) -> int:
        """Rest order at the back of its level's queue. Returns the level's new total qty.
        The caller must have matched it first: adding a crossing order is a programming error."""
        if order.qty <= 0:
            raise ValueError(f"resting qty must be positive: {order!r}")
        if order.order_id in self._orders:
            raise ValueError(f"duplicate order id {order.order_id}")
        side = order.side
        levels = self._levels[side]
        level = levels.get(order.price)
        if level is None:
            other = self.best(1 - side)
            if other is not None and (order.price >= other if side == BID else order.price <= other):
                raise ValueError(f"order would cross the book: {order!r}")
            level = levels[order.price] = PriceLevel(order.price)
            insort(self._prices[side], order.price)
        level.orders[order.order_id] = order
        level.qty += order.qty
        self._orders[order.order_id] = order
        return level.qty

    def remove(self, order_id: str) -> BookOrder | None:
        """Take an order out of the book (cancel). Returns it, or None if unknown."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return None
        levels = self._levels[order.side]
        level = levels[order.price]
        del level.orders[order_id]
        level.qty -= order.qty
        if not level.orders:
            self._drop_level(order.side, order.price)
        return order

    def reduce(self, order_id: str, new_qty: int) -> int:
        """Lower an order's qty in place, keeping its queue place. Returns the level's new qty."""
        order = self._orders[order_id]
        if not 0 < new_qty <= order.qty:
            raise ValueError(f"reduce must keep 0 < qty <= current ({order.qty}), got {new_qty}")
        level = self._levels[order.side][order.price]
        level.qty -= order.qty - new_qty
        order.qty = new_qty
        return level.qty

    def match(self, taker_side: int, qty: int, limit: int | None = None,
              owner: Hashable | None = None) -> MatchResult:
        """Match a taker of qty lots against the opposite side in price-time priority, at the makers'
        prices, up to limit (None = market). Filled makers leave the book; partially filled ones keep
        their place with maker.qty reduced. Matching stops before a resting order with the same
        (non-None) owner: the taker's remainder must then be cancelled (STP cancel-newest)."""
        maker_side = 1 - taker_side
        levels = self._levels[maker_side]
        prices = self._prices[maker_side]
        fills: list[Fill] = []
        touched: list[int] = []
        remaining = qty
        self_trade = False
        while remaining > 0 and prices:
            price = prices[-1] if maker_side == BID else prices[0]
            if limit is not None and (price > limit if taker_side == BID else price < limit):
                break
            level = levels[price]
            queue = level.orders
            touched.append(price)
            for order_id in list(queue):
                order = queue[order_id]
                if owner is not None and order.owner == owner:
                    self_trade = True
                    break
                take = order.qty if order.qty <= remaining else remaining
                order.qty -= take
                level.qty -= take
                remaining -= take
                if order.qty == 0:
                    del queue[order_id]
                    del self._orders[order_id]
                fills.append(Fill(order, price, take))
                if remaining == 0:
                    break
            if not queue:
                del levels[price]
                if maker_side == BID:
                    prices.pop()
                else:
                    prices.pop(0)
            if self_trade:
                break
        return MatchResult(fills, remaining, self_trade, touched)

    def _drop_level(self, side: int, price: int) -> None:
        del self._levels[side][price]
        prices = self._prices[side]
        if side == BID and prices and prices[-1] == price:
            prices.pop()
        elif side == ASK and prices and prices[0] == price:
            prices.pop(0)
        else:
            del prices[bisect_left(prices, price)]

    def check_invariants(self) -> None:
        """Raise AssertionError if the book is inconsistent (tests)."""
        for side in (BID, ASK):
            prices = self._prices[side]
            assert prices == sorted(prices), "prices unsorted"
            assert len(set(prices)) == len(prices), "duplicate prices"
            assert set(prices) == set(self._levels[side]), "price list and levels differ"
            for price in prices:
                level = self._levels[side][price]
                assert level.orders, "empty level kept"
                assert level.qty == sum(o.qty for o in level.orders.values()), "level qty drift"
                for order in level.orders.values():
                    assert order.qty > 0 and order.price == price and order.side == side
                    assert self._orders.get(order.order_id) is order
        assert sum(len(lv.orders) for s in (BID, ASK) for lv in self._levels[s].values()) == len(self._orders)
        bid, ask = self.best(BID), self.best(ASK)
        assert bid is None or ask is None or bid < ask, f"crossed book {bid} >= {ask}"
