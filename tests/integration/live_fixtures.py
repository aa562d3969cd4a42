"""Fixtures shared by the live-venue integration modules (test_live_execution.py, test_live_ws.py): one local
exchange per test serving ETH/USD (its faults and the account's REST rate counter start clean), and every pykka
actor stopped after each test. Imported by name into those modules (not a conftest: the autouse stop applies to
them alone)."""

from __future__ import annotations

from typing import Any, Iterator

import pykka
import pytest

from kraken_runtime.sim_server.app import start_sim

SYMBOL = "ETH/USD"


@pytest.fixture(autouse=True)
def stop_all_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=5)


@pytest.fixture
def sim() -> Iterator[Any]:
    """One local exchange per test: its faults and the account's REST rate counter start clean."""
    handle = start_sim(host="127.0.0.1", port=0, symbols=(SYMBOL,), seed=11)
    yield handle
    handle.stop()
