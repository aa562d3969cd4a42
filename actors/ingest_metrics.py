"""Ingest metrics (feeds and state holders), on the daemon's one registry."""

from __future__ import annotations

import threading
from bisect import bisect_left
from typing import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import HistogramMetricFamily

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
        self.feed_backlog_drops = Counter("krt_feed_backlog_drops_total",
                                          "Frames not handed to a state holder already feed.max_backlog_frames behind (it resyncs).",
                                          ["symbol"], registry=r)
        self.batches_lost = Counter("krt_state_batches_lost_total",
                                    "Market batches that never reached the symbol's state holder (it resyncs the book).",
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
        self.ingest_latency = BatchedHistogram("krt_ingest_latency_seconds", "Frame received -> state applied.",
                                               buckets_s=INGEST_LATENCY_BUCKETS, registry=r)
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
            self.feed_backlog_drops.labels(symbol=symbol)
            self.batches_lost.labels(symbol=symbol)
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


class HistogramWriter:
    """One writer's share of a BatchedHistogram: bucket counts and a sum in integer nanoseconds. Written by
    one thread only (a symbol's state holder); the scrape reads it."""

    __slots__ = ("counts", "sum_ns", "_bounds_ns")

    def __init__(self, bounds_ns: list[int]) -> None:
        self._bounds_ns = bounds_ns
        self.counts = [0] * (len(bounds_ns) + 1)  # per bucket (not cumulative); the last is +Inf
        self.sum_ns = 0

    def observe_many_ns(self, values_ns: Iterable[int]) -> None:
        counts, bounds = self.counts, self._bounds_ns
        total = 0
        for value in values_ns:
            counts[bisect_left(bounds, value)] += 1  # the first bucket whose bound is >= the value (le)
            total += value
        self.sum_ns += total


class BatchedHistogram:
    """A Prometheus histogram (a custom collector) fed whole batches of observations in nanoseconds.

    For per-frame measurements on the ingest hot path: prometheus_client's `Histogram.observe` takes two
    locks and walks the buckets on every call (~2 us, as much as applying a book update); here each writer
    bisects into its own counts (~0.1 us a value) and a scrape sums the writers. `writer(key)` returns the
    same writer for the same key, so a restarted state holder continues its symbol's counts and the
    exported histogram never goes backwards."""

    def __init__(self, name: str, documentation: str, *, buckets_s: Iterable[float], registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds_s = tuple(float(b) for b in buckets_s)
        if list(self.bounds_s) != sorted(set(self.bounds_s)):
            raise ValueError(f"{name}: buckets must be strictly increasing, got {self.bounds_s}")
        self._bounds_ns = [round(b * 1e9) for b in self.bounds_s]
        self._writers: dict[str, HistogramWriter] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def writer(self, key: str) -> HistogramWriter:
        with self._lock:
            writer = self._writers.get(key)
            if writer is None:
                writer = self._writers[key] = HistogramWriter(self._bounds_ns)
            return writer

    def describe(self) -> Iterator[HistogramMetricFamily]:
        yield HistogramMetricFamily(self.name, self.documentation)

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            writers = list(self._writers.values())
        counts = [0] * (len(self._bounds_ns) + 1)
        sum_ns = 0
        for writer in writers:
            for i, count in enumerate(list(writer.counts)):
                counts[i] += count
            sum_ns += writer.sum_ns
        buckets = []
        cumulative = 0
        for bound, count in zip(self.bounds_s + (float("inf"),), counts):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        yield HistogramMetricFamily(self.name, self.documentation, buckets=buckets, sum_value=sum_ns / 1e9)
