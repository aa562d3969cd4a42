"""Book benchmark: microseconds per L2 update (decode + apply + checksum) and per L3 event, on the shared
captures, beside same-run baselines. Prints a table with ratios.

    python ops/bench/book.py [--repeat N] [--data PATH] [--markdown]

Rows: each the best of --repeat rounds, rows interleaved within a round so they share conditions; time is
the benchmarking thread's CPU time (time.thread_time_ns), so waiting for a busy CPU does not count:
- ``stdlib json.loads``: decoding alone with the standard library (floats, inexact); the yardstick.
- ``stdlib json.loads(parse_float=Decimal)``: exact decoding alone.
- ``reference L2 book``: a straightforward dict-and-sort book (PROTOCOL.md 2.1's reference algorithm):
  exact decode, dict update, sort both sides, format the top 10, CRC32.
- ``L2Book fast``: ``decode_book_frame`` (orjson + guarded exact conversion at the pair's precision) +
  ``L2Book.apply`` (which computes and compares the checksum).
- ``L2Book exact``: ``wire.loads`` + ``decode_book`` + ``L2Book.apply`` (wire-text mode, no precision).
- ``L3`` rows: per order event, replaying the level3 capture's updates (the snapshot is applied, untimed,
  before each pass), against a dict-and-sort reference L3 book.
The ratio column is each row's time over the stdlib ``json.loads`` row of the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from kraken_runtime.core.kraken.book import L2Book, decode_book, decode_book_frame  # noqa: E402
from kraken_runtime.core.kraken.l3book import L3Book, decode_level3, decode_level3_frame  # noqa: E402
from kraken_runtime.core.kraken.wire import loads  # noqa: E402

L2_CAPTURES = (
    "ws_v2_book_BTCUSD_depth25.jsonl",
    "ws_v2_book_ETHUSD_depth25.jsonl",
    "ws_v2_book_XRPUSD_depth25.jsonl",
    "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl",
)
L3_CAPTURE = "ws_v2_level3_BTCUSD_docs_snapshot_3_updates.jsonl"
PRECISIONS = {"BTC/USD": (1, 8), "ETH/USD": (2, 8), "XRP/USD": (5, 8)}
TARGET_US = 10.0


class Stream:
    """One capture's book frames: the raw text, the symbol, the depth from its ack, snapshot or update."""

    def __init__(self, path: Path) -> None:
        self.frames: list[tuple[str, bool]] = []
        self.depth = 10
        self.symbol = ""
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            msg = json.loads(line)
            result = msg.get("result")
            if msg.get("method") == "subscribe" and isinstance(result, dict) and result.get("depth"):
                self.depth = result["depth"]
            if msg.get("channel") == "book":
                self.symbol = msg["data"][0]["symbol"]
                self.frames.append((line, msg["type"] == "snapshot"))

    @property
    def updates(self) -> int:
        return sum(1 for _, snapshot in self.frames if not snapshot)


# ------------------------------------------------------------------------------------------ baselines


def _fmt(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}".replace(".", "").lstrip("0")


class ReferenceL2Book:
    """Dict-and-sort: the obvious implementation (PROTOCOL.md 2.1), exact but unoptimised."""

    def __init__(self, depth: int, price_places: int, qty_places: int) -> None:
        self.depth, self.pp, self.qp = depth, price_places, qty_places
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def apply(self, data: dict, snapshot: bool) -> bool:
        if snapshot:
            self.bids, self.asks = {}, {}
        for side, levels in ((self.bids, data["bids"]), (self.asks, data["asks"])):
            for level in levels:
                if level["qty"]:
                    side[level["price"]] = level["qty"]
                else:
                    side.pop(level["price"], None)
        self.bids = dict(sorted(self.bids.items(), reverse=True)[: self.depth])
        self.asks = dict(sorted(self.asks.items())[: self.depth])
        asks = sorted(self.asks)[:10]
        bids = sorted(self.bids, reverse=True)[:10]
        text = "".join(_fmt(p, self.pp) + _fmt(self.asks[p], self.qp) for p in asks) + "".join(
            _fmt(p, self.pp) + _fmt(self.bids[p], self.qp) for p in bids
        )
        return zlib.crc32(text.encode()) == data["checksum"]


class ReferenceL3Book:
    """Dict of orders + sort on every checksum; with ``depth``, each side truncated to that many price levels
    after every message (Kraken sends no deletes for orders leaving the subscribed depth)."""

    def __init__(self, price_places: int, qty_places: int, depth: int | None = None) -> None:
        self.pp, self.qp, self.depth = price_places, qty_places, depth
        self.orders: dict[str, tuple[str, Decimal, Decimal, int]] = {}
        self.sequence = 0

    def apply(self, data: dict, snapshot: bool) -> bool:
        if snapshot:
            self.orders = {}
        for side, events in (("bid", data["bids"]), ("ask", data["asks"])):
            for event in events:
                order_id, price, qty = event["order_id"], event["limit_price"], event["order_qty"]
                kind = event.get("event", "add")
                current = self.orders.get(order_id)
                if kind == "delete":
                    self.orders.pop(order_id, None)
                elif kind == "modify" and current is not None and current[1] == price:
                    self.orders[order_id] = (side, price, qty, current[3])
                else:
                    self.sequence += 1
                    self.orders[order_id] = (side, price, qty, self.sequence)
        if self.depth is not None:
            for side, descending in (("ask", False), ("bid", True)):
                kept = set(sorted({o[1] for o in self.orders.values() if o[0] == side}, reverse=descending)[: self.depth])
                self.orders = {k: o for k, o in self.orders.items() if o[0] != side or o[1] in kept}
        texts = []
        for side, descending in (("ask", False), ("bid", True)):
            rows = sorted((o for o in self.orders.values() if o[0] == side), key=lambda o: o[3])
            rows.sort(key=lambda o: o[1], reverse=descending)
            prices = sorted({o[1] for o in rows}, reverse=descending)[:10]
            top = set(prices)
            texts.append("".join(_fmt(o[1], self.pp) + _fmt(o[2], self.qp) for o in rows if o[1] in top))
        return zlib.crc32("".join(texts).encode()) == data["checksum"]


# ------------------------------------------------------------------------------------------ measurement


def interleaved_best(repeat: int, runs: dict[str, object]) -> dict[str, float]:
    """Run every row once per round, ``repeat`` rounds, and keep each row's best: rows share conditions."""
    best = {name: float("inf") for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            best[name] = min(best[name], run())  # type: ignore[operator]
    return best


def bench_l2(streams: list[Stream], repeat: int) -> dict[str, float]:
    updates = sum(stream.updates for stream in streams)

    def per_update(body):
        def run() -> float:
            elapsed = 0
            for stream in streams:
                elapsed += body(stream)
            return elapsed / updates / 1000.0

        return run

    def json_only(stream: Stream) -> int:
        parse = json.loads
        start = time.thread_time_ns()
        for frame, _ in stream.frames:
            parse(frame)
        return time.thread_time_ns() - start

    def json_decimal(stream: Stream) -> int:
        parse = json.loads
        start = time.thread_time_ns()
        for frame, _ in stream.frames:
            parse(frame, parse_float=Decimal)
        return time.thread_time_ns() - start

    def reference(stream: Stream) -> int:
        book = ReferenceL2Book(stream.depth, *PRECISIONS[stream.symbol])
        parse = json.loads
        failures = 0
        start = time.thread_time_ns()
        for frame, snapshot in stream.frames:
            failures += not book.apply(parse(frame, parse_float=Decimal)["data"][0], snapshot)
        elapsed = time.thread_time_ns() - start
        assert failures == 0, f"reference book: {failures} checksum failures"
        return elapsed

    def fast(stream: Stream) -> int:
        precision = PRECISIONS[stream.symbol]
        book = L2Book(stream.symbol, stream.depth, *precision)
        failures = 0
        start = time.thread_time_ns()
        for frame, snapshot in stream.frames:
            data = decode_book_frame(frame, *precision).data[0]
            failures += not book.apply(data, snapshot).ok
        elapsed = time.thread_time_ns() - start
        assert failures == 0, f"L2Book fast: {failures} checksum failures"
        return elapsed

    def exact(stream: Stream) -> int:
        book = L2Book(stream.symbol, stream.depth)
        failures = 0
        start = time.thread_time_ns()
        for frame, snapshot in stream.frames:
            data = decode_book(loads(frame)).data[0]
            failures += not book.apply(data, snapshot).ok
        elapsed = time.thread_time_ns() - start
        assert failures == 0, f"L2Book exact: {failures} checksum failures"
        return elapsed

    decoded = {
        id(stream): [(decode_book_frame(frame, *PRECISIONS[stream.symbol]).data[0], snapshot)
                     for frame, snapshot in stream.frames]
        for stream in streams
    }

    def decode_only(stream: Stream) -> int:
        precision = PRECISIONS[stream.symbol]
        start = time.thread_time_ns()
        for frame, _ in stream.frames:
            decode_book_frame(frame, *precision)
        return time.thread_time_ns() - start

    def apply_only(stream: Stream) -> int:
        book = L2Book(stream.symbol, stream.depth, *PRECISIONS[stream.symbol])
        items = decoded[id(stream)]
        start = time.thread_time_ns()
        for data, snapshot in items:
            book.apply(data, snapshot)
        return time.thread_time_ns() - start

    return interleaved_best(repeat, {
        "stdlib json.loads (decode only, float)": per_update(json_only),
        "L2 decode_book_frame alone": per_update(decode_only),
        "L2Book.apply alone (incl. checksum)": per_update(apply_only),
        "stdlib json.loads(parse_float=Decimal)": per_update(json_decimal),
        "reference L2 book (dict + sort)": per_update(reference),
        "L2Book fast (decode + apply + checksum)": per_update(fast),
        "L2Book exact wire text (decode + apply + checksum)": per_update(exact),
    })


def bench_l3(path: Path, repeat: int) -> dict[str, float]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    snapshot, updates = lines[0], lines[1:]
    events = sum(len(m["data"][0]["bids"]) + len(m["data"][0]["asks"]) for m in map(json.loads, updates))
    rounds = 300

    def fast_run() -> float:
        elapsed = 0
        for _ in range(rounds):
            book = L3Book("BTC/USD", 10, 1, 8)
            book.apply_message(decode_level3_frame(snapshot, 1, 8))
            start = time.thread_time_ns()
            for frame in updates:
                assert book.apply(decode_level3_frame(frame, 1, 8).data[0]).ok
            elapsed += time.thread_time_ns() - start
        return elapsed / (rounds * events) / 1000.0

    def exact_run() -> float:
        elapsed = 0
        for _ in range(rounds):
            book = L3Book("BTC/USD", 10)
            book.apply_message(decode_level3(loads(snapshot)))
            start = time.thread_time_ns()
            for frame in updates:
                assert book.apply(decode_level3(loads(frame)).data[0]).ok
            elapsed += time.thread_time_ns() - start
        return elapsed / (rounds * events) / 1000.0

    def reference_run() -> float:
        elapsed = 0
        for _ in range(rounds):
            book = ReferenceL3Book(1, 8)
            book.apply(json.loads(snapshot, parse_float=Decimal)["data"][0], True)
            start = time.thread_time_ns()
            for frame in updates:
                assert book.apply(json.loads(frame, parse_float=Decimal)["data"][0], False)
            elapsed += time.thread_time_ns() - start
        return elapsed / (rounds * events) / 1000.0

    def json_run() -> float:
        elapsed = 0
        for _ in range(rounds):
            start = time.thread_time_ns()
            for frame in updates:
                json.loads(frame)
            elapsed += time.thread_time_ns() - start
        return elapsed / (rounds * events) / 1000.0

    return interleaved_best(repeat, {
        "L3 stdlib json.loads (decode only, float)": json_run,
        "L3 reference book (dict + sort)": reference_run,
        "L3Book fast (decode + apply + checksum)": fast_run,
        "L3Book exact wire text (decode + apply + checksum)": exact_run,
    })


def table(rows: dict[str, float], baseline: str, unit: str) -> list[str]:
    width = max(len(name) for name in rows)
    lines = [f"| {'what'.ljust(width)} | {unit:>10} | {'ratio':>6} |", f"|{'-' * (width + 2)}|{'-' * 12}:|{'-' * 7}:|"]
    for name, value in rows.items():
        lines.append(f"| {name.ljust(width)} | {value:10.2f} | {value / rows[baseline]:6.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per row; the best is reported")
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "tests" / "data" / "kraken")
    args = parser.parse_args(argv)
    captures = args.data / "captures"
    streams = [Stream(captures / name) for name in L2_CAPTURES]
    updates = sum(stream.updates for stream in streams)
    l2 = bench_l2(streams, args.repeat)
    l3 = bench_l3(captures / L3_CAPTURE, args.repeat)
    print(f"L2: {updates} updates from {len(streams)} captures; best of {args.repeat} runs; Python {sys.version.split()[0]}")
    print("\n".join(table(l2, "stdlib json.loads (decode only, float)", "us/update")))
    print()
    print("L3: the level3 capture's 3 updates (10 order events), 300 passes per run")
    print("\n".join(table(l3, "L3 stdlib json.loads (decode only, float)", "us/event")))
    fast = l2["L2Book fast (decode + apply + checksum)"]
    verdict = "meets" if fast <= TARGET_US else "MISSES"
    print(f"\nL2Book fast: {fast:.2f} us per update; {verdict} the {TARGET_US:.0f} us target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
