"""Pure Tier 1 / Tier 2 documents and the status page (core/snapshot.py): cards, the ingest-only sentence,
notes without parameters or thresholds, exact money, nearest-rank latencies, escaping."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_runtime.core.snapshot import (
    INGEST_ONLY_SENTENCE,
    NO_DATA_SENTENCE,
    NO_NOTES_SENTENCE,
    TIER1_KEYS,
    WINDOW_NS,
    AuditEvent,
    DemoTrade,
    FillRow,
    Tier1Inputs,
    Tier2Inputs,
    WindowCounts,
    build_tier1,
    build_tier2,
    histogram_summary,
    positions,
    render_pending_page,
    render_text,
    render_tier1_page,
    summarize_latency,
    utc_window,
)

NOW = 1_764_700_000_000_000_000


def _tier1(counts=(10, 20, 0, 0), trades=(), audit=()) -> dict:
    window = utc_window(NOW)
    inputs = Tier1Inputs(window=window, counts=WindowCounts(ticker_rows=counts[0], trade_rows=counts[1], orders=counts[2],
                                                             fills=counts[3]), demo_trades=tuple(trades), audit=tuple(audit))
    return build_tier1(inputs, snapshot_ns=NOW)


def test_window_is_the_last_24_hours_with_both_edges_included():
    window = utc_window(NOW)
    assert window.end_ns - window.start_ns == WINDOW_NS
    assert window.contains(NOW) and window.contains(NOW - WINDOW_NS)
    assert not window.contains(NOW - WINDOW_NS - 1) and not window.contains(NOW + 1)


def test_tier1_when_data_flows_and_nothing_executed_then_says_it_is_not_a_data_error():
    doc = _tier1()
    assert set(doc) == set(TIER1_KEYS)
    assert doc["cards"] == {"ticker_rows": 10, "trade_rows": 20, "orders": 0, "fills": 0}
    assert doc["execution_note"] == INGEST_ONLY_SENTENCE
    assert "not a data error" in INGEST_ONLY_SENTENCE
    assert doc["production_notes"] == [] and doc["production_notes_note"] == NO_NOTES_SENTENCE
    assert _tier1(counts=(0, 0, 0, 0))["execution_note"] == NO_DATA_SENTENCE
    assert _tier1(counts=(1, 1, 1, 0))["execution_note"] is None


def test_tier1_demo_trades_read_as_symbol_side_and_status():
    doc = _tier1(counts=(1, 1, 1, 1), trades=[DemoTrade(symbol="SCOR/USD", side="buy", order_status="filled", filled_at_ns=NOW - 10**9)])
    assert doc["demo_trades"] == [{"symbol": "SCOR/USD", "side": "buy", "status": "filled", "time": "2025-12-02T18:26:39Z",
                                   "text": "SCOR/USD buy — filled(filled)"}]


def test_tier1_notes_name_no_threshold_venue_or_actor_detail():
    audit = [AuditEvent(at_ns=NOW - 3, kind="monitoring", source="automatic", subject="halted", event="safety_mode"),
             AuditEvent(at_ns=NOW - 2, kind="monitoring", source="automatic", subject="feed:reference", event="actor_disabled"),
             AuditEvent(at_ns=NOW - 1, kind="parameter_review", source="operator", subject="momentum"),
             AuditEvent(at_ns=NOW - 4, kind="strategy_resumed", source="operator", subject="imbalance")]
    notes = _tier1(audit=audit)["production_notes"]
    assert [n["text"] for n in notes] == ["Parameters of strategy momentum reviewed.",
                                          "A market data feed was disabled automatically after repeated failures.",
                                          "Trading mode set to halted automatically.", "Strategy imbalance resumed by an operator."]
    assert [n["kind"] for n in notes] == ["parameter_review", "monitoring", "monitoring", "strategy_resumed"]


def test_page_shows_the_cards_and_escapes_what_it_prints():
    doc = _tier1(counts=(3, 4, 5, 6), trades=[DemoTrade(symbol="<b>X/USD", side="buy", order_status="filled", filled_at_ns=NOW)])
    page = render_tier1_page(doc, refresh_s=15)
    assert '<meta http-equiv="refresh" content="15">' in page and 'name="viewport"' in page
    for key, value in doc["cards"].items():
        assert f'data-card="{key}"' in page and f'<div class="value">{value}</div>' in page
    assert "<b>X/USD" not in page and "&lt;b&gt;X/USD" in page
    assert 'content="5"' in render_pending_page(refresh_s=5)


def test_positions_are_exact_and_marked_at_the_latest_mid_else_the_last_fill_price():
    fills = [FillRow(strategy="momentum", symbol="BTC/USD", side="buy", price=Decimal("0.1"), qty=Decimal("3"), fee=Decimal("0.01")),
             FillRow(strategy="momentum", symbol="BTC/USD", side="sell", price=Decimal("0.2"), qty=Decimal("1"), fee=Decimal("0.01")),
             FillRow(strategy="", symbol="ETH/USD", side="sell", price=Decimal("2"), qty=Decimal("1"), fee=Decimal("0"))]
    held = {(p.strategy, p.symbol): p for p in positions(fills, {"BTC/USD": Decimal("0.3")})}
    btc = held[("momentum", "BTC/USD")]
    assert (btc.net_qty, btc.exposure_usd, btc.pnl_usd) == (Decimal("2"), Decimal("0.6"), Decimal("0.48"))  # cash -0.3 - 0.01 + 0.2 - 0.01 = -0.12; + 2 x 0.3
    eth = held[("", "ETH/USD")]
    assert (eth.mark, eth.exposure_usd, eth.pnl_usd) == (Decimal("2"), Decimal("2"), Decimal("0"))
    with pytest.raises(ValueError, match="expected buy or sell"):
        positions([FillRow(strategy="", symbol="X/USD", side="hold", price=Decimal(1), qty=Decimal(1), fee=Decimal(0))], {})


def test_latency_summary_uses_nearest_rank_quantiles():
    summary = summarize_latency([i * 1_000_000 for i in range(1, 101)])  # 1 .. 100 ms
    assert (summary.count, summary.p50_s, summary.p90_s, summary.p99_s, summary.max_s) == (100, 0.05, 0.09, 0.099, 0.1)
    assert summarize_latency([]).p50_s is None


def test_tier2_and_text_rendering_carry_every_section():
    inputs = Tier2Inputs(window=utc_window(NOW), symbols=(), actors=(), modes=(), fills=(), marks={},
                         rejections={"state_age": 2}, tick_to_intent_ns=(5_000_000,))
    doc = build_tier2(inputs, snapshot_ns=NOW)
    assert doc["rejections"] == {"state_age": 2} and doc["latency"]["tick_to_intent"]["p99_s"] == 0.005
    assert doc["exposure_usd"] == "0" and doc["pnl_usd"] == "0"
    text = render_text(doc)
    assert "rejections: state_age=2" in text and "symbols: none" in text
    assert "Ticker rows 10" in render_text(_tier1())


def test_histogram_summary_takes_the_upper_bound_of_the_bucket_each_rank_falls_in():
    buckets = [(0.01, 50.0), (0.1, 90.0), (1.0, 99.0), (float("inf"), 100.0)]
    summary = histogram_summary(buckets)
    assert (summary.count, summary.p50_s, summary.p90_s, summary.p99_s, summary.max_s) == (100, 0.01, 0.1, 1.0, None)
    assert histogram_summary([(0.1, 1.0), (float("inf"), 3.0)]).p50_s is None  # the rank falls in +Inf: unknown
    assert histogram_summary([(float("inf"), 0.0)]).count == 0
    inputs = Tier2Inputs(window=utc_window(NOW), symbols=(), actors=(), modes=(), fills=(), marks={}, rejections={},
                         tick_to_intent_ns=())
    assert build_tier2(inputs, snapshot_ns=NOW, order_ack=summary)["latency"]["order_ack"]["p99_s"] == 1.0
    assert build_tier2(inputs, snapshot_ns=NOW)["latency"]["order_ack"]["count"] is None
