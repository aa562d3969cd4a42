"""kraken-runtime benchmark suite: each benchmark beside a baseline measured in the same run, and their ratio.

    python ops/bench/run.py [--quick] [--json] [NAME ...]

NAME is one or more of: decode, l2book, replay, l3book, ingest, storage, scale, pipeline, order (default: all).

Output: with --json, one JSON object per benchmark per line on stdout:
``{"name", "what", "unit", "figures", "baseline": {"what", "figures"}, "ratio", "target", "met", "notes"}``
where ``ratio`` holds, per figure, our cost over the baseline's cost (below 1: cheaper than the baseline;
speed-up targets read it inverted, and say so in ``target``); ``met`` is true/false per target clause.
Without --json, the same as Markdown tables (what docs/PERFORMANCE.md shows). Progress goes to stderr.
``--quick`` runs shorter inputs and fewer rounds (under a minute for the whole suite) for development; the
figures in docs/PERFORMANCE.md come from a full run.

Method: times are the benchmarking thread's CPU time (``time.thread_time_ns``; a subprocess's user+system
time for ``replay``), best of N rounds, the rows of one benchmark interleaved within a round so they share
the machine's conditions. On a shared machine the absolute figures move from run to run; the same-run
ratios are what compare across runs and machines. Every book benchmark asserts that every checksum matched.

Rows (what / baseline / target, from issue 15):
- decode: us per WS v2 frame by channel (book, trade, ticker, level3, executions), exact numbers / stdlib
  json.loads and orjson.loads of the same frames / <= 2x orjson.loads.
- l2book: us per L2 update, decode + apply + checksum (the daemon's wire-text path), depth 10 and 25, on the
  recorded captures and a long synthetic one / python-kraken-sdk's SpotOrderBookClient fed the same frames (its json.loads included, as
  its WebSocket client does) / <= 5 us at depth 10 and >= 3x faster than the baseline.
- replay: ``kraken-runtime verify-capture`` end to end on a 200k-update capture (quick: 10k), start-up
  (the same command on a capture of one snapshot) subtracted / the l2book wire-text path on the same frames /
  within 1.2x.
- l3book: us per L3 order event with checksum, depth 10/100/1000 (synthetic, ops/bench/synthetic.py) /
  a straightforward reference book (dict of orders, sort on every checksum) / <= 10 us at depth 100.
- ingest: ops/bench/ingest.py's flood rows (feed -> state, the daemon's wiring) at 1, 10, 50 symbols
  (quick: 1, 10) / bare websocket-client receive + json.loads / >= 50,000 frames/s, <= 1.5x baseline cost.
- scale: symbols per process at Kraken's busiest recorded per-symbol book rate (41 frames/s) before the
  p99 receive -> applied lag passes 100 ms (50, 100, 200, 400; quick: 50), and MB per symbol of a level3 book
  at depth 1000 / no baseline / >= 50 symbols at <= 50% of a core; <= 20 MB per symbol.
- pipeline: ms from a book frame's receipt to each stage boundary, p50/p99/p99.9, through the daemon's actors
  and wiring (feed -> state -> scanner -> strategies -> risk -> executor, paper venue) at 1k, 5k and 20k
  frames/s (quick: 5k), with the shipped throttles and an `eager` configuration (ops/bench/pipeline.py) / a
  paced source thread -> six threads chained by queues doing no work / tick-to-intent p99 <= 1 ms at 5k/s,
  <= 2x baseline.
- order: submit -> ack and submit -> fill p50/p99 through the ExecutorActor, paper venue and Kraken venue
  against the local exchange's signed REST API and its private WebSocket (ops/bench/order.py) / the exchange's own in-process
  add_order round trip / p99 <= 5 ms.
- storage: rows/s through storage/repo.py on SQLite and PostgreSQL (when reachable at
  KRT_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test) / raw sqlite3 / psycopg2
  executemany of the same rows / >= 50,000 market rows/s on SQLite, <= 2x baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

CAPTURES = REPO_ROOT / "tests" / "data" / "kraken" / "captures"
BENCHMARKS = ("decode", "l2book", "replay", "l3book", "ingest", "storage", "scale", "pipeline", "order")


def _load(name: str) -> ModuleType:
    """A sibling bench module, imported by its plain name with ops/bench on sys.path (ops/ is not a package;
    a plain name is what a spawned process, e.g. ingest's firehose, can import again)."""
    bench_dir = str(Path(__file__).resolve().parent)
    if bench_dir not in sys.path:
        sys.path.insert(0, bench_dir)
    return importlib.import_module(name)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def interleaved_best(rounds: int, runs: dict[str, Callable[[], float]]) -> dict[str, float]:
    return _load("book").interleaved_best(rounds, runs)  # type: ignore[no-any-return]


def cpu_ns() -> int:
    return time.thread_time_ns()


def _ratio(value: float, base: float) -> float:
    return round(value / base, 3) if base else float("nan")


def result(name: str, what: str, unit: str, figures: dict[str, Any], baseline_what: str,
           baseline: dict[str, Any], ratio: dict[str, Any], target: str, met: dict[str, bool],
           notes: str = "") -> dict[str, Any]:
    return {"name": name, "what": what, "unit": unit, "figures": figures,
            "baseline": {"what": baseline_what, "figures": baseline}, "ratio": ratio, "target": target,
            "met": met, "notes": notes}


def _r(value: float) -> float:
    return round(value, 3)


# ------------------------------------------------------------------------------------------------ frames


def _capture_lines(name: str) -> list[str]:
    return [line for line in (CAPTURES / name).read_text().splitlines() if line.strip()]


def _book_stream(lines: list[str]) -> tuple[str, int, list[str]]:
    """(symbol, depth from the ack, the book frames) of one capture's lines."""
    depth, symbol, frames = 10, "", []
    for line in lines:
        message = json.loads(line)
        result_field = message.get("result")
        if message.get("method") == "subscribe" and isinstance(result_field, dict) and result_field.get("depth"):
            depth = result_field["depth"]
        if message.get("channel") == "book":
            symbol = message["data"][0]["symbol"]
            frames.append(line)
    return symbol, depth, frames


PRECISIONS = {"BTC/USD": (1, 8), "ETH/USD": (2, 8), "XRP/USD": (5, 8)}

_TRADE = ('{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"%s","price":%s,"qty":%s,'
          '"ord_type":"%s","trade_id":%d,"timestamp":"2026-08-01T07:49:37.%06dZ"}]}')
_TICKER = ('{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":%s,"bid_qty":%s,"ask":%s,'
           '"ask_qty":%s,"last":%s,"volume":997038.98383185,"vwap":63012.4,"low":62779.0,"high":63285.0,'
           '"change":-17.0,"change_pct":-0.17,"timestamp":"2026-08-01T09:04:31.%06dZ"}]}')


def decode_frames(quick: bool) -> dict[str, list[str]]:
    """Frames per channel: book and executions from the recorded captures, level3 from a synthetic depth-100
    stream, trade and ticker in the documented layout (PROTOCOL.md 1.6, 1.7) with varying numbers."""
    synthetic = _load("synthetic")
    book = _book_stream(_capture_lines("ws_v2_book_BTCUSD_depth25.jsonl"))[2][1:]
    executions = [line for line in _capture_lines("ws_v2_executions_lifecycle_docs.jsonl")
                  if '"channel":"executions"' in line]
    trades = [_TRADE % ("buy" if i % 2 else "sell", f"{63000 + i % 97}.{i % 10}", f"0.{(i * 7919) % 10**8:08d}",
                        "limit" if i % 3 else "market", 4665906 + i, i % 10**6) for i in range(300)]
    tickers = [_TICKER % (f"{63000 + i % 50}.{i % 10}", f"{i % 9}.{(i * 31) % 10**8:08d}", f"{63001 + i % 50}.{i % 10}",
                          f"{i % 5}.{(i * 17) % 10**8:08d}", f"{63000 + i % 50}.5", i % 10**6) for i in range(300)]
    level3 = synthetic.level3_capture(100 if quick else 400, 100)[1:]
    return {"book": book, "trade": trades, "ticker": tickers, "level3": level3, "executions": executions}


# ------------------------------------------------------------------------------------------------ decode


def bench_decode(quick: bool) -> dict[str, Any]:
    import orjson

    from kraken_runtime.core.kraken import codec
    from kraken_runtime.core.kraken.book import decode_canonical_book_frame, parse_book_frame
    from kraken_runtime.core.kraken.l3book import decode_canonical_level3_frame, decode_level3_frame

    frames = decode_frames(quick)
    text_paths = {"trade": codec.decode_trade_text, "ticker": codec.decode_ticker_text,
                  "level3": decode_canonical_level3_frame, "book": decode_canonical_book_frame}
    for channel, lines in frames.items():  # every frame decodes on our path (and is what it says)
        for line in lines:
            decoded = decode_canonical_book_frame(line) if channel == "book" else codec.decode(line)
            assert decoded is not None, f"{channel}: {line[:80]}"
            if channel in text_paths:  # and takes the text path the row names
                assert text_paths[channel](line) is not None, f"{channel} text path declined: {line[:80]}"

    def timed(lines: list[str], decode: Callable[[str], Any]) -> Callable[[], float]:
        # At least ~2,000 frames per timed run: the executions capture holds 4 frames, and 4 frames timed once
        # measured mostly cold caches (orjson 9.8 us per frame in one run, 1.7 in a loop).
        passes = max(1, (200 if quick else 2000) // len(lines))

        def run() -> float:
            start = cpu_ns()
            for _ in range(passes):
                for line in lines:
                    decode(line)
            return (cpu_ns() - start) / (len(lines) * passes) / 1000.0
        return run

    runs: dict[str, Callable[[], float]] = {}
    ours: dict[str, str] = {}
    for channel, lines in frames.items():
        runs[f"{channel}|json"] = timed(lines, json.loads)
        runs[f"{channel}|orjson"] = timed(lines, orjson.loads)
        if channel == "book":
            runs[f"{channel}|ours"] = timed(lines, decode_canonical_book_frame)
            runs[f"{channel}|split"] = timed(lines, parse_book_frame)
            ours[channel] = "decode_canonical_book_frame (the feed's and state holder's book path)"
        elif channel == "level3":
            runs[f"{channel}|ours"] = timed(lines, codec.decode)
            runs[f"{channel}|fast"] = timed(lines, lambda line: decode_level3_frame(line, 1, 8))
            ours[channel] = ("codec.decode (the feed's path: Kraken's layout from its text); fast = "
                             "decode_level3_frame at the pair's precision (the same text path first)")
        elif channel == "executions":
            runs[f"{channel}|ours"] = timed(lines, codec.decode)
            ours[channel] = ("codec.decode (msgspec into wire Structs, exact Decimals; a declined frame: "
                             "wire.loads + the checked path)")
        else:
            runs[f"{channel}|ours"] = timed(lines, codec.decode)
            ours[channel] = f"codec.decode (Kraken's layout from its text: decode_{channel}_text)"
    best = interleaved_best(3 if quick else 15, runs)
    figures: dict[str, Any] = {}
    baseline: dict[str, Any] = {}
    ratio: dict[str, Any] = {}
    met: dict[str, bool] = {}
    for channel in frames:
        mine = best[f"{channel}|ours"]
        figures[channel] = {"us_per_frame": _r(mine), "frames": len(frames[channel])}
        for extra in ("split", "fast"):
            if f"{channel}|{extra}" in best:
                figures[channel][f"{extra}_us_per_frame"] = _r(best[f"{channel}|{extra}"])
        baseline[channel] = {"json_loads_us": _r(best[f"{channel}|json"]), "orjson_loads_us": _r(best[f"{channel}|orjson"])}
        ratio[channel] = {"vs_json_loads": _ratio(mine, best[f"{channel}|json"]),
                          "vs_orjson_loads": _ratio(mine, best[f"{channel}|orjson"])}
        met[f"{channel} <= 2x orjson.loads"] = mine <= 2 * best[f"{channel}|orjson"]
    return result("decode", "us per WS v2 frame, exact numbers: " + "; ".join(f"{c}: {w}" for c, w in ours.items()),
                  "us/frame", figures, "stdlib json.loads and orjson.loads of the same frames (floats, inexact)",
                  baseline, ratio, "<= 2x orjson.loads alone", met)


# ------------------------------------------------------------------------------------------------ l2book


class SdkBook:
    """python-kraken-sdk's SpotOrderBookClient driven with frames, offline: its book for the symbol is
    pre-seeded with the pair's decimals (it would ask Kraken's REST API), its resubscribe on a checksum
    mismatch is counted instead of sent, and the 3 s pause around it skipped. No socket is opened."""

    def __init__(self, symbol: str, depth: int, price_decimals: int, qty_decimals: int) -> None:
        import kraken.spot.orderbook as sdk_orderbook
        from kraken.spot import SpotOrderBookClient

        async def no_sleep(_seconds: float) -> None:
            return None

        sdk_orderbook.asyncio_sleep = no_sleep  # type: ignore[attr-defined]
        outer = self
        self.mismatches = 0

        class Offline(SpotOrderBookClient):  # type: ignore[misc]
            async def remove_book(self, pairs: list[str]) -> None:
                outer.mismatches += 1

            async def add_book(self, pairs: list[str]) -> None:
                return None

        client = Offline.__new__(Offline)  # no base __init__: it would prepare a WebSocket connection
        client._SpotOrderBookClient__book = {symbol: {"bid": {}, "ask": {}, "valid": True,
                                                      "price_decimals": price_decimals,
                                                      "qty_decimals": qty_decimals}}
        client._SpotOrderBookClient__depth = depth
        client._SpotOrderBookClient__callback = self._on_update
        self.client = client

    def _on_update(self, pair: str, message: dict) -> None:
        return None

    def run(self, frames: list[str]) -> int:
        """Thread CPU ns to feed every frame (json.loads as the SDK's connection does, then on_message)."""
        loads = json.loads
        on_message = self.client.on_message

        async def feed() -> int:
            start = cpu_ns()
            for frame in frames:
                await on_message(loads(frame))
            return cpu_ns() - start

        return asyncio.run(feed())


def l2_datasets(quick: bool) -> list[tuple[str, str, int, list[str]]]:
    """(label, symbol, depth, book frames): the recorded captures at depth 10 and 25, synthetic long ones."""
    synthetic = _load("synthetic")
    sets = []
    symbol, depth, frames = _book_stream(_capture_lines("ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl"))
    sets.append(("recorded depth 10 (BTC/USD)", symbol, depth, frames))
    depth25 = ("ws_v2_book_BTCUSD_depth25.jsonl",) if quick else (
        "ws_v2_book_BTCUSD_depth25.jsonl", "ws_v2_book_ETHUSD_depth25.jsonl", "ws_v2_book_XRPUSD_depth25.jsonl")
    for name in depth25:
        symbol, depth, frames = _book_stream(_capture_lines(name))
        sets.append((f"recorded depth 25 ({symbol})", symbol, depth, frames))
    updates = 5_000 if quick else 200_000
    for depth in (10, 25):
        symbol, _, frames = _book_stream(synthetic.book_capture(updates, depth))
        sets.append((f"synthetic depth {depth} ({updates:,} updates)", symbol, depth, frames))
    return sets


def _l2_runs(symbol: str, depth: int, frames: list[str]) -> dict[str, Callable[[], float]]:
    from kraken_runtime.core.kraken.book import L2Book, decode_canonical_book_frame, parse_book_frame

    precision = PRECISIONS[symbol]
    count = len(frames)

    def wire_text() -> float:
        book = L2Book(symbol, depth, *precision)
        parse, apply = parse_book_frame, book.apply_text
        failures = 0
        start = cpu_ns()
        for frame in frames:
            failures += apply(parse(frame))[0] != "ok"  # type: ignore[arg-type]
        elapsed = cpu_ns() - start
        assert failures == 0, f"{symbol}: wire-text path: {failures} checksum failures"
        return elapsed / count / 1000.0

    def decode_apply() -> float:
        book = L2Book(symbol, depth, *precision)
        apply = book.apply
        failures = 0
        start = cpu_ns()
        for frame in frames:
            message = decode_canonical_book_frame(frame)
            assert message is not None
            failures += apply(message.data[0], message.type == "snapshot")[0] != "ok"
        elapsed = cpu_ns() - start
        assert failures == 0, f"{symbol}: decode + apply: {failures} checksum failures"
        return elapsed / count / 1000.0

    def sdk() -> float:
        client = SdkBook(symbol, depth, *precision)
        return client.run(frames) / count / 1000.0

    def json_loads() -> float:  # a yardstick across machines: the stdlib parse alone, floats
        loads = json.loads
        start = cpu_ns()
        for frame in frames:
            loads(frame)
        return (cpu_ns() - start) / count / 1000.0

    return {"wire_text": wire_text, "decode_apply": decode_apply, "sdk": sdk, "json_loads": json_loads}


def _sdk_mismatches(symbol: str, depth: int, frames: list[str]) -> int:
    client = SdkBook(symbol, depth, *PRECISIONS[symbol])
    client.run(frames)
    return client.mismatches


def bench_l2book(quick: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    baseline: dict[str, Any] = {}
    ratio: dict[str, Any] = {}
    met: dict[str, bool] = {}
    for label, symbol, depth, frames in l2_datasets(quick):
        progress(f"  l2book: {label}")
        runs = _l2_runs(symbol, depth, frames)
        rounds = 2 if quick else (3 if len(frames) > 10_000 else 15)
        best = interleaved_best(rounds, runs)
        figures[label] = {"us_per_update": _r(best["wire_text"]), "decode_apply_us": _r(best["decode_apply"]),
                          "updates": len(frames), "depth": depth}
        baseline[label] = {"sdk_us_per_update": _r(best["sdk"]),
                           "sdk_checksum_mismatches": _sdk_mismatches(symbol, depth, frames),
                           "json_loads_us": _r(best["json_loads"])}
        ratio[label] = {"vs_sdk": _ratio(best["wire_text"], best["sdk"]),
                        "vs_json_loads": _ratio(best["wire_text"], best["json_loads"]),
                        "speedup_vs_sdk": _r(best["sdk"] / best["wire_text"]),
                        "decode_apply_speedup_vs_sdk": _r(best["sdk"] / best["decode_apply"])}
        if depth == 10:
            met[f"{label}: <= 5 us"] = best["wire_text"] <= 5.0
        met[f"{label}: >= 3x faster than the SDK"] = best["sdk"] >= 3 * best["wire_text"]
    return result("l2book", "us per L2 update, decode + apply + checksum, at the pair's precision: the daemon's "
                  "wire-text path (book.parse_book_frame + L2Book.apply_text: the state holder's and verify-capture's "
                  "path); decode_apply = decode_canonical_book_frame + L2Book.apply (a decoded BookMessage's path, "
                  "the state holder's before this suite); snapshots included",
                  "us/update", figures, "python-kraken-sdk SpotOrderBookClient on the same frames (json.loads + on_message)",
                  baseline, ratio, "<= 5 us at depth 10; >= 3x faster than the baseline (speedup_vs_sdk >= 3)", met,
                  "sdk_checksum_mismatches: the SDK keeps levels across a re-subscribe snapshot and sorts prices as "
                  "floats; counted, not fatal, as it is only the yardstick")


# ------------------------------------------------------------------------------------------------ replay


def _child_cpu_ns(command: list[str]) -> int:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {completed.returncode}: {completed.stderr.strip()[:300]}")
    return int(((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1e9)


def bench_replay(quick: bool) -> dict[str, Any]:
    from kraken_runtime.core.kraken.book import L2Book, decode_book
    from kraken_runtime.core.kraken.wire import loads

    synthetic = _load("synthetic")
    updates = 10_000 if quick else 200_000
    lines = synthetic.book_capture(updates, 10)
    symbol, depth, frames = _book_stream(lines)
    with tempfile.TemporaryDirectory(prefix="krt-bench-replay-") as tmp:
        full = Path(tmp) / "capture.jsonl"
        full.write_text("\n".join(lines) + "\n")
        startup = Path(tmp) / "startup.jsonl"
        startup.write_text("\n".join(lines[:2]) + "\n")  # the ack and the snapshot: everything but the updates
        command = [sys.executable, "-m", "kraken_runtime", "verify-capture", "--precision", f"{symbol}=1/8"]
        in_process = _l2_runs(symbol, depth, frames)

        def previous() -> float:  # what verify-capture did before: json with Decimals, the checked decoder
            book = L2Book(symbol, depth, 1, 8)
            start = cpu_ns()
            for frame in frames:
                message = decode_book(loads(frame))
                assert book.apply(message.data[0], message.type == "snapshot").ok
            return (cpu_ns() - start) / len(frames) / 1000.0

        def tool() -> float:
            return (_child_cpu_ns(command + [str(full)]) - _child_cpu_ns(command + [str(startup)])) / updates / 1000.0

        best = interleaved_best(1 if quick else 3, {"tool": tool, "wire_text": in_process["wire_text"],
                                                    "decode_apply": in_process["decode_apply"], "previous": previous})
    figures = {"us_per_update": _r(best["tool"]), "updates": updates,
               "previous_tool_path_us": _r(best["previous"])}
    baseline = {"wire_text_us_per_update": _r(best["wire_text"]), "decode_apply_us_per_update": _r(best["decode_apply"])}
    ratio = {"vs_wire_text_path": _ratio(best["tool"], best["wire_text"]),
             "vs_decode_apply": _ratio(best["tool"], best["decode_apply"]),
             "previous_vs_wire_text_path": _ratio(best["previous"], best["wire_text"])}
    return result("replay", f"kraken-runtime verify-capture on a {updates:,}-update synthetic BTC/USD depth-10 capture, "
                  "subprocess CPU time, start-up (the same command on the ack + snapshot alone) subtracted; "
                  "previous_tool_path = json.loads(Decimal) + decode_book + apply, what the tool did before",
                  "us/update", figures, "the l2book row's wire-text path on the same frames, in process",
                  baseline, ratio, "within 1.2x of the daemon's path",
                  {"<= 1.2x the wire-text path": best["tool"] <= 1.2 * best["wire_text"]})


# ------------------------------------------------------------------------------------------------ l3book


def bench_l3book(quick: bool) -> dict[str, Any]:
    from kraken_runtime.core.kraken import codec
    from kraken_runtime.core.kraken.l3book import L3Book, decode_level3_frame

    synthetic = _load("synthetic")
    reference_type = _load("book").ReferenceL3Book
    figures: dict[str, Any] = {}
    baseline: dict[str, Any] = {}
    ratio: dict[str, Any] = {}
    met: dict[str, bool] = {}
    for depth in (10, 100, 1000):
        progress(f"  l3book: depth {depth}")
        lines = synthetic.level3_capture(200 if quick else 3000, depth)
        snapshot, updates = lines[0], lines[1:]
        events = sum(len(m["data"][0]["bids"]) + len(m["data"][0]["asks"]) for m in map(json.loads, updates))
        reference_updates = updates[: max(50, len(updates) // (1 if depth <= 100 else 10))]
        reference_events = sum(len(m["data"][0]["bids"]) + len(m["data"][0]["asks"])
                               for m in map(json.loads, reference_updates))

        def fast(depth: int = depth, snapshot: str = snapshot, updates: list[str] = updates, events: int = events) -> float:
            book = L3Book("BTC/USD", depth, 1, 8)
            assert book.apply_message(decode_level3_frame(snapshot, 1, 8)).ok
            failures = 0
            start = cpu_ns()
            for frame in updates:
                failures += not book.apply_message(decode_level3_frame(frame, 1, 8)).ok
            elapsed = cpu_ns() - start
            assert failures == 0, f"L3 depth {depth}: {failures} checksum failures"
            return elapsed / events / 1000.0

        def feed_path(depth: int = depth, snapshot: str = snapshot, updates: list[str] = updates,
                      events: int = events) -> float:
            book = L3Book("BTC/USD", depth, 1, 8)
            assert book.apply_message(codec.decode(snapshot)).ok
            failures = 0
            start = cpu_ns()
            for frame in updates:
                failures += not book.apply_message(codec.decode(frame)).ok
            elapsed = cpu_ns() - start
            assert failures == 0, f"L3 depth {depth} (codec): {failures} checksum failures"
            return elapsed / events / 1000.0

        def reference(snapshot: str = snapshot, updates: list[str] = reference_updates,
                      events: int = reference_events, depth: int = depth) -> float:
            book = reference_type(1, 8, depth)
            book.apply(json.loads(snapshot, parse_float=Decimal)["data"][0], True)
            start = cpu_ns()
            for frame in updates:
                assert book.apply(json.loads(frame, parse_float=Decimal)["data"][0], False)
            return (cpu_ns() - start) / events / 1000.0

        best = interleaved_best(3 if quick else 7, {"fast": fast, "feed": feed_path, "reference": reference})
        label = f"depth {depth}"
        figures[label] = {"us_per_event": _r(best["fast"]), "codec_decode_us_per_event": _r(best["feed"]),
                          "events": events}
        baseline[label] = {"reference_us_per_event": _r(best["reference"]), "events": reference_events}
        ratio[label] = {"vs_reference": _ratio(best["fast"], best["reference"]),
                        "codec_decode_vs_reference": _ratio(best["feed"], best["reference"])}
        if depth == 100:
            met["depth 100: <= 10 us per event"] = best["fast"] <= 10.0
    return result("l3book", "us per L3 order event, decode (orjson at the pair's precision) + apply + checksum, on "
                  "seeded synthetic level3 streams (1-3 events per message, most near the top); codec_decode = "
                  "the same with codec.decode (the feed's level3 path today)", "us/event", figures,
                  "a straightforward reference book (dict of orders, sort on every checksum, truncated to the depth "
                  "after every message; ops/bench/book.py ReferenceL3Book)",
                  baseline, ratio, "<= 10 us per event at depth 100", met)


# ------------------------------------------------------------------------------------------------ ingest


def bench_ingest(quick: bool) -> dict[str, Any]:
    import logging

    ingest = _load("ingest")
    logging.basicConfig(level=logging.CRITICAL)
    counts = (1, 10) if quick else (1, 10, 50)
    seconds = 0.5 if quick else 5.0
    warmup_s = 0.25 if quick else 1.0
    frames = ingest.book_frames()
    figures: dict[str, Any] = {}
    baseline: dict[str, Any] = {}
    ratio: dict[str, Any] = {}
    met: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="krt-bench-ingest-") as tmp:
        for count in counts:
            progress(f"  ingest: {count} symbol(s)")
            symbols = ingest.synthetic_symbols(count)
            process, port, go = ingest.start_firehose(frames)
            go.set()
            try:
                base = ingest.run_baseline(f"ws://127.0.0.1:{port}/v2", symbols, seconds,
                                           warmup_frames=500 if quick else 2000)
            finally:
                process.terminate()
                process.join(5)
            row = ingest.run_pipeline(frames, symbols, "shared", seconds, warmup_s, Path(tmp))
            label = f"{count} symbols, shared, flood"
            figures[label] = {"frames_per_s": round(row["fps"]), "cpu_us_per_frame": _r(row["cpu_us"]),
                              "p50_ms": _r(row["p50_ms"]), "p99_ms": _r(row["p99_ms"]),
                              "ready": f"{row['ready']}/{count}", "checksum_failures": row["checksum_failures"]}
            baseline[label] = {"frames_per_s": round(base["fps"]), "cpu_us_per_frame": _r(base["cpu_us"])}
            ratio[label] = {"cpu_vs_baseline": _ratio(row["cpu_us"], base["cpu_us"])}
            met[f"{label}: >= 50,000 frames/s"] = row["fps"] >= 50_000
            met[f"{label}: <= 1.5x baseline cost"] = row["cpu_us"] <= 1.5 * base["cpu_us"]
    return result("ingest", "book frames/s through feed -> state (the daemon's wiring, checksums on, SQLite state rows), "
                  "source: a firehose process; ops/bench/ingest.py has the paced and per-symbol rows", "frames/s",
                  figures, "one connection, websocket-client recv (UTF-8 check skipped) + json.loads, same stream",
                  baseline, ratio, ">= 50,000 frames/s per process; <= 1.5x the baseline's CPU per frame", met)


# ------------------------------------------------------------------------------------------------ scale

# Kraken's busiest recorded book stream: BTC/USD depth 25, 2,051 updates in 49.7 s (the others: 5-29/s).
REALISTIC_FRAMES_PER_SYMBOL_S = 41.25

_RSS_PROBE = """
import gc, json, os, sys
sys.path.insert(0, {bench_dir!r})
from synthetic import level3_capture
from kraken_runtime.core.kraken.l3book import L3Book, decode_canonical_level3_frame
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
lines = level3_capture({updates}, 1000, seed=5)
gc.collect()
before = rss()
books = []
for i in range({books}):
    book = L3Book('BTC/USD', 1000, 1, 8)
    for line in lines:  # decoded per book: its own order ids and orders, as each symbol's feed makes them
        assert book.apply_message(decode_canonical_level3_frame(line)).ok
    books.append(book)
gc.collect()
print(json.dumps({{"bytes_per_symbol": (rss() - before) / len(books), "orders": books[0].order_count()}}))
"""


def bench_scale(quick: bool) -> dict[str, Any]:
    """Symbols one process holds at Kraken's realistic per-symbol rate with ingest lag (p99, receive ->
    applied) under 100 ms, and the memory of one symbol's level3 book at depth 1000."""
    import logging

    ingest = _load("ingest")
    logging.basicConfig(level=logging.CRITICAL)
    counts = (50,) if quick else (50, 100, 200, 400)
    seconds = 0.5 if quick else 4.0
    frames = ingest.book_frames()
    figures: dict[str, Any] = {}
    held = 0
    with tempfile.TemporaryDirectory(prefix="krt-bench-scale-") as tmp:
        for count in counts:
            progress(f"  scale: {count} symbols at {REALISTIC_FRAMES_PER_SYMBOL_S:g} frames/s each")
            rate = count * REALISTIC_FRAMES_PER_SYMBOL_S
            try:
                row = ingest.run_pipeline(frames, ingest.synthetic_symbols(count), "shared", seconds,
                                          0.5 if quick else 1.0, Path(tmp), rate=rate)
            except RuntimeError as error:
                figures[f"{count} symbols"] = {"failed": str(error)}
                break
            cpu_share = row["fps"] * row["cpu_us"] / 1e6  # of one core
            keeps_up = row["p99_ms"] <= 100.0 and row["fps"] >= 0.95 * rate and row["ready"] == count
            figures[f"{count} symbols"] = {"offered_frames_per_s": round(rate), "frames_per_s": round(row["fps"]),
                                           "p50_ms": _r(row["p50_ms"]), "p99_ms": _r(row["p99_ms"]),
                                           "cpu_share_of_a_core": _r(cpu_share), "ready": f"{row['ready']}/{count}",
                                           "keeps_up": keeps_up}
            if not keeps_up:
                break
            held = count
    progress("  scale: level3 memory at depth 1000")
    probe = _RSS_PROBE.format(bench_dir=str(Path(__file__).resolve().parent), updates=50 if quick else 500,
                              books=3 if quick else 20)
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f"level3 memory probe failed: {completed.stderr.strip()[-300:]}")
    memory = json.loads(completed.stdout)
    figures["level3 depth 1000"] = {"mb_per_symbol": _r(memory["bytes_per_symbol"] / 1e6), "orders": memory["orders"]}
    at_50 = figures.get("50 symbols", {})
    met = {
        ">= 50 symbols with p99 lag <= 100 ms": held >= 50,
        "at <= 50% of a core": bool(at_50.get("keeps_up")) and at_50.get("cpu_share_of_a_core", 1.0) <= 0.5,
        "<= 20 MB per symbol at L3 depth 1000": memory["bytes_per_symbol"] <= 20e6,
    }
    return result("scale", f"symbols one process holds at {REALISTIC_FRAMES_PER_SYMBOL_S:g} book frames/s each (the "
                  "busiest recorded capture's rate) through feed -> state (ingest.py's paced pipeline, shared "
                  "connection) with p99 receive -> applied <= 100 ms; memory (RSS) of one symbol's level3 book at "
                  "depth 1000 (the generated stream's orders)", "symbols", figures, "none (the issue sets none)", {},
                  {}, ">= 50 symbols at <= 50% of a core; <= 20 MB per symbol at L3 depth 1000", met,
                  f"held: {held} symbols (the largest count tried that kept up)")


# ------------------------------------------------------------------------------------------------ storage


def bench_pipeline(quick: bool) -> dict[str, Any]:
    import logging

    pipeline = _load("pipeline")
    logging.basicConfig(level=logging.CRITICAL)
    logging.getLogger().setLevel(logging.CRITICAL)
    rates = [5000.0] if quick else [1000.0, 5000.0, 20000.0]
    configs = ["eager"] if quick else ["defaults", "eager"]
    progress(f"  pipeline: {', '.join(f'{r:g}/s' for r in rates)} x {', '.join(configs)}")
    rows = pipeline.measure(rates, 1.5 if quick else 10.0, 1.0 if quick else 3.0, configs,
                            updates=20_000 if quick else 100_000)
    figures: dict[str, Any] = {}
    baseline: dict[str, Any] = {}
    ratio: dict[str, Any] = {}
    met: dict[str, bool] = {}
    for row in rows:
        p, b = row["pipeline"], row["baseline"]
        label = f"{row['rate']:g}/s {row['config']}"
        figures[label] = {"frames_per_s": p["frames_per_s"], "cpu_us_per_frame": p["cpu_us_per_frame"],
                          "checksum_failures": p["checksum_failures"], "dropped": p["messages_dropped"],
                          "thread_cpu": ", ".join(f"{k} {v}" for k, v in list(p["thread_cpu_share"].items())[:6])}
        for stage in pipeline.STAGES:
            s = p[stage]
            figures[label][stage] = (f"n {s['n']}: {s['p50_ms']} / {s['p99_ms']} / {s['p999_ms']} ms" if s["n"]
                                     else "n 0")
        baseline[label] = {"p50_ms": b["p50_ms"], "p99_ms": b["p99_ms"], "p999_ms": b["p999_ms"]}
        ratio[label] = {f"{stage}_p99": _ratio(p[stage]["p99_ms"], b["p99_ms"]) if p[stage]["n"] else None
                        for stage in ("applied", "signal", "decided", "intent")}
        if row["rate"] == 5000.0 and row["config"] == "eager":
            for stage in ("signal", "decided", "intent"):
                if p[stage]["n"]:
                    met[f"{label} tick -> {stage} p99 <= 1 ms"] = p[stage]["p99_ms"] <= 1.0
                    met[f"{label} tick -> {stage} p99 <= 2x baseline"] = p[stage]["p99_ms"] <= 2 * b["p99_ms"]
    return result(
        "pipeline", "ms from a book frame's receipt to each stage boundary (p50 / p99 / p99.9), the daemon's actors and "
        "wiring (feed -> state -> scanner -> strategies -> risk -> executor, paper venue) at a paced rate: applied (state "
        "holder), to_scanner (snapshot handed on), signal (a strategy's decision, on the scanner's thread), decided "
        "(the intent made), intent (sent to risk, unstored: tick-to-intent), order (risk stores the intent with its "
        "decision, then -> executor), order_ack (executor's first update); `defaults` = the shipped "
        "throttles (snapshot 100 ms, scan 200 ms, an intent per symbol per 5 s, decided on the fresh snapshot), `eager` = "
        "snapshot 1 ms, scan 10 ms, an intent per symbol per 50 ms at most", "ms", figures,
        "a paced source thread -> 6 threads chained by queue.SimpleQueue doing no work, stamp -> last stage, same rate",
        baseline, ratio, "tick-to-intent p99 <= 1 ms at 5k events/s; <= 2x baseline (judged on the eager row, where the "
        "scan timer does not dominate; signal = tick-to-decision through state, scanner and strategy)", met,
        "intents are few by design (the scanner's score threshold and loss cooldown), so their p99 rests on a few samples; "
        "ops/bench/pipeline.py's docstring says what each boundary covers")


def bench_order(quick: bool) -> dict[str, Any]:
    import logging

    order = _load("order")
    logging.getLogger().setLevel(logging.CRITICAL)
    orders = 5 if quick else 60
    progress(f"  order: {orders} orders per path")
    row = order.measure(orders)
    base = row["baseline"]
    figures: dict[str, Any] = {}
    ratio: dict[str, Any] = {}
    met: dict[str, bool] = {}
    for path in ("paper", "live", "live_ws"):
        for leg in ("ack", "fill"):
            s = row[path][leg]
            label = f"{path} submit -> {leg}"
            figures[label] = {"n": s["n"], "p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"], "max_ms": s["max_ms"]}
            ratio[label] = {"p50": _ratio(s["p50_ms"], base["p50_ms"]), "p99": _ratio(s["p99_ms"], base["p99_ms"])}
            met[f"{label} p99 <= 5 ms"] = bool(s["n"]) and s["p99_ms"] <= 5.0
        if row[path]["misses"]:
            figures[f"{path} misses"] = {"orders": "; ".join(row[path]["misses"])[:300]}
    baseline = {label: {"p50_ms": base["p50_ms"], "p99_ms": base["p99_ms"]} for label in figures if "submit" in label}
    rest = base["rest_add_order"]
    for label in ("live submit -> ack", "live submit -> fill"):  # the signed REST AddOrder alone, same run (the REST path)
        baseline[label].update(rest_add_order_p50_ms=rest["p50_ms"], rest_add_order_p99_ms=rest["p99_ms"])
    return result(
        "order", "ms from an OrderRequest told to the ExecutorActor (SQLite rows written) to its first ack / its fill "
        "coming back, a marketable IOC on BTC/USD at the local exchange; paper: paper venue (latency 0) on the exchange's "
        "book, acked and filled within the submit call; live: Kraken venue, signed REST AddOrder, fills by "
        "QueryOrders polled every tick; live_ws: Kraken venue over the private WebSocket (add_order, fills from the "
        "executions channel)", "ms", figures,
        "the exchange's own round trip: Trading.add_order of the same order on its loop thread, from this thread "
        "(ack and fill at once)", baseline, ratio, "p99 <= 5 ms", met,
        "the daemon's defaults put the paper ack at executor.tick_interval_ms (100) + paper_latency_ms (50) and a live "
        "fill up to executor.kraken_poll_interval_ms (3000) after the ack, by design; ops/bench/order.py says more")


def bench_storage(quick: bool) -> dict[str, Any]:
    return _load("storage_rows").bench(quick, progress)  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------------ main


RUNNERS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "decode": bench_decode,
    "l2book": bench_l2book,
    "replay": bench_replay,
    "l3book": bench_l3book,
    "ingest": bench_ingest,
    "storage": bench_storage,
    "scale": bench_scale,
    "pipeline": bench_pipeline,
    "order": bench_order,
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU(s) {cpu}; Python {platform.python_version()}; {platform.system()} {platform.release()}"


def markdown(row: dict[str, Any]) -> str:
    """One benchmark as a Markdown table: a line per item, figures | baseline | ratio columns."""
    lines = [f"### {row['name']}: {row['what']}", "", f"Baseline: {row['baseline']['what']}. Target: {row['target']}.", ""]
    figures, baseline, ratio = row["figures"], row["baseline"]["figures"], row["ratio"]
    flat = all(not isinstance(value, dict) for value in figures.values())
    if flat:
        figures, baseline, ratio = {"": figures}, {"": baseline}, {"": ratio}
    lines.append("| item | figures | baseline | ratio |")
    lines.append("|---|---|---|---|")
    for item in figures:
        def cells(values: dict[str, Any]) -> str:
            return "; ".join(f"{k} {v:,}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{k} {v}"
                             for k, v in values.items())
        lines.append(f"| {item} | {cells(figures[item])} | {cells(baseline.get(item, {}))} | {cells(ratio.get(item, {}))} |")
    lines.append("")
    lines.append("Targets: " + "; ".join(f"{clause}: {'met' if ok else 'MISSED'}" for clause, ok in row["met"].items()))
    if row.get("notes"):
        lines.append(f"\nNotes: {row['notes']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter inputs and fewer rounds (< 1 minute in all)")
    parser.add_argument("--json", action="store_true", help="one JSON object per benchmark per line")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default all)")
    args = parser.parse_args(argv)
    for name in args.names:
        if name not in RUNNERS:
            print(f"run.py: unknown benchmark {name!r}; expected one of {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
    names = args.names or list(BENCHMARKS)
    progress(f"bench on {machine()}{' (quick)' if args.quick else ''}")
    if not args.json:
        print(f"Machine: {machine()}. {'Quick run.' if args.quick else 'Full run.'}\n")
    for name in names:
        started = time.monotonic()
        progress(f"{name} ...")
        row = RUNNERS[name](args.quick)
        row["seconds"] = round(time.monotonic() - started, 1)
        row["quick"] = args.quick
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(markdown(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
