"""A long, seeded, synthetic Kraken WS v2 ``book`` capture for benchmarks (the recorded captures hold a
few thousand updates; the l2book and replay rows want hundreds of thousands).

    python ops/bench/synthetic.py --updates 200000 --depth 10 OUT.jsonl

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the JSON lines")
    parser.add_argument("--updates", type=int, default=200_000)
    parser.add_argument("--depth", type=int, default=10, choices=(10, 25, 100, 500, 1000))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    args.out.write_text("\n".join(book_capture(args.updates, args.depth, args.seed)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
