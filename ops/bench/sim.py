"""Benchmark: the local exchange serving 20 symbols' books to several clients at >= 1,000 updates/s.

The server runs in this process (its own thread and event loop, as `kraken-runtime sim` does); each
client is a separate process (so clients do not compete with the server for this interpreter's GIL),
subscribes `book` at depth 10 on every symbol, verifies nothing (counting only) and records, for every
update, how late it arrived: receive time minus the frame's own timestamp (the market's time).

Same-run baseline: one client first, then N clients. Figures printed:
  - book updates/s in total and per client; the market's own rate (the model's level changes/s);
  - ratio = per-client rate with N clients / rate with 1 client (1.00: fan-out costs the clients nothing);
  - delivery lag p50 / p99 / max (ms) and the market loop's late ticks (ticks that started behind time).
PASS when >= 20 symbols, >= 1,000 updates/s in total, ratio >= 0.9, p99 lag < 250 ms and late ticks < 5 %.

Usage: python ops/bench/sim.py [--seconds 8] [--clients 5] [--rate-scale 2.1] [--symbols 20] [--depth 10]

`--engine` measures the pure model instead (no server): SimExchange.step over 20 simulated seconds, one
symbol first (the baseline), then all 20, printing events and book updates per CPU second and the ratio of
per-event cost (20 symbols / 1). PASS when 20 symbols simulate >= 10,000 book updates per CPU second
(>= 10x headroom over the 1,000 updates/s the server fans out) and the ratio is <= 1.5.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time

import websocket

from kraken_runtime.core.kraken.codec import rfc3339_to_ns
from kraken_runtime.core.sim.api import SimModelConfig
from kraken_runtime.core.sim.events import BookLevelChanged
from kraken_runtime.core.sim.exchange import SimExchange
from kraken_runtime.core.sim.instruments import DEFAULT_SYMBOLS
from kraken_runtime.sim_server.app import start_sim


NS = 1_000_000_000


def _client(url: str, symbols: list[str], depth: int, seconds: float, start_at: float, out) -> None:
    ws = websocket.create_connection(url, timeout=5)
    ws.send(json.dumps({"method": "subscribe", "params": {"channel": "book", "symbol": symbols, "depth": depth}}))
    count = 0
    levels = 0
    lags: list[float] = []
    prefix = '{"channel":"book","type":"update"'
    while time.time() < start_at:  # snapshots and warm-up are not counted
        ws.recv()
    end = start_at + seconds
    while True:
        text = ws.recv()
        now_ns = time.time_ns()
        if now_ns / 1e9 >= end:
            break
        if text.startswith(prefix):
            count += 1
            levels += text.count('"price":')
            stamp = text[text.rindex('"timestamp":"') + 13:text.rindex('"')]
            lags.append((now_ns - rfc3339_to_ns(stamp)) / 1e6)
    ws.close()
    out.put((count, levels, lags))


def measure(handle, clients: int, seconds: float, depth: int) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    symbols = list(handle.server.symbols)
    start_at = time.time() + 3.0  # spawn + connect + snapshots
    procs = [ctx.Process(target=_client, args=(handle.endpoints["ws_public"], symbols, depth, seconds, start_at,
                                               queue)) for _ in range(clients)]
    for proc in procs:
        proc.start()
    while time.time() < start_at:
        time.sleep(0.05)
    hub = handle.server.hub
    ticks0, late0, msgs0 = hub.ticks, hub.behind_ticks, hub.book_messages
    results = [queue.get(timeout=seconds + 60) for _ in procs]
    ticks, late = hub.ticks - ticks0, hub.behind_ticks - late0
    for proc in procs:
        proc.join(10)
    lags = sorted(lag for _, _, got in results for lag in got)
    total = sum(count for count, _, _ in results)
    levels = sum(level for _, level, _ in results)

    def pct(p: float) -> float:
        return lags[min(len(lags) - 1, int(p * len(lags)))] if lags else float("nan")

    return {"total_per_s": total / seconds, "levels_per_s": levels / seconds, "per_client_per_s": total / seconds / clients,
            "market_msgs_per_s": (hub.book_messages - msgs0) / seconds / clients,
            "lag_p50_ms": pct(0.50), "lag_p99_ms": pct(0.99), "lag_max_ms": lags[-1] if lags else float("nan"),
            "late_ticks": late, "ticks": ticks}


def engine_run(symbols: tuple[str, ...], seed: int, seconds: int) -> dict:
    now = 1_700_000_000 * NS
    exchange = SimExchange(symbols=symbols, seed=seed, now_ns=now, config=SimModelConfig(warmup_s=2.0))
    start = time.process_time()
    events = []
    for step in range(1, seconds + 1):
        events += exchange.step(now + step * NS)
    cpu = time.process_time() - start
    levels = sum(1 for e in events if isinstance(e, BookLevelChanged))
    return {"events": len(events), "levels": levels, "cpu_s": cpu, "us_per_event": cpu / len(events) * 1e6,
            "levels_per_cpu_s": levels / cpu, "levels_per_sim_s": levels / seconds}


def engine_bench(seed: int, seconds: int) -> int:
    base = engine_run(DEFAULT_SYMBOLS[:1], seed, seconds)
    many = engine_run(DEFAULT_SYMBOLS[:20], seed, seconds)
    ratio = many["us_per_event"] / base["us_per_event"]
    for label, r, n in (("baseline", base, 1), ("loaded", many, 20)):
        print(f"{label:8s} {n:2d} symbol(s), {seconds} s simulated: {r['events']:7,d} events in {r['cpu_s']:.3f} CPU s "
              f"({r['us_per_event']:.1f} us each); {r['levels_per_sim_s']:7,.0f} book updates per simulated s, "
              f"{r['levels_per_cpu_s']:9,.0f} per CPU s")
    print(f"ratio per-event cost 20 symbols / 1: {ratio:.2f}")
    ok = many["levels_per_cpu_s"] >= 10_000 and ratio <= 1.5
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--rate-scale", type=float, default=2.1)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--tick", type=float, default=0.05, help="market loop tick in seconds (server default 0.05)")
    parser.add_argument("--engine", action="store_true", help="measure the pure model's step cost, no server")
    args = parser.parse_args()
    if args.engine:
        return engine_bench(args.seed, 20)
    symbols = DEFAULT_SYMBOLS[:args.symbols]
    handle = start_sim(symbols=symbols, seed=args.seed, model={"rate_scale": args.rate_scale},
                       tick_s=args.tick)
    try:
        base = measure(handle, 1, args.seconds, args.depth)
        many = measure(handle, args.clients, args.seconds, args.depth)
    finally:
        handle.stop()
    ratio = many["per_client_per_s"] / base["per_client_per_s"] if base["per_client_per_s"] else float("nan")
    print(f"symbols={len(symbols)} depth={args.depth} rate_scale={args.rate_scale} tick={args.tick}s "
          f"seconds={args.seconds}")
    for label, r, n in (("baseline", base, 1), ("loaded", many, args.clients)):
        late_pct = 100.0 * r["late_ticks"] / r["ticks"] if r["ticks"] else float("nan")
        print(f"{label:8s} {n} client(s): {r['total_per_s']:8,.0f} book updates/s total, "
              f"{r['per_client_per_s']:7,.0f}/client ({r['levels_per_s'] / n:7,.0f} levels/s/client); lag p50 {r['lag_p50_ms']:5.1f} ms, "
              f"p99 {r['lag_p99_ms']:6.1f} ms, max {r['lag_max_ms']:6.1f} ms; "
              f"late ticks {r['late_ticks']}/{r['ticks']} ({late_pct:.1f} %)")
    print(f"ratio per-client loaded/baseline: {ratio:.2f}")
    late_pct = 100.0 * many["late_ticks"] / many["ticks"] if many["ticks"] else 100.0
    ok = (len(symbols) >= 20 and many["total_per_s"] >= 1000 and ratio >= 0.9 and many["lag_p99_ms"] < 250
          and late_pct < 5.0)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
