"""A long, seeded, synthetic Kraken WS v2 ``book`` capture for benchmarks (the recorded captures hold a
few thousand updates; the l2book and replay rows want hundreds of thousands).

    python ops/bench/synthetic.py --updates 200000 --depth 10 OUT.jsonl
    python ops/bench/synthetic.py --level3 --updates 20000 --depth 100 OUT.jsonl

Frames are in Kraken's own layout (key order, no spaces, every number with the pair's full precision:
BTC/USD, price 1 decimal, qty 8), first a subscribe ack naming the depth, then one snapshot, then updates
shaped like the live captures: most change one level's quantity, some add a level inside the subscribed
depth (the level pushed out is dropped silently, as Kraken does) or delete one (then the level that enters
the depth is sent in the same message), a few touch both sides. Every frame's checksum is computed here by
a plain reimplementation of Kraken's algorithm over the formatted text (integer ticks, sort, top 10), so it
is independent of core/kraken/book.py: a book that replays the capture must match every one.
"""

from __future__ import annotations

import argparse
import random
import zlib
from bisect import bisect_left, insort
from pathlib import Path

SYMBOL = "BTC/USD"
PRICE_PLACES = 1
QTY_PLACES = 8
MID_TICKS = 630_050  # 63005.0


def _text(ticks: int, places: int) -> str:
    digits = str(ticks).rjust(places + 1, "0")
    return f"{digits[:-places]}.{digits[-places:]}" if places else digits


def _fragment(text: str) -> str:
    return text.replace(".", "").lstrip("0")


class _Book:
    """Both sides as ascending tick lists + qty dicts (ints: price ticks, qty in 1e-8)."""

    def __init__(self, rng: random.Random, depth: int) -> None:
        self.rng = rng
        self.depth = depth
        self.bid_prices: list[int] = []
        self.ask_prices: list[int] = []
        self.qty: dict[tuple[str, int], int] = {}
        for i in range(depth * 3):
            self._put("bid", MID_TICKS - 1 - i * rng.randint(1, 3) - i, self._random_qty())
            self._put("ask", MID_TICKS + 1 + i * rng.randint(1, 3) + i, self._random_qty())

    def _random_qty(self) -> int:
        return self.rng.choice((self.rng.randint(1, 10**6), self.rng.randint(10**6, 5 * 10**8)))

    def _prices(self, side: str) -> list[int]:
        return self.bid_prices if side == "bid" else self.ask_prices

    def _put(self, side: str, price: int, qty: int) -> None:
        if (side, price) not in self.qty:
            insort(self._prices(side), price)
        self.qty[(side, price)] = qty

    def _drop(self, side: str, price: int) -> None:
        prices = self._prices(side)
        del prices[bisect_left(prices, price)]
        del self.qty[(side, price)]

    def visible(self, side: str, n: int) -> list[int]:
        """The best n prices, best first."""
        return self.bid_prices[: -n - 1 : -1] if side == "bid" else self.ask_prices[:n]

    def level(self, side: str, price: int) -> str:
        qty = self.qty.get((side, price), 0)
        return f'{{"price":{_text(price, PRICE_PLACES)},"qty":{_text(qty, QTY_PLACES)}}}'

    def checksum(self) -> int:
        text = "".join(
            _fragment(_text(p, PRICE_PLACES)) + _fragment(_text(self.qty[("ask", p)], QTY_PLACES))
            for p in self.visible("ask", 10)
        ) + "".join(
            _fragment(_text(p, PRICE_PLACES)) + _fragment(_text(self.qty[("bid", p)], QTY_PLACES))
            for p in self.visible("bid", 10)
        )
        return zlib.crc32(text.encode())

    def step(self, side: str) -> list[str]:
        """Change one side as Kraken's feed would show it; the levels to send."""
        rng = self.rng
        visible = self.visible(side, self.depth)
        roll = rng.random()
        if roll < 0.6 or len(visible) < 3:  # a quantity change, mostly near the top
            price = visible[min(int(rng.expovariate(0.4)), len(visible) - 1)]
            self._put(side, price, self._random_qty())
            return [self.level(side, price)]
        if roll < 0.8:  # a level deleted; the one entering the depth is sent beside it
            price = visible[rng.randrange(len(visible))]
            self._drop(side, price)
            sent = [f'{{"price":{_text(price, PRICE_PLACES)},"qty":{_text(0, QTY_PLACES)}}}']
            entering = self.visible(side, self.depth)
            if len(entering) == self.depth:
                sent.append(self.level(side, entering[-1]))
            self._replenish(side)
            return sent
        # a new level inside the depth: a free tick between the best and the worst visible (never crossing)
        best, worst = visible[0], visible[-1]
        low, high = (worst, best) if side == "bid" else (best, worst)
        opposite = self.visible("ask" if side == "bid" else "bid", 1)
        if side == "bid":
            high = min(high + 2, opposite[0] - 1) if opposite else high + 2
        else:
            low = max(low - 2, opposite[0] + 1) if opposite else low - 2
        for _ in range(8):
            price = rng.randint(low, high)
            if (side, price) not in self.qty:
                self._put(side, price, self._random_qty())
                return [self.level(side, price)]
        price = visible[0]
        self._put(side, price, self._random_qty())
        return [self.level(side, price)]

    def _replenish(self, side: str) -> None:
        prices = self._prices(side)
        if len(prices) < self.depth * 2:
            far = prices[0] - self.rng.randint(1, 4) if side == "bid" else prices[-1] + self.rng.randint(1, 4)
            self._put(side, far, self._random_qty())


def _timestamp(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"2026-08-01T{hours % 24:02d}:{minute:02d}:{second:02d}.{fraction:06d}Z"


def book_capture(updates: int, depth: int = 10, seed: int = 7) -> list[str]:
    """The capture's lines: a subscribe ack, a snapshot, then ``updates`` update frames."""
    rng = random.Random(seed)
    book = _Book(rng, depth)
    lines = [
        '{"method":"subscribe","result":{"channel":"book","depth":%d,"snapshot":true,"symbol":"%s"},'
        '"success":true,"time_in":"2026-08-01T00:00:00.000000Z","time_out":"2026-08-01T00:00:00.000100Z"}'
        % (depth, SYMBOL)
    ]
    bids = ",".join(book.level("bid", p) for p in book.visible("bid", depth))
    asks = ",".join(book.level("ask", p) for p in book.visible("ask", depth))
    lines.append(
        f'{{"channel":"book","type":"snapshot","data":[{{"symbol":"{SYMBOL}","bids":[{bids}],"asks":[{asks}],'
        f'"checksum":{book.checksum()}}}]}}'
    )
    micros = 0
    for _ in range(updates):
        micros += rng.randint(50, 5000)
        roll = rng.random()
        bid_levels = book.step("bid") if roll < 0.55 else []
        ask_levels = book.step("ask") if roll >= 0.45 else []
        lines.append(
            f'{{"channel":"book","type":"update","data":[{{"symbol":"{SYMBOL}","bids":[{",".join(bid_levels)}],'
            f'"asks":[{",".join(ask_levels)}],"checksum":{book.checksum()},"timestamp":"{_timestamp(micros)}"}}]}}'
        )
    return lines


class _L3Book:
    """An order-by-order book for the level3 generator: per side, ascending price ticks and per price an
    insertion-ordered dict order_id -> qty (queue order). Truncated to ``depth`` levels like Kraken's feed."""

    def __init__(self, rng: random.Random, depth: int) -> None:
        self.rng = rng
        self.depth = depth
        self.prices: dict[str, list[int]] = {"bid": [], "ask": []}
        self.levels: dict[str, dict[int, dict[str, int]]] = {"bid": {}, "ask": {}}
        self.where: dict[str, tuple[str, int]] = {}
        self.serial = 0
        for i in range(depth):
            for side, price in (("bid", MID_TICKS - 1 - 2 * i), ("ask", MID_TICKS + 1 + 2 * i)):
                for _ in range(rng.randint(1, 4)):
                    self.add(side, price, self.qty())

    def qty(self) -> int:
        return self.rng.choice((self.rng.randint(1, 10**6), self.rng.randint(10**6, 5 * 10**8)))

    def new_id(self) -> str:
        self.serial += 1
        text = f"{self.serial:015d}"
        return f"O{text[:5]}-{text[5:10]}-{text[10:]}"

    def add(self, side: str, price: int, qty: int) -> str:
        order_id = self.new_id()
        level = self.levels[side].get(price)
        if level is None:
            level = self.levels[side][price] = {}
            insort(self.prices[side], price)
        level[order_id] = qty
        self.where[order_id] = (side, price)
        return order_id

    def delete(self, order_id: str) -> None:
        side, price = self.where.pop(order_id)
        level = self.levels[side][price]
        del level[order_id]
        if not level:
            del self.levels[side][price]
            prices = self.prices[side]
            del prices[bisect_left(prices, price)]

    def best(self, side: str, n: int) -> list[int]:
        prices = self.prices[side]
        return prices[: -n - 1 : -1] if side == "bid" else prices[:n]

    def truncate(self) -> None:
        for side in ("bid", "ask"):
            prices = self.prices[side]
            while len(prices) > self.depth:
                price = prices.pop(0) if side == "bid" else prices.pop()
                for order_id in self.levels[side].pop(price):
                    del self.where[order_id]

    def checksum(self) -> int:
        text = "".join(
            _fragment(_text(price, PRICE_PLACES)) + _fragment(_text(qty, QTY_PLACES))
            for side in ("ask", "bid")
            for price in self.best(side, 10)
            for qty in self.levels[side][price].values()
        )
        return zlib.crc32(text.encode())

    def order(self, event: str | None, order_id: str, side: str, price: int, qty: int, stamp: str) -> str:
        head = f'{{"event":"{event}",' if event else "{"
        return (f'{head}"order_id":"{order_id}","limit_price":{_text(price, PRICE_PLACES)},'
                f'"order_qty":{_text(qty, QTY_PLACES)},"timestamp":"{stamp}"}}')

    def step(self, side: str, stamp: str) -> list[str]:
        """One to three order events on one side, as the level3 feed would send them."""
        rng = self.rng
        events = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            visible = self.best(side, self.depth)
            roll = rng.random()
            if roll < 0.35 or not self.where:  # add: mostly at an existing level, sometimes a new price
                if rng.random() < 0.8 and visible:
                    price = visible[min(int(rng.expovariate(0.2)), len(visible) - 1)]
                else:
                    other = self.best("ask" if side == "bid" else "bid", 1)
                    low, high = (visible[-1], visible[0] + 3) if side == "bid" else (visible[0] - 3, visible[-1])
                    if other:
                        high, low = (min(high, other[0] - 1), low) if side == "bid" else (high, max(low, other[0] + 1))
                    price = rng.randint(low, high)
                qty = self.qty()
                events.append(self.order("add", self.add(side, price, qty), side, price, qty, stamp))
                continue
            level_price = visible[min(int(rng.expovariate(0.2)), len(visible) - 1)]
            order_id = rng.choice(list(self.levels[side][level_price]))
            qty = self.levels[side][level_price][order_id]
            if roll < 0.65 and qty > 1:  # a partial fill: same price, smaller qty, keeps its queue place
                qty = rng.randint(1, qty - 1)
                self.levels[side][level_price][order_id] = qty
                events.append(self.order("modify", order_id, side, level_price, qty, stamp))
                continue
            self.delete(order_id)
            events.append(self.order("delete", order_id, side, level_price, qty, stamp))
            if len(self.prices[side]) < self.depth:  # the level entering the depth, sent as adds
                prices = self.prices[side]
                far = prices[0] - rng.randint(1, 3) if side == "bid" else prices[-1] + rng.randint(1, 3)
                for _ in range(rng.randint(1, 3)):
                    qty = self.qty()
                    events.append(self.order("add", self.add(side, far, qty), side, far, qty, stamp))
        self.truncate()
        return events


def level3_capture(updates: int, depth: int = 100, seed: int = 7) -> list[str]:
    """A level3 capture's lines: one snapshot at ``depth`` price levels per side, then ``updates`` update
    frames of one to three order events each (add / modify as a partial fill / delete), in Kraken's level3
    layout, with checksums computed over every order of the top 10 levels per side."""
    rng = random.Random(seed)
    book = _L3Book(rng, depth)
    stamp = "2026-08-01T00:00:00.000000001Z"
    sides = {
        side: ",".join(book.order(None, oid, side, price, qty, stamp)
                       for price in book.best(side, depth) for oid, qty in book.levels[side][price].items())
        for side in ("bid", "ask")
    }
    lines = [f'{{"channel":"level3","type":"snapshot","data":[{{"symbol":"{SYMBOL}","checksum":{book.checksum()},'
             f'"bids":[{sides["bid"]}],"asks":[{sides["ask"]}],"timestamp":"{stamp}"}}]}}']
    micros = 0
    for _ in range(updates):
        micros += rng.randint(50, 5000)
        stamp = _timestamp(micros)[:-1] + "123Z"
        roll = rng.random()
        bids = book.step("bid", stamp) if roll < 0.55 else []
        asks = book.step("ask", stamp) if roll >= 0.45 else []
        lines.append(f'{{"channel":"level3","type":"update","data":[{{"checksum":{book.checksum()},'
                     f'"symbol":"{SYMBOL}","timestamp":"{stamp}","bids":[{",".join(bids)}],"asks":[{",".join(asks)}]}}]}}')
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the JSON lines")
    parser.add_argument("--updates", type=int, default=200_000)
    parser.add_argument("--depth", type=int, default=10, choices=(10, 25, 100, 500, 1000))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--level3", action="store_true", help="a level3 capture (order events) instead of book")
    args = parser.parse_args(argv)
    make = level3_capture if args.level3 else book_capture
    args.out.write_text("\n".join(make(args.updates, args.depth, args.seed)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
