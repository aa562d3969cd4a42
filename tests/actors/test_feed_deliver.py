"""FeedActor._deliver, the reader thread's hand-off: frames grouped per symbol, numbered per connection,
raw book frames passed on as text, and a state holder too far behind gets nothing more (counted) until it
catches up, the hole in the numbers telling it to resync."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from kraken_runtime.actors.base import ChildLink, FaultBudget
from kraken_runtime.actors.feed import FeedActor, FeedEndpoints, FrameBacklog, SharedConnectionBudget
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.core.config import load_settings
from kraken_runtime.core.kraken.messages import TradeMessage
from kraken_runtime.core.marketdata import MarketBatch

SYMBOLS = ("BTC/USD", "ETH/USD")


def book_lines(kraken_data: Path) -> list[str]:
    path = kraken_data / "captures" / "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl"
    return [line for line in path.read_text().splitlines() if line.startswith('{"channel":"book"')]


@pytest.fixture
def feed():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    metrics.register_symbols(SYMBOLS)
    sent: list[tuple[str, object]] = []
    settings = load_settings(env={"KRT_FEED__MAX_BACKLOG_FRAMES": "100", "KRT_RUNTIME__SYMBOLS": ",".join(SYMBOLS)})
    actor = FeedActor(link=ChildLink(name="feed:public", generation=1, report=lambda m: None, fault=FaultBudget()),
                      symbols=SYMBOLS, settings=settings.feed, endpoints=FeedEndpoints(ws_public_url="ws://127.0.0.1:9/v2", ws_l3_url=None),
                      send=lambda name, message: sent.append((name, message)) or True,
                      budget=SharedConnectionBudget(10, 60), metrics=metrics, precisions={s: (1, 8) for s in SYMBOLS})
    actor.sent = sent
    actor.registry = registry
    return actor


def test_frames_of_one_read_go_out_as_one_numbered_batch_per_symbol(feed, kraken_data):
    lines = book_lines(kraken_data)
    eth = lines[1].replace('"symbol":"BTC/USD"', '"symbol":"ETH/USD"')
    trade = ('{"channel":"trade","type":"update","data":[{"symbol":"ETH/USD","side":"buy","price":2000.1,"qty":0.5,'
             '"ord_type":"market","trade_id":7,"timestamp":"2026-08-01T02:53:53.184174Z"}]}')
    seqs: dict[str, int] = {}
    feed._deliver("public", 41, seqs, [(1, lines[0]), (2, eth), (3, trade), (4, lines[1])])
    feed._deliver("public", 41, seqs, [(5, lines[2])])
    batches = [(name, message) for name, message in feed.sent]
    assert [(name, m.stream, m.seq, len(m.items)) for name, m in batches] == [
        ("state:BTC/USD", 41, 1, 2), ("state:ETH/USD", 41, 1, 2), ("state:BTC/USD", 41, 2, 1)]
    btc = batches[0][1]
    assert btc.items == ((1, lines[0]), (4, lines[1]))  # Kraken-layout book frames pass as their text
    assert isinstance(batches[1][1].items[1][1], TradeMessage)  # everything else is decoded here
    assert feed.registry.get_sample_value("krt_feed_messages_total", {"symbol": "BTC/USD", "channel": "book"}) == 3
    assert feed.registry.get_sample_value("krt_feed_messages_total", {"symbol": "ETH/USD", "channel": "trade"}) == 1


def test_state_holder_beyond_the_backlog_bound_gets_nothing_until_it_catches_up(feed, kraken_data):
    lines = book_lines(kraken_data)
    seqs: dict[str, int] = {}
    backlog: FrameBacklog = feed.backlogs["BTC/USD"]
    feed._deliver("public", 5, seqs, [(i, lines[i]) for i in range(101)])  # 101 frames handed on, none applied
    assert backlog.pending() == 101
    feed._deliver("public", 5, seqs, [(200, lines[101])])  # over the bound: not sent, counted
    assert feed.registry.get_sample_value("krt_feed_backlog_drops_total", {"symbol": "BTC/USD"}) == 1
    backlog.applied = 101  # the state holder caught up
    feed._deliver("public", 5, seqs, [(300, lines[102])])
    assert [m.seq for _, m in feed.sent] == [1, 3]  # batch 2 was never sent: the state holder sees the hole
    assert backlog.pending() == 1


def test_batch_the_directory_could_not_deliver_is_not_counted_as_waiting(feed, kraken_data):
    lines = book_lines(kraken_data)
    feed.send = lambda name, message: False  # unknown, restarting or full
    feed._deliver("public", 5, {}, [(1, lines[0]), (2, lines[1])])
    assert feed.backlogs["BTC/USD"].pending() == 0


def test_new_state_holder_instance_starts_caught_up():
    backlog = FrameBacklog()
    backlog.sent["public"] = 500
    backlog.sent["level3"] = 20
    backlog.applied = 100
    assert backlog.pending() == 420
    backlog.catch_up()
    assert backlog.pending() == 0
