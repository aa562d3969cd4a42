"""Fixtures for the local exchange's tests: an in-process sim on 127.0.0.1 port 0 and a small WS client
that waits on conditions with deadlines."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import websocket

from core.sim_server.app import start_sim


def _shared_kraken() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "setup.cfg").exists():
            return parent.parent / "shared" / "kraken"
    raise RuntimeError("repo root not found")


@pytest.fixture(scope="session")
def shared_kraken() -> Path:
    return _shared_kraken()


class WsClient:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.ws = websocket.create_connection(url, timeout=timeout)
        self.raw: list[str] = []

    def send(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def recv(self, deadline_s: float = 5.0) -> str:
        self.ws.settimeout(deadline_s)
        text = self.ws.recv()
        self.raw.append(text)
        return text

    def recv_json(self, deadline_s: float = 5.0) -> dict:
        return json.loads(self.recv(deadline_s))

    def wait_for(self, predicate, deadline_s: float = 10.0) -> dict:
        """Read frames until one satisfies `predicate` (parsed JSON); fail at the deadline."""
        end = time.monotonic() + deadline_s
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching frame before the deadline")
            try:
                message = self.recv_json(left)
            except websocket.WebSocketTimeoutException:
                raise AssertionError("no matching frame before the deadline") from None
            if predicate(message):
                return message

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture(scope="module")
def sim():
    # engine="standin": core.sim.exchange.SimExchange hung at construction when this was written.
    handle = start_sim(symbols=("BTC/USD", "ETH/USD", "XRP/USD"), seed=11, engine="standin")
    yield handle
    handle.stop()


@pytest.fixture
def connect():
    clients: list[WsClient] = []

    def make(url: str) -> WsClient:
        client = WsClient(url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
