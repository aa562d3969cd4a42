"""Market-data messages between the feed, the state holders and the route engine.

FeedActor[symbol] -> SymbolStateActor[symbol]: `MarketBatch` (decoded frames with receive times, batched
per socket read burst so one `tell` carries many frames), `FeedStatusChanged`, `RefQuote`.
SymbolStateActor -> scanner: `StateSnapshot`, immutable, coalesced latest-wins.
SymbolStateActor -> FeedActor: `ResubscribeBook` (checksum mismatch: rebuild from a fresh snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

Level = tuple[Decimal, Decimal]

# Symbol status in run_symbol_state.
WARMING = "warming"
READY = "ready"
STALE = "stale"
RESYNCING = "resyncing"
DISABLED = "disabled"
SYMBOL_STATUSES = (WARMING, READY, STALE, RESYNCING, DISABLED)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketBatch:
    """Decoded public frames for one symbol, in arrival order: (ts_recv_ns, message) pairs.

    `message` is a core.kraken type: BookMessage, Level3Message, TickerMessage, TradeMessage,
    InstrumentMessage or Status; or, for a book frame in Kraken's own layout naming only this symbol,
    the frame's text (str) as received, which the state holder decodes itself (so the decoded book
    objects are made and used on one thread). `stream` names the connection the frames came from (unique in the
    process, growing) and `seq` counts this symbol's batches on it from 1, so the state holder notices a
    batch that never arrived (dropped on a full mailbox or over the backlog bound) and resyncs the book of
    that `channel` instead of applying later updates to a book that missed some; a batch from a connection
    older than the newest seen on its channel, or declared gone, is dropped whole. stream 0: unsequenced
    (tests, replays).
    """

    symbol: str
    items: tuple[tuple[int, Any], ...]
    channel: str = "public"  # the feed connection: public (L2 book, ticker, trade, ...) | level3
    stream: int = 0
    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedStatusChanged:
    """The feed's connection state for a symbol: connected | subscribed | disconnected | stalled |
    venue_status (with `detail` = Kraken's system status: online, maintenance, cancel_only, post_only)."""

    symbol: str
    channel: str  # public | level3 | reference
    status: str
    detail: str
    ts_ns: int
    stream: int = 0  # disconnected/stalled: the connection that ended (its late batches are dropped)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefQuote:
    """Best bid/ask of the reference venue (premium gap)."""

    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    update_id: int
    ts_recv_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ResubscribeBook:
    """Command to the feed: fetch a fresh snapshot for this symbol's book (channel book or level3)."""

    symbol: str
    channel: str
    reason: str


class TradeTick(NamedTuple):
    """One public trade as the state holder applied it (StateSnapshot.recent_trades). `seq` counts the trades
    of one state holder instance from 1 (StateSnapshot.trade_stream names the instance), so a reader keeps a
    cursor and takes each trade once even when snapshots are coalesced latest-wins on the way."""

    seq: int
    price: Decimal
    qty: Decimal
    side: str  # the taker's side: buy | sell
    ts_ns: int | None  # exchange time; None when the venue gave none


class QueuedOrder(NamedTuple):
    """One order of a level3 level in a snapshot: id, visible quantity, and the venue's order timestamp as sent
    (the time it was inserted or amended; parsed only by a reader that needs it)."""

    order_id: str
    qty: Decimal
    ts: str | None


class L3Level(NamedTuple):
    """A level3 price level in a snapshot: its orders in queue order, front first."""

    price: Decimal
    orders: tuple[QueuedOrder, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StateSnapshot:
    """What the route engine sees of a symbol: immutable, tagged with (epoch, seq, state time)."""

    symbol: str
    status: str
    epoch: int
    seq: int
    state_ts_ns: int  # receive time of the last applied event
    best_bid: Decimal | None
    best_bid_qty: Decimal | None
    best_ask: Decimal | None
    best_ask_qty: Decimal | None
    mid: Decimal | None
    spread_bps: Decimal | None
    microprice: Decimal | None
    depth_bid: Decimal | None  # quote notional within depth_window_bps of the mid
    depth_ask: Decimal | None
    imbalance: Decimal | None
    trade_imbalance: Decimal | None
    last_trade_price: Decimal | None
    last_trade_qty: Decimal | None
    last_trade_side: str | None
    last_trade_ns: int | None
    volatility_bps: tuple[tuple[int, Decimal | None], ...]  # (window seconds, realised vol in bps)
    l3_quality: Decimal | None
    ref_price: Decimal | None  # reference venue mid; None when missing or stale
    premium_bps: Decimal | None  # None when the reference is missing or stale, never 0
    bids: tuple[Level, ...]  # top levels, best first
    asks: tuple[Level, ...]
    venue_status: str
    # orders resting within depth_window_bps of the mid in the level3 book (None without a level3 book)
    l3_orders_bid: int | None = None
    l3_orders_ask: int | None = None
    # The paper venue's queue model (core/execution/paper_venue.py). `recent_trades`: the newest trades of this
    # state holder instance (`trade_stream`; 0: none carried), oldest first, at most RECENT_TRADES of them
    # (core/symbol_state.py). `l3_bids` / `l3_asks`: the level3 book's best L3_QUEUE_LEVELS levels per side, order
    # by order, as of the venue's time `l3_ts_ns` (the newest level3 update applied); None without a level3
    # book that is in sync and carries venue times.
    recent_trades: tuple[TradeTick, ...] = ()
    trade_stream: int = 0
    l3_bids: tuple[L3Level, ...] | None = None
    l3_asks: tuple[L3Level, ...] | None = None
    l3_ts_ns: int | None = None

    @property
    def ready(self) -> bool:
        return self.status == READY


# --- feed actor internals: its reader threads and timer talk to it with these ---------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FramesReady:
    """Doorbell from a reader thread: frames are waiting in the connection's queue (one per burst)."""

    channel: str
    conn_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionOpened:
    channel: str
    conn_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionLost:
    channel: str
    conn_id: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedTick:
    """Timer tick: watchdog, reconnects, token refresh (feed); staleness and flushes (state)."""

    n: int


# --- state holders -> ingest writer ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolStateRow:
    """One symbol's run_symbol_state row, as the state holder hands it out and storage stores it: the same
    typed record from core/symbol_state.py through the ingest writer to storage/repo.py.

    The scalar fields are the table's columns of the same names. `volatility_bps`, `venue_status`,
    `l3_checksum_failures`, `l3_resyncs` and `last_trade_side` go into its JSON `features` column
    (storage/repo.py builds it). `volatility` is the realised volatility of the first configured window.
    Defaults are the table's, so a row for a symbol that has seen nothing yet names only `symbol` and
    `updated_at_ns`.
    """

    symbol: str
    updated_at_ns: int
    status: str = WARMING
    epoch: int = 0
    seq: int = 0
    best_bid: Decimal | None = None
    best_bid_qty: Decimal | None = None
    best_ask: Decimal | None = None
    best_ask_qty: Decimal | None = None
    mid: Decimal | None = None
    spread_bps: Decimal | None = None
    microprice: Decimal | None = None
    depth_bid: Decimal | None = None
    depth_ask: Decimal | None = None
    imbalance: Decimal | None = None
    trade_imbalance: Decimal | None = None
    last_trade_price: Decimal | None = None
    last_trade_qty: Decimal | None = None
    last_trade_ns: int | None = None
    volatility: Decimal | None = None
    l3_quality: Decimal | None = None
    ref_price: Decimal | None = None
    premium_bps: Decimal | None = None
    checksum_failures: int = 0  # L2 + L3
    resyncs: int = 0
    # stored in the `features` JSON column
    volatility_bps: tuple[tuple[int, Decimal | None], ...] = ()  # (window seconds, realised vol in bps)
    venue_status: str = "unknown"
    l3_checksum_failures: int = 0
    l3_resyncs: int = 0
    last_trade_side: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StateRowReady:
    """A run_symbol_state row to store (latest wins per symbol). `urgent`: a status change, stored at once."""

    row: SymbolStateRow
    urgent: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRowsReady:
    """market_ticker / market_trade rows to append, in arrival order."""

    tickers: tuple[tuple[tuple[str, Any], ...], ...]
    trades: tuple[tuple[tuple[str, Any], ...], ...]
