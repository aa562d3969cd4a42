"""One symbol's state: books, epochs, status and features. Owned by exactly one SymbolStateActor.

Pure: time comes in as `now_ns`; the actor does the sending and the writing. The rules:

- epoch increments every time the L2 book is rebuilt from a snapshot; seq increments per applied event.
- warming (no snapshot yet) -> ready on a snapshot whose checksum matches and whose book is not crossed.
- A snapshot that replaces an existing book is a resync (`resyncs`), whatever caused it: a mismatch,
  a reconnect, a stall.
- A checksum mismatch (or a crossed book) -> resyncing: updates are discarded, a `ResubscribeBook` is
  returned for the feed, and nothing is published until the next snapshot (epoch + 1) makes it ready.
- A book message without a checksum cannot be verified: it is treated like a mismatch (never ready on it).
- No *book* frame for this symbol for `stale_after_ms` -> stale (heartbeats prove only the connection,
  and tickers and trades flowing over a silent book mean the book subscription died): the book needs a
  fresh snapshot and the feed is asked to resubscribe this symbol (again every `stale_after_ms` until one
  arrives). So a symbol that goes silent on a shared connection, while its neighbours and the heartbeats
  flow, is caught too; a genuinely quiet market costs one resubscribe per interval and is only ever
  "not eligible", never wrong. The state time (`state_ts_ns`) is the receive time of the last book frame.
- A disconnected or stalled feed -> stale, the book needs a snapshot. A book that waits for its snapshot
  longer than `stale_after_ms` (lost resubscribe, failed subscription) is asked for again.
- disabled when the feed is disabled; nothing leaves a disabled state but a restart.
- The reference price is used for the premium only while younger than its max age; otherwise the
  premium is unknown (None), never zero.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kraken_runtime.core.config import StateSettings
from kraken_runtime.core.features import (
    BPS,
    L3QualityInputs,
    RealizedVolatility,
    TradeFlow,
    TradePrint,
    depth_within_bps,
    imbalance,
    l3_quality,
    microprice,
    mid_price,
    premium_bps,
    q8,
    spread_bps,
)
from kraken_runtime.core.kraken.book import (
    CHECKSUM_OK,
    BookData,
    BookFrameText,
    BookMessage,
    L2Book,
    decode_book_frame,
    decode_canonical_book_frame,
    parse_book_frame,
)
from kraken_runtime.core.kraken.codec import rfc3339_to_ns
from kraken_runtime.core.kraken.l3book import L3Book, Level3Message
from kraken_runtime.core.kraken.messages import InstrumentMessage, Status, TickerMessage, TradeMessage
from kraken_runtime.core.kraken.wire import DecodeError
from kraken_runtime.core.marketdata import (
    DISABLED,
    READY,
    RESYNCING,
    STALE,
    WARMING,
    FeedStatusChanged,
    L3Level,
    MarketBatch,
    QueuedOrder,
    RefQuote,
    ResubscribeBook,
    StateSnapshot,
    SymbolStateRow,
    TradeTick,
)

TOP_LEVELS = 10  # levels per side carried in a snapshot
# For the paper venue's queue model: the newest trades carried in every snapshot (the venue takes those past its
# cursor, so snapshots coalesced on the way lose no trade unless more than this many came between two it saw),
# and the level3 levels per side carried order by order (the touch and the next: where a maker order rests).
RECENT_TRADES = 64
L3_QUEUE_LEVELS = 2
_TRADE_STREAMS = itertools.count(1)  # names each state instance's trade numbering (a restarted holder starts anew)
# A restarted state holder continues from its stored epoch plus EPOCH_RESTART_GAP, so an epoch published
# but not yet stored is never reused. A row is therefore due at once (urgent) whenever the epoch has moved
# EPOCH_STORE_STEP past the last row handed out: the stored epoch never lags the published one by the gap,
# even with one urgent row still in flight. A rebuild that changes the status is stored at once anyway.
EPOCH_RESTART_GAP = 100
EPOCH_STORE_STEP = EPOCH_RESTART_GAP // 2


@dataclass(slots=True)
class ApplyResult:
    """What applying input produced, for the actor to act on."""

    resubscribe: list[ResubscribeBook] = field(default_factory=list)
    ticker_rows: list[dict[str, Any]] = field(default_factory=list)
    trade_rows: list[dict[str, Any]] = field(default_factory=list)
    checksum_failures: dict[str, int] = field(default_factory=dict)  # book ('l2' | 'l3') -> count
    applied: int = 0  # events applied (seq increments)
    book_frames: int = 0
    discarded: int = 0  # updates dropped while waiting for a snapshot
    rebuilt: int = 0  # snapshots that replaced an existing book (resyncs: mismatch, reconnect, stall)
    gaps: int = 0  # batches missing before this one (lost between feed and state): the book resyncs
    stale_batches: int = 0  # batches from a connection already replaced or declared gone: dropped whole
    decode_errors: int = 0  # raw book frames that failed to decode (counted, dropped)
    last_decode_error: str = ""
    latencies_ns: list[int] = field(default_factory=list)  # receive -> applied, per book frame

    def failed(self, book: str) -> None:
        self.checksum_failures[book] = self.checksum_failures.get(book, 0) + 1


class SymbolState:
    def __init__(
        self,
        symbol: str,
        *,
        settings: StateSettings,
        book_depth: int,
        ref_max_age_ms: int,
        price_precision: int | None = None,
        qty_precision: int | None = None,
    ) -> None:
        self.symbol = symbol
        self.settings = settings
        self.ref_max_age_ns = ref_max_age_ms * 1_000_000
        self.stale_after_ns = settings.stale_after_ms * 1_000_000
        self.book = L2Book(symbol, book_depth, price_precision, qty_precision)
        self.l3: L3Book | None = None
        self.status = WARMING
        self.epoch = 0
        self.seq = 0
        self.needs_snapshot = True
        self.state_ts_ns = 0
        self.book_last_ns: int | None = None  # receive time of the last book frame for this symbol
        self._waiting_since_ns: int | None = None  # when the book started waiting for a snapshot
        self._last_resubscribe_ns: int | None = None
        self.stalls = 0  # times this symbol went silent while ready
        self.venue_status = "unknown"
        self.flow = TradeFlow(settings.trade_flow_window_s)
        self.volatility = RealizedVolatility(settings.volatility_windows_s, settings.volatility_sample_ms)
        self.ref: RefQuote | None = None
        self.checksums_checked = {"l2": 0, "l3": 0}
        self.checksum_failures = {"l2": 0, "l3": 0}
        self.resyncs = 0
        self.l3_resyncs = 0
        self.l3_snapshots = 0
        self.l3_needs_snapshot = True
        self.l3_last_ns: int | None = None
        self._l3_waiting_since_ns: int | None = None  # when the level3 book started waiting for a snapshot
        self._l3_last_resubscribe_ns: int | None = None
        self._l3_ts_text: str | None = None  # venue time of the newest level3 update applied (as sent)
        self._l3_ts: tuple[str | None, int | None] = (None, None)  # (text, parsed): parsed once per new text
        self._l3_levels: tuple[Any, tuple[L3Level, ...], tuple[L3Level, ...]] | None = None  # (book version, bids, asks)
        self.trade_stream = next(_TRADE_STREAMS)
        self.trade_seq = 0
        self.recent_trades: deque[TradeTick] = deque(maxlen=RECENT_TRADES)
        self._recent_trades: tuple[TradeTick, ...] | None = ()  # the tuple handed out; None: rebuild
        self.batch_gaps = 0  # times a batch was missing (dropped between the feed and this state)
        self._streams: dict[str, tuple[int, int]] = {}  # channel -> (newest stream, its last batch seq)
        self._ended_streams: dict[str, int] = {}  # channel -> newest stream declared gone by the feed
        self.status_changed = True  # the first row is written at once
        self._row_epoch = 0  # the epoch of the last row handed out for storage
        self._last_write_ns: int | None = None
        self._last_publish_ns: int | None = None
        self._published_seq = -1
        self._written_seq = -1

    # ------------------------------------------------------------------------------------ transitions

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.status_changed = True

    def disable(self) -> None:
        self._set_status(DISABLED)

    def enable(self, now_ns: int) -> None:
        """The feed runs again: back to warming, waiting for a fresh snapshot (the next tick asks for one)."""
        if self.status == DISABLED:
            self._set_status(WARMING)
            self._await_snapshot(now_ns)
            self._waiting_since_ns = now_ns - self.stale_after_ns - 1  # overdue: ask at once

    def _begin_resync(self, result: ApplyResult, channel: str, reason: str, now_ns: int) -> None:
        if channel == "book":
            self._await_snapshot(now_ns)
            self._last_resubscribe_ns = now_ns
            self._set_status(RESYNCING)
        else:
            self.l3_needs_snapshot = True
            self._l3_last_resubscribe_ns = now_ns
        result.resubscribe.append(ResubscribeBook(symbol=self.symbol, channel=channel, reason=reason))

    def _check_sequence(self, batch: MarketBatch, result: ApplyResult, now_ns: int) -> bool:
        """Whether to apply the batch. Per channel (public, level3) the newest connection wins: a batch from
        an older one, or from one declared gone (FeedStatusChanged with its stream), is dropped whole. A
        batch missing on the current connection (numbered from 1) means updates this book never saw:
        resync the channel's book, asked again at most once per stale_after_ms while the snapshot is still
        awaited. Joining a connection midway while already awaiting a snapshot (a restarted state
        holder) misses nothing."""
        channel = batch.channel
        book = "level3" if channel == "level3" else "book"
        if batch.stream <= self._ended_streams.get(channel, 0):
            result.stale_batches += 1
            return False
        current = self._streams.get(channel)
        awaiting = self.l3_needs_snapshot if book == "level3" else self.needs_snapshot
        if current is None or batch.stream > current[0]:
            if current is not None and not awaiting:
                # A newer connection while the book still trusts the old one (its "disconnected" never
                # came: dropped, or the feed came back first): whatever it brings starts from its snapshot.
                if book == "book":
                    self._await_snapshot(now_ns)
                    if self.status == READY:
                        self._set_status(STALE)
                else:
                    self.l3_needs_snapshot = True
                awaiting = True
            missing = 0 if awaiting else batch.seq - 1
        elif batch.stream < current[0]:
            result.stale_batches += 1
            return False
        else:
            missing = batch.seq - current[1] - 1
        self._streams[channel] = (batch.stream, batch.seq)
        if missing <= 0:
            return True
        self.batch_gaps += 1
        result.gaps += missing
        reason = f"{missing} market batch(es) lost before batch {batch.seq} of stream {batch.stream}"
        asked = self._last_resubscribe_ns if book == "book" else self._l3_last_resubscribe_ns
        if awaiting and asked is not None and now_ns - asked <= self.stale_after_ns:
            return True  # already resyncing and asked recently: the snapshot is on its way
        self._begin_resync(result, book, reason, now_ns)
        return True

    # ------------------------------------------------------------------------------------------ input

    def apply_batch(self, batch: MarketBatch, now_ns: int) -> ApplyResult:
        result = ApplyResult()
        if self.status == DISABLED:
            return result
        if batch.stream and not self._check_sequence(batch, result, now_ns):
            return result
        for ts_recv_ns, message in batch.items:
            if message.__class__ is str:  # a book frame as received: decoded here, by its consumer
                parsed = parse_book_frame(message)  # Kraken's own layout: applied from its text (book.py)
                if parsed is not None:
                    if parsed.symbol == self.symbol:
                        self._apply_book_item(parsed, parsed.type == "snapshot", ts_recv_ns, now_ns, result)
                    continue
                decoded = decode_canonical_book_frame(message)
                if decoded is None:  # not in Kraken's own layout: the general decoder (or what is wrong)
                    try:
                        decoded = decode_book_frame(message, self.book.price_precision, self.book.qty_precision)
                    except DecodeError as exc:
                        result.decode_errors += 1
                        result.last_decode_error = str(exc)[:200]
                        continue
                message = decoded
            if message.__class__ is BookMessage:
                self._apply_book(message, ts_recv_ns, now_ns, result)
            elif isinstance(message, TradeMessage):
                for trade in message.trades:
                    if trade.symbol != self.symbol:
                        continue
                    self.flow.add(TradePrint(ts_ns=trade.timestamp_ns or ts_recv_ns, side=str(trade.side), price=trade.price, qty=trade.qty))
                    self.trade_seq += 1
                    self.recent_trades.append(TradeTick(self.trade_seq, trade.price, trade.qty, str(trade.side), trade.timestamp_ns))
                    self._recent_trades = None
                    result.trade_rows.append({
                        "symbol": self.symbol, "trade_id": trade.trade_id, "side": str(trade.side), "price": trade.price,
                        "qty": trade.qty, "ord_type": trade.ord_type, "ts_exchange_ns": trade.timestamp_ns, "ts_recv_ns": ts_recv_ns,
                    })
                    self._applied(ts_recv_ns, result)
            elif isinstance(message, TickerMessage):
                for ticker in message.tickers:
                    if ticker.symbol != self.symbol:
                        continue
                    result.ticker_rows.append({
                        "symbol": self.symbol, "bid": ticker.bid, "bid_qty": ticker.bid_qty, "ask": ticker.ask,
                        "ask_qty": ticker.ask_qty, "last": ticker.last, "volume": ticker.volume, "vwap": ticker.vwap,
                        "ts_exchange_ns": ticker.timestamp_ns, "ts_recv_ns": ts_recv_ns,
                    })
                    self._applied(ts_recv_ns, result)
            elif isinstance(message, Level3Message):
                self._apply_l3(message, ts_recv_ns, result)
            elif isinstance(message, InstrumentMessage):
                for pair in message.pairs:
                    if pair.symbol == self.symbol:
                        self.set_precision(pair.price_precision, pair.qty_precision)
            elif isinstance(message, Status):
                self.venue_status = str(message.system)
        return result

    def _applied(self, ts_recv_ns: int, result: ApplyResult) -> None:
        self.seq += 1
        result.applied += 1

    def _apply_book(self, message: BookMessage, ts_recv_ns: int, now_ns: int, result: ApplyResult) -> None:
        snapshot = message.type == "snapshot"
        for data in message.data:
            if data.symbol == self.symbol:
                self._apply_book_item(data, snapshot, ts_recv_ns, now_ns, result)

    def _apply_book_item(self, data: BookData | BookFrameText, snapshot: bool, ts_recv_ns: int, now_ns: int,
                         result: ApplyResult) -> None:
        """One symbol's book data: decoded (BookData) or still wire text (BookFrameText, L2Book.apply_text)."""
        book = self.book
        result.book_frames += 1
        if not snapshot and self.needs_snapshot:
            result.discarded += 1
            return
        if isinstance(data, BookFrameText):
            status, expected, computed = book.apply_text(data)
        else:
            status, expected, computed = book.apply(data, snapshot)
        self.book_last_ns = ts_recv_ns
        if expected is not None:
            self.checksums_checked["l2"] += 1
        if status != CHECKSUM_OK or book.is_crossed():
            if status != CHECKSUM_OK:  # a mismatch, or no checksum to verify against
                self.checksum_failures["l2"] += 1
                result.failed("l2")
            if expected is None:
                reason = "book message without a checksum: cannot be verified"
            elif status != CHECKSUM_OK:
                reason = f"checksum mismatch: expected {expected}, computed {computed}"
            else:
                reason = "crossed book"
            self._begin_resync(result, "book", reason, now_ns)
            return
        if snapshot:
            if self.epoch > 0:
                self.resyncs += 1
                result.rebuilt += 1
            self.epoch += 1
            self.needs_snapshot = False
            self._waiting_since_ns = None
        self.seq += 1
        result.applied += 1
        self.state_ts_ns = ts_recv_ns  # the state is as old as its book
        result.latencies_ns.append(now_ns - ts_recv_ns)
        if self.status != READY:
            self._set_status(READY)
        if self.volatility.wants(ts_recv_ns):
            self.volatility.observe(ts_recv_ns, self._mid())

    def _apply_l3(self, message: Level3Message, ts_recv_ns: int, result: ApplyResult) -> None:
        if self.l3 is None:
            self.l3 = L3Book(self.symbol, self.book.depth, self.book.price_precision, self.book.qty_precision)
        snapshot = message.is_snapshot
        for data in message.data:
            if data.symbol != self.symbol:
                continue
            if not snapshot and self.l3_needs_snapshot:
                result.discarded += 1
                continue
            check = self.l3.apply(data, snapshot=snapshot)
            self.l3_last_ns = ts_recv_ns
            self._l3_ts_text = data.timestamp
            if check.expected is not None:
                self.checksums_checked["l3"] += 1
            if check.mismatch or check.expected is None:
                self.checksum_failures["l3"] += 1
                result.failed("l3")
                reason = (f"checksum mismatch: expected {check.expected}, computed {check.computed}" if check.mismatch
                          else "level3 message without a checksum: cannot be verified")
                self._begin_resync(result, "level3", reason, ts_recv_ns)
                continue
            if snapshot:
                if self.l3_snapshots > 0:
                    self.l3_resyncs += 1
                self.l3_snapshots += 1
                self.l3_needs_snapshot = False
            self.seq += 1  # a level3 change alone is news too (the queues a snapshot carries): a snapshot goes out

    def _await_snapshot(self, now_ns: int) -> None:
        if not self.needs_snapshot or self._waiting_since_ns is None:
            self._waiting_since_ns = now_ns
        self.needs_snapshot = True

    def on_feed_status(self, event: FeedStatusChanged) -> None:
        if event.stream and event.status in ("disconnected", "stalled"):
            self._ended_streams[event.channel] = max(self._ended_streams.get(event.channel, 0), event.stream)
        if self.status == DISABLED:
            return
        if event.status == "venue_status":
            self.venue_status = event.detail
        elif event.status in ("disconnected", "stalled") and event.channel == "public":
            self._await_snapshot(event.ts_ns)
            self._set_status(STALE)
        elif event.status in ("disconnected", "stalled") and event.channel == "level3":
            self.l3_needs_snapshot = True
        elif event.status == "disabled" and event.channel == "public":
            self.disable()

    def on_ref_quote(self, quote: RefQuote) -> None:
        if quote.symbol == self.symbol and quote.bid > 0 and quote.ask >= quote.bid:
            self.ref = quote

    def set_precision(self, price_precision: int | None, qty_precision: int | None) -> None:
        self.book.set_precision(price_precision, qty_precision)
        if self.l3 is not None:
            self.l3.set_precision(price_precision, qty_precision)

    def tick(self, now_ns: int) -> list[ResubscribeBook]:
        """Time passes: a silent symbol becomes stale, and a book that has waited too long for its
        snapshot is asked for again (at most once per stale_after_ms)."""
        if self.status == DISABLED:
            return []
        if self.book_last_ns is None:
            self.book_last_ns = now_ns  # watching starts now
        if self._waiting_since_ns is None and self.needs_snapshot:
            self._waiting_since_ns = now_ns
        silent = now_ns - self.book_last_ns > self.stale_after_ns
        if silent and self.status == READY:
            self.stalls += 1
            self._await_snapshot(now_ns)
            self._set_status(STALE)
        asks = self._level3_overdue(now_ns)
        overdue = self.needs_snapshot and self._waiting_since_ns is not None and now_ns - self._waiting_since_ns > self.stale_after_ns
        if not (silent or overdue):
            return asks
        if self._last_resubscribe_ns is not None and now_ns - self._last_resubscribe_ns <= self.stale_after_ns:
            return asks
        self._last_resubscribe_ns = now_ns
        # (not silent means overdue, so the snapshot wait has a start)
        quiet_from_ns = self.book_last_ns if silent or self._waiting_since_ns is None else self._waiting_since_ns
        quiet_ms = (now_ns - quiet_from_ns) // 1_000_000
        reason = f"no book frame for {quiet_ms} ms" if silent else f"no snapshot for {quiet_ms} ms"
        return [ResubscribeBook(symbol=self.symbol, channel="book", reason=reason), *asks]

    def _level3_overdue(self, now_ns: int) -> list[ResubscribeBook]:
        """A level3 book in use (level3 batches have come) that has waited longer than stale_after_ms for
        its snapshot (a lost one, a restarted state holder) is asked for again, at most once per interval."""
        if not self.l3_needs_snapshot or "level3" not in self._streams:
            self._l3_waiting_since_ns = None
            return []
        if self._l3_waiting_since_ns is None:
            self._l3_waiting_since_ns = now_ns
            return []
        asked = self._l3_last_resubscribe_ns
        if now_ns - self._l3_waiting_since_ns <= self.stale_after_ns or (asked is not None and now_ns - asked <= self.stale_after_ns):
            return []
        self._l3_last_resubscribe_ns = now_ns
        waited_ms = (now_ns - self._l3_waiting_since_ns) // 1_000_000
        return [ResubscribeBook(symbol=self.symbol, channel="level3", reason=f"no level3 snapshot for {waited_ms} ms")]

    # ----------------------------------------------------------------------------------------- output

    def _mid(self) -> Decimal | None:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        return mid_price(bid.price if bid else None, ask.price if ask else None)

    def ref_mid(self, now_ns: int) -> Decimal | None:
        ref = self.ref
        if ref is None or now_ns - ref.ts_recv_ns > self.ref_max_age_ns:
            return None
        return mid_price(ref.bid, ref.ask)

    def l3_quality(self, now_ns: int) -> Decimal | None:
        if self.l3 is None:
            return None
        l2_bid, l2_ask = self.book.best_bid(), self.book.best_ask()
        l3_bid, l3_ask = self.l3.best_bid(), self.l3.best_ask()
        agrees = None
        if l2_bid and l2_ask and l3_bid and l3_ask:
            agrees = l2_bid.price == l3_bid.price and l2_ask.price == l3_ask.price
        return l3_quality(L3QualityInputs(
            checksums_checked=self.checksums_checked["l3"],
            checksums_failed=self.checksum_failures["l3"],
            resyncs=self.l3_resyncs,
            age_ms=None if self.l3_last_ns is None else (now_ns - self.l3_last_ns) // 1_000_000,
            stale_after_ms=self.settings.stale_after_ms,
            top_agrees=agrees,
        ))

    def l3_orders_within(self, mid: Decimal | None, window_bps: Decimal) -> tuple[int | None, int | None]:
        """Orders resting within `window_bps` of the mid on each side of the level3 book (the route engine's
        order-count imbalance); (None, None) without a level3 book that has had its snapshot."""
        l3 = self.l3
        if l3 is None or self.l3_last_ns is None or mid is None or mid <= 0:
            return None, None
        view = l3.l2_view(TOP_LEVELS)
        low, high = mid * (BPS - window_bps) / BPS, mid * (BPS + window_bps) / BPS
        bids = sum(len(l3.orders_at("bid", level.price)) for level in view.bids if level.price >= low)
        asks = sum(len(l3.orders_at("ask", level.price)) for level in view.asks if level.price <= high)
        return bids, asks

    def _trades_out(self) -> tuple[TradeTick, ...]:
        if self._recent_trades is None:
            self._recent_trades = tuple(self.recent_trades)
        return self._recent_trades

    def l3_queues(self) -> tuple[tuple[L3Level, ...] | None, tuple[L3Level, ...] | None, int | None]:
        """The level3 book's best L3_QUEUE_LEVELS levels per side, order by order, and the venue time they are as
        of: (None, None, None) without a level3 book in sync whose updates carry venue times. Rebuilt only when
        the level3 book changed since the last call."""
        l3 = self.l3
        if l3 is None or self.l3_needs_snapshot or self.l3_last_ns is None or not self._l3_ts_text:
            return None, None, None
        text = self._l3_ts_text
        if self._l3_ts[0] != text:
            try:
                self._l3_ts = (text, rfc3339_to_ns(text))
            except ValueError:
                self._l3_ts = (text, None)
        ts_ns = self._l3_ts[1]
        if ts_ns is None:
            return None, None, None
        version = (l3.snapshots_applied, l3.updates_applied)
        cached = self._l3_levels
        if cached is None or cached[0] != version:
            view = l3.l2_view(L3_QUEUE_LEVELS)
            bids = tuple(L3Level(level.price, tuple(QueuedOrder(o.order_id, o.order_qty, o.timestamp)
                                                    for o in l3.orders_at("bid", level.price))) for level in view.bids)
            asks = tuple(L3Level(level.price, tuple(QueuedOrder(o.order_id, o.order_qty, o.timestamp)
                                                    for o in l3.orders_at("ask", level.price))) for level in view.asks)
            cached = self._l3_levels = (version, bids, asks)
        return cached[1], cached[2], ts_ns

    def snapshot(self, now_ns: int) -> StateSnapshot:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        bid_price = bid.price if bid else None
        ask_price = ask.price if ask else None
        mid = mid_price(bid_price, ask_price)
        bids, asks = self.book.bids(TOP_LEVELS), self.book.asks(TOP_LEVELS)
        window = self.settings.depth_window_bps
        depth_bid = depth_within_bps(bids if len(bids) == self.book.depth_of_bids() else self.book.bids(), mid, window, side="bid")
        depth_ask = depth_within_bps(asks if len(asks) == self.book.depth_of_asks() else self.book.asks(), mid, window, side="ask")
        ref_mid = self.ref_mid(now_ns)
        last = self.flow.last
        l3_bid_orders, l3_ask_orders = self.l3_orders_within(mid, window)
        l3_bids, l3_asks, l3_ts_ns = self.l3_queues()
        return StateSnapshot(
            symbol=self.symbol,
            status=self.status,
            epoch=self.epoch,
            seq=self.seq,
            state_ts_ns=self.state_ts_ns,
            best_bid=bid_price,
            best_bid_qty=bid.qty if bid else None,
            best_ask=ask_price,
            best_ask_qty=ask.qty if ask else None,
            mid=mid,
            spread_bps=q8(spread_bps(bid_price, ask_price)),
            microprice=q8(microprice(bid, ask)),
            depth_bid=q8(depth_bid),
            depth_ask=q8(depth_ask),
            imbalance=q8(imbalance(depth_bid, depth_ask)),
            trade_imbalance=q8(self.flow.imbalance(now_ns)),
            last_trade_price=last.price if last else None,
            last_trade_qty=last.qty if last else None,
            last_trade_side=last.side if last else None,
            last_trade_ns=last.ts_ns if last else None,
            volatility_bps=tuple((window_s, q8(value)) for window_s, value in self.volatility.values(now_ns).items()),
            l3_quality=q8(self.l3_quality(now_ns)),
            ref_price=ref_mid,
            premium_bps=q8(premium_bps(mid, self.ref.bid, self.ref.ask)) if ref_mid is not None and self.ref else None,
            bids=tuple(bids),
            asks=tuple(asks),
            venue_status=self.venue_status,
            l3_orders_bid=l3_bid_orders,
            l3_orders_ask=l3_ask_orders,
            recent_trades=self._trades_out(),
            trade_stream=self.trade_stream,
            l3_bids=l3_bids,
            l3_asks=l3_asks,
            l3_ts_ns=l3_ts_ns,
        )

    def due_snapshot(self, now_ns: int) -> StateSnapshot | None:
        """A snapshot for the scanner, when ready, changed, and the publish interval has passed."""
        if self.status != READY or self.seq == self._published_seq:
            return None
        interval = self.settings.snapshot_interval_ms * 1_000_000
        if self._last_publish_ns is not None and now_ns - self._last_publish_ns < interval:
            return None
        self._last_publish_ns = now_ns
        self._published_seq = self.seq
        return self.snapshot(now_ns)

    def row_urgent(self) -> bool:
        """The next row must be stored at once: the status changed, or the epoch ran EPOCH_STORE_STEP ahead."""
        return self.status_changed or self.epoch - self._row_epoch >= EPOCH_STORE_STEP

    def due_row(self, now_ns: int) -> SymbolStateRow | None:
        """The run_symbol_state row, at most once per write interval, and at once when urgent."""
        interval = self.settings.write_interval_ms * 1_000_000
        urgent = self.row_urgent()
        if not urgent and self._last_write_ns is not None and now_ns - self._last_write_ns < interval:
            return None
        if not urgent and self._last_write_ns is not None and self._written_seq == self.seq:
            return None
        self.status_changed = False
        self._last_write_ns = now_ns
        self._written_seq = self.seq
        return self.row(now_ns)

    def row(self, now_ns: int) -> SymbolStateRow:
        """The run_symbol_state row as of now (handed out for storage)."""
        self._row_epoch = self.epoch
        snap = self.snapshot(now_ns)
        first_window = self.settings.volatility_windows_s[0]
        return SymbolStateRow(
            symbol=self.symbol,
            status=self.status,
            epoch=self.epoch,
            seq=self.seq,
            best_bid=snap.best_bid,
            best_bid_qty=snap.best_bid_qty,
            best_ask=snap.best_ask,
            best_ask_qty=snap.best_ask_qty,
            mid=snap.mid,
            spread_bps=snap.spread_bps,
            microprice=snap.microprice,
            depth_bid=snap.depth_bid,
            depth_ask=snap.depth_ask,
            imbalance=snap.imbalance,
            trade_imbalance=snap.trade_imbalance,
            last_trade_price=snap.last_trade_price,
            last_trade_qty=snap.last_trade_qty,
            last_trade_ns=snap.last_trade_ns,
            volatility=dict(snap.volatility_bps).get(first_window),
            l3_quality=snap.l3_quality,
            ref_price=snap.ref_price,
            premium_bps=snap.premium_bps,
            checksum_failures=self.checksum_failures["l2"] + self.checksum_failures["l3"],
            resyncs=self.resyncs,
            volatility_bps=snap.volatility_bps,
            venue_status=self.venue_status,
            l3_checksum_failures=self.checksum_failures["l3"],
            l3_resyncs=self.l3_resyncs,
            last_trade_side=snap.last_trade_side,
            updated_at_ns=now_ns,
        )
