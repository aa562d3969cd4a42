"""Determinism under a seed: two servers with the same seed, on clocks advanced in the same steps, serve
the same book (levels, quantities, checksums) and the same updates; another seed serves another market."""

from __future__ import annotations

import json
import time

import websocket

from kraken_runtime.sim_server.app import start_sim

NS = 1_000_000_000
START_NS = 1_790_000_000 * NS


class Clock:
    def __init__(self) -> None:
        self.now = START_NS

    def __call__(self) -> int:
        return self.now


def _book_frames(handle, clock, steps: int) -> list:
    """Book snapshot + the updates after each 1-second step, without their timestamps."""
    ws = websocket.create_connection(handle.endpoints["ws_public"], timeout=5)
    try:
        ws.send(json.dumps({"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD", "ETH/USD"],
                                                              "depth": 25}}))
        frames = []

        def collect(count):
            end = time.monotonic() + 10
            got = 0
            while got < count:
                assert time.monotonic() < end, "no book frame before the deadline"
                message = json.loads(ws.recv())
                if message.get("channel") == "book":
                    data = message["data"][0]
                    data.pop("timestamp")
                    frames.append((message["type"], data))
                    got += 1

        collect(2)  # the two snapshots
        for _ in range(steps):
            clock.now += NS
            collect(2)  # one update per symbol covers the whole second
        return frames
    finally:
        ws.close()


def test_same_seed_then_same_snapshots_and_updates_and_other_seed_differs():
    runs = []
    for seed in (5, 5, 6):
        clock = Clock()
        handle = start_sim(symbols=("BTC/USD", "ETH/USD"), seed=seed, clock_ns=clock)
        try:
            runs.append(_book_frames(handle, clock, steps=3))
        finally:
            handle.stop()
    assert runs[0] == runs[1]
    assert [t for t, _ in runs[0]] == ["snapshot"] * 2 + ["update"] * 6
    assert runs[0][:2] != runs[2][:2]
