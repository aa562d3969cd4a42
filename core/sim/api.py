"""What the local exchange's engine takes and gives: its knobs, requests, results and Kraken's error strings.

Every price and size here is a Decimal at exactly the instrument's precision. Errors are Kraken's
strings (PROTOCOL.md 4.10, 5.5), returned as `KrakenReject(error=...)`. Names that Kraken's own
client types also use (core/kraken/rest.py's AddOrderResult, CancelOrderResult) are prefixed `Engine`
here so the two never collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from kraken_runtime.core.sim.instruments import MarketProfile

__all__ = [
    "SimModelConfig",
    "KrakenReject",
    "AddOrderRequest",
    "EngineAddOrderResult",
    "AmendOrderRequest",
    "AmendOrderResult",
    "EngineCancelOrderResult",
    "CancelAllResult",
    "CancelAfterResult",
    "EditOrderResult",
    "OhlcBar",
    "OHLC_INTERVALS_MIN",
    "VENUE_STATUSES",
    "ERR_INSUFFICIENT_FUNDS",
    "ERR_ORDER_MINIMUM",
    "ERR_COST_MINIMUM",
    "ERR_TICK_SIZE",
    "ERR_INVALID_PRICE",
    "ERR_INVALID_ARGUMENTS",
    "ERR_UNKNOWN_ORDER",
    "ERR_UNKNOWN_PAIR",
    "ERR_UNAVAILABLE",
    "ERR_CANCEL_ONLY",
    "ERR_POST_ONLY_MODE",
    "ERR_POST_ONLY_AMEND",
]

# Kraken's error strings (PROTOCOL.md 4.10 and 5.5).
ERR_INSUFFICIENT_FUNDS = "EOrder:Insufficient funds"
ERR_ORDER_MINIMUM = "EOrder:Order minimum not met"
ERR_COST_MINIMUM = "EOrder:Cost minimum not met"
ERR_TICK_SIZE = "EOrder:Tick size check failed"
ERR_INVALID_PRICE = "EOrder:Invalid price"
ERR_INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
ERR_UNKNOWN_ORDER = "EOrder:Unknown order"
ERR_UNKNOWN_PAIR = "EQuery:Unknown asset pair"
ERR_UNAVAILABLE = "EService:Unavailable"
ERR_CANCEL_ONLY = "EService:Market in cancel_only mode"
ERR_POST_ONLY_MODE = "EService:Market in post_only mode"
ERR_POST_ONLY_AMEND = "EOrder:Post only order"  # not documented by Kraken; see docs/SIM.md

# Reasons carried by execution reports (PROTOCOL.md 4.2 "Observed reason strings").
REASON_USER = "User requested"
REASON_POST_ONLY = "Post only order"
REASON_DEAD_MAN = "CancelAllOrdersAfter Timeout"
# Not found in Kraken's documents; chosen by this simulator (see docs/SIM.md).
REASON_IOC = "Immediate or cancel"
REASON_FOK = "Fill or kill"
REASON_NO_LIQUIDITY = "No liquidity"
REASON_SELF_TRADE = "Self trade prevention"
REASON_AMEND_BELOW_FILLED = "Order quantity amended below filled quantity"
REASON_REPLACED = "Order replaced"  # EditOrder / edit_order: the original is cancelled with this reason

OHLC_INTERVALS_MIN = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)  # Kraken's candle intervals, minutes

VENUE_STATUSES = ("online", "cancel_only", "post_only", "maintenance")


@dataclass(frozen=True, slots=True, kw_only=True)
class SimModelConfig:
    """Knobs of the market model. Defaults give a realistic, busy market.

    rate_scale multiplies every symbol's event rate (the default total over the 20 USD majors is
    roughly 700 flow events/s, about 1,000+ book level changes/s); volatility_scale multiplies every
    symbol's volatility. book_levels_target is the depth each side is kept at (>= 1000 so a depth-1000
    subscription is always full); book_levels_max is where far levels get trimmed. warmup_s seconds of
    flow are simulated before `now_ns` at construction (events discarded) so the book, the trade
    history and the ticker start in a lived-in state.
    """

    rate_scale: float = 1.0
    volatility_scale: float = 1.0
    regime_mean_duration_s: float = 300.0
    regimes_enabled: bool = True
    book_levels_target: int = 1100
    book_levels_max: int = 1400
    warmup_s: float = 10.0
    recent_trades_kept: int = 1000
    profiles: Mapping[str, MarketProfile] | None = None  # per-symbol overrides of core.sim.instruments.PROFILES


@dataclass(frozen=True, slots=True, kw_only=True)
class KrakenReject:
    """A refused request, with Kraken's error string (e.g. 'EOrder:Insufficient funds')."""

    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AddOrderRequest:
    """A new order as the WS add_order / REST AddOrder carry it, already parsed.

    order_type 'limit' | 'market'; side 'buy' | 'sell'; time_in_force lowercase 'gtc' | 'ioc' | 'fok';
    limit_price required for limit orders; symbol in WS form ('BTC/USD'). The server maps REST names
    (pair=XBTUSD, oflags=post, timeinforce=IOC) onto this.
    """

    symbol: str
    side: str
    order_type: str
    order_qty: Decimal
    limit_price: Decimal | None = None
    time_in_force: str = "gtc"
    post_only: bool = False
    cl_ord_id: str | None = None
    order_userref: int | None = None
    validate: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineAddOrderResult:
    """An order the engine took (or only validated: order_id is '' then)."""

    order_id: str
    cl_ord_id: str | None = None
    order_userref: int | None = None
    symbol: str = ""
    description: str = ""  # REST descr.order, e.g. "buy 1.25000000 XBTUSD @ limit 27500.0"


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendOrderRequest:
    """In-place amend (PROTOCOL.md 4.5): one of order_id / cl_ord_id; order_qty required."""

    order_qty: Decimal
    order_id: str | None = None
    cl_ord_id: str | None = None
    limit_price: Decimal | None = None
    post_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendOrderResult:
    amend_id: str
    order_id: str | None = None
    cl_ord_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineCancelOrderResult:
    order_id: str
    cl_ord_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAllResult:
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAfterResult:
    """current_ns / trigger_ns for the camelCase currentTime / triggerTime (trigger_ns == 0: disabled)."""

    current_ns: int
    trigger_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EditOrderResult:
    """EditOrder / edit_order: the replacement's id (order_id is '' when only validated), the original's."""

    order_id: str
    original_order_id: str
    description: str
    order_qty: Decimal
    limit_price: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OhlcBar:
    """One candle: begin_ns is the interval's start; volume in base, vwap in quote (0 with no trades)."""

    begin_ns: int
    interval_min: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    vwap: Decimal
    volume: Decimal
    count: int
