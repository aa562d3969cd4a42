"""RetentionActor: prunes market_ticker / market_trade rows older than storage.retention_days."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from kraken_runtime.actors.base import ChildLink, SupervisedActor
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.core.marketdata import FeedTick
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import reset_thread_connection

log = logging.getLogger(__name__)
DAY_NS = 86_400 * 1_000_000_000


class RetentionActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, retention_days: int, interval_s: float, metrics: IngestMetrics,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        super().__init__(link=link)
        self.retention_days = retention_days
        self.interval_s = interval_s
        self.metrics = metrics
        self.clock_ns = clock_ns
        self.removed_total = 0

    def on_supervised_start(self) -> None:
        # Not at start: a long delete there would hold up the daemon's start and the SQLite write lock.
        # The first prune comes on the first tick (at most a minute in), then every interval.
        self._last_prune_s: float | None = None
        self._tick_s = min(60.0, self.interval_s)
        self.every(self._tick_s, lambda n: FeedTick(n=n), name=f"{self.link.name}-tick")

    def handle(self, message: Any) -> Any:
        match message:
            case FeedTick(n=n):
                elapsed = (n * self._tick_s) - (self._last_prune_s or 0.0)
                if self._last_prune_s is None or elapsed >= self.interval_s:
                    self._last_prune_s = n * self._tick_s
                    return self.prune()
                return 0
            case _:
                raise TypeError(f"{self.link.name}: unexpected message {type(message).__name__}")

    def prune(self) -> int:
        cutoff = self.clock_ns() - self.retention_days * DAY_NS
        try:
            removed = repo.prune_market_data(older_than_ns=cutoff)
        except Exception as exc:  # noqa: BLE001 - try again next interval, on a fresh connection
            reset_thread_connection()
            self.metrics.storage_errors.labels(writer="retention").inc()
            text = (str(exc).strip().splitlines() or [""])[0]  # the cause, not just its type (issue 16)
            log.warning("%s: pruning failed (next attempt in %.0fs): %s%s", self.link.name, self.interval_s,
                        type(exc).__name__, f": {text}" if text else "")
            return 0
        self.removed_total += removed
        if removed:
            log.info("%s: pruned %d market rows older than %d days", self.link.name, removed, self.retention_days)
        return removed
