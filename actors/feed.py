"""FeedActor: Kraken WS v2 public (and level3) market data for one symbol, or for all symbols on a shared
connection, handed to the symbols' state holders. Wiring only: decoding is core/kraken, policy is
core/feed_policy.

Threads: each connection has a reader thread (actors/wsreader.py) that connects, subscribes, reads the
socket 64 KiB at a time and, for every read, decodes the frames, groups them per symbol and sends one
`MarketBatch` per symbol to `state:SYMBOL` (`_deliver`, in the reader thread: one thread hop per frame,
not two). Batches are numbered per symbol and connection, so a state holder notices one that was lost.
The actor's own thread does the control: connects and reconnects, the idle watchdog, resubscribes.

Failure handling:
- A connection that drops, or sends nothing at all (heartbeats count) for `feed.idle_timeout_ms`, is
  reported to the state holders (`FeedStatusChanged` disconnected/stalled, so they stop trusting their
  book), closed and reconnected after a capped, jittered backoff, inside the process-wide connection
  budget. A stall is counted (`krt_feed_stalls_total`): a silent socket never passes for a quiet market.
- A frame that fails to decode is counted and dropped; the connection stays up.
- A state holder more than `feed.max_backlog_frames` frames behind gets no more batches until it catches
  up (`krt_feed_backlog_drops_total`); the gap in its batch numbers makes it resync that book alone.
- `ResubscribeBook` from a state holder (checksum mismatch, lost batch) unsubscribes and resubscribes
  that symbol's book (or level3) only; the fresh snapshot starts a new epoch there.
- The status channel becomes `FeedStatusChanged(status="venue_status")` for every symbol of this feed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import orjson

from kraken_runtime.actors.base import ChildLink, SupervisedActor
from kraken_runtime.actors.wsreader import Connection, next_connection_id
from kraken_runtime.actors.ingest_metrics import IngestMetrics
from kraken_runtime.core.config import FeedSettings
from kraken_runtime.core.feed_policy import Backoff, ConnectionBudget, IdleWatchdog, ResubscribeBackoff, reconnect_delay_s
from kraken_runtime.core.kraken import codec
from kraken_runtime.core.kraken.book import BookMessage, book_frame_symbol, decode_book_frame, decode_canonical_book_frame
from kraken_runtime.core.kraken.l3book import Level3Message
from kraken_runtime.core.kraken.messages import (
    HeartbeatMessage,
    InstrumentMessage,
    Status,
    SubscribeAck,
    SubscribeError,
    TickerMessage,
    TradeMessage,
)
from kraken_runtime.core.kraken.wire import DecodeError
from kraken_runtime.core.kraken.ws import WsClosed
from kraken_runtime.core.marketdata import (
    ConnectionLost,
    ConnectionOpened,
    FeedStatusChanged,
    FeedTick,
    MarketBatch,
    ResubscribeBook,
)

log = logging.getLogger(__name__)

PUBLIC = "public"
LEVEL3 = "level3"
TICK_S = 0.25


class SharedConnectionBudget:
    """The process-wide connection budget (core.feed_policy.ConnectionBudget) behind a lock."""

    def __init__(self, limit: int, window_s: float, monotonic_s: Callable[[], float] = time.monotonic) -> None:
        self._budget = ConnectionBudget(limit, window_s)
        self._lock = threading.Lock()
        self._monotonic_s = monotonic_s

    def try_acquire(self) -> tuple[bool, float]:
        """(allowed, seconds to wait when not)."""
        with self._lock:
            now = self._monotonic_s()
            if self._budget.try_acquire(now):
                return True, 0.0
            return False, self._budget.wait_s(now)

    def used(self) -> int:
        with self._lock:
            return self._budget.used(self._monotonic_s())


class FrameBacklog:
    """Frames handed to one symbol's state holder and not yet applied by it. Each counter has one writer:
    `sent[channel]` the channel's reader thread, `applied` the state holder; the difference bounds how
    far a state holder may fall behind (`feed.max_backlog_frames`). A new state holder instance starts
    with `catch_up()`: what was sent to the instance it replaces is gone with its mailbox."""

    __slots__ = ("sent", "applied")

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.applied = 0

    def pending(self) -> int:
        return sum(self.sent.values()) - self.applied

    def catch_up(self) -> None:
        self.applied = sum(self.sent.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEndpoints:
    ws_public_url: str
    ws_l3_url: str | None  # None: no level3 (no credentials, or disabled)
    token_provider: Callable[[], str] | None = None  # fetches a WS token (REST GetWebSocketsToken)


class FeedActor(SupervisedActor):
    def __init__(
        self,
        *,
        link: ChildLink,
        symbols: Sequence[str],
        settings: FeedSettings,
        endpoints: FeedEndpoints,
        send: Callable[[str, Any], bool],
        budget: SharedConnectionBudget,
        metrics: IngestMetrics,
        precisions: dict[str, tuple[int, int]] | None = None,
        backlogs: dict[str, FrameBacklog] | None = None,
        monotonic_s: Callable[[], float] = time.monotonic,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__(link=link)
        self.symbols = tuple(symbols)
        self.settings = settings
        self.endpoints = endpoints
        self.send = send
        self.budget = budget
        self.metrics = metrics
        self.precisions = dict(precisions or {})
        self.monotonic_s = monotonic_s
        self.clock_ns = clock_ns
        self.backoff = Backoff(initial_s=settings.reconnect_initial_ms / 1000, max_s=settings.reconnect_max_ms / 1000,
                               jitter_ratio=settings.reconnect_jitter_ratio)
        self.rng = random.Random()
        self.resubscribe_backoff = ResubscribeBackoff()  # per (symbol, book): repeated resubscribes wait longer
        self._held_resubscribes: dict[tuple[str, str], ResubscribeBook] = {}  # waiting for their backoff, latest wins
        # (the readers deliver straight to the state holders: feed.max_backlog_frames bounds those, per symbol)
        self.conns: dict[str, Connection] = {PUBLIC: Connection(PUBLIC)}
        if endpoints.ws_l3_url and settings.level3:
            self.conns[LEVEL3] = Connection(LEVEL3)
        self.backlogs = backlogs if backlogs is not None else {symbol: FrameBacklog() for symbol in self.symbols}
        self._symbol_set = frozenset(self.symbols)
        self._token: tuple[str, float] | None = None
        self._decode_warned = 0.0
        self._message_counters: dict[tuple[str, str], Any] = {}
        self._last_message_gauges: dict[str, Any] = {}
        self._backlog_drops = {symbol: metrics.feed_backlog_drops.labels(symbol=symbol) for symbol in self.symbols}

    # --------------------------------------------------------------------------------------- lifecycle

    def on_supervised_start(self) -> None:
        for conn in self.conns.values():
            self._start_connection(conn)
        self.every(TICK_S, lambda n: FeedTick(n=n), name=f"{self.link.name}-tick")

    def on_supervised_stop(self) -> None:
        for conn in self.conns.values():
            conn.close()
        for symbol in self.symbols:
            self.metrics.feed_connected.labels(symbol=symbol).set(0)

    def on_supervised_failure(self) -> None:
        """A crashed feed closes its sockets at once: its readers must not go on feeding the books beside
        the replacement's (they stop delivering anyway once this instance is not alive)."""
        self.on_supervised_stop()

    def _alive(self) -> bool:
        """For the reader threads: this instance still runs and has not been replaced while hung."""
        return self.actor_ref.is_alive() and not self.link.abandoned.is_set()

    # ------------------------------------------------------------------------------------------ messages

    def handle(self, message: Any) -> Any:
        match message:
            case FeedTick():
                self._tick()
            case ConnectionOpened():
                self._opened(message)
            case ConnectionLost():
                self._lost(message)
            case ResubscribeBook():
                self._resubscribe(message)
            case _:
                raise TypeError(f"{self.link.name}: unexpected message {type(message).__name__}")

    # --------------------------------------------------------------------------------------- connections

    def _subscriptions(self, channel: str) -> list[str]:
        """Runs in the reader thread (a level3 token may need a REST call with retries)."""
        symbols = list(self.symbols)
        if channel == LEVEL3:
            token = self._ws_token()
            return [_subscribe({"channel": "level3", "symbol": symbols, "depth": min(self.settings.book_depth, 1000),
                                "snapshot": True, "token": token})]
        return [
            _subscribe({"channel": "instrument", "snapshot": True}),
            _subscribe({"channel": "ticker", "symbol": symbols, "event_trigger": "bbo"}),
            _subscribe({"channel": "trade", "symbol": symbols, "snapshot": False}),
            _subscribe({"channel": "book", "symbol": symbols, "depth": self.settings.book_depth, "snapshot": True}),
        ]

    def _start_connection(self, conn: Connection) -> None:
        allowed, wait_s = self.budget.try_acquire()
        self.metrics.connection_budget_used.set(self.budget.used())
        if not allowed:
            conn.next_attempt_s = self.monotonic_s() + max(wait_s, TICK_S)
            log.warning("%s: connection budget spent; next %s attempt in %.1fs", self.link.name, conn.channel, wait_s)
            return
        if conn.attempts > 0:
            for symbol in self.symbols:
                self.metrics.feed_reconnects.labels(symbol=symbol).inc()
        conn_id = next_connection_id()
        batch_seqs: dict[str, int] = {}  # this connection's batches per symbol (the reader thread's alone)
        channel = conn.channel
        url = self.endpoints.ws_public_url if channel == PUBLIC else self.endpoints.ws_l3_url
        if url is None:  # a level3 connection exists only with a level3 URL
            raise RuntimeError(f"{self.link.name}: no URL for the {channel} connection")

        def subscriptions() -> list[str]:
            return self._subscriptions(channel)

        def deliver(frames: list[tuple[int, Any]]) -> None:
            self._deliver(channel, conn_id, batch_seqs, frames)

        conn.start(
            ref=self.actor_ref, conn_id=conn_id, url=url, subscriptions=subscriptions,
            connect_timeout_s=self.settings.connect_timeout_s,
            watchdog=IdleWatchdog(timeout_s=self.settings.idle_timeout_ms / 1000, last_frame_s=self.monotonic_s()),
            thread_name=f"{self.link.name}-{channel}-reader-{conn_id}", deliver=deliver,
            monotonic_s=self.monotonic_s, alive=self._alive,
        )

    def _ws_token(self) -> str:
        """A WS token, fetched again after feed.token_refresh_s (Kraken's expire 15 minutes after issue
        unless used to connect). Called from the level3 reader thread only."""
        cached = self._token
        if cached and self.monotonic_s() - cached[1] < self.settings.token_refresh_s:
            return cached[0]
        if self.endpoints.token_provider is None:
            raise RuntimeError("no token provider")
        token = self.endpoints.token_provider()
        self._token = (token, self.monotonic_s())
        return token

    def _opened(self, message: ConnectionOpened) -> None:
        conn = self.conns[message.channel]
        if message.conn_id != conn.conn_id or conn.stop.is_set():
            return
        conn.open = True
        conn.failures = 0  # backoff starts over after a successful connect
        if conn.watchdog is not None:  # (a started connection always has one)
            conn.watchdog.frame(self.monotonic_s())
        log.info("%s: %s connected (attempt %d)", self.link.name, conn.channel, conn.attempts)
        self._status_to_states(conn.channel, "connected", "")

    def _lost(self, message: ConnectionLost) -> None:
        conn = self.conns[message.channel]
        if message.conn_id != conn.conn_id:
            return  # an older connection's reader
        self._drop_connection(conn, "disconnected", message.reason)

    def _drop_connection(self, conn: Connection, status: str, reason: str) -> None:
        was_open = conn.open
        stream = conn.conn_id
        conn.close()
        conn.failures += 1
        delay = reconnect_delay_s(self.backoff, conn.failures, self.rng.random())
        conn.next_attempt_s = self.monotonic_s() + delay
        if conn.channel == PUBLIC:
            for symbol in self.symbols:
                self.metrics.feed_connected.labels(symbol=symbol).set(0)
        # A first failed connect may be a blip (INFO); from the first retry on, or when an open connection is
        # lost, or on level3 (its failures are authentication: a bad key or token), an operator must see it.
        loud = was_open or conn.failures >= 2 or conn.channel == LEVEL3
        (log.warning if loud else log.info)(
            "%s: %s %s (%s); reconnecting in %.2fs (failed attempts in a row: %d)", self.link.name, conn.channel, status,
            reason, delay, conn.failures,
        )
        self._status_to_states(conn.channel, status, reason, stream=stream)

    def _tick(self) -> None:
        now = self.monotonic_s()
        for key, held in list(self._held_resubscribes.items()):
            if self.resubscribe_backoff.due_s(key, now) <= now:
                del self._held_resubscribes[key]
                self._resubscribe(held)  # (dropped if the connection went meanwhile: a new one starts with a snapshot)
        for conn in self.conns.values():
            if conn.open and conn.watchdog is not None and conn.watchdog.stalled(now):
                for symbol in self.symbols:
                    self.metrics.feed_stalls.labels(symbol=symbol).inc()
                self._drop_connection(conn, "stalled", f"no frame for {self.settings.idle_timeout_ms} ms")
            elif conn.can_start(now):
                self._start_connection(conn)
        self.metrics.connection_budget_used.set(self.budget.used())

    def _status_to_states(self, channel: str, status: str, detail: str, *, stream: int = 0) -> None:
        now = self.clock_ns()
        for symbol in self.symbols:
            self.send(f"state:{symbol}", FeedStatusChanged(symbol=symbol, channel=channel, status=status, detail=detail, ts_ns=now,
                                                           stream=stream))

    def _resubscribe(self, message: ResubscribeBook) -> None:
        channel = LEVEL3 if message.channel == "level3" else PUBLIC
        conn = self.conns.get(channel)
        if conn is None or conn.ws is None or not conn.open:
            return  # the next connection starts with a snapshot anyway
        key = (message.symbol, message.channel)
        now = self.monotonic_s()
        due = self.resubscribe_backoff.due_s(key, now)
        if due > now:  # resubscribed a moment ago: this one waits (_tick sends it when due)
            if key not in self._held_resubscribes:
                log.warning("%s: resubscribe of %s %s held back %.1fs (repeated resubscribes back off): %s", self.link.name,
                            message.symbol, message.channel, due - now, message.reason)
            self._held_resubscribes[key] = message
            return
        self._held_resubscribes.pop(key, None)
        self.resubscribe_backoff.sent(key, now)
        log.warning("%s: resubscribing %s %s: %s", self.link.name, message.symbol, message.channel, message.reason)
        params: dict[str, Any] = {"channel": message.channel, "symbol": [message.symbol]}
        if channel == LEVEL3:
            params["token"] = self._token[0] if self._token else None
        else:
            params["depth"] = self.settings.book_depth
        try:
            conn.send(orjson.dumps({"method": "unsubscribe", "params": params}).decode())
            conn.send(orjson.dumps({"method": "subscribe", "params": {**params, "snapshot": True}}).decode())
        except WsClosed as exc:
            self._drop_connection(conn, "disconnected", str(exc))

    # --------------------------------------------------------------------------------------------- frames

    def _deliver(self, channel: str, conn_id: int, batch_seqs: dict[str, int], frames: list[tuple[int, Any]]) -> None:
        """Runs in the connection's reader thread, once per socket read: decode, group per symbol, send each
        symbol's MarketBatch (numbered per connection) to its state holder. It touches only what that
        thread owns (`batch_seqs`, this channel's backlog counters, the precision table) plus thread-safe
        sends and metrics."""
        per_symbol: dict[str, list[tuple[int, Any]]] = {}
        everyone: list[tuple[int, Any]] = []
        counts: dict[tuple[str, str], int] = {}  # krt_feed_messages_total increments, once per read
        decode = self._decode
        symbol_set = self._symbol_set
        for ts, payload in frames:
            symbol = book_frame_symbol(payload)
            if symbol is not None:  # Kraken's layout, one symbol: passed on as text, decoded by its state holder
                item: Any = payload
            else:
                item = decode(payload)
                if item is None:
                    continue
                if item.__class__ is not BookMessage or len(item.data) != 1:
                    self._route(item, ts, per_symbol, everyone, counts)
                    continue
                symbol = item.data[0].symbol
            items = per_symbol.get(symbol)
            if items is None:
                if symbol not in symbol_set:
                    continue
                items = per_symbol[symbol] = []
            items.append((ts, item))
            key = (symbol, "book")
            counts[key] = counts.get(key, 0) + 1
        counter = self._counter
        for (symbol, message_channel), count in counts.items():
            counter(symbol, message_channel).inc(count)
        last_ts = frames[-1][0]
        max_backlog = self.settings.max_backlog_frames
        for symbol in self.symbols:
            items = per_symbol.get(symbol)
            if everyone:
                items = sorted((items or []) + everyone, key=lambda item: item[0]) if items else list(everyone)
            if not items:
                continue
            self._last_message_gauge(symbol).set(last_ts / 1e9)
            seq = batch_seqs.get(symbol, 0) + 1
            batch_seqs[symbol] = seq  # numbered even when not sent: the state holder sees the gap
            backlog = self.backlogs[symbol]
            if backlog.pending() > max_backlog:
                self._backlog_drops[symbol].inc(len(items))
                continue
            sent = backlog.sent
            sent[channel] = sent.get(channel, 0) + len(items)
            if not self.send(f"state:{symbol}", MarketBatch(symbol=symbol, items=tuple(items), channel=channel, stream=conn_id,
                                                            seq=seq)):
                sent[channel] -= len(items)  # never reached it: not waiting there either

    def _decode(self, payload: str | bytes) -> Any:
        try:
            if not isinstance(payload, str):
                payload = payload.decode("utf-8", errors="replace")
            if '"channel":"book"' in payload[:40]:
                message = decode_canonical_book_frame(payload)  # Kraken's own layout: no precision needed
                if message is not None:
                    return message
                precision = self._book_precision(payload)
                if precision is not None:
                    return decode_book_frame(payload, *precision)
            return codec.decode(payload)
        except DecodeError as exc:
            for symbol in self.symbols if len(self.symbols) == 1 else ():
                self.metrics.feed_decode_errors.labels(symbol=symbol).inc()
            if len(self.symbols) != 1:
                self.metrics.feed_decode_errors.labels(symbol="shared").inc()
            now = self.monotonic_s()
            if now - self._decode_warned > 5:
                self._decode_warned = now
                log.warning("%s: undecodable frame dropped: %s", self.link.name, exc)
            return None

    def _book_precision(self, payload: str) -> tuple[int, int] | None:
        """The pair precision for the book fast path: this feed's one symbol, or on a shared connection
        the frame's symbol when the frame carries exactly one (else the general decoder)."""
        if len(self.symbols) == 1:
            return self.precisions.get(self.symbols[0])
        start = payload.find('"symbol":"')
        if start < 0 or payload.find('"symbol":"', start + 10) >= 0:
            return None
        end = payload.find('"', start + 10)
        return self.precisions.get(payload[start + 10:end]) if end > 0 else None

    def _counter(self, symbol: str, channel: str) -> Any:
        """krt_feed_messages_total's child for (symbol, channel), cached (labels() costs microseconds)."""
        key = (symbol, channel)
        child = self._message_counters.get(key)
        if child is None:
            child = self._message_counters[key] = self.metrics.feed_messages.labels(symbol=symbol, channel=channel)
        return child

    def _last_message_gauge(self, symbol: str) -> Any:
        child = self._last_message_gauges.get(symbol)
        if child is None:
            child = self._last_message_gauges[symbol] = self.metrics.feed_last_message.labels(symbol=symbol)
        return child

    def _route(self, message: Any, ts: int, per_symbol: dict[str, list[tuple[int, Any]]], everyone: list[tuple[int, Any]],
               counts: dict[tuple[str, str], int]) -> None:
        def add(symbol: str, channel: str) -> None:
            per_symbol.setdefault(symbol, []).append((ts, message))
            counts[(symbol, channel)] = counts.get((symbol, channel), 0) + 1

        if isinstance(message, (BookMessage, Level3Message)):
            channel = "book" if isinstance(message, BookMessage) else "level3"
            for symbol in {data.symbol for data in message.data} & self._symbol_set:
                add(symbol, channel)
        elif isinstance(message, TradeMessage):
            for symbol in {trade.symbol for trade in message.trades} & self._symbol_set:
                add(symbol, "trade")
        elif isinstance(message, TickerMessage):
            for symbol in {ticker.symbol for ticker in message.tickers} & self._symbol_set:
                add(symbol, "ticker")
        elif isinstance(message, InstrumentMessage):
            for pair in message.pairs:
                if pair.symbol in self._symbol_set:
                    self.precisions[pair.symbol] = (pair.price_precision, pair.qty_precision)
                    add(pair.symbol, "instrument")
        elif isinstance(message, Status):
            everyone.append((ts, message))
            for symbol in self.symbols:
                counts[(symbol, "status")] = counts.get((symbol, "status"), 0) + 1
            self._status_to_states(PUBLIC, "venue_status", str(message.system))
        elif isinstance(message, HeartbeatMessage):
            everyone.append((ts, message))
            for symbol in self.symbols:
                counts[(symbol, "heartbeat")] = counts.get((symbol, "heartbeat"), 0) + 1
        elif isinstance(message, SubscribeError):
            log.error("%s: subscription refused: %s", self.link.name, message.error)
        elif isinstance(message, SubscribeAck):
            if message.channel == "book":
                for symbol in self.symbols:
                    self.metrics.feed_connected.labels(symbol=symbol).set(1)
        # pongs, unsubscribe acks and anything else carry nothing for the state


def _subscribe(params: dict[str, Any]) -> str:
    return orjson.dumps({"method": "subscribe", "params": {k: v for k, v in params.items() if v is not None}}).decode()
