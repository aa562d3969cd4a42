"""Ingest metrics (feeds and state holders), on the daemon's one registry."""

from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CHANNELS = ("book", "ticker", "trade", "level3", "instrument", "status", "heartbeat", "other")
BOOKS = ("l2", "l3")

# Frame received -> state applied. Buckets from 50 us (same-thread apply) through the ms range (a busy
# mailbox) to seconds (a stalled consumer); beyond 5 s the symbol is stale anyway.
INGEST_LATENCY_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.feed_messages = Counter("krt_feed_messages_total", "Frames received, by symbol and channel.", ["symbol", "channel"], registry=r)
        self.feed_reconnects = Counter("krt_feed_reconnects_total", "Connection attempts after the first, by symbol.", ["symbol"], registry=r)
        self.feed_stalls = Counter("krt_feed_stalls_total", "Connections declared stalled by the idle watchdog.", ["symbol"], registry=r)
        self.feed_decode_errors = Counter("krt_feed_decode_errors_total", "Frames that failed to decode (counted, dropped; the connection stays).",
                                          ["symbol"], registry=r)
        self.feed_last_message = Gauge("krt_feed_last_message_timestamp_seconds", "Unix time of the last frame for the symbol.",
                                       ["symbol"], registry=r)
        self.feed_connected = Gauge("krt_feed_connected", "1 while the symbol's public connection is open and subscribed.", ["symbol"], registry=r)
        self.connection_budget_used = Gauge("krt_feed_connection_budget_used", "Connection attempts inside the rolling budget window.", registry=r)
        self.checksum_failures = Counter("krt_book_checksum_failures_total", "Book checksum mismatches, by symbol and book (l2, l3).",
                                         ["symbol", "book"], registry=r)
        self.resyncs = Counter("krt_book_resyncs_total", "Book rebuilds requested after a mismatch, crossed book or stall.", ["symbol"], registry=r)
        self.state_epoch = Gauge("krt_state_epoch", "Current book epoch of the symbol.", ["symbol"], registry=r)
        self.state_ready = Gauge("krt_state_ready", "1 while the symbol's state is ready (eligible for decisions).", ["symbol"], registry=r)
        self.l3_quality = Gauge("krt_l3_quality_ratio", "L3 quality score in [0, 1] (NaN until known).", ["symbol"], registry=r)
        self.ingest_latency = Histogram("krt_ingest_latency_seconds", "Frame received -> state applied.", buckets=INGEST_LATENCY_BUCKETS,
                                        registry=r)
        self.state_writes = Counter("krt_state_writes_total", "run_symbol_state rows written.", ["symbol"], registry=r)
        self.market_rows = Counter("krt_market_rows_written_total", "market_ticker / market_trade rows written.", ["table"], registry=r)
        self.storage_errors = Counter("krt_storage_errors_total", "Database writes that failed, by writer.", ["writer"], registry=r)

    def register_symbols(self, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            for channel in CHANNELS:
                self.feed_messages.labels(symbol=symbol, channel=channel)
            for book in BOOKS:
                self.checksum_failures.labels(symbol=symbol, book=book)
            self.feed_reconnects.labels(symbol=symbol)
            self.feed_stalls.labels(symbol=symbol)
            self.feed_decode_errors.labels(symbol=symbol)
            self.feed_last_message.labels(symbol=symbol)
            self.feed_connected.labels(symbol=symbol).set(0)
            self.resyncs.labels(symbol=symbol)
            self.state_epoch.labels(symbol=symbol).set(0)
            self.state_ready.labels(symbol=symbol).set(0)
            self.l3_quality.labels(symbol=symbol).set(float("nan"))
            self.state_writes.labels(symbol=symbol)
        for table in ("market_ticker", "market_trade"):
            self.market_rows.labels(table=table)
        for writer in ("state", "market", "retention"):
            self.storage_errors.labels(writer=writer)
