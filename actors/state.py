"""SymbolStateActor: keeps one symbol's state (core/symbol_state.py) and its run_symbol_state row.

Wiring only: applies `MarketBatch`es, forwards `ResubscribeBook` to the feed, publishes `StateSnapshot`s
to the scanner latest-wins, and hands the state row (coalesced: at most one per `state.write_interval_ms`,
plus every status change) and market_ticker / market_trade rows (batched) to the ingest writer, which
stores them for every symbol in one transaction (actors/ingest_writer.py).

Crash-only: a restarted instance continues the epoch from its stored row (plus EPOCH_RESTART_GAP, so
an epoch published but not yet stored when the old instance died is never reused), asks the feed for a
fresh snapshot and rebuilds along the same path as a cold start. While its feed is restarting the symbol
is stale; while its feed is disabled the symbol is disabled, and it comes back when the feed runs again.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from kraken_runtime.actors.base import ChildLink, SupervisedActor
from kraken_runtime.actors.feed import FrameBacklog
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.core.coalesce import LatestPerInterval
from kraken_runtime.core.config import StateSettings
from kraken_runtime.core.marketdata import (
    DISABLED,
    READY,
    STALE,
    WARMING,
    FeedStatusChanged,
    FeedTick,
    MarketBatch,
    MarketRowsReady,
    RefQuote,
    ResubscribeBook,
    StateRowReady,
)
from kraken_runtime.core.symbol_state import EPOCH_RESTART_GAP, SymbolState
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_thread_connection

log = logging.getLogger(__name__)

TICK_S = 0.1  # staleness checks and flushes; snapshots and rows also go out as batches are applied


class SymbolStateActor(SupervisedActor):
    def __init__(
        self,
        *,
        link: ChildLink,
        symbol: str,
        run_id: int,
        settings: StateSettings,
        book_depth: int,
        ref_max_age_ms: int,
        feed_name: str,
        send: Callable[[str, Any], bool],
        send_latest: Callable[[str, Any, Any], bool],
        metrics: IngestMetrics,
        scanner_name: str | None = "scanner",
        writer_name: str = "ingest-writer",
        precision: tuple[int, int] | None = None,
        peer_state: Callable[[str], str | None] | None = None,
        backlog: FrameBacklog | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__(link=link)
        self.symbol = symbol
        self.run_id = run_id
        self.settings = settings
        self.feed_name = feed_name
        self.send = send
        self.send_latest = send_latest
        self.metrics = metrics
        self.scanner_name = scanner_name
        self.writer_name = writer_name
        self._l3_gauge = metrics.l3_quality.labels(symbol=symbol)
        self.clock_ns = clock_ns
        self.peer_state = peer_state  # the supervisor directory's view of a child: running | disabled | ...
        self.backlog = backlog if backlog is not None else FrameBacklog()  # frames the feed handed us, not yet applied
        self._ready_gauge = metrics.state_ready.labels(symbol=symbol)
        self._epoch_gauge = metrics.state_epoch.labels(symbol=symbol)
        self._resyncs = metrics.resyncs.labels(symbol=symbol)
        self._stalls = metrics.feed_stalls.labels(symbol=symbol)
        self._decode_errors = metrics.feed_decode_errors.labels(symbol=symbol)
        self._batches_lost = metrics.batches_lost.labels(symbol=symbol)
        self._decode_warned_s = 0.0
        self._latency = metrics.ingest_latency.writer(symbol)
        price_precision, qty_precision = precision if precision else (None, None)
        self.state = SymbolState(symbol, settings=settings, book_depth=book_depth, ref_max_age_ms=ref_max_age_ms,
                                 price_precision=price_precision, qty_precision=qty_precision)
        self.pending_tickers: list[dict[str, Any]] = []
        self.pending_trades: list[dict[str, Any]] = []
        # market_ticker rows: at most one per state.ticker_row_interval_ms, the newest (trades are all kept)
        self.ticker_rows: LatestPerInterval[dict[str, Any]] = LatestPerInterval(settings.ticker_row_interval_ms * 1_000_000)
        self.last_market_flush_ns = 0
        self._last_epoch_metric = -1
        self._last_ready_metric = -1

    # --------------------------------------------------------------------------------------- lifecycle

    def on_supervised_start(self) -> None:
        self.backlog.catch_up()  # whatever was sent to an instance this one replaces went with its mailbox
        stored = [row for row in repo.symbol_states(self.run_id) if row["symbol"] == self.symbol]
        close_thread_connection()  # the one read of this thread: the ingest writer stores its rows
        if stored:  # a restart within this run: epochs only ever increase
            self.state.epoch = int(stored[0]["epoch"]) + EPOCH_RESTART_GAP
            self.state.resyncs = int(stored[0]["resyncs"])
            self.send(self.feed_name, ResubscribeBook(symbol=self.symbol, channel="book", reason="state holder restarted"))
            # (ignored by a feed without a level3 connection)
            self.send(self.feed_name, ResubscribeBook(symbol=self.symbol, channel="level3", reason="state holder restarted"))
        self.last_market_flush_ns = self.clock_ns()
        self._write_row(self.clock_ns())
        self.every(TICK_S, lambda n: FeedTick(n=n), name=f"{self.link.name}-tick")

    def on_supervised_stop(self) -> None:
        self._flush_market(self.clock_ns(), force=True)
        self._write_row(self.clock_ns(), force=True)

    # ------------------------------------------------------------------------------------------ messages

    def handle(self, message: Any) -> Any:
        match message:
            case MarketBatch():
                self._apply(message)
            case FeedStatusChanged():
                self.state.on_feed_status(message)
                self._after(self.clock_ns())
            case RefQuote():
                self.state.on_ref_quote(message)
            case FeedTick():
                now = self.clock_ns()
                self._follow_feed(now)
                stalls = self.state.stalls
                for resubscribe in self.state.tick(now):
                    self.send(self.feed_name, resubscribe)
                if self.state.stalls > stalls:
                    self._stalls.inc(self.state.stalls - stalls)
                    log.warning("%s: %s silent for %d ms; resubscribing", self.link.name, self.symbol,
                                self.settings.stale_after_ms)
                self._after(now)
            case _:
                raise TypeError(f"{self.link.name}: unexpected message {type(message).__name__}")

    def _follow_feed(self, now: int) -> None:
        """The feed's child state from the supervisor's directory: a disabled feed disables the symbol, a
        restarting one (crashed: it could not say so itself) makes it stale until a fresh snapshot."""
        if self.peer_state is None:
            return
        feed_state = self.peer_state(self.feed_name)
        status = self.state.status
        if feed_state == "disabled" and status != DISABLED:
            log.error("%s: %s is disabled; %s is no longer eligible", self.link.name, self.feed_name, self.symbol)
            self.state.disable()
        elif feed_state == "running" and status == DISABLED:
            log.warning("%s: %s runs again; %s waits for a fresh snapshot", self.link.name, self.feed_name, self.symbol)
            self.state.enable(now)
        elif feed_state == "restarting" and status not in (DISABLED, STALE, WARMING):
            self.state.on_feed_status(FeedStatusChanged(symbol=self.symbol, channel="public", status="disconnected",
                                                        detail=f"{self.feed_name} restarting", ts_ns=now))

    def _apply(self, batch: MarketBatch) -> None:
        now = self.clock_ns()
        result = self.state.apply_batch(batch, now)
        self.backlog.applied += len(batch.items)
        if result.decode_errors:
            self._decode_errors.inc(result.decode_errors)
            now_s = time.monotonic()
            if now_s - self._decode_warned_s > 5:
                self._decode_warned_s = now_s
                log.warning("%s: undecodable %s book frame(s) dropped: %s", self.link.name, self.symbol, result.last_decode_error)
        if result.gaps:
            self._batches_lost.inc(result.gaps)
            log.warning("%s: %d market batch(es) for %s lost between feed and state (stream %d); resyncing",
                        self.link.name, result.gaps, self.symbol, batch.stream)
        for resubscribe in result.resubscribe:
            self.send(self.feed_name, resubscribe)
        for book, count in result.checksum_failures.items():
            self.metrics.checksum_failures.labels(symbol=self.symbol, book=book).inc(count)
        if result.latencies_ns:
            self._latency.observe_many_ns(result.latencies_ns)
        if result.rebuilt:
            self._resyncs.inc(result.rebuilt)
        if result.ticker_rows:
            self.ticker_rows.offer(result.ticker_rows[-1])  # the newest of this batch; older ones are superseded
        if result.trade_rows:
            self.pending_trades.extend(result.trade_rows)
        self._after(now)

    def _after(self, now: int) -> None:
        state = self.state
        if self.scanner_name:
            snapshot = state.due_snapshot(now)
            if snapshot is not None:
                self.send_latest(self.scanner_name, self.symbol, snapshot)
        self._write_row(now)
        self._flush_market(now)
        if state.epoch != self._last_epoch_metric:
            self._last_epoch_metric = state.epoch
            self._epoch_gauge.set(state.epoch)
        ready = 1 if state.status == READY else 0
        if ready != self._last_ready_metric:
            self._last_ready_metric = ready
            self._ready_gauge.set(ready)

    # --------------------------------------------------------------------------------------------- storage

    def _write_row(self, now: int, *, force: bool = False) -> None:
        urgent = force or self.state.row_urgent()
        row = self.state.row(now) if force else self.state.due_row(now)
        if row is None:
            return
        quality = row.l3_quality
        self._l3_gauge.set(float("nan") if quality is None else float(quality))
        self.send_latest(self.writer_name, self.symbol, StateRowReady(row=row, urgent=urgent))

    def _flush_market(self, now: int, *, force: bool = False) -> None:
        ticker = self.ticker_rows.drain() if force else self.ticker_rows.take(now)
        if ticker is not None:
            self.pending_tickers.append(ticker)
        pending = len(self.pending_tickers) + len(self.pending_trades)
        if not pending:
            self.last_market_flush_ns = now
            return
        due = now - self.last_market_flush_ns >= self.settings.market_flush_ms * 1_000_000
        if not (force or due or pending >= self.settings.market_batch_rows):
            return
        self.last_market_flush_ns = now
        self.send(self.writer_name, MarketRowsReady(tickers=tuple(tuple(row.items()) for row in self.pending_tickers),
                                                    trades=tuple(tuple(row.items()) for row in self.pending_trades)))
        self.pending_tickers = []
        self.pending_trades = []
