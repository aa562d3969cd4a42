"""SymbolStateActor: keeps one symbol's state (core/symbol_state.py) and its run_symbol_state row.

Wiring only: applies `MarketBatch`es, forwards `ResubscribeBook` to the feed, publishes `StateSnapshot`s
to the scanner latest-wins, writes the state row coalesced (at most one per `state.write_interval_ms`,
plus every status change) and market_ticker / market_trade rows in batches.

Crash-only: a restarted instance continues the epoch from its stored row, asks the feed for a fresh
snapshot and rebuilds along the same path as a cold start. A failed database write is counted and the
rows are kept for the next flush (bounded), so a short outage loses nothing and a long one cannot grow
memory without limit.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from actors.base import ChildLink, SupervisedActor
from actors.ingest_metrics import IngestMetrics
from core.config import StateSettings
from core.marketdata import (
    READY,
    FeedStatusChanged,
    FeedTick,
    MarketBatch,
    RefQuote,
    ResubscribeBook,
)
from core.symbol_state import SymbolState
from storage import repo

log = logging.getLogger(__name__)

TICK_S = 0.05
MAX_PENDING_ROWS = 200_000  # per table; beyond this, the oldest rows are dropped (and counted)


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
        precision: tuple[int, int] | None = None,
        peer_state: Callable[[str], str | None] | None = None,
        wall_ns: Callable[[], int] = time.time_ns,
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
        self.wall_ns = wall_ns
        self.peer_state = peer_state  # the supervisor directory's view of a child: running | disabled | ...
        self._ready_gauge = metrics.state_ready.labels(symbol=symbol)
        self._epoch_gauge = metrics.state_epoch.labels(symbol=symbol)
        self._resyncs = metrics.resyncs.labels(symbol=symbol)
        self._stalls = metrics.feed_stalls.labels(symbol=symbol)
        self._observe_latency = metrics.ingest_latency.observe
        price_precision, qty_precision = precision if precision else (None, None)
        self.state = SymbolState(symbol, settings=settings, book_depth=book_depth, ref_max_age_ms=ref_max_age_ms,
                                 price_precision=price_precision, qty_precision=qty_precision)
        self.pending_tickers: list[dict[str, Any]] = []
        self.pending_trades: list[dict[str, Any]] = []
        self.last_market_flush_ns = 0
        self._last_epoch_metric = -1

    # --------------------------------------------------------------------------------------- lifecycle

    def on_supervised_start(self) -> None:
        stored = [row for row in repo.symbol_states(self.run_id) if row["symbol"] == self.symbol]
        if stored:  # a restart within this run: epochs only ever increase
            self.state.epoch = int(stored[0]["epoch"])
            self.state.resyncs = int(stored[0]["resyncs"])
            self.send(self.feed_name, ResubscribeBook(symbol=self.symbol, channel="book", reason="state holder restarted"))
        self.last_market_flush_ns = self.wall_ns()
        self._write_row(self.wall_ns())
        self.every(TICK_S, lambda n: FeedTick(n=n), name=f"{self.link.name}-tick")

    def on_supervised_stop(self) -> None:
        self._flush_market(force=True)
        self._write_row(self.wall_ns(), force=True)

    # ------------------------------------------------------------------------------------------ messages

    def handle(self, message: Any) -> Any:
        match message:
            case MarketBatch():
                self._apply(message)
            case FeedStatusChanged():
                self.state.on_feed_status(message)
                self._after(self.wall_ns())
            case RefQuote():
                self.state.on_ref_quote(message)
            case FeedTick():
                now = self.wall_ns()
                if self.peer_state is not None and self.peer_state(self.feed_name) == "disabled" and self.state.status != "disabled":
                    log.error("%s: %s is disabled; %s is no longer eligible", self.link.name, self.feed_name, self.symbol)
                    self.state.disable()
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

    def _apply(self, batch: MarketBatch) -> None:
        now = self.wall_ns()
        result = self.state.apply_batch(batch, now)
        for resubscribe in result.resubscribe:
            self.send(self.feed_name, resubscribe)
        for book, count in result.checksum_failures.items():
            self.metrics.checksum_failures.labels(symbol=self.symbol, book=book).inc(count)
        observe = self._observe_latency
        for latency_ns in result.latencies_ns:
            observe(latency_ns / 1e9)
        if result.rebuilt:
            self._resyncs.inc(result.rebuilt)
        if result.ticker_rows:
            self.pending_tickers.extend(result.ticker_rows)
        if result.trade_rows:
            self.pending_trades.extend(result.trade_rows)
        self._after(now)

    def _after(self, now: int) -> None:
        state = self.state
        snapshot = state.due_snapshot(now)
        if snapshot is not None and self.scanner_name:
            self.send_latest(self.scanner_name, self.symbol, snapshot)
        self._write_row(now)
        self._flush_market()
        if state.epoch != self._last_epoch_metric:
            self._last_epoch_metric = state.epoch
            self._epoch_gauge.set(state.epoch)
        self._ready_gauge.set(1 if state.status == READY else 0)

    # --------------------------------------------------------------------------------------------- storage

    def _write_row(self, now: int, *, force: bool = False) -> None:
        row = self.state.row(now) if force else self.state.due_row(now)
        if row is None:
            return
        quality = row.get("l3_quality")
        self.metrics.l3_quality.labels(symbol=self.symbol).set(float("nan") if quality is None else float(quality))
        try:
            repo.upsert_symbol_states(self.run_id, [row])
            self.metrics.state_writes.labels(symbol=self.symbol).inc()
        except Exception as exc:  # noqa: BLE001 - the database may be briefly unavailable; the next write carries it
            self.metrics.storage_errors.labels(writer="state").inc()
            self.state.status_changed = True  # try again on the next tick
            log.warning("%s: run_symbol_state write failed: %s", self.link.name, type(exc).__name__)

    def _flush_market(self, *, force: bool = False) -> None:
        now = self.wall_ns()
        pending = len(self.pending_tickers) + len(self.pending_trades)
        if not pending:
            self.last_market_flush_ns = now
            return
        due = now - self.last_market_flush_ns >= self.settings.market_flush_ms * 1_000_000
        if not (force or due or pending >= self.settings.market_batch_rows):
            return
        self.last_market_flush_ns = now
        try:
            if self.pending_tickers:
                written = repo.insert_market_tickers(self.run_id, self.pending_tickers)
                self.metrics.market_rows.labels(table="market_ticker").inc(written)
                self.pending_tickers = []
            if self.pending_trades:
                written = repo.insert_market_trades(self.run_id, self.pending_trades)
                self.metrics.market_rows.labels(table="market_trade").inc(written)
                self.pending_trades = []
        except Exception as exc:  # noqa: BLE001 - keep the rows for the next flush, bounded
            self.metrics.storage_errors.labels(writer="market").inc()
            log.warning("%s: market rows write failed (%d pending): %s", self.link.name, pending, type(exc).__name__)
            for rows in (self.pending_tickers, self.pending_trades):
                if len(rows) > MAX_PENDING_ROWS:
                    del rows[: len(rows) - MAX_PENDING_ROWS]
