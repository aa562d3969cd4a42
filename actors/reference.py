"""RefFeedActor: best bid/ask of the reference venue (premium gap) into the state holders.

One connection to `reference.ws_url` (Binance US's book-ticker stream in production, the local exchange's
`ref` endpoint offline), reconnected with the same backoff, watchdog and connection budget as the Kraken
feeds. A missing or stale reference makes the premium unknown in the state holders, never zero.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, Callable, Sequence

from kraken_runtime.actors.base import ChildLink, SupervisedActor
from kraken_runtime.actors.feed import SharedConnectionBudget
from kraken_runtime.actors.wsreader import Connection, next_connection_id
from kraken_runtime.core.config import FeedSettings
from kraken_runtime.core.feed_policy import Backoff, IdleWatchdog, reconnect_delay_s
from kraken_runtime.core.kraken.wire import DecodeError
from kraken_runtime.core.marketdata import ConnectionLost, ConnectionOpened, FeedStatusChanged, FeedTick, FramesReady
from kraken_runtime.core.reference import decode_book_ticker, subscribe_frame, venue_symbol

log = logging.getLogger(__name__)

CHANNEL = "reference"
TICK_S = 0.25


class RefFeedActor(SupervisedActor):
    def __init__(self, *, link: ChildLink, symbols: Sequence[str], url: str, settings: FeedSettings,
                 send: Callable[[str, Any], bool], budget: SharedConnectionBudget,
                 monotonic_s: Callable[[], float] = time.monotonic, clock_ns: Callable[[], int] = time.time_ns) -> None:
        super().__init__(link=link)
        self.symbols = tuple(symbols)
        self.by_venue_symbol = {venue_symbol(symbol): symbol for symbol in self.symbols}
        self.url = url
        self.settings = settings
        self.send = send
        self.budget = budget
        self.monotonic_s = monotonic_s
        self.clock_ns = clock_ns
        self.backoff = Backoff(initial_s=settings.reconnect_initial_ms / 1000, max_s=settings.reconnect_max_ms / 1000,
                               jitter_ratio=settings.reconnect_jitter_ratio)
        self.rng = random.Random()
        self.conn = Connection(CHANNEL, max_backlog=settings.max_backlog_frames)
        self.decode_errors = 0

    def on_supervised_start(self) -> None:
        self._connect()
        self.every(TICK_S, lambda n: FeedTick(n=n), name=f"{self.link.name}-tick")

    def on_supervised_stop(self) -> None:
        self.conn.close()

    def on_supervised_failure(self) -> None:
        self.conn.close()  # a crashed instance's socket must not outlive it

    def handle(self, message: Any) -> Any:
        match message:
            case FramesReady(conn_id=conn_id) if conn_id == self.conn.conn_id:
                self._drain()
            case ConnectionOpened(conn_id=conn_id) if conn_id == self.conn.conn_id and not self.conn.stop.is_set():
                self.conn.open = True
                self.conn.failures = 0
                log.info("%s: connected to %s", self.link.name, self.url)
            case ConnectionLost(conn_id=conn_id, reason=reason) if conn_id == self.conn.conn_id:
                self._drop("disconnected", reason)
            case FeedTick():
                self._tick()
            case FramesReady() | ConnectionOpened() | ConnectionLost():
                pass  # from an older connection
            case _:
                raise TypeError(f"{self.link.name}: unexpected message {type(message).__name__}")

    def _connect(self) -> None:
        allowed, wait_s = self.budget.try_acquire()
        if not allowed:
            self.conn.next_attempt_s = self.monotonic_s() + max(wait_s, TICK_S)
            return
        conn_id = next_connection_id()
        self.conn.start(ref=self.actor_ref, conn_id=conn_id, url=self.url, subscriptions=lambda: [subscribe_frame(self.symbols)],
                        connect_timeout_s=self.settings.connect_timeout_s,
                        watchdog=IdleWatchdog(timeout_s=self.settings.idle_timeout_ms / 1000, last_frame_s=self.monotonic_s()),
                        thread_name=f"{self.link.name}-reader-{conn_id}",
                        alive=lambda: self.actor_ref.is_alive() and not self.link.abandoned.is_set())

    def _drop(self, status: str, reason: str) -> None:
        conn = self.conn
        conn.close()
        conn.failures += 1
        delay = reconnect_delay_s(self.backoff, conn.failures, self.rng.random())
        conn.next_attempt_s = self.monotonic_s() + delay
        log.warning("%s: reference %s (%s); reconnecting in %.2fs", self.link.name, status, reason, delay)
        now = self.clock_ns()
        for symbol in self.symbols:
            self.send(f"state:{symbol}", FeedStatusChanged(symbol=symbol, channel=CHANNEL, status=status, detail=reason, ts_ns=now))

    def _tick(self) -> None:
        now = self.monotonic_s()
        conn = self.conn
        if conn.open and conn.watchdog is not None and conn.watchdog.stalled(now):
            self._drop("stalled", f"no frame for {self.settings.idle_timeout_ms} ms")
        elif conn.can_start(now):
            self._connect()

    def _drain(self) -> None:
        frames = self.conn.take_frames()
        if not frames:
            return
        if self.conn.watchdog is not None:  # (a started connection always has one)
            self.conn.watchdog.frame(self.monotonic_s())
        latest = {}
        for ts, payload in frames:
            try:
                quote = decode_book_ticker(payload, self.by_venue_symbol, ts)
            except DecodeError as exc:
                self.decode_errors += 1
                log.debug("%s: %s", self.link.name, exc)
                continue
            if quote is not None:
                latest[quote.symbol] = quote  # only the newest quote per symbol matters
        for symbol, quote in latest.items():
            self.send(f"state:{symbol}", quote)
