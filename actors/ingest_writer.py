"""IngestWriterActor: the one writer of run_symbol_state and market rows for every state holder.

State holders decide *what* to store (coalesced rows, batched market rows) and send it here; this actor
stores everything pending in one transaction per `state.write_interval_ms` (at once for a status change).
Measured: with 50 symbols, 50 state holders each committing their own rows cost about half of the ingest
CPU (docs/PERFORMANCE.md "Ingest"); one writer commits a handful of transactions a second instead of
hundreds, and keeps database stalls off the threads that apply market data.

Failure behaviour: a failed write is counted (`krt_storage_errors_total`), this thread's connection is
reset (peewee never reconnects a broken one by itself), and everything stays pending for the next flush (state rows latest-wins per symbol, so bounded by the symbol count; market rows bounded
by MAX_PENDING_ROWS, the oldest dropped and counted beyond it). A batch the database refuses for its
content (a value too long or out of range) is written row by row and the refused rows are logged and
dropped, so one bad row cannot block every symbol's market data. A crash of this actor loses at most what
was pending (one interval); the state holders' next rows bring run_symbol_state back up to date.
"""

from __future__ import annotations

import logging
from typing import Any

from kraken_runtime.actors.base import ChildLink, SupervisedActor
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.core.marketdata import FeedTick, MarketRowsReady, StateRowReady, SymbolStateRow
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import reset_thread_connection
from kraken_runtime.storage.errors import ROW_REFUSED

log = logging.getLogger(__name__)

MAX_PENDING_ROWS = 200_000  # per market table


class IngestWriterActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, run_id: int, interval_s: float, metrics: IngestMetrics) -> None:
        super().__init__(link=link)
        self.run_id = run_id
        self.interval_s = interval_s
        self.metrics = metrics
        self.pending_state: dict[str, SymbolStateRow] = {}  # latest wins per symbol
        self.pending_tickers: list[dict[str, Any]] = []
        self.pending_trades: list[dict[str, Any]] = []
        self.dropped_rows = 0  # dropped because the database refused writes too long (oldest first)
        self.rejected_rows = 0  # refused by the database one by one (bad values), dropped and logged

    def on_supervised_start(self) -> None:
        self.every(self.interval_s, lambda n: FeedTick(n=n), name=f"{self.link.name}-tick")

    def on_supervised_stop(self) -> None:
        self.flush()

    def handle(self, message: Any) -> Any:
        match message:
            case StateRowReady():
                self.pending_state[message.row.symbol] = message.row
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
            except Exception as exc:  # noqa: BLE001 - keep them; the next flush retries on a fresh connection
                reset_thread_connection()
                self.metrics.storage_errors.labels(writer="state").inc()
                log.warning("%s: run_symbol_state write failed (%d rows pending): %s: %s", self.link.name, len(rows),
                            type(exc).__name__, _first_line(exc))
            else:
                for row in rows:
                    self.metrics.state_writes.labels(symbol=row.symbol).inc()
                self.pending_state.clear()
        for pending, insert, table in ((self.pending_tickers, repo.insert_market_tickers, "market_ticker"),
                                       (self.pending_trades, repo.insert_market_trades, "market_trade")):
            if pending:
                self._write_market(pending, insert, table)

    def _write_market(self, pending: list[dict[str, Any]], insert: Any, table: str) -> None:
        try:
            written = insert(self.run_id, pending)
        except ROW_REFUSED as exc:
            # Something in the batch itself is refused (a value too long or out of range): retrying the
            # batch would block every symbol's rows for ever. Write row by row; quarantine what fails.
            reset_thread_connection()
            log.error("%s: %s batch refused (%s: %s); writing row by row", self.link.name, table, type(exc).__name__,
                      _first_line(exc))
            written = 0
            for row in pending:
                try:
                    written += insert(self.run_id, [row])
                except ROW_REFUSED as row_exc:
                    reset_thread_connection()
                    self.rejected_rows += 1
                    self.metrics.storage_errors.labels(writer="market").inc()
                    log.error("%s: %s row refused and dropped (%s): %s", self.link.name, table, _first_line(row_exc),
                              {key: str(value)[:80] for key, value in row.items()})
                except Exception as row_exc:  # noqa: BLE001 - the database went away mid-way: keep the rest
                    reset_thread_connection()
                    self.metrics.storage_errors.labels(writer="market").inc()
                    index = pending.index(row)
                    del pending[:index]
                    log.warning("%s: %s write failed (%d rows pending): %s", self.link.name, table, len(pending),
                                type(row_exc).__name__)
                    self.metrics.market_rows.labels(table=table).inc(written)
                    return
        except Exception as exc:  # noqa: BLE001 - keep them (bounded); the next flush retries on a fresh connection
            reset_thread_connection()
            self.metrics.storage_errors.labels(writer="market").inc()
            log.warning("%s: %s write failed (%d rows pending): %s: %s", self.link.name, table, len(pending),
                        type(exc).__name__, _first_line(exc))
            return
        self.metrics.market_rows.labels(table=table).inc(written)
        pending.clear()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]
