"""The state holder's pure core on recorded traffic: epochs, resyncs, staleness, features, coalescing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kraken_runtime.core.config import StateSettings
from kraken_runtime.core.features import (
    L3QualityInputs,
    RealizedVolatility,
    TradeFlow,
    TradePrint,
    depth_within_bps,
    imbalance,
    l3_quality,
    microprice,
    premium_bps,
    spread_bps,
)
from kraken_runtime.core.kraken.codec import decode
from kraken_runtime.core.kraken.book import BookMessage
from kraken_runtime.core.marketdata import READY, RESYNCING, STALE, WARMING, FeedStatusChanged, MarketBatch, RefQuote
from kraken_runtime.core.symbol_state import EPOCH_STORE_STEP, SymbolState

S = 1_000_000_000
MS = 1_000_000
T0 = 1_780_000_000 * S


def frames(path: Path) -> list:
    return [decode(line) for line in path.read_text().splitlines() if line.strip()]


def make_state(**overrides) -> SymbolState:
    settings = StateSettings(**overrides)
    return SymbolState("BTC/USD", settings=settings, book_depth=10, ref_max_age_ms=5000)


def feed(state: SymbolState, messages, start_ns=T0, step_ns=MS):
    results = []
    now = start_ns
    for message in messages:
        now += step_ns
        results.append(state.apply_batch(MarketBatch(symbol="BTC/USD", items=((now, message),)), now))
    return results, now


@pytest.fixture
def resubscribe_capture(kraken_data: Path) -> list:
    return frames(kraken_data / "captures" / "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl")


def test_capture_with_resubscribes_then_epoch_counts_every_snapshot_and_no_checksum_fails(resubscribe_capture):
    state = make_state()
    assert state.status == WARMING
    results, _ = feed(state, resubscribe_capture)
    snapshots = sum(1 for m in resubscribe_capture if isinstance(m, BookMessage) and m.is_snapshot)
    assert snapshots == 5
    assert state.epoch == 5 and state.status == READY
    assert not any(r.checksum_failures for r in results) and not any(r.resubscribe for r in results)
    assert state.checksums_checked["l2"] == 301
    assert state.seq == 301


def test_checksum_mismatch_then_resyncing_resubscribe_and_nothing_published_until_snapshot(resubscribe_capture):
    state = make_state(snapshot_interval_ms=1)
    book_frames = [m for m in resubscribe_capture if isinstance(m, BookMessage)]
    _, now = feed(state, book_frames[:10])
    assert state.due_snapshot(now) is not None
    epoch = state.epoch
    good = book_frames[10]
    data = good.data[0]
    corrupted = BookMessage(type="update", data=(type(data)(symbol=data.symbol, bids=data.bids, asks=data.asks,
                                                                 checksum=(data.checksum + 1) % 2**32, timestamp=data.timestamp),))
    (result,), now = feed(state, [corrupted], start_ns=now)
    assert result.checksum_failures == {"l2": 1}
    assert [r.channel for r in result.resubscribe] == ["book"]
    assert state.status == RESYNCING
    assert state.due_snapshot(now + S) is None
    # Updates while resyncing are discarded, not applied.
    seq = state.seq
    (result,), now = feed(state, [book_frames[11]], start_ns=now)
    assert result.discarded == 1 and state.seq == seq
    next_snapshot = next(m for m in book_frames[12:] if m.is_snapshot)
    feed(state, [next_snapshot], start_ns=now)
    assert state.status == READY and state.epoch == epoch + 1
    assert state.due_snapshot(now + S).epoch == epoch + 1


def test_symbol_silent_for_stale_after_then_stale_resubscribed_and_a_snapshot_makes_it_ready(resubscribe_capture):
    state = make_state(stale_after_ms=1000)
    book_frames = [m for m in resubscribe_capture if isinstance(m, BookMessage)]
    _, now = feed(state, book_frames[:5])
    assert state.tick(now + 500 * MS) == [] and state.status == READY
    # Heartbeats prove the connection, not the symbol: they do not keep it fresh.
    feed(state, [decode('{"channel":"heartbeat"}')], start_ns=now + 900 * MS)
    (resubscribe,) = state.tick(now + 1500 * MS)
    assert state.status == STALE and state.stalls == 1
    assert resubscribe.channel == "book" and "no book frame" in resubscribe.reason
    assert state.due_snapshot(now + 2 * S) is None
    assert state.tick(now + 1600 * MS) == []  # at most one request per stale_after_ms
    assert len(state.tick(now + 2600 * MS)) == 1  # asked again while still silent
    (result,), later = feed(state, [book_frames[5]], start_ns=now + 2700 * MS)
    assert result.discarded == 1 and state.status == STALE  # an update cannot revive a book with a gap
    epoch = state.epoch
    feed(state, [next(m for m in book_frames if m.is_snapshot)], start_ns=later)
    assert state.status == READY and state.epoch == epoch + 1 and state.resyncs == 1


def test_book_waiting_too_long_for_its_snapshot_is_asked_again(resubscribe_capture):
    state = make_state(stale_after_ms=1000)
    assert state.tick(T0) == []  # warming: the first snapshot is on its way
    trade = decode('{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":63000.1,'
                   '"qty":0.5,"ord_type":"market","trade_id":7,"timestamp":"2026-08-01T02:53:54.000001Z"}]}')
    feed(state, [trade], start_ns=T0 + 1400 * MS)  # the symbol trades, but its book never came
    (resubscribe,) = state.tick(T0 + 1500 * MS)
    assert resubscribe.channel == "book" and state.status == WARMING


def test_trades_flowing_over_a_silent_book_do_not_keep_it_fresh(resubscribe_capture):
    state = make_state(stale_after_ms=1000)
    book_frames = [m for m in resubscribe_capture if isinstance(m, BookMessage)]
    _, now = feed(state, book_frames[:5])
    state_time = state.state_ts_ns
    trade = decode('{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":63000.1,'
                   '"qty":0.5,"ord_type":"market","trade_id":7,"timestamp":"2026-08-01T02:53:54.000001Z"}]}')
    for step in range(1, 15):  # a trade every 100 ms, no book frame
        feed(state, [trade], start_ns=now + step * 100 * MS)
    assert state.state_ts_ns == state_time  # the state is as old as its book
    (resubscribe,) = state.tick(now + 1500 * MS)
    assert state.status == STALE and "no book frame" in resubscribe.reason


def test_book_message_without_checksum_is_never_trusted(resubscribe_capture):
    state = make_state()
    snapshot = next(m for m in resubscribe_capture if isinstance(m, BookMessage) and m.is_snapshot)
    data = snapshot.data[0]
    unchecked = BookMessage(type="snapshot", data=(type(data)(symbol=data.symbol, bids=data.bids, asks=data.asks,
                                                               checksum=None, timestamp=data.timestamp),))
    (result,), now = feed(state, [unchecked])
    assert state.status != READY and state.epoch == 0
    assert result.checksum_failures == {"l2": 1} and [r.channel for r in result.resubscribe] == ["book"]
    assert state.due_snapshot(now) is None


def test_disabled_symbol_comes_back_warming_and_asks_for_a_snapshot_when_its_feed_runs_again(resubscribe_capture):
    state = make_state()
    _, now = feed(state, resubscribe_capture[:5])
    state.disable()
    assert state.tick(now) == [] and state.status == "disabled"
    state.enable(now)
    assert state.status == WARMING
    (resubscribe,) = state.tick(now + MS)
    assert resubscribe.channel == "book"
    epoch = state.epoch
    feed(state, [next(m for m in resubscribe_capture if isinstance(m, BookMessage) and m.is_snapshot)], start_ns=now + 2 * MS)
    assert state.status == READY and state.epoch == epoch + 1


def test_disconnected_feed_then_stale_until_a_new_snapshot(resubscribe_capture):
    state = make_state()
    book_frames = [m for m in resubscribe_capture if isinstance(m, BookMessage)]
    _, now = feed(state, book_frames[:5])
    state.on_feed_status(FeedStatusChanged(symbol="BTC/USD", channel="public", status="disconnected", detail="eof", ts_ns=now))
    assert state.status == STALE
    (result,), now = feed(state, [book_frames[5]], start_ns=now)
    assert result.discarded == 1 and state.status == STALE
    snapshot = next(m for m in book_frames if m.is_snapshot and m is not book_frames[0])
    epoch = state.epoch
    feed(state, [snapshot], start_ns=now)
    assert state.status == READY and state.epoch == epoch + 1


def test_rows_are_coalesced_to_one_per_interval_plus_status_changes(resubscribe_capture):
    state = make_state(write_interval_ms=250)
    now = T0
    rows = []
    for message in resubscribe_capture:
        now += 10 * MS  # 100 frames per second
        state.apply_batch(MarketBatch(symbol="BTC/USD", items=((now, message),)), now)
        row = state.due_row(now)
        if row:
            rows.append(row)
    elapsed_ms = (now - T0) // MS
    status_changes = 1  # warming -> ready
    assert len(rows) <= elapsed_ms // 250 + 1 + status_changes + 1
    assert len(rows) >= elapsed_ms // 250 - 1
    assert rows[-1].seq <= state.seq and rows[0].status == WARMING


def test_snapshot_features_match_the_book(resubscribe_capture):
    state = make_state(depth_window_bps=Decimal("10"))
    _, now = feed(state, resubscribe_capture[:3])
    snap = state.snapshot(now)
    bid, ask = state.book.best_bid(), state.book.best_ask()
    assert snap.best_bid == bid.price and snap.best_ask == ask.price
    assert snap.mid == (bid.price + ask.price) / 2
    assert snap.spread_bps == ((ask.price - bid.price) / snap.mid * 10000).quantize(Decimal("0.00000001"))
    assert snap.premium_bps is None and snap.ref_price is None  # no reference: unknown, not zero
    assert snap.l3_quality is None
    assert len(snap.bids) == 10 and snap.bids[0] == bid


def test_reference_price_when_fresh_gives_premium_and_when_old_gives_none(resubscribe_capture):
    state = make_state()
    _, now = feed(state, resubscribe_capture[:3])
    mid = state.snapshot(now).mid
    state.on_ref_quote(RefQuote(symbol="BTC/USD", bid=mid - 1, bid_qty=Decimal(1), ask=mid + 1, ask_qty=Decimal(1), update_id=1, ts_recv_ns=now))
    assert state.snapshot(now).premium_bps == Decimal(0).quantize(Decimal("0.00000001"))
    assert state.snapshot(now).ref_price == mid
    assert state.snapshot(now + 6 * S).premium_bps is None


def test_feature_functions_on_simple_books():
    bids = [(Decimal("100"), Decimal("2")), (Decimal("99.95"), Decimal("1")), (Decimal("90"), Decimal("50"))]
    asks = [(Decimal("100.1"), Decimal("1")), (Decimal("100.2"), Decimal("3"))]
    mid = Decimal("100.05")
    assert spread_bps(Decimal("100"), Decimal("100.1")) == Decimal("0.1") / mid * 10000
    assert microprice(bids[0], asks[0]) == (Decimal("100") * 1 + Decimal("100.1") * 2) / 3
    assert depth_within_bps(bids, mid, Decimal("10"), side="bid") == Decimal("200") + Decimal("99.95")
    assert depth_within_bps(asks, mid, Decimal("10"), side="ask") == Decimal("100.1")  # 100.2 is 14.99 bps away
    assert depth_within_bps(asks, mid, Decimal("15"), side="ask") == Decimal("100.1") + Decimal("300.6")
    assert imbalance(Decimal(3), Decimal(1)) == Decimal("0.5")
    assert imbalance(Decimal(0), Decimal(0)) is None
    assert premium_bps(Decimal("101"), Decimal("99"), Decimal("101")) == Decimal(100)
    assert premium_bps(Decimal("101"), None, Decimal("101")) is None


def test_trade_flow_window_expires_old_trades():
    flow = TradeFlow(window_s=10)
    flow.add(TradePrint(ts_ns=0, side="buy", price=Decimal(1), qty=Decimal(3)))
    flow.add(TradePrint(ts_ns=5 * S, side="sell", price=Decimal(1), qty=Decimal(1)))
    assert flow.imbalance(6 * S) == Decimal("0.5")
    assert flow.imbalance(12 * S) == Decimal(-1)
    assert flow.imbalance(30 * S) is None


def test_realized_volatility_needs_samples_and_grows_with_moves():
    vol = RealizedVolatility([60], sample_ms=1000)
    vol.observe(0, Decimal(100))
    assert vol.values(0) == {60: None}
    for i, price in enumerate([100, 101, 100, 101, 100]):
        vol.observe((i + 1) * S, Decimal(price))
    quiet = RealizedVolatility([60], sample_ms=1000)
    for i in range(6):
        quiet.observe(i * S, Decimal(100))
    assert vol.values(6 * S)[60] > quiet.values(6 * S)[60] == 0


def test_l3_quality_score():
    base = dict(checksums_checked=100, checksums_failed=0, resyncs=0, age_ms=0, stale_after_ms=5000, top_agrees=True)
    assert l3_quality(L3QualityInputs(**base)) == 1
    assert l3_quality(L3QualityInputs(**{**base, "checksums_failed": 10})) == Decimal("0.9")
    assert l3_quality(L3QualityInputs(**{**base, "top_agrees": False})) == Decimal("0.5")
    assert l3_quality(L3QualityInputs(**{**base, "age_ms": 5000})) == 0
    assert l3_quality(L3QualityInputs(**{**base, "checksums_checked": 0})) is None


# ------------------------------------------------------------------ raw frames and sequenced batches


def raw_book_lines(kraken_data: Path) -> list[str]:
    path = kraken_data / "captures" / "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl"
    return [line for line in path.read_text().splitlines() if line.startswith('{"channel":"book"')]


def batch(items, stream=7, seq=1, channel="public") -> MarketBatch:
    return MarketBatch(symbol="BTC/USD", items=tuple(items), stream=stream, seq=seq, channel=channel)


def test_raw_book_frames_are_decoded_by_the_state_and_end_in_the_same_book_as_decoded_ones(kraken_data, resubscribe_capture):
    lines = raw_book_lines(kraken_data)
    raw, decoded = make_state(), make_state()
    raw_result = raw.apply_batch(MarketBatch(symbol="BTC/USD", items=tuple((T0 + i, line) for i, line in enumerate(lines))), T0 + 10**6)
    decoded.apply_batch(MarketBatch(symbol="BTC/USD", items=tuple((T0 + i, m) for i, m in enumerate(resubscribe_capture)
                                                                   if isinstance(m, BookMessage))), T0 + 10**6)
    assert raw_result.decode_errors == 0 and not raw_result.checksum_failures
    assert (raw.epoch, raw.seq, raw.status) == (decoded.epoch, decoded.seq, decoded.status) == (5, 301, READY)
    assert raw.book.bids() == decoded.book.bids() and raw.book.asks() == decoded.book.asks()


def test_raw_book_frames_of_another_symbol_are_ignored_and_raw_updates_wait_for_a_snapshot(kraken_data):
    lines = raw_book_lines(kraken_data)
    state = make_state()
    other = lines[0].replace('"symbol":"BTC/USD"', '"symbol":"ETH/USD"')
    result = state.apply_batch(MarketBatch(symbol="BTC/USD", items=((T0, other), (T0 + 1, lines[1]))), T0 + 2)
    assert result.book_frames == 1 and result.discarded == 1 and result.applied == 0 and state.status != READY
    result = state.apply_batch(MarketBatch(symbol="BTC/USD", items=((T0 + 3, lines[0]), (T0 + 4, lines[1]))), T0 + 5)
    assert result.applied == 2 and state.status == READY and state.epoch == 1


def test_undecodable_raw_frame_is_counted_and_dropped_and_the_next_update_resyncs_the_book(kraken_data):
    lines = raw_book_lines(kraken_data)
    state = make_state()
    state.apply_batch(MarketBatch(symbol="BTC/USD", items=((T0, lines[0]), (T0 + 1, lines[1]))), T0 + 2)
    assert state.status == READY
    broken = lines[2].replace('"checksum":', '"checksum":"x')  # not Kraken's layout, not valid either
    result = state.apply_batch(MarketBatch(symbol="BTC/USD", items=((T0 + 3, broken), (T0 + 4, lines[3]))), T0 + 5)
    assert result.decode_errors == 1 and result.last_decode_error.startswith("invalid JSON")
    # the update after the lost one no longer matches the book it was computed for: caught, resynced
    assert result.checksum_failures == {"l2": 1} and state.status == RESYNCING
    assert [r.channel for r in result.resubscribe] == ["book"]


def test_batch_missing_on_its_stream_then_the_book_resyncs_and_is_not_ready_until_a_snapshot(kraken_data):
    lines = raw_book_lines(kraken_data)
    state = make_state()
    state.apply_batch(batch([(T0, lines[0])], seq=1), T0)
    state.apply_batch(batch([(T0 + 1, lines[1])], seq=2), T0 + 1)
    assert state.status == READY and state.epoch == 1
    result = state.apply_batch(batch([(T0 + 3, lines[3])], seq=4), T0 + 3)  # batch 3 never arrived
    assert result.gaps == 1 and state.batch_gaps == 1
    assert [(r.channel, "lost before batch 4 of stream 7" in r.reason) for r in result.resubscribe] == [("book", True)]
    assert state.status == RESYNCING and state.due_snapshot(T0 + 10**10) is None
    assert result.discarded == 1  # the update after the gap is not applied to a book that missed one
    snapshot_line = next(line for line in lines[1:] if '"type":"snapshot"' in line)
    state.apply_batch(batch([(T0 + 5, snapshot_line)], seq=5), T0 + 5)
    assert state.status == READY and state.epoch == 2


def test_first_batch_of_the_first_stream_must_be_number_one(kraken_data):
    lines = raw_book_lines(kraken_data)
    state = make_state()
    state.apply_batch(MarketBatch(symbol="BTC/USD", items=((T0, lines[0]),)), T0)  # ready on an unsequenced snapshot
    result = state.apply_batch(batch([(T0 + 2, lines[1])], stream=3, seq=3), T0 + 2)  # its first two were lost
    assert result.gaps == 2 and state.status == RESYNCING


def test_newer_connection_while_the_book_trusts_the_old_one_waits_for_its_snapshot(kraken_data):
    """The old connection's "disconnected" never came (dropped on a full mailbox, or the feed was back
    first): the newer connection's data starts from its snapshot, not on the old book."""
    lines = raw_book_lines(kraken_data)
    snapshot_line = next(line for line in lines[1:] if '"type":"snapshot"' in line)
    state = make_state()
    state.apply_batch(batch([(T0, lines[0])], stream=1, seq=1), T0)
    assert state.status == READY and state.epoch == 1
    result = state.apply_batch(batch([(T0 + 1, lines[1])], stream=2, seq=1), T0 + 1)
    assert result.gaps == 0 and result.discarded == 1 and state.status == STALE
    state.apply_batch(batch([(T0 + 2, snapshot_line)], stream=2, seq=2), T0 + 2)
    assert state.status == READY and state.epoch == 2


def test_level3_snapshot_overdue_is_asked_for_again_once_per_interval(kraken_data):
    l3 = frames(kraken_data / "captures" / "ws_v2_level3_BTCUSD_docs_snapshot_3_updates.jsonl")
    state = make_state(stale_after_ms=1000)
    # A restarted state holder joins the level3 connection midway: updates only, no snapshot coming.
    state.apply_batch(batch([(T0, l3[1])], stream=4, seq=900, channel="level3"), T0)
    assert state.l3_needs_snapshot
    assert not [r for r in state.tick(T0) if r.channel == "level3"]  # waiting starts now
    asks = [r for r in state.tick(T0 + 1100 * MS) if r.channel == "level3"]
    assert [r.reason for r in asks] == ["no level3 snapshot for 1100 ms"]
    assert not [r for r in state.tick(T0 + 1500 * MS) if r.channel == "level3"]  # not again within the interval
    assert [r for r in state.tick(T0 + 2200 * MS) if r.channel == "level3"]
    state.apply_batch(batch([(T0 + 3 * S, l3[0])], stream=4, seq=901, channel="level3"), T0 + 3 * S)
    assert not state.l3_needs_snapshot and not [r for r in state.tick(T0 + 10 * S) if r.channel == "level3"]


def test_without_level3_data_no_level3_snapshot_is_ever_asked_for():
    state = make_state(stale_after_ms=1000)
    assert not [r for t in range(10) for r in state.tick(T0 + t * S) if r.channel == "level3"]


def test_gap_resubscribe_is_not_repeated_while_the_snapshot_is_awaited(kraken_data):
    lines = raw_book_lines(kraken_data)
    state = make_state(stale_after_ms=5000)
    state.apply_batch(batch([(T0, lines[0])], seq=1), T0)
    first = state.apply_batch(batch([(T0 + MS, lines[1])], seq=3), T0 + MS)
    again = state.apply_batch(batch([(T0 + 2 * MS, lines[2])], seq=5), T0 + 2 * MS)
    later = state.apply_batch(batch([(T0 + 6 * S, lines[3])], seq=7), T0 + 6 * S)
    assert (len(first.resubscribe), len(again.resubscribe), len(later.resubscribe)) == (1, 0, 1)
    assert state.batch_gaps == 3


def test_unsequenced_batches_are_never_gaps(kraken_data):
    lines = raw_book_lines(kraken_data)
    state = make_state()
    results = [state.apply_batch(MarketBatch(symbol="BTC/USD", items=((T0 + i, line),)), T0 + i) for i, line in enumerate(lines[:5])]
    assert sum(r.gaps for r in results) == 0 and state.status == READY


def test_snapshot_replacing_a_ready_book_waits_for_the_interval_unless_epochs_run_far_ahead():
    state = make_state(write_interval_ms=250)
    state.status_changed = False
    state.epoch = state._row_epoch = 10
    state.status = READY
    assert not state.row_urgent()
    state.epoch += EPOCH_STORE_STEP - 1
    assert not state.row_urgent()
    state.epoch += 1
    assert state.row_urgent()
    state.row(T0)
    assert not state.row_urgent()


def test_batch_missing_on_a_level3_stream_resyncs_level3_only(kraken_data):
    l3 = frames(kraken_data / "captures" / "ws_v2_level3_BTCUSD_docs_snapshot_3_updates.jsonl")
    lines = raw_book_lines(kraken_data)
    state = make_state()
    state.apply_batch(batch([(T0, lines[0])], stream=1, seq=1), T0)
    state.apply_batch(batch([(T0, l3[0])], stream=2, seq=1, channel="level3"), T0)
    assert state.status == READY and not state.l3_needs_snapshot
    heartbeat = decode('{"channel":"heartbeat"}')
    result = state.apply_batch(batch([(T0 + 1, heartbeat)], stream=2, seq=3, channel="level3"), T0 + 1)  # the channel says which book
    assert result.gaps == 1 and [r.channel for r in result.resubscribe] == ["level3"]
    assert state.l3_needs_snapshot and state.status == READY  # the L2 book did not miss anything


def test_late_batch_of_an_older_or_ended_connection_is_dropped_whole(kraken_data):
    lines = raw_book_lines(kraken_data)
    snapshot_line = next(line for line in lines[1:] if '"type":"snapshot"' in line)
    state = make_state()
    state.apply_batch(batch([(T0, lines[0])], stream=5, seq=1), T0)
    state.apply_batch(batch([(T0 + 1, snapshot_line)], stream=6, seq=1), T0 + 1)  # a newer connection
    epoch, seq = state.epoch, state.seq
    late = state.apply_batch(batch([(T0 + 2, lines[0])], stream=5, seq=2), T0 + 2)  # the old one's last words
    assert late.stale_batches == 1 and late.gaps == 0 and (state.epoch, state.seq) == (epoch, seq)
    state.on_feed_status(FeedStatusChanged(symbol="BTC/USD", channel="public", status="disconnected", detail="x",
                                           ts_ns=T0 + 3, stream=6))
    after = state.apply_batch(batch([(T0 + 4, snapshot_line)], stream=6, seq=2), T0 + 4)  # declared gone
    assert after.stale_batches == 1 and state.status == STALE and state.epoch == epoch


def test_restarted_state_joining_a_connection_midway_counts_nothing_lost(kraken_data):
    lines = raw_book_lines(kraken_data)
    snapshot_line = next(line for line in lines[1:] if '"type":"snapshot"' in line)
    state = make_state()  # a new instance: warming, awaiting a snapshot
    first = state.apply_batch(batch([(T0, lines[5])], stream=9, seq=50_000), T0)
    assert first.gaps == 0 and first.discarded == 1 and not first.resubscribe
    state.apply_batch(batch([(T0 + 1, snapshot_line)], stream=9, seq=50_001), T0 + 1)
    assert state.status == READY and state.batch_gaps == 0
