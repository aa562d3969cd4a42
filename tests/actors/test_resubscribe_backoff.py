"""Per-symbol resubscribe backoff (issue 16). Finding: checksum mismatches triggered resubscribes with no
backoff, 20 in one second. The pure policy (core/feed_policy.ResubscribeBackoff) and the feed that applies it."""

from __future__ import annotations

import orjson
import pytest
from prometheus_client import CollectorRegistry

from kraken_runtime.actors.base import ChildLink, FaultBudget
from kraken_runtime.actors.feed import PUBLIC, FeedActor, FeedEndpoints, SharedConnectionBudget
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.core.config import load_settings
from kraken_runtime.core.feed_policy import ResubscribeBackoff
from kraken_runtime.core.marketdata import ResubscribeBook

SYMBOLS = ("BTC/USD", "ETH/USD")


def test_policy_first_resubscribe_goes_at_once_then_each_waits_twice_as_long_up_to_the_cap_and_resets() -> None:
    policy = ResubscribeBackoff(initial_s=0.5, max_s=4.0, reset_after_s=60.0)
    key = ("BTC/USD", "book")
    assert policy.due_s(key, 100.0) == 100.0
    waits = []
    now = 100.0
    for _ in range(7):
        now = max(now, policy.due_s(key, now))
        policy.sent(key, now)
        waits.append(policy.due_s(key, now) - now)
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert policy.due_s(("ETH/USD", "book"), now) == now  # another symbol is not held back
    assert policy.due_s(key, now + 60.0) == now + 60.0  # quiet for a minute: starts over
    assert policy.sent(key, now + 60.0) == 1


class FakeWs:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send(self, text: str) -> None:
        self.sent.append(orjson.loads(text))

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def feed():
    metrics = IngestMetrics(CollectorRegistry())
    metrics.register_symbols(SYMBOLS)
    settings = load_settings(env={"KRT_RUNTIME__SYMBOLS": ",".join(SYMBOLS)})
    clock = Clock()
    actor = FeedActor(link=ChildLink(name="feed:public", generation=1, report=lambda m: None, fault=FaultBudget()),
                      symbols=SYMBOLS, settings=settings.feed, endpoints=FeedEndpoints(ws_public_url="ws://127.0.0.1:9/v2", ws_l3_url=None),
                      send=lambda name, message: True, budget=SharedConnectionBudget(10, 60), metrics=metrics,
                      precisions={s: (1, 8) for s in SYMBOLS}, monotonic_s=clock)
    conn = actor.conns[PUBLIC]
    conn.ws, conn.open = FakeWs(), True  # type: ignore[assignment]
    actor.clock, actor.ws = clock, conn.ws
    return actor


def _subscribes(ws: FakeWs, symbol: str) -> int:
    return sum(1 for m in ws.sent if m["method"] == "subscribe" and m["params"]["symbol"] == [symbol])


def test_checksum_failures_20_times_in_a_second_then_resubscribes_back_off_per_symbol(feed, caplog) -> None:
    for n in range(20):  # a book whose checksum fails on every snapshot, 50 ms apart
        feed._resubscribe(ResubscribeBook(symbol="BTC/USD", channel="book", reason=f"checksum mismatch {n}"))
        feed._tick()
        feed.clock.now += 0.05
    assert _subscribes(feed.ws, "BTC/USD") == 2  # at once, then once more after 0.5 s; the next waits 1 s
    held = [r for r in caplog.records if "held back" in r.getMessage()]
    assert held and len(held) <= 3  # one line per hold, not one per mismatch
    feed._resubscribe(ResubscribeBook(symbol="ETH/USD", channel="book", reason="checksum mismatch"))
    assert _subscribes(feed.ws, "ETH/USD") == 1  # its neighbour is not held back
    feed.clock.now += 1.0
    feed._tick()
    assert _subscribes(feed.ws, "BTC/USD") == 3  # the held one went when due, once
    feed.clock.now += 60.0
    feed._tick()
    assert _subscribes(feed.ws, "BTC/USD") == 3  # nothing held any more
