"""What the local exchange's engine reports, in the order it happened.

Public events (`BookLevelChanged`, `L3OrderEvent`, `TradePrinted`) describe the market everyone sees;
account events (`ExecutionEvent`, `BalanceChanged`) belong to one API key. Optional `ExecutionEvent`
fields that are None are absent on the wire: the engine fills only the fields Kraken sends for that
`exec_type` (e.g. `new` is sparse), PROTOCOL.md 4.2.

The engine keeps its own execution event rather than core/kraken/messages.Execution: it carries the
account it belongs to and integer-ns time with Decimals at the pair's precision; the server turns it
into the wire message (timestamps as text, wire decimals) in one place (sim_server/ws_auth.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Union

from kraken_runtime.core.kraken.messages import Ticker

__all__ = [
    "BookLevelChanged",
    "L3OrderEvent",
    "TradePrinted",
    "ExecutionEvent",
    "BalanceChanged",
    "MarketEvent",
    "TickerState",
    "EventLog",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BookLevelChanged:
    """An L2 level's new total quantity (qty == 0: the level is gone). side is 'bid' or 'ask'."""

    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class L3OrderEvent:
    """A level3 order event: 'add' (new resting order), 'modify' (visible qty changed, queue place kept),
    'delete' (filled or cancelled; order_qty is the qty it had). side is 'bid' or 'ask'.
    order_ts_ns is the order's own L3 timestamp (insert or amend time); ts_ns is when this happened."""

    symbol: str
    event: str
    order_id: str
    side: str
    limit_price: Decimal
    order_qty: Decimal
    order_ts_ns: int
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TradePrinted:
    """A public trade. side is the taker's ('buy'|'sell'); ord_type the taker's ('limit'|'market');
    trade_id an integer sequence per book."""

    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    ord_type: str
    trade_id: int
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionEvent:
    """One execution report for `account` (PROTOCOL.md 4.2). Fields left None are not sent.

    exec_type: pending_new | new | trade | filled | canceled | expired | amended | restated.
    order_status: pending_new | new | partially_filled | filled | canceled | expired.
    time_in_force is uppercase here (GTC | IOC | FOK) as Kraken sends it on executions.
    fee is in the quote currency (fee_asset, WS name e.g. 'USD'); fee_usd_equiv likewise.
    """

    account: str
    exec_type: str
    order_status: str
    order_id: str
    ts_ns: int
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    cl_ord_id: str | None = None
    order_userref: int | None = None
    order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    limit_price_type: str | None = None
    time_in_force: str | None = None
    post_only: bool | None = None
    fee_ccy_pref: str | None = None
    cum_qty: Decimal | None = None
    cum_cost: Decimal | None = None
    avg_price: Decimal | None = None
    exec_id: str | None = None
    trade_id: int | None = None
    last_qty: Decimal | None = None
    last_price: Decimal | None = None
    cost: Decimal | None = None
    liquidity_ind: str | None = None
    fee: Decimal | None = None
    fee_asset: str | None = None
    fee_usd_equiv: Decimal | None = None
    amended: bool | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceChanged:
    """One ledger entry (PROTOCOL.md 4.3 balances update). asset is the WS name ('BTC', 'USD');
    amount is gross and signed, fee separate; balance is the new total. ref_id is the trade's exec id."""

    account: str
    asset: str
    amount: Decimal
    fee: Decimal
    balance: Decimal
    ledger_id: str
    ref_id: str
    ledger_type: str
    ts_ns: int


MarketEvent = Union[BookLevelChanged, L3OrderEvent, TradePrinted, ExecutionEvent, BalanceChanged]


# Level-1 state as the ticker channel sends it: the protocol's own Ticker message (timestamps left unset).
# 24 h figures over a rolling window (seeded with a plausible history at construction); change is in quote
# currency, change_pct in percent (2 dp).
TickerState = Ticker


class EventLog:
    """The events one engine call caused, in order. The exchange owns one and hands it to each part
    that reports (symbol markets, the order engine); `drain` gives the call's events and empties it.
    `events` stays the same list object for the log's life, so a hot path may bind `events.append`."""

    __slots__ = ("events", "public")

    def __init__(self) -> None:
        self.events: list[MarketEvent] = []
        self.public = True  # False while warming up: public book/trade events are not recorded

    def append(self, event: MarketEvent) -> None:
        self.events.append(event)

    def drain(self) -> list[MarketEvent]:
        drained = list(self.events)
        self.events.clear()
        return drained

    def clear(self) -> None:
        self.events.clear()
