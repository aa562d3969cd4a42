"""Fixtures for the local exchange's tests: an in-process sim on 127.0.0.1 port 0 and a small WS client
that waits on conditions with deadlines."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
import websocket

from kraken_runtime.core.kraken.rest import KrakenRestClient
from kraken_runtime.sim_server.app import start_sim


@pytest.fixture(scope="session")
def shared_kraken(kraken_data: Path) -> Path:
    """Kraken's recorded traffic and REST responses, copied into the repository (tests/data/kraken)."""
    return kraken_data


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
    handle = start_sim(symbols=("BTC/USD", "ETH/USD", "XRP/USD"), seed=11)
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


@pytest.fixture
def rest_client(sim):
    """The project's own REST client, signed with the sim's demo key."""
    client = KrakenRestClient(version="test", base_url=sim.endpoints["rest"], api_key=sim.endpoints["api_key"],
                              api_secret=sim.endpoints["api_secret"], max_attempts=1)
    yield client
    client.close()


@pytest.fixture
def auth_ws(sim, connect, rest_client):
    """An authenticated WS v2 connection: (client, token), with the status frame already read."""

    def make(target=None):
        target = target or sim
        token = rest_client.get_websockets_token().token if target is sim else None
        client = connect(target.endpoints["ws_auth"])
        status = client.recv_json()
        assert status["channel"] == "status"
        return client, token

    return make


def touch(handle, symbol: str):
    """(best bid, best ask) of `symbol` right now, read on the server's loop."""
    bids, asks = handle.call(handle.exchange.book, symbol, 1)
    return bids[0][0], asks[0][0]


@pytest.fixture
def best():
    return touch


def kraken_sign(uri_path: str, nonce: str, postdata: str, secret_b64: str) -> str:
    """Kraken's documented API-Sign (PROTOCOL.md 5.2), written here independently of core.kraken.signing."""
    message = uri_path.encode() + hashlib.sha256((nonce + postdata).encode()).digest()
    return base64.b64encode(hmac.new(base64.b64decode(secret_b64), message, hashlib.sha512).digest()).decode()


def private_call(sim, method: str, params: dict | None = None, *, key=None, secret=None, nonce=None, sign=None):
    """One signed POST /0/private/<method> with plain requests; the decoded JSON body."""
    nonce = str(nonce if nonce is not None else time.time_ns())
    body = urllib.parse.urlencode({"nonce": nonce, **(params or {})})
    path = f"/0/private/{method}"
    signature = sign if sign is not None else kraken_sign(path, nonce, body, secret or sim.endpoints["api_secret"])
    headers = {"API-Key": key or sim.endpoints["api_key"], "API-Sign": signature,
               "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "sim-test"}
    return requests.post(sim.endpoints["rest"] + path, data=body, headers=headers, timeout=5).json()


@pytest.fixture
def private():
    return private_call
