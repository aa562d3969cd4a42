"""Kraken spot REST results and their parsers: pure (PROTOCOL.md §5, §6).

``decode_json`` parses a response body exactly (every JSON fraction a ``Decimal``, integers ``int``); the
``parse_*`` functions take the decoded ``result`` object of a response and return frozen dataclasses with exact
``Decimal`` values and integer-nanosecond times. A ``float`` reaching a parser raises ``TypeError`` (a caller
bug: it is not exact); every other malformed result (missing key, wrong type) is ``InvalidResponse``.

The I/O half, the threaded ``requests`` client that sends the calls and hands the results to these parsers, is
``rest.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from kraken_runtime.core.kraken.errors import InvalidResponse

__all__ = [
    "decode_json",
    "ServerTime",
    "SystemStatus",
    "FeeTier",
    "AssetPair",
    "TickerInfo",
    "DepthLevel",
    "Depth",
    "PublicTrade",
    "Trades",
    "WebSocketsToken",
    "AddOrderResult",
    "CancelOrderResult",
    "CancelAllOrdersAfterResult",
    "OrderDescription",
    "OrderInfo",
    "ClosedOrders",
    "TradeInfo",
    "TradesHistory",
    "parse_server_time",
    "parse_system_status",
    "parse_asset_pairs",
    "parse_ticker",
    "parse_depth",
    "parse_trades",
    "parse_balance",
    "parse_websockets_token",
    "parse_add_order",
    "parse_cancel_order",
    "parse_cancel_all_orders_after",
    "parse_order_info",
    "parse_open_orders",
    "parse_closed_orders",
    "parse_query_orders",
    "parse_trade_info",
    "parse_trades_history",
]

# =========================================================================================================
# Decoding helpers
# =========================================================================================================


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


_decoder = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def decode_json(body: bytes | str) -> Any:
    """Parse a Kraken JSON body exactly: fractions become ``Decimal``, integers ``int``; raises ``ValueError``."""
    text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
    value, end = _decoder.raw_decode(text.lstrip())
    if text.lstrip()[end:].strip():
        raise ValueError("trailing data after JSON value")
    return value


def _dec(value: Any, what: str = "number") -> Decimal:
    """An exact Decimal from Kraken's string or JSON-number value. Floats are refused: they are not exact."""
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected a number, got bool")
    if isinstance(value, float):
        raise TypeError(f"{what}: float in a Kraken payload; decode with parse_float=Decimal")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{what}: not a decimal number: {value!r}") from None
        if not result.is_finite():
            raise ValueError(f"{what}: not a finite number: {value!r}")
        return result
    raise TypeError(f"{what}: expected a number or numeric string, got {type(value).__name__}")


def _opt_dec(value: Any, what: str) -> Decimal | None:
    return None if value is None or value == "" else _dec(value, what)


def _int(value: Any, what: str = "integer") -> int:
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected an integer, got bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise TypeError(f"{what}: expected an integer, got {value!r}")


def _ns(value: Any, what: str = "time") -> int:
    """Epoch seconds (``1688666559.8974``, ``"1705259439.563000"``, ``0``) to integer nanoseconds, exactly."""
    return int(_dec(value, what).scaleb(9).to_integral_value(rounding="ROUND_FLOOR"))


def _opt_ns(value: Any, what: str) -> int | None:
    return None if value is None or value == "" else _ns(value, what)


def _obj(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidResponse(f"{what}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise InvalidResponse(f"{what}: expected an array, got {type(value).__name__}")
    return value


def _shape(parse: Callable[..., Any]) -> Callable[..., Any]:
    """Report malformed results (missing key, wrong type) as ``InvalidResponse`` — except floats (a caller bug)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return parse(*args, **kwargs)
        except InvalidResponse:
            raise
        except TypeError as exc:
            if "float in a Kraken payload" in str(exc):
                raise
            raise InvalidResponse(f"{parse.__name__}: {exc}") from None
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise InvalidResponse(f"{parse.__name__}: {type(exc).__name__}: {exc}") from None

    wrapper.__name__ = parse.__name__
    wrapper.__qualname__ = parse.__qualname__
    wrapper.__doc__ = parse.__doc__
    return wrapper


# =========================================================================================================
# Typed results
# =========================================================================================================


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerTime:
    unixtime: int
    rfc1123: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemStatus:
    status: str  # online | maintenance | cancel_only | post_only
    timestamp: str  # RFC 3339, as sent


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeTier:
    volume_usd: Decimal  # 30-day volume threshold (in fee_volume_currency)
    percent: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetPair:
    name: str  # the result key, e.g. XXBTZUSD
    altname: str
    wsname: str | None  # the v1 name (XBT/USD); WS v2 uses BTC/USD
    base: str
    quote: str
    aclass_base: str
    aclass_quote: str
    pair_decimals: int
    cost_decimals: int
    lot_decimals: int
    lot_multiplier: int
    tick_size: Decimal  # from tick_size, or 10**-pair_decimals when absent
    ordermin: Decimal | None
    costmin: Decimal | None
    fees: tuple[FeeTier, ...]
    fees_maker: tuple[FeeTier, ...]
    fee_volume_currency: str | None
    status: str  # online | cancel_only | post_only | limit_only | reduce_only
    leverage_buy: tuple[int, ...]
    leverage_sell: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TickerInfo:
    pair: str
    ask: Decimal
    ask_whole_lot_volume: Decimal
    ask_lot_volume: Decimal
    bid: Decimal
    bid_whole_lot_volume: Decimal
    bid_lot_volume: Decimal
    last_price: Decimal
    last_volume: Decimal
    volume_today: Decimal
    volume_24h: Decimal
    vwap_today: Decimal
    vwap_24h: Decimal
    trades_today: int
    trades_24h: int
    low_today: Decimal
    low_24h: Decimal
    high_today: Decimal
    high_24h: Decimal
    open_today: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class DepthLevel:
    price: Decimal
    volume: Decimal
    timestamp_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Depth:
    pair: str
    asks: tuple[DepthLevel, ...]  # best (lowest) first, as sent
    bids: tuple[DepthLevel, ...]  # best (highest) first, as sent


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicTrade:
    price: Decimal
    volume: Decimal
    time_ns: int
    side: str  # b | s
    ordertype: str  # l | m
    misc: str
    trade_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Trades:
    pair: str
    trades: tuple[PublicTrade, ...]
    last: str  # cursor for the next `since`


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSocketsToken:
    token: str = field(repr=False)  # a credential: kept out of reprs and logs
    expires_s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderDescription:
    pair: str | None
    type: str | None  # buy | sell
    ordertype: str | None
    price: str | None  # text: may be relative ("+50.0000%")
    price2: str | None
    leverage: str | None
    order: str  # the human-readable description
    close: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderInfo:
    txid: str
    status: str  # pending | open | closed | canceled | expired
    refid: str | None
    userref: int | None
    cl_ord_id: str | None
    link_id: str | None
    open_time_ns: int
    start_time_ns: int | None
    expire_time_ns: int | None
    close_time_ns: int | None
    descr: OrderDescription
    vol: Decimal
    vol_exec: Decimal
    cost: Decimal
    fee: Decimal
    avg_price: Decimal
    stopprice: Decimal | None
    limitprice: Decimal | None
    trigger: str | None
    misc: str
    oflags: tuple[str, ...]
    reason: str | None
    trades: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosedOrders:
    orders: tuple[OrderInfo, ...]
    count: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AddOrderResult:
    txids: tuple[str, ...]  # empty when validate=True
    description: str
    close_description: str | None
    cl_ord_id: str | None
    validated_only: bool
    resolved_by_lookup: bool  # True: the reply was lost and the order was found by cl_ord_id
    order: OrderInfo | None  # the order as found by the lookup


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrderResult:
    count: int
    pending: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAllOrdersAfterResult:
    current_time: str
    trigger_time: str  # "0" / epoch start when disabled


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeInfo:
    txid: str
    ordertxid: str
    postxid: str | None
    pair: str
    time_ns: int
    type: str  # buy | sell
    ordertype: str
    price: Decimal
    cost: Decimal
    fee: Decimal
    vol: Decimal
    margin: Decimal | None
    misc: str
    trade_id: int | None
    maker: bool | None
    ledgers: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TradesHistory:
    trades: tuple[TradeInfo, ...]
    count: int


# =========================================================================================================
# Parsers (pure; input is the decoded `result` object)
# =========================================================================================================


@_shape
def parse_server_time(result: Any) -> ServerTime:
    result = _obj(result, "Time")
    return ServerTime(unixtime=_int(result["unixtime"], "unixtime"), rfc1123=str(result["rfc1123"]))


@_shape
def parse_system_status(result: Any) -> SystemStatus:
    result = _obj(result, "SystemStatus")
    return SystemStatus(status=str(result["status"]), timestamp=str(result["timestamp"]))


def _fee_tiers(value: Any, what: str) -> tuple[FeeTier, ...]:
    if value is None:
        return ()
    return tuple(FeeTier(volume_usd=_dec(v, what), percent=_dec(p, what)) for v, p in _list(value, what))


@_shape
def parse_asset_pairs(result: Any) -> dict[str, AssetPair]:
    pairs: dict[str, AssetPair] = {}
    for name, raw in _obj(result, "AssetPairs").items():
        raw = _obj(raw, name)
        pair_decimals = _int(raw["pair_decimals"], "pair_decimals")
        tick = raw.get("tick_size")
        pairs[name] = AssetPair(
            name=name,
            altname=str(raw["altname"]),
            wsname=raw.get("wsname"),
            base=str(raw["base"]),
            quote=str(raw["quote"]),
            aclass_base=str(raw.get("aclass_base", "currency")),
            aclass_quote=str(raw.get("aclass_quote", "currency")),
            pair_decimals=pair_decimals,
            cost_decimals=_int(raw.get("cost_decimals", 0), "cost_decimals"),
            lot_decimals=_int(raw["lot_decimals"], "lot_decimals"),
            lot_multiplier=_int(raw.get("lot_multiplier", 1), "lot_multiplier"),
            tick_size=_dec(tick, "tick_size") if tick not in (None, "") else Decimal(1).scaleb(-pair_decimals),
            ordermin=_opt_dec(raw.get("ordermin"), "ordermin"),
            costmin=_opt_dec(raw.get("costmin"), "costmin"),
            fees=_fee_tiers(raw.get("fees"), "fees"),
            fees_maker=_fee_tiers(raw.get("fees_maker"), "fees_maker"),
            fee_volume_currency=raw.get("fee_volume_currency"),
            status=str(raw.get("status", "online")),
            leverage_buy=tuple(_int(x, "leverage_buy") for x in raw.get("leverage_buy", ())),
            leverage_sell=tuple(_int(x, "leverage_sell") for x in raw.get("leverage_sell", ())),
        )
    return pairs


@_shape
def parse_ticker(result: Any) -> dict[str, TickerInfo]:
    tickers: dict[str, TickerInfo] = {}
    for pair, raw in _obj(result, "Ticker").items():
        raw = _obj(raw, pair)
        a, b, c, v, p, t, lo, hi = (_list(raw[k], k) for k in ("a", "b", "c", "v", "p", "t", "l", "h"))
        tickers[pair] = TickerInfo(
            pair=pair,
            ask=_dec(a[0], "a"),
            ask_whole_lot_volume=_dec(a[1], "a"),
            ask_lot_volume=_dec(a[2], "a"),
            bid=_dec(b[0], "b"),
            bid_whole_lot_volume=_dec(b[1], "b"),
            bid_lot_volume=_dec(b[2], "b"),
            last_price=_dec(c[0], "c"),
            last_volume=_dec(c[1], "c"),
            volume_today=_dec(v[0], "v"),
            volume_24h=_dec(v[1], "v"),
            vwap_today=_dec(p[0], "p"),
            vwap_24h=_dec(p[1], "p"),
            trades_today=_int(t[0], "t"),
            trades_24h=_int(t[1], "t"),
            low_today=_dec(lo[0], "l"),
            low_24h=_dec(lo[1], "l"),
            high_today=_dec(hi[0], "h"),
            high_24h=_dec(hi[1], "h"),
            open_today=_dec(raw["o"], "o"),
        )
    return tickers


def _single_pair(result: Any, what: str) -> tuple[str, Any]:
    entries = [(k, v) for k, v in _obj(result, what).items() if k != "last"]
    if len(entries) != 1:
        raise InvalidResponse(f"{what}: expected one pair in the result, got {len(entries)}")
    return entries[0]


def _depth_side(levels: Any, what: str) -> tuple[DepthLevel, ...]:
    return tuple(
        DepthLevel(price=_dec(lv[0], what), volume=_dec(lv[1], what), timestamp_ns=_ns(lv[2], what))
        for lv in _list(levels, what)
    )


@_shape
def parse_depth(result: Any) -> Depth:
    pair, raw = _single_pair(result, "Depth")
    raw = _obj(raw, pair)
    return Depth(pair=pair, asks=_depth_side(raw["asks"], "asks"), bids=_depth_side(raw["bids"], "bids"))


@_shape
def parse_trades(result: Any) -> Trades:
    pair, raw = _single_pair(result, "Trades")
    trades = tuple(
        PublicTrade(
            price=_dec(row[0], "price"),
            volume=_dec(row[1], "volume"),
            time_ns=_ns(row[2], "time"),
            side=str(row[3]),
            ordertype=str(row[4]),
            misc=str(row[5]),
            trade_id=_int(row[6], "trade_id") if len(row) > 6 and row[6] is not None else None,
        )
        for row in _list(raw, pair)
    )
    return Trades(pair=pair, trades=trades, last=str(_obj(result, "Trades").get("last", "")))


@_shape
def parse_balance(result: Any) -> dict[str, Decimal]:
    return {asset: _dec(amount, asset) for asset, amount in _obj(result, "Balance").items()}


@_shape
def parse_websockets_token(result: Any) -> WebSocketsToken:
    result = _obj(result, "GetWebSocketsToken")
    return WebSocketsToken(token=str(result["token"]), expires_s=_int(result["expires"], "expires"))


@_shape
def parse_add_order(result: Any, *, cl_ord_id: str | None = None, validated_only: bool = False) -> AddOrderResult:
    result = _obj(result, "AddOrder")
    descr = _obj(result.get("descr", {}), "descr")
    txids = tuple(str(t) for t in _list(result.get("txid", []), "txid"))
    if not txids and not validated_only:
        raise InvalidResponse("AddOrder: no txid in a non-validate response")
    return AddOrderResult(
        txids=txids,
        description=str(descr.get("order", "")),
        close_description=descr.get("close") or None,
        cl_ord_id=cl_ord_id,
        validated_only=validated_only,
        resolved_by_lookup=False,
        order=None,
    )


@_shape
def parse_cancel_order(result: Any) -> CancelOrderResult:
    result = _obj(result, "CancelOrder")
    pending = result.get("pending", False)
    return CancelOrderResult(count=_int(result["count"], "count"), pending=bool(pending))


@_shape
def parse_cancel_all_orders_after(result: Any) -> CancelAllOrdersAfterResult:
    result = _obj(result, "CancelAllOrdersAfter")
    return CancelAllOrdersAfterResult(current_time=str(result["currentTime"]), trigger_time=str(result["triggerTime"]))


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@_shape
def parse_order_info(txid: str, raw: Any) -> OrderInfo:
    raw = _obj(raw, txid)
    descr = _obj(raw.get("descr", {}), "descr")
    userref = raw.get("userref")
    oflags = str(raw.get("oflags", "") or "")
    close_time = raw.get("closetm")
    return OrderInfo(
        txid=txid,
        status=str(raw["status"]),
        refid=_opt_str(raw.get("refid")),
        userref=None if userref in (None, "") else _int(userref, "userref"),
        cl_ord_id=_opt_str(raw.get("cl_ord_id")),
        link_id=_opt_str(raw.get("link_id")),
        open_time_ns=_ns(raw["opentm"], "opentm"),
        start_time_ns=_opt_ns(raw.get("starttm"), "starttm") or None,
        expire_time_ns=_opt_ns(raw.get("expiretm"), "expiretm") or None,
        close_time_ns=_opt_ns(close_time, "closetm"),
        descr=OrderDescription(
            pair=_opt_str(descr.get("pair")),
            type=_opt_str(descr.get("type")),
            ordertype=_opt_str(descr.get("ordertype")),
            price=_opt_str(descr.get("price")),
            price2=_opt_str(descr.get("price2")),
            leverage=_opt_str(descr.get("leverage")),
            order=str(descr.get("order", "")),
            close=descr.get("close") or None,
        ),
        vol=_dec(raw["vol"], "vol"),
        vol_exec=_dec(raw["vol_exec"], "vol_exec"),
        cost=_dec(raw["cost"], "cost"),
        fee=_dec(raw["fee"], "fee"),
        avg_price=_dec(raw["price"], "price"),
        stopprice=_opt_dec(raw.get("stopprice"), "stopprice"),
        limitprice=_opt_dec(raw.get("limitprice"), "limitprice"),
        trigger=_opt_str(raw.get("trigger")),
        misc=str(raw.get("misc", "") or ""),
        oflags=tuple(flag for flag in oflags.split(",") if flag),
        reason=_opt_str(raw.get("reason")),
        trades=tuple(str(t) for t in raw.get("trades", ()) or ()),
    )


def _orders(raw: Any, what: str) -> tuple[OrderInfo, ...]:
    return tuple(parse_order_info(txid, order) for txid, order in _obj(raw, what).items())


@_shape
def parse_open_orders(result: Any) -> tuple[OrderInfo, ...]:
    return _orders(_obj(result, "OpenOrders").get("open", {}), "open")


@_shape
def parse_closed_orders(result: Any) -> ClosedOrders:
    result = _obj(result, "ClosedOrders")
    count = result.get("count")
    return ClosedOrders(
        orders=_orders(result.get("closed", {}), "closed"), count=None if count is None else _int(count, "count")
    )


@_shape
def parse_query_orders(result: Any) -> tuple[OrderInfo, ...]:
    return _orders(result, "QueryOrders")


@_shape
def parse_trade_info(txid: str, raw: Any) -> TradeInfo:
    raw = _obj(raw, txid)
    maker = raw.get("maker")
    trade_id = raw.get("trade_id")
    return TradeInfo(
        txid=txid,
        ordertxid=str(raw["ordertxid"]),
        postxid=_opt_str(raw.get("postxid")),
        pair=str(raw["pair"]),
        time_ns=_ns(raw["time"], "time"),
        type=str(raw["type"]),
        ordertype=str(raw["ordertype"]),
        price=_dec(raw["price"], "price"),
        cost=_dec(raw["cost"], "cost"),
        fee=_dec(raw["fee"], "fee"),
        vol=_dec(raw["vol"], "vol"),
        margin=_opt_dec(raw.get("margin"), "margin"),
        misc=str(raw.get("misc", "") or ""),
        trade_id=None if trade_id is None else _int(trade_id, "trade_id"),
        maker=None if maker is None else bool(maker),
        ledgers=tuple(str(x) for x in raw.get("ledgers", ()) or ()),
    )


@_shape
def parse_trades_history(result: Any) -> TradesHistory:
    result = _obj(result, "TradesHistory")
    trades = tuple(parse_trade_info(txid, raw) for txid, raw in _obj(result.get("trades", {}), "trades").items())
    count = result.get("count")
    return TradesHistory(trades=trades, count=len(trades) if count is None else _int(count, "count"))
