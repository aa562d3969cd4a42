"""IngestWriterActor: the one writer of run_symbol_state and market rows for every state holder.

State holders decide *what* to store (coalesced rows, batched market rows) and send it here; this actor
stores everything pending in one transaction per `state.write_interval_ms` (at once for a status change).
Measured: with 50 symbols, 50 state holders each committing their own rows cost about half of the ingest
CPU (docs/PERFORMANCE.md "Ingest"); one writer commits a handful of transactions a second instead of
hundreds, and keeps database stalls off the threads that apply market data.

Failure behaviour: a failed write is counted (`krt_storage_errors_total`) and everything stays pending
for the next flush (state rows latest-wins per symbol, so bounded by the symbol count; market rows bounded
by MAX_PENDING_ROWS, the oldest dropped and counted beyond it). A crash of this actor loses at most what
was pending (one interval); the state holders' next rows bring run_symbol_state back up to date.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.base import ChildLink, SupervisedActor
from actors.ingest_metrics import IngestMetrics
from core.marketdata import FeedTick, MarketRowsReady, StateRowReady
from storage import repo

log = logging.getLogger(__name__)

MAX_PENDING_ROWS = 200_000  # per market table


class IngestWriterActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, run_id: int, interval_s: float, metrics: IngestMetrics) -> None:
        super().__init__(link=link)
        self.run_id = run_id
        self.interval_s = interval_s
        self.metrics = metrics
        self.pending_state: dict[str, dict[str, Any]] = {}
        self.pending_tickers: list[dict[str, Any]] = []
        self.pending_trades: list[dict[str, Any]] = []
        self.dropped_rows = 0

    def on_supervised_start(self) -> None:
        self.every(self.interval_s, lambda n: FeedTick(n=n), name=f"{self.link.name}-tick")

    def on_supervised_stop(self) -> None:
        self.flush()

    def handle(self, message: Any) -> Any:
        match message:
            case StateRowReady():
                self.pending_state[message.symbol] = dict(message.row)
                if message.urgent:
                    self.flush()
            case MarketRowsReady():
                self._queue(self.pending_tickers, message.tickers, "market_ticker")
                self._queue(self.pending_trades, message.trades, "market_trade")
            case FeedTick():
                self.flush()
            case _:
                raise TypeError(f"{self.link.name}: unexpected message {type(message).__name__}")

    def _queue(self, pending: list[dict[str, Any]], rows: tuple, table: str) -> None:
        pending.extend(dict(row) for row in rows)
        excess = len(pending) - MAX_PENDING_ROWS
        if excess > 0:
            del pending[:excess]
            self.dropped_rows += excess
            log.error("%s: %d %s rows dropped: the database has not accepted writes for a while", self.link.name, excess, table)

    def flush(self) -> None:
        if self.pending_state:
            rows = list(self.pending_state.values())
            try:
                repo.upsert_symbol_states(self.run_id, rows)
            except Exception as exc:  # noqa: BLE001 - keep them; the next flush retries
                self.metrics.storage_errors.labels(writer="state").inc()
                log.warning("%s: run_symbol_state write failed (%d rows pending): %s", self.link.name, len(rows), type(exc).__name__)
            else:
                for row in rows:
                    self.metrics.state_writes.labels(symbol=row["symbol"]).inc()
                self.pending_state.clear()
        for pending, insert, table in ((self.pending_tickers, repo.insert_market_tickers, "market_ticker"),
                                       (self.pending_trades, repo.insert_market_trades, "market_trade")):
            if not pending:
                continue
            try:
                written = insert(self.run_id, pending)
            except Exception as exc:  # noqa: BLE001 - keep them (bounded); the next flush retries
                self.metrics.storage_errors.labels(writer="market").inc()
                log.warning("%s: %s write failed (%d rows pending): %s", self.link.name, table, len(pending), type(exc).__name__)
                continue
            self.metrics.market_rows.labels(table=table).inc(written)
            pending.clear()
