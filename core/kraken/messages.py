"""Typed Kraken WebSocket v2 messages: everything Kraken sends, and every request we send.

Inbound messages are what ``core.kraken.codec.decode`` returns; requests are what ``codec.encode`` writes.
Every class is a frozen, slotted, keyword-only dataclass holding tuples, never lists. Prices, quantities,
costs, fees and balances are ``Decimal`` exactly as written on the wire (``Decimal("0.00005100")``), never
float. Exchange timestamps are kept twice: the RFC 3339 text as sent (``timestamp``) and integer
nanoseconds since the Unix epoch (``timestamp_ns``), parsed exactly.

Requests validate themselves when constructed (``ValueError`` naming the offending field), so an invalid
order can never reach the encoder, let alone the exchange.

``book`` and ``level3`` data frames are typed by ``core.kraken.book`` and ``core.kraken.l3book``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

__all__ = [
    # enums
    "Side", "SystemState", "ExecType", "OrderStatus", "OrderType", "TimeInForce", "PriceType",
    "TriggerReference", "StpType", "FeePreference", "LiquidityIndicator", "FrameType",
    # public channels
    "HeartbeatMessage", "Status", "Ticker", "TickerMessage", "Trade", "TradeMessage", "Candle", "OhlcMessage",
    "InstrumentAsset", "InstrumentPair", "InstrumentMessage",
    # private channels
    "Fee", "ExecutionTriggers", "Contingent", "Execution", "ExecutionsMessage",
    "Wallet", "AssetBalance", "BalancesSnapshot", "LedgerEntry", "BalancesUpdate",
    # method responses
    "MethodResponse", "Pong", "SubscribeAck", "UnsubscribeAck", "SubscribeError", "UnsubscribeError",
    "AddOrderAck", "AmendOrderAck", "EditOrderAck", "CancelOrderAck", "CancelAllAck",
    "CancelAllOrdersAfterAck", "BatchAddAck", "BatchCancelAck", "MethodError", "ServerError",
    # requests
    "Triggers", "Conditional", "Subscribe", "Unsubscribe", "Ping", "AddOrder", "BatchOrder", "AmendOrder",
    "CancelOrder", "CancelAll", "CancelAllOrdersAfter", "BatchAdd", "BatchCancel",
    "Request", "InboundMessage",
    # constants
    "PUBLIC_CHANNELS", "PRIVATE_CHANNELS", "BOOK_DEPTHS", "LEVEL3_DEPTHS", "OHLC_INTERVALS",
]


# --------------------------------------------------------------------------------------------- enums


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class SystemState(StrEnum):
    """``status`` channel ``system``: what the trading engine accepts (PROTOCOL.md 1.5)."""

    ONLINE = "online"
    CANCEL_ONLY = "cancel_only"
    MAINTENANCE = "maintenance"
    POST_ONLY = "post_only"


class ExecType(StrEnum):
    PENDING_NEW = "pending_new"
    NEW = "new"
    TRADE = "trade"
    FILLED = "filled"
    ICEBERG_REFILL = "iceberg_refill"
    CANCELED = "canceled"
    EXPIRED = "expired"
    AMENDED = "amended"
    RESTATED = "restated"
    STATUS = "status"


class OrderStatus(StrEnum):
    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    ICEBERG = "iceberg"
    STOP_LOSS = "stop-loss"
    STOP_LOSS_LIMIT = "stop-loss-limit"
    TAKE_PROFIT = "take-profit"
    TAKE_PROFIT_LIMIT = "take-profit-limit"
    TRAILING_STOP = "trailing-stop"
    TRAILING_STOP_LIMIT = "trailing-stop-limit"
    SETTLE_POSITION = "settle-position"


class TimeInForce(StrEnum):
    """Requests send lowercase; the executions channel reports uppercase. Both decode to these."""

    GTC = "gtc"
    GTD = "gtd"
    IOC = "ioc"
    FOK = "fok"


class PriceType(StrEnum):
    STATIC = "static"
    PCT = "pct"
    QUOTE = "quote"


class TriggerReference(StrEnum):
    INDEX = "index"
    LAST = "last"


class StpType(StrEnum):
    CANCEL_NEWEST = "cancel_newest"
    CANCEL_OLDEST = "cancel_oldest"
    CANCEL_BOTH = "cancel_both"


class FeePreference(StrEnum):
    BASE = "base"
    QUOTE = "quote"


class LiquidityIndicator(StrEnum):
    MAKER = "m"
    TAKER = "t"


class FrameType(StrEnum):
    SNAPSHOT = "snapshot"
    UPDATE = "update"


PUBLIC_CHANNELS = frozenset({"ticker", "trade", "book", "ohlc", "instrument"})
PRIVATE_CHANNELS = frozenset({"level3", "executions", "balances"})
BOOK_DEPTHS = frozenset({10, 25, 100, 500, 1000})
LEVEL3_DEPTHS = frozenset({10, 100, 1000})
OHLC_INTERVALS = frozenset({1, 5, 15, 30, 60, 240, 1440, 10080, 21600})

# Order types that need a limit price, and those that need a trigger (PROTOCOL.md 4.4).
LIMIT_PRICE_ORDER_TYPES = frozenset({
    OrderType.LIMIT, OrderType.ICEBERG, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT,
    OrderType.TRAILING_STOP_LIMIT,
})
TRIGGERED_ORDER_TYPES = frozenset({
    OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT,
    OrderType.TRAILING_STOP, OrderType.TRAILING_STOP_LIMIT,
})


# --------------------------------------------------------------------------------- public channels


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatMessage:
    """``{"channel": "heartbeat"}``: about once a second when no other channel has data."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """``status`` channel: sent on connect and whenever the engine's state changes."""

    type: FrameType
    system: SystemState
    api_version: str
    connection_id: int  # exceeds int64 (13834774380200032777); a Python int holds it exactly
    version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticker:
    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    last: Decimal
    volume: Decimal
    vwap: Decimal
    low: Decimal
    high: Decimal
    change: Decimal
    change_pct: Decimal
    timestamp: str | None = None
    timestamp_ns: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TickerMessage:
    type: FrameType
    tickers: tuple[Ticker, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade:
    symbol: str
    side: Side  # the taker's side
    price: Decimal
    qty: Decimal
    ord_type: str  # "limit" | "market" (of the taker order)
    trade_id: int
    timestamp: str
    timestamp_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeMessage:
    type: FrameType
    trades: tuple[Trade, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Candle:
    symbol: str
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    vwap: Decimal
    trades: int
    volume: Decimal
    interval_begin: str
    interval_begin_ns: int
    interval: int  # minutes
    timestamp: str | None = None  # deprecated by Kraken: the interval's end
    timestamp_ns: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OhlcMessage:
    type: FrameType
    candles: tuple[Candle, ...]
    timestamp: str | None = None
    timestamp_ns: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstrumentAsset:
    id: str
    status: str  # enabled | disabled | depositonly | withdrawalonly | fundingtemporarilydisabled | ...
    precision: int
    precision_display: int
    borrowable: bool | None = None
    collateral_value: Decimal | None = None
    margin_rate: Decimal | None = None
    multiplier: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstrumentPair:
    symbol: str
    base: str
    quote: str
    status: str  # online | cancel_only | post_only | limit_only | reduce_only | maintenance | delisted | ...
    price_precision: int
    qty_precision: int
    price_increment: Decimal
    qty_increment: Decimal
    qty_min: Decimal
    cost_precision: int | None = None
    cost_min: Decimal | None = None
    marginable: bool | None = None
    has_index: bool | None = None
    margin_initial: Decimal | None = None
    position_limit_long: int | None = None
    position_limit_short: int | None = None
    tick_size: Decimal | None = None  # deprecated by Kraken: use price_increment


@dataclass(frozen=True, slots=True, kw_only=True)
class InstrumentMessage:
    type: FrameType
    assets: tuple[InstrumentAsset, ...]
    pairs: tuple[InstrumentPair, ...]


# -------------------------------------------------------------------------------- private channels


@dataclass(frozen=True, slots=True, kw_only=True)
class Fee:
    asset: str
    qty: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionTriggers:
    """The ``triggers`` object of an execution report (triggered order types)."""

    reference: str | None = None  # index | last
    price: Decimal | None = None
    price_type: str | None = None  # static | pct | quote
    actual_price: Decimal | None = None
    peak_price: Decimal | None = None
    last_price: Decimal | None = None
    status: str | None = None  # triggered | untriggered
    timestamp: str | None = None
    timestamp_ns: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Contingent:
    """The ``contingent`` (OTO secondary close order) of an execution report."""

    order_type: str | None = None
    trigger_price: Decimal | None = None
    trigger_price_type: str | None = None
    limit_price: Decimal | None = None
    limit_price_type: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Execution:
    """One execution report. Which fields are present depends on ``exec_type``; the rest are None.

    ``new`` events are sparse (ids and status only); ``trade`` events carry exec_id, trade_id, last_qty,
    last_price, cost, fees and liquidity_ind.
    """

    order_id: str
    exec_type: ExecType
    order_status: OrderStatus | None = None
    timestamp: str | None = None
    timestamp_ns: int | None = None
    cl_ord_id: str | None = None
    order_userref: int | None = None
    symbol: str | None = None
    side: Side | None = None
    order_type: OrderType | None = None
    order_qty: Decimal | None = None
    cash_order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    limit_price_type: str | None = None
    time_in_force: TimeInForce | None = None
    post_only: bool | None = None
    reduce_only: bool | None = None
    margin: bool | None = None
    margin_borrow: bool | None = None
    no_mpp: bool | None = None
    display_qty: Decimal | None = None
    display_qty_remain: Decimal | None = None
    effective_time: str | None = None
    effective_time_ns: int | None = None
    expire_time: str | None = None
    expire_time_ns: int | None = None
    cum_qty: Decimal | None = None
    cum_cost: Decimal | None = None
    avg_price: Decimal | None = None
    exec_id: str | None = None
    trade_id: int | None = None
    last_qty: Decimal | None = None
    last_price: Decimal | None = None
    cost: Decimal | None = None
    fees: tuple[Fee, ...] = ()
    liquidity_ind: LiquidityIndicator | None = None
    fee_usd_equiv: Decimal | None = None
    fee_ccy_pref: str | None = None  # fcib | fciq
    amended: bool | None = None
    reason: str | None = None
    liquidated: bool | None = None
    position_status: str | None = None  # opened | closing | closed
    ord_ref_id: str | None = None
    sender_sub_id: str | None = None
    ext_ord_id: str | None = None
    ext_exec_id: str | None = None
    contingent: Contingent | None = None
    triggers: ExecutionTriggers | None = None
    user: str | None = None
    ratecount: int | None = None
    # deprecated by Kraken, still sent
    cancel_reason: str | None = None
    stop_price: Decimal | None = None
    trigger: str | None = None
    triggered_price: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionsMessage:
    type: FrameType
    sequence: int | None
    executions: tuple[Execution, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Wallet:
    type: str  # spot | earn
    id: str  # main | flex | bonded | ...
    balance: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetBalance:
    asset: str
    asset_class: str | None
    balance: Decimal
    wallets: tuple[Wallet, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BalancesSnapshot:
    sequence: int | None
    balances: tuple[AssetBalance, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One ledger transaction of a ``balances`` update. ``amount`` is gross; the fee is in ``fee``."""

    ledger_id: str
    ref_id: str | None
    timestamp: str
    timestamp_ns: int
    type: str  # deposit | withdrawal | trade | transfer | ...
    asset: str
    amount: Decimal
    fee: Decimal
    balance: Decimal
    asset_class: str | None = None
    subtype: str | None = None
    category: str | None = None
    wallet_type: str | None = None
    wallet_id: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BalancesUpdate:
    sequence: int | None
    entries: tuple[LedgerEntry, ...]


# -------------------------------------------------------------------------------- method responses


@dataclass(frozen=True, slots=True, kw_only=True)
class MethodResponse:
    """Base of every reply to a request: correlate by ``req_id`` (echoed when it was sent)."""

    method: str
    req_id: int | None = None
    time_in: str | None = None
    time_in_ns: int | None = None
    time_out: str | None = None
    time_out_ns: int | None = None
    warnings: tuple[str, ...] = ()

    @property
    def success(self) -> bool:
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong(MethodResponse):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class _SubscriptionEcho(MethodResponse):
    """The channel options a subscribe or unsubscribe ack echoes back."""

    channel: str
    symbol: str | None = None
    depth: int | None = None
    snapshot: bool | None = None
    event_trigger: str | None = None
    interval: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeAck(_SubscriptionEcho):
    """One ack per symbol. Channel options are echoed back (depth, snapshot, event_trigger, ...)."""

    maxratecount: int | None = None
    snap_orders: bool | None = None
    snap_trades: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsubscribeAck(_SubscriptionEcho):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class MethodError(MethodResponse):
    """``success: false``: Kraken's error string, e.g. ``"EOrder:Insufficient funds"``."""

    error: str
    symbol: str | None = None  # some subscribe errors name the symbol at the top level
    channel: str | None = None

    @property
    def success(self) -> bool:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeError(MethodError):
    """A failed subscribe. Note Kraken also answers an unsubscribe of an unknown subscription with
    ``method: "subscribe"`` and ``"Subscription Not Found"``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsubscribeError(MethodError):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class AddOrderAck(MethodResponse):
    order_id: str  # "" when the request had validate: true
    cl_ord_id: str | None = None
    order_userref: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendOrderAck(MethodResponse):
    amend_id: str
    order_id: str | None = None
    cl_ord_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EditOrderAck(MethodResponse):
    order_id: str
    original_order_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrderAck(MethodResponse):
    """One per cancelled order."""

    order_id: str | None = None
    cl_ord_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAllAck(MethodResponse):
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAllOrdersAfterAck(MethodResponse):
    current_time: str  # Kraken: currentTime
    current_time_ns: int
    trigger_time: str  # Kraken: triggerTime; equals current_time when the timer was disabled
    trigger_time_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchAddAck(MethodResponse):
    orders: tuple[AddOrderAck, ...]  # in request order


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchCancelAck(MethodResponse):
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerError:
    """A bare error frame with no method, e.g. ``{"Error": "Exceeded msg rate"}``."""

    error: str


# ---------------------------------------------------------------------------------------- requests

_CL_ORD_ID_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CL_ORD_ID_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_CL_ORD_ID_FREE = re.compile(r"^[\x21-\x7e]{1,18}$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _check_enum(owner: str, name: str, value: object, enum: type[StrEnum], optional: bool = True) -> None:
    if value is None:
        _require(optional, f"{owner}.{name} is required")
        return
    if isinstance(value, str):  # a member is a str too
        try:
            enum(value)
            return
        except ValueError:
            pass
    allowed = ", ".join(member.value for member in enum)
    raise ValueError(f"{owner}.{name} must be one of {allowed}, got {value!r}")


def _check_decimal(owner: str, name: str, value: object, *, positive: bool = False,
                   non_negative: bool = False) -> None:
    if value is None:
        return
    _require(isinstance(value, Decimal),
             f"{owner}.{name} must be a Decimal (never float), got {type(value).__name__}")
    assert isinstance(value, Decimal)
    _require(value.is_finite(), f"{owner}.{name} must be finite, got {value}")
    if positive:
        _require(value > 0, f"{owner}.{name} must be > 0, got {value}")
    if non_negative:
        _require(value >= 0, f"{owner}.{name} must be >= 0, got {value}")


def _check_int(owner: str, name: str, value: object) -> None:
    if value is None:
        return
    _require(isinstance(value, int) and not isinstance(value, bool),
             f"{owner}.{name} must be an int, got {type(value).__name__}")


def _check_bool(owner: str, name: str, value: object) -> None:
    if value is None:
        return
    _require(isinstance(value, bool), f"{owner}.{name} must be a bool, got {type(value).__name__}")


def _check_text(owner: str, name: str, value: object, *, optional: bool = True) -> None:
    if value is None:
        _require(optional, f"{owner}.{name} is required")
        return
    _require(isinstance(value, str) and value != "", f"{owner}.{name} must be a non-empty str, got {value!r}")


def _check_time(owner: str, name: str, value: object) -> None:
    if value is None:
        return
    _require(isinstance(value, str) and _RFC3339.match(value) is not None,
             f"{owner}.{name} must be an RFC 3339 timestamp such as 2024-07-21T09:53:59.050Z, got {value!r}")


def _check_texts(owner: str, name: str, value: object) -> None:
    _require(isinstance(value, tuple), f"{owner}.{name} must be a tuple, got {type(value).__name__}")
    assert isinstance(value, tuple)
    for index, item in enumerate(value):
        _require(isinstance(item, str) and item != "",
                 f"{owner}.{name}[{index}] must be a non-empty str, got {item!r}")


def _check_req_id(owner: str, value: object) -> None:
    _check_int(owner, "req_id", value)
    if isinstance(value, int):
        _require(0 <= value < 2**63, f"{owner}.req_id must be in [0, 2**63), got {value}")


def check_cl_ord_id(owner: str, value: str | None) -> None:
    """Kraken accepts a long UUID, a 32-hex-digit short UUID, or free ASCII text of at most 18 chars."""
    if value is None:
        return
    _require(isinstance(value, str), f"{owner}.cl_ord_id must be a str, got {type(value).__name__}")
    _require(bool(_CL_ORD_ID_UUID.match(value) or _CL_ORD_ID_HEX32.match(value) or _CL_ORD_ID_FREE.match(value)),
             f"{owner}.cl_ord_id must be a UUID, 32 hex digits, or at most 18 printable ASCII characters, "
             f"got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Triggers:
    """``triggers`` of an add_order request: required for stop-loss, take-profit and trailing-stop types."""

    price: Decimal
    reference: TriggerReference | None = None  # Kraken's default: last
    price_type: PriceType | None = None  # Kraken's default: static

    def __post_init__(self) -> None:
        _require(self.price is not None, "Triggers.price is required")
        _check_decimal("Triggers", "price", self.price)
        _check_enum("Triggers", "reference", self.reference, TriggerReference)
        _check_enum("Triggers", "price_type", self.price_type, PriceType)


@dataclass(frozen=True, slots=True, kw_only=True)
class Conditional:
    """``conditional``: an OTO secondary close order, one per fill of the primary, opposite direction."""

    order_type: OrderType
    limit_price: Decimal | None = None
    limit_price_type: PriceType | None = None
    trigger_price: Decimal | None = None
    trigger_price_type: PriceType | None = None

    def __post_init__(self) -> None:
        _check_enum("Conditional", "order_type", self.order_type, OrderType, optional=False)
        _check_decimal("Conditional", "limit_price", self.limit_price)
        _check_enum("Conditional", "limit_price_type", self.limit_price_type, PriceType)
        _check_decimal("Conditional", "trigger_price", self.trigger_price)
        _check_enum("Conditional", "trigger_price_type", self.trigger_price_type, PriceType)
        order_type = OrderType(self.order_type)
        if order_type in LIMIT_PRICE_ORDER_TYPES:
            _require(self.limit_price is not None,
                     f"Conditional.limit_price is required for a {order_type.value} order")
        if order_type in TRIGGERED_ORDER_TYPES:
            _require(self.trigger_price is not None,
                     f"Conditional.trigger_price is required for a {order_type.value} order")


def _check_order_fields(owner: str, order: AddOrder | BatchOrder) -> None:
    """The per-order rules shared by add_order and each order of batch_add (PROTOCOL.md 4.4)."""
    _check_enum(owner, "order_type", order.order_type, OrderType, optional=False)
    _check_enum(owner, "side", order.side, Side, optional=False)
    order_type = OrderType(order.order_type)
    _check_decimal(owner, "order_qty", order.order_qty, positive=True)
    _check_decimal(owner, "cash_order_qty", order.cash_order_qty, positive=True)
    _check_decimal(owner, "limit_price", order.limit_price)
    _check_decimal(owner, "display_qty", order.display_qty, positive=True)
    _check_enum(owner, "limit_price_type", order.limit_price_type, PriceType)
    _check_enum(owner, "time_in_force", order.time_in_force, TimeInForce)
    _check_enum(owner, "fee_preference", order.fee_preference, FeePreference)
    _check_enum(owner, "stp_type", order.stp_type, StpType)
    for name in ("margin", "post_only", "reduce_only"):
        _check_bool(owner, name, getattr(order, name))
    _check_time(owner, "effective_time", order.effective_time)
    _check_time(owner, "expire_time", order.expire_time)
    _check_int(owner, "order_userref", order.order_userref)
    if order.order_userref is not None:
        _require(-(2**31) <= order.order_userref < 2**31,
                 f"{owner}.order_userref must fit a signed 32-bit integer, got {order.order_userref}")
    check_cl_ord_id(owner, order.cl_ord_id)
    _check_text(owner, "sender_sub_id", order.sender_sub_id)
    if order.triggers is not None:
        _require(isinstance(order.triggers, Triggers), f"{owner}.triggers must be a Triggers")
    if order.conditional is not None:
        _require(isinstance(order.conditional, Conditional), f"{owner}.conditional must be a Conditional")

    _require((order.order_qty is None) != (order.cash_order_qty is None),
             f"{owner} needs exactly one of order_qty and cash_order_qty")
    if order.cash_order_qty is not None:
        _require(order_type is OrderType.MARKET and order.side == Side.BUY and not order.margin,
                 f"{owner}.cash_order_qty is only for buy market orders without margin")
    if order_type in LIMIT_PRICE_ORDER_TYPES:
        _require(order.limit_price is not None, f"{owner}.limit_price is required for a {order_type.value} order")
    else:
        _require(order.limit_price is None, f"{owner}.limit_price is not allowed for a {order_type.value} order")
    if order.limit_price is not None and order.limit_price_type in (None, PriceType.STATIC):
        if order_type is not OrderType.TRAILING_STOP_LIMIT:
            _require(order.limit_price > 0, f"{owner}.limit_price must be > 0, got {order.limit_price}")
    if order.limit_price_type is not None:
        _require(order_type is OrderType.TRAILING_STOP_LIMIT,
                 f"{owner}.limit_price_type is only for trailing-stop-limit orders")
    if order_type in TRIGGERED_ORDER_TYPES:
        _require(order.triggers is not None, f"{owner}.triggers is required for a {order_type.value} order")
    else:
        _require(order.triggers is None, f"{owner}.triggers is not allowed for a {order_type.value} order")
    if order.post_only:
        _require(order.limit_price is not None, f"{owner}.post_only is only for orders with a limit price")
    if order_type is OrderType.ICEBERG:
        _require(order.display_qty is not None, f"{owner}.display_qty is required for an iceberg order")
        if order.order_qty is not None and order.display_qty is not None:
            _require(order.display_qty * 15 >= order.order_qty, f"{owner}.display_qty must be at least 1/15 of order_qty")
    else:
        _require(order.display_qty is None, f"{owner}.display_qty is only for iceberg orders")
    if order.time_in_force == TimeInForce.GTD:
        _require(order.expire_time is not None, f"{owner}.expire_time is required with time_in_force gtd")
    else:
        _require(order.expire_time is None, f"{owner}.expire_time is only for time_in_force gtd")
    if order.time_in_force == TimeInForce.FOK:
        _require(order_type is OrderType.LIMIT, f"{owner}.time_in_force fok is only for limit orders")
    _require(order.cl_ord_id is None or order.order_userref is None,
             f"{owner}: cl_ord_id and order_userref are mutually exclusive")


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe:
    """``subscribe``. ``symbols`` for ticker/trade/book/ohlc/level3; ``token`` for private channels.

    Options left None are not sent, so Kraken's defaults apply.
    """

    channel: str
    symbols: tuple[str, ...] = ()
    depth: int | None = None  # book, level3
    snapshot: bool | None = None
    event_trigger: str | None = None  # ticker: "bbo" | "trades"
    interval: int | None = None  # ohlc, minutes
    token: str | None = None  # level3, executions, balances
    snap_orders: bool | None = None  # executions
    snap_trades: bool | None = None  # executions
    order_status: bool | None = None  # executions
    ratecounter: bool | None = None  # executions
    req_id: int | None = None

    def __post_init__(self) -> None:
        _check_subscription("Subscribe", self, unsubscribe=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe:
    """``unsubscribe``: must echo the keying options (book depth, ohlc interval, ticker event_trigger)."""

    channel: str
    symbols: tuple[str, ...] = ()
    depth: int | None = None
    event_trigger: str | None = None
    interval: int | None = None
    token: str | None = None
    req_id: int | None = None

    def __post_init__(self) -> None:
        _check_subscription("Unsubscribe", self, unsubscribe=True)


_SYMBOL_CHANNELS = frozenset({"ticker", "trade", "book", "ohlc", "level3"})
_CHANNEL_OPTIONS = {
    "depth": frozenset({"book", "level3"}),
    "event_trigger": frozenset({"ticker"}),
    "interval": frozenset({"ohlc"}),
    "snap_orders": frozenset({"executions"}),
    "snap_trades": frozenset({"executions"}),
    "order_status": frozenset({"executions"}),
    "ratecounter": frozenset({"executions"}),
}


def _check_subscription(owner: str, request: Subscribe | Unsubscribe, *, unsubscribe: bool) -> None:
    channel = request.channel
    known = PUBLIC_CHANNELS | PRIVATE_CHANNELS
    _require(channel in known, f"{owner}.channel must be one of {', '.join(sorted(known))}, got {channel!r}")
    _check_texts(owner, "symbols", request.symbols)
    if channel in _SYMBOL_CHANNELS:
        _require(len(request.symbols) > 0, f"{owner}.symbols is required for channel {channel}")
        _require(len(set(request.symbols)) == len(request.symbols), f"{owner}.symbols has duplicates")
    else:
        _require(not request.symbols, f"{owner}.symbols is not allowed for channel {channel}")
    for name, channels in _CHANNEL_OPTIONS.items():
        value = getattr(request, name, None)
        if value is not None:
            _require(channel in channels, f"{owner}.{name} is not allowed for channel {channel}")
    for name in ("snapshot", "snap_orders", "snap_trades", "order_status", "ratecounter"):
        _check_bool(owner, name, getattr(request, name, None))
    _check_int(owner, "depth", request.depth)
    _check_int(owner, "interval", request.interval)
    if request.depth is not None:
        allowed = BOOK_DEPTHS if channel == "book" else LEVEL3_DEPTHS
        _require(request.depth in allowed,
                 f"{owner}.depth for {channel} must be one of {sorted(allowed)}, got {request.depth}")
    if request.interval is not None:
        _require(request.interval in OHLC_INTERVALS,
                 f"{owner}.interval must be one of {sorted(OHLC_INTERVALS)}, got {request.interval}")
    if channel == "ohlc" and unsubscribe:
        _require(request.interval is not None, f"{owner}.interval is required to unsubscribe from ohlc")
    if request.event_trigger is not None:
        _require(request.event_trigger in ("bbo", "trades"),
                 f"{owner}.event_trigger must be bbo or trades, got {request.event_trigger!r}")
    _check_text(owner, "token", request.token)
    if channel in PRIVATE_CHANNELS:
        _require(request.token is not None, f"{owner}.token is required for channel {channel}")
    else:
        _require(request.token is None, f"{owner}.token is not allowed for public channel {channel}")
    _check_req_id(owner, request.req_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    req_id: int | None = None

    def __post_init__(self) -> None:
        _check_req_id("Ping", self.req_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class AddOrder:
    """``add_order``. Exactly one of order_qty / cash_order_qty; at most one of cl_ord_id / order_userref."""

    order_type: OrderType
    side: Side
    symbol: str
    token: str
    order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    limit_price_type: PriceType | None = None
    triggers: Triggers | None = None
    time_in_force: TimeInForce | None = None
    margin: bool | None = None
    post_only: bool | None = None
    reduce_only: bool | None = None
    effective_time: str | None = None
    expire_time: str | None = None
    deadline: str | None = None
    cl_ord_id: str | None = None
    order_userref: int | None = None
    conditional: Conditional | None = None
    display_qty: Decimal | None = None
    fee_preference: FeePreference | None = None
    stp_type: StpType | None = None
    cash_order_qty: Decimal | None = None
    validate: bool | None = None
    sender_sub_id: str | None = None
    req_id: int | None = None

    def __post_init__(self) -> None:
        _check_text("AddOrder", "symbol", self.symbol, optional=False)
        _check_text("AddOrder", "token", self.token, optional=False)
        _check_order_fields("AddOrder", self)
        _check_time("AddOrder", "deadline", self.deadline)
        _check_bool("AddOrder", "validate", self.validate)
        _check_req_id("AddOrder", self.req_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchOrder:
    """One order of ``batch_add``: add_order's per-order fields (symbol, token, deadline and validate are
    given once for the whole batch)."""

    order_type: OrderType
    side: Side
    order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    limit_price_type: PriceType | None = None
    triggers: Triggers | None = None
    time_in_force: TimeInForce | None = None
    margin: bool | None = None
    post_only: bool | None = None
    reduce_only: bool | None = None
    effective_time: str | None = None
    expire_time: str | None = None
    cl_ord_id: str | None = None
    order_userref: int | None = None
    conditional: Conditional | None = None
    display_qty: Decimal | None = None
    fee_preference: FeePreference | None = None
    stp_type: StpType | None = None
    cash_order_qty: Decimal | None = None
    sender_sub_id: str | None = None

    def __post_init__(self) -> None:
        _check_order_fields("BatchOrder", self)


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendOrder:
    """``amend_order``: in place, keeps the order's ids and (where possible) its queue priority."""

    token: str
    order_qty: Decimal
    order_id: str | None = None
    cl_ord_id: str | None = None
    display_qty: Decimal | None = None
    limit_price: Decimal | None = None
    limit_price_type: PriceType | None = None
    post_only: bool | None = None
    trigger_price: Decimal | None = None
    trigger_price_type: PriceType | None = None
    deadline: str | None = None
    symbol: str | None = None
    req_id: int | None = None

    def __post_init__(self) -> None:
        owner = "AmendOrder"
        _check_text(owner, "token", self.token, optional=False)
        _require(self.order_qty is not None, f"{owner}.order_qty is required")
        _check_decimal(owner, "order_qty", self.order_qty, positive=True)
        _require((self.order_id is None) != (self.cl_ord_id is None),
                 f"{owner} needs exactly one of order_id and cl_ord_id")
        _check_text(owner, "order_id", self.order_id)
        check_cl_ord_id(owner, self.cl_ord_id)
        _check_decimal(owner, "display_qty", self.display_qty, positive=True)
        _check_decimal(owner, "limit_price", self.limit_price)
        _check_enum(owner, "limit_price_type", self.limit_price_type, PriceType)
        _check_bool(owner, "post_only", self.post_only)
        _check_decimal(owner, "trigger_price", self.trigger_price)
        _check_enum(owner, "trigger_price_type", self.trigger_price_type, PriceType)
        _check_time(owner, "deadline", self.deadline)
        _check_text(owner, "symbol", self.symbol)
        _check_req_id(owner, self.req_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder:
    """``cancel_order``: any mix of order ids, client order ids and userrefs; one reply per order."""

    token: str
    order_ids: tuple[str, ...] = ()
    cl_ord_ids: tuple[str, ...] = ()
    order_userrefs: tuple[int, ...] = ()
    req_id: int | None = None

    def __post_init__(self) -> None:
        owner = "CancelOrder"
        _check_text(owner, "token", self.token, optional=False)
        _check_texts(owner, "order_ids", self.order_ids)
        _check_texts(owner, "cl_ord_ids", self.cl_ord_ids)
        _require(isinstance(self.order_userrefs, tuple), f"{owner}.order_userrefs must be a tuple")
        for index, userref in enumerate(self.order_userrefs):
            _check_int(owner, f"order_userrefs[{index}]", userref)
        _require(bool(self.order_ids or self.cl_ord_ids or self.order_userrefs),
                 f"{owner} needs at least one of order_ids, cl_ord_ids, order_userrefs")
        _check_req_id(owner, self.req_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAll:
    token: str
    req_id: int | None = None

    def __post_init__(self) -> None:
        _check_text("CancelAll", "token", self.token, optional=False)
        _check_req_id("CancelAll", self.req_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAllOrdersAfter:
    """Dead man's switch: cancel everything unless renewed within ``timeout`` seconds; 0 disables."""

    timeout: int
    token: str
    req_id: int | None = None

    def __post_init__(self) -> None:
        _check_text("CancelAllOrdersAfter", "token", self.token, optional=False)
        _check_int("CancelAllOrdersAfter", "timeout", self.timeout)
        _require(self.timeout is not None and 0 <= self.timeout < 86400,
                 f"CancelAllOrdersAfter.timeout must be in [0, 86400) seconds, got {self.timeout}")
        _check_req_id("CancelAllOrdersAfter", self.req_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchAdd:
    """``batch_add``: 2 to 15 orders on one symbol, validated as a whole."""

    symbol: str
    orders: tuple[BatchOrder, ...]
    token: str
    deadline: str | None = None
    validate: bool | None = None
    req_id: int | None = None

    def __post_init__(self) -> None:
        owner = "BatchAdd"
        _check_text(owner, "symbol", self.symbol, optional=False)
        _check_text(owner, "token", self.token, optional=False)
        _require(isinstance(self.orders, tuple), f"{owner}.orders must be a tuple")
        _require(2 <= len(self.orders) <= 15, f"{owner}.orders must hold 2 to 15 orders, got {len(self.orders)}")
        for index, order in enumerate(self.orders):
            _require(isinstance(order, BatchOrder), f"{owner}.orders[{index}] must be a BatchOrder")
        _check_time(owner, "deadline", self.deadline)
        _check_bool(owner, "validate", self.validate)
        _check_req_id(owner, self.req_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchCancel:
    """``batch_cancel``: 2 to 50 order ids (Kraken order ids or client order ids)."""

    orders: tuple[str, ...]
    token: str
    cl_ord_ids: tuple[str, ...] = ()
    req_id: int | None = None

    def __post_init__(self) -> None:
        owner = "BatchCancel"
        _check_text(owner, "token", self.token, optional=False)
        _check_texts(owner, "orders", self.orders)
        _check_texts(owner, "cl_ord_ids", self.cl_ord_ids)
        _require(2 <= len(self.orders) + len(self.cl_ord_ids) <= 50,
                 f"{owner} must name 2 to 50 orders, got {len(self.orders) + len(self.cl_ord_ids)}")
        _check_req_id(owner, self.req_id)


Request = (Subscribe | Unsubscribe | Ping | AddOrder | AmendOrder | CancelOrder | CancelAll
           | CancelAllOrdersAfter | BatchAdd | BatchCancel)

InboundMessage = (HeartbeatMessage | Status | TickerMessage | TradeMessage | OhlcMessage | InstrumentMessage
                  | ExecutionsMessage | BalancesSnapshot | BalancesUpdate | MethodResponse | ServerError)
