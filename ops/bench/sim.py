"""Benchmark: the local exchange serving 20 symbols to several clients.

Counts book messages received per second across clients (each subscribed to every symbol at depth 10),
with a same-run baseline: one client alone. ratio = per-client rate with N clients / rate with 1 client
(about 1.0 means fan-out costs nothing per client: nobody falls behind). Also prints the market loop's
late ticks. Usage: python ops/bench/sim.py [--seconds 5] [--clients 4] [--engine standin|auto]
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import websocket

from core.sim.instruments import DEFAULT_SYMBOLS
from core.sim_server.app import start_sim


def _client(url: str, symbols, seconds: float, out: list, ready: threading.Barrier) -> None:
    ws = websocket.create_connection(url, timeout=5)
    ws.send(json.dumps({"method": "subscribe", "params": {"channel": "book", "symbol": list(symbols), "depth": 10}}))
    ready.wait()
    end = time.monotonic() + seconds
    count = 0
    while time.monotonic() < end:
        try:
            text = ws.recv()
        except websocket.WebSocketTimeoutException:
            continue
        if text.startswith('{"channel":"book","type":"update"'):
            count += 1
    out.append(count)
    ws.close()


def measure(handle, clients: int, seconds: float) -> tuple[float, int]:
    counts: list[int] = []
    ready = threading.Barrier(clients)
    behind_before = handle.server.hub.behind_ticks
    threads = [threading.Thread(target=_client, args=(handle.endpoints["ws_public"], handle.server.symbols, seconds,
                                                      counts, ready)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    return sum(counts) / seconds, handle.server.hub.behind_ticks - behind_before


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--engine", default="standin")
    parser.add_argument("--rate-scale", type=float, default=3.0)
    args = parser.parse_args()
    handle = start_sim(symbols=DEFAULT_SYMBOLS[:20], seed=5, engine=args.engine,
                       model={"rate_scale": args.rate_scale})
    try:
        base_rate, base_behind = measure(handle, 1, args.seconds)
        rate, behind = measure(handle, args.clients, args.seconds)
    finally:
        handle.stop()
    per_client = rate / args.clients
    print(f"symbols={len(DEFAULT_SYMBOLS[:20])} engine={args.engine}")
    print(f"baseline 1 client: {base_rate:,.0f} book updates/s, late ticks {base_behind}")
    print(f"{args.clients} clients: {rate:,.0f} book updates/s in total ({per_client:,.0f}/client), late ticks {behind}")
    print(f"ratio per-client/baseline: {per_client / base_rate if base_rate else float('nan'):.2f}")
    print("PASS" if rate >= 1000 and (per_client / base_rate if base_rate else 0) > 0.9 else "FAIL")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
