"""Kraken WebSocket v2 codec: frames in, typed messages out; typed requests in, JSON text out.

- ``decode(frame: str | bytes) -> message``: every frame Kraken sends (PROTOCOL.md sections 1, 3, 4),
  dispatched on ``channel`` (data) or ``method`` (replies). ``book`` and ``level3`` data frames go to
  ``core.kraken.book.decode_book`` and ``core.kraken.l3book.decode_level3``. Anything malformed or unknown
  (non-JSON, JSON that is not an object, unknown channel or method, a missing field, a field of the wrong
  type, an out-of-range enum value) raises ``wire.DecodeError`` whose ``reason`` names the channel or
  method, the field and what was expected, e.g. ``"executions data[0]: 'order_qty' expected a number,
  got str"``. No other exception type escapes.
- ``decode_message(obj: dict)``: the same for a frame already parsed by ``wire.loads``.
- ``encode(request) -> str``: one JSON text per request. Decimals are written as exact JSON numbers from
  their own digits (``Decimal("0.00010000")`` -> ``0.00010000``), never through float and never with an
  exponent. Requests validate themselves when built (``messages``), so ``encode`` only writes.
- ``decode_request(frame) -> Request``: the inverse of ``encode``, for the local Kraken-compatible
  exchange: unknown methods or params and invalid orders raise ``DecodeError`` (``"Unsupported field:
  'leverage'"``, mirroring Kraken's wording where Kraken has one).
- ``encode_message(message) -> str`` / ``message_frame(message) -> dict``: Kraken's side, for the local
  exchange: an inbound message back into Kraken's frame shape, so ``decode(encode_message(x)) == x``.
  ``ns_to_rfc3339(ns, digits=6)`` writes Kraken-style timestamps.
- ``rfc3339_to_ns(text) -> int``: exact nanoseconds since the epoch for Kraken's RFC 3339 timestamps
  (microseconds on most channels, nanoseconds on level3 and ohlc).

Numbers: Kraken sends prices and sizes as JSON numbers; ``wire.loads`` turns them into exact Decimals. (Fast
paths, equal by test: trade, ticker, book and level3 frames in Kraken's layout are decoded from their text,
executions frames by msgspec with the same exact Decimals; whatever they decline takes the checked path.)
A decimal field also accepts a JSON string holding a plain decimal number, because Kraken's docs type some
of them as strings (``cost_min``); a boolean, object, array or non-numeric string is an error. Integer
fields (ids, counts, sequence, checksum, connection_id) accept only JSON integers, of any size.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import types
import typing
from dataclasses import fields
from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec

from kraken_runtime.core.kraken import messages as m
from kraken_runtime.core.kraken.book import _TEXT_DECIMALS, decode_book, decode_canonical_book_frame
from kraken_runtime.core.kraken.l3book import decode_canonical_level3_frame, decode_level3
from kraken_runtime.core.kraken.wire import DecodeError, excerpt_of, loads

__all__ = [
    "decode", "decode_message", "encode", "encode_params", "decode_request", "encode_message", "message_frame",
    "rfc3339_to_ns", "ns_to_rfc3339", "DecodeError",
]


class _Bad(Exception):
    """Internal: a decode failure; turned into DecodeError with the frame's excerpt at the top level."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------------------------------ timestamps

_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})?"
)
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()


def rfc3339_to_ns(text: str) -> int:
    """Nanoseconds since the Unix epoch, exactly. Raises ValueError for anything else.

    At most 9 fractional digits. A missing offset is read as UTC: Kraken's own batch_add example has a
    ``time_out`` without ``Z``.
    """
    if text.__class__ is str and _kraken_time(text):  # Kraken's own form: the seconds cached (~5x faster)
        try:
            return _time_ns(text)
        except ValueError:
            pass  # an impossible date: named below
    if not isinstance(text, str):
        raise ValueError(f"expected an RFC 3339 timestamp string, got {type(text).__name__}")
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"expected an RFC 3339 timestamp like 2023-09-25T07:49:37.708706Z, got {text[:40]!r}")
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    try:
        date = _dt.date(year, month, day)
    except ValueError as error:
        raise ValueError(f"invalid date in {text!r}: {error}") from None
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"invalid time of day in {text!r}")
    seconds = (date.toordinal() - _EPOCH_ORDINAL) * 86400 + hour * 3600 + minute * 60 + second
    if offset and offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        offset_hours, offset_minutes = int(offset[1:3]), int(offset[4:6])
        if offset_hours > 23 or offset_minutes > 59:
            raise ValueError(f"invalid UTC offset in {text!r}")
        seconds -= sign * (offset_hours * 3600 + offset_minutes * 60)
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return seconds * 1_000_000_000 + nanos


# ------------------------------------------------------------------------------------ field readers

_MISSING = object()
_DECIMAL_TEXT = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _get(obj: dict, key: str, where: str, required: bool) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING or (value is None and not required):
        if required:
            raise _Bad(f"{where}: '{key}' missing")
        return _MISSING
    return value


def _str(obj: dict, key: str, where: str, required: bool = True) -> Any:
    value = _get(obj, key, where, required)
    if value is _MISSING:
        return None
    if not isinstance(value, str):
        raise _Bad(f"{where}: '{key}' expected a string, got {_kind(value)}")
    return value


def _int(obj: dict, key: str, where: str, required: bool = True) -> Any:
    value = _get(obj, key, where, required)
    if value is _MISSING:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"{where}: '{key}' expected an integer, got {_kind(value)}")
    return value


def _bool(obj: dict, key: str, where: str, required: bool = True) -> Any:
    value = _get(obj, key, where, required)
    if value is _MISSING:
        return None
    if not isinstance(value, bool):
        raise _Bad(f"{where}: '{key}' expected a boolean, got {_kind(value)}")
    return value


def _to_decimal(value: Any, key: str, where: str) -> Decimal:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _Bad(f"{where}: '{key}' expected a finite number, got {value}")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and len(value) <= 64 and _DECIMAL_TEXT.fullmatch(value):
        return Decimal(value)
    if isinstance(value, str):
        raise _Bad(f"{where}: '{key}' expected a number, got the non-numeric string {value[:30]!r}")
    raise _Bad(f"{where}: '{key}' expected a number, got {_kind(value)}")


def _dec(obj: dict, key: str, where: str, required: bool = True) -> Any:
    value = _get(obj, key, where, required)
    if value is _MISSING:
        return None
    return _to_decimal(value, key, where)


def _time(obj: dict, key: str, where: str, required: bool = True) -> tuple[Any, Any]:
    text = _str(obj, key, where, required)
    if text is None:
        return None, None
    try:
        return text, rfc3339_to_ns(text)
    except ValueError as error:
        raise _Bad(f"{where}: '{key}' {error}") from None


def _enum(obj: dict, key: str, where: str, enum: type[StrEnum], required: bool = True,
          lower: bool = False) -> Any:
    text = _str(obj, key, where, required)
    if text is None:
        return None
    try:
        return enum(text.lower() if lower else text)
    except ValueError:
        allowed = "|".join(member.value for member in enum)
        raise _Bad(f"{where}: '{key}' expected one of {allowed}, got {text[:30]!r}") from None


def _list(obj: dict, key: str, where: str, required: bool = True) -> Any:
    value = _get(obj, key, where, required)
    if value is _MISSING:
        return None
    if not isinstance(value, list):
        raise _Bad(f"{where}: '{key}' expected an array, got {_kind(value)}")
    return value


def _dict(obj: dict, key: str, where: str, required: bool = True) -> Any:
    value = _get(obj, key, where, required)
    if value is _MISSING:
        return None
    if not isinstance(value, dict):
        raise _Bad(f"{where}: '{key}' expected an object, got {_kind(value)}")
    return value


def _items(obj: dict, key: str, where: str, required: bool = True) -> list[tuple[str, dict]]:
    """The objects of an array field, each with its own location for error reasons."""
    values = _list(obj, key, where, required)
    if values is None:
        return []
    items = []
    for index, item in enumerate(values):
        location = f"{where} {key}[{index}]"
        if not isinstance(item, dict):
            raise _Bad(f"{location}: expected an object, got {_kind(item)}")
        items.append((location, item))
    return items


def _texts(obj: dict, key: str, where: str) -> tuple[str, ...]:
    values = _list(obj, key, where, required=False)
    if values is None:
        return ()
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise _Bad(f"{where}: '{key}[{index}]' expected a string, got {_kind(value)}")
    return tuple(values)


# ------------------------------------------------------------------------ trade and ticker from the text

# Kraken's own trade and ticker layouts (key order as sent, no whitespace; PROTOCOL.md 1.6, 1.7): a frame that
# matches is decoded straight from its text, every number as ``Decimal`` of its own wire text (exact, trailing
# zeros kept), with no JSON parse. Each pattern spells out every value (plain decimal numbers, integers,
# timestamps, texts without quotes or escapes), so what matches is valid JSON whose checked decode gives an
# equal message (tests/core/kraken/test_codec_text_paths.py); anything else returns None and takes the
# checked path, which also names what is wrong. Repeats are possessive: what follows each one can never be
# matched by it, so the language is unchanged and the matcher keeps no backtracking state.
_T_TEXT = r'[^"\\\x00-\x1f]'
# A JSON number without exponent, as json.loads would read it into the same Decimal: a bare "-0" is left out
# (json reads it as the int 0, i.e. Decimal("0"), not Decimal("-0")).
_T_NUM = r"(?:-?(?:[1-9][0-9]*+(?:\.[0-9]++)?+|0\.[0-9]++)|0)"
_T_INT = r"(?:-?[1-9][0-9]*+|0)"
# Kraken's timestamps: UTC, 1-9 fractional digits. The calendar is checked when the second is first seen.
_T_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{1,9}Z"


def _trade_item(group: str) -> str:
    """One trade object; ``group`` opens each value's group: "(" to capture, "(?:" not to."""
    return (
        r'\{"symbol":"' + group + _T_TEXT + r'++)","side":"' + group + r'buy|sell)","price":' + group + _T_NUM
        + r'),"qty":' + group + _T_NUM + r'),"ord_type":"' + group + _T_TEXT + r'*+)","trade_id":' + group + _T_INT
        + r'),"timestamp":"' + group + _T_TIME + r')"\}'
    )


# The first trade's values captured, the other trades (a snapshot's or a batch's) as one text for findall.
_TRADE_FRAME = re.compile(
    r'\{"channel":"trade","type":"(update|snapshot)","data":\[' + _trade_item("(")
    + r"((?:," + _trade_item("(?:") + r")*+)\]\}"
)
_trade_items = re.compile(_trade_item("(")).findall
_TICKER_ITEM = (
    r'\{"symbol":"(' + _T_TEXT + r'++)","bid":(' + _T_NUM + r'),"bid_qty":(' + _T_NUM + r'),"ask":(' + _T_NUM
    + r'),"ask_qty":(' + _T_NUM + r'),"last":(' + _T_NUM + r'),"volume":(' + _T_NUM + r'),"vwap":(' + _T_NUM
    + r'),"low":(' + _T_NUM + r'),"high":(' + _T_NUM + r'),"change":(' + _T_NUM + r'),"change_pct":(' + _T_NUM
    + r')(?:,"timestamp":"(' + _T_TIME + r')")?+\}'
)
_TICKER_FRAME = re.compile(r'\{"channel":"ticker","type":"(update|snapshot)","data":\[' + _TICKER_ITEM + r"\]\}")
_TEXT_FRAMES = ('{"channel":"book","type":"', '{"channel":"level3","type":"', '{"channel":"trade","type":"',
                '{"channel":"ticker","type":"')
_FRAME_TYPES = {"update": m.FrameType.UPDATE, "snapshot": m.FrameType.SNAPSHOT}
_SIDES = {"buy": m.Side.BUY, "sell": m.Side.SELL}
_FRACTION_SCALE = tuple(10 ** (9 - digits) for digits in range(10))


class _SecondsNs(dict):
    """``"YYYY-MM-DDTHH:MM:SS"`` -> nanoseconds since the epoch at that second, bounded (cleared when full).
    A miss goes through ``rfc3339_to_ns``, so an impossible date raises ValueError there, as on the checked
    path; trades and tickers of one second share an entry."""

    __slots__ = ()

    def __missing__(self, second: str) -> int:
        value = rfc3339_to_ns(second + "Z")
        if len(self) >= 4096:
            self.clear()
        self[second] = value
        return value


_SECONDS_NS = _SecondsNs()


_kraken_time = re.compile(_T_TIME).fullmatch


def _time_ns(text: str) -> int:
    """Nanoseconds of a timestamp matched by ``_T_TIME`` (raises ValueError for an impossible date)."""
    fraction = text[20:-1]
    return _SECONDS_NS[text[:19]] + int(fraction) * _FRACTION_SCALE[len(fraction)]


def _slots_twin(cls: type) -> type:
    """A plain class with exactly the slots of the frozen slotted dataclass ``cls`` (same names, same order,
    same base), so that an instance filled by ordinary attribute stores becomes a ``cls`` by ``__class__``
    assignment, which Python allows between classes of identical layout (and refuses with TypeError
    otherwise: the builders below make one instance when created, so a layout change fails at import)."""
    names = tuple(getattr(cls, "__dataclass_fields__"))
    if cls.__bases__ != (object,) or getattr(cls, "__slots__", None) != names:
        raise TypeError(f"{cls.__name__}: not a slotted dataclass of its own fields")
    return type(f"_{cls.__name__}Slots", (), {"__slots__": names})


def _generated_builder(cls: type, params: str, checks: list[str], values: tuple[str, ...],
                       namespace: dict[str, Any]) -> Any:
    """``build(params)``: runs ``checks``, then builds ``cls`` with its fields set to ``values`` (expressions,
    in field order) through its slots twin: plain attribute stores (specialised slot stores in CPython
    3.11+, ~10 ns each), then ``__class__`` assignment. No keyword ``__init__``, no ``object.__setattr__``
    and no slot-descriptor call per field (about 8x cheaper than descriptor calls for Execution's 56 fields).
    Only for values the caller (or ``checks``) has validated; the instance is indistinguishable from one
    built by ``__init__`` (type, equality, hash, repr, frozenness). Generated, as dataclasses generates
    ``__init__``."""
    names = tuple(getattr(cls, "__dataclass_fields__"))
    namespace.update({"_new": object.__new__, "_T": _slots_twin(cls), "_C": cls})
    lines = [f"def build({params}, *, _new=_new, _T=_T, _C=_C):"]  # locals, not globals
    lines.extend(f"    {check}" for check in checks)
    lines.append("    _obj = _new(_T)")
    lines.extend(f"    _obj.{name} = {value}" for name, value in zip(names, values))
    lines.append("    _obj.__class__ = _C")
    lines.append("    return _obj")
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from the dataclass's own field names
    return namespace["build"]


def _slots_builder(cls: type) -> Any:
    """A function building the frozen slotted dataclass ``cls`` from its fields' values in declaration order
    (see ``_generated_builder``)."""
    values = tuple(f"v{index}" for index in range(len(getattr(cls, "__dataclass_fields__"))))
    build = _generated_builder(cls, ", ".join(values), [], values, {})
    if type(build(*([None] * len(values)))) is not cls:  # the layout check: TypeError above, or this
        raise TypeError(f"{cls.__name__}: the slots builder made the wrong type")
    return build


_build_trade = _slots_builder(m.Trade)
_build_trade_message = _slots_builder(m.TradeMessage)
_build_ticker = _slots_builder(m.Ticker)
_build_ticker_message = _slots_builder(m.TickerMessage)
_build_execution = _slots_builder(m.Execution)
_build_fee = _slots_builder(m.Fee)
_build_executions_message = _slots_builder(m.ExecutionsMessage)


def _trade(groups: tuple[str, ...], decimals: Any) -> m.Trade:
    symbol, side, price, qty, ord_type, trade_id, timestamp = groups
    return _build_trade(symbol, _SIDES[side], decimals[price], Decimal(qty), ord_type, int(trade_id), timestamp,
                        _time_ns(timestamp))


def decode_trade_text(frame: str) -> m.TradeMessage | None:
    """A ``trade`` frame in Kraken's own layout, decoded from its text; None for any other frame (or an
    impossible date), which the checked path then decodes or names."""
    match = _TRADE_FRAME.fullmatch(frame)
    if match is None:
        return None
    kind, symbol, side, price, qty, ord_type, trade_id, timestamp, others = match.groups()
    fraction = timestamp[20:-1]
    try:
        trade = _build_trade(symbol, _SIDES[side], _TEXT_DECIMALS[price], Decimal(qty), ord_type, int(trade_id),
                             timestamp, _SECONDS_NS[timestamp[:19]] + int(fraction) * _FRACTION_SCALE[len(fraction)])
        if not others:
            return _build_trade_message(_FRAME_TYPES[kind], (trade,))
        trades = [trade]
        trades.extend([_trade(item, _TEXT_DECIMALS) for item in _trade_items(others)])
    except ValueError:  # an impossible date: the checked path names it
        return None
    return _build_trade_message(_FRAME_TYPES[kind], tuple(trades))


def decode_ticker_text(frame: str) -> m.TickerMessage | None:
    """A ``ticker`` frame in Kraken's own layout (one symbol), decoded from its text; None for any other frame
    (or an impossible date), which the checked path then decodes or names."""
    match = _TICKER_FRAME.fullmatch(frame)
    if match is None:
        return None
    (kind, symbol, bid, bid_qty, ask, ask_qty, last, volume, vwap, low, high, change, change_pct,
     timestamp) = match.groups()
    decimals = _TEXT_DECIMALS
    try:
        timestamp_ns = None if timestamp is None else _time_ns(timestamp)
    except ValueError:
        return None
    ticker = _build_ticker(symbol, decimals[bid], Decimal(bid_qty), decimals[ask], Decimal(ask_qty), decimals[last],
                           Decimal(volume), decimals[vwap], decimals[low], decimals[high], decimals[change],
                           decimals[change_pct], timestamp, timestamp_ns)
    return _build_ticker_message(_FRAME_TYPES[kind], (ticker,))


# ------------------------------------------------------------------------------------ channel data


def _frame_type(obj: dict, channel: str) -> m.FrameType:
    return _enum(obj, "type", channel, m.FrameType)


def _decode_heartbeat(obj: dict) -> m.HeartbeatMessage:
    return m.HeartbeatMessage()


def _decode_status(obj: dict) -> m.Status:
    frame_type = _frame_type(obj, "status")
    entries = _items(obj, "data", "status")
    if len(entries) != 1:
        raise _Bad(f"status: 'data' expected exactly one entry, got {len(entries)}")
    where, entry = entries[0]
    connection_id = _int(entry, "connection_id", where)
    if connection_id < 0:
        raise _Bad(f"{where}: 'connection_id' expected an unsigned integer, got {connection_id}")
    return m.Status(
        type=frame_type,
        system=_enum(entry, "system", where, m.SystemState),
        api_version=_str(entry, "api_version", where),
        connection_id=connection_id,
        version=_str(entry, "version", where),
    )


_TICKER_NUMBERS = ("bid", "bid_qty", "ask", "ask_qty", "last", "volume", "vwap", "low", "high", "change",
                   "change_pct")


def _decode_ticker(obj: dict) -> m.TickerMessage:
    frame_type = _frame_type(obj, "ticker")
    tickers = []
    for where, entry in _items(obj, "data", "ticker"):
        timestamp, timestamp_ns = _time(entry, "timestamp", where, required=False)
        numbers = {name: _dec(entry, name, where) for name in _TICKER_NUMBERS}
        tickers.append(m.Ticker(symbol=_str(entry, "symbol", where), timestamp=timestamp,
                                timestamp_ns=timestamp_ns, **numbers))
    return m.TickerMessage(type=frame_type, tickers=tuple(tickers))


def _decode_trade(obj: dict) -> m.TradeMessage:
    frame_type = _frame_type(obj, "trade")
    trades = []
    for where, entry in _items(obj, "data", "trade"):
        timestamp, timestamp_ns = _time(entry, "timestamp", where)
        trades.append(m.Trade(
            symbol=_str(entry, "symbol", where),
            side=_enum(entry, "side", where, m.Side),
            price=_dec(entry, "price", where),
            qty=_dec(entry, "qty", where),
            ord_type=_str(entry, "ord_type", where),
            trade_id=_int(entry, "trade_id", where),
            timestamp=timestamp,
            timestamp_ns=timestamp_ns,
        ))
    return m.TradeMessage(type=frame_type, trades=tuple(trades))


def _decode_ohlc(obj: dict) -> m.OhlcMessage:
    frame_type = _frame_type(obj, "ohlc")
    timestamp, timestamp_ns = _time(obj, "timestamp", "ohlc", required=False)
    candles = []
    for where, entry in _items(obj, "data", "ohlc"):
        interval_begin, interval_begin_ns = _time(entry, "interval_begin", where)
        candle_time, candle_time_ns = _time(entry, "timestamp", where, required=False)
        candles.append(m.Candle(
            symbol=_str(entry, "symbol", where),
            open=_dec(entry, "open", where),
            high=_dec(entry, "high", where),
            low=_dec(entry, "low", where),
            close=_dec(entry, "close", where),
            vwap=_dec(entry, "vwap", where),
            trades=_int(entry, "trades", where),
            volume=_dec(entry, "volume", where),
            interval_begin=interval_begin,
            interval_begin_ns=interval_begin_ns,
            interval=_int(entry, "interval", where),
            timestamp=candle_time,
            timestamp_ns=candle_time_ns,
        ))
    return m.OhlcMessage(type=frame_type, candles=tuple(candles), timestamp=timestamp, timestamp_ns=timestamp_ns)


def _decode_instrument(obj: dict) -> m.InstrumentMessage:
    frame_type = _frame_type(obj, "instrument")
    data = _dict(obj, "data", "instrument")
    where_data = "instrument data"
    assets = []
    for where, entry in _items(data, "assets", where_data, required=False):
        assets.append(m.InstrumentAsset(
            id=_str(entry, "id", where),
            status=_str(entry, "status", where),
            precision=_int(entry, "precision", where),
            precision_display=_int(entry, "precision_display", where),
            borrowable=_bool(entry, "borrowable", where, False),
            collateral_value=_dec(entry, "collateral_value", where, False),
            margin_rate=_dec(entry, "margin_rate", where, False),
            multiplier=_dec(entry, "multiplier", where, False),
        ))
    pairs = []
    for where, entry in _items(data, "pairs", where_data, required=False):
        pairs.append(m.InstrumentPair(
            symbol=_str(entry, "symbol", where),
            base=_str(entry, "base", where),
            quote=_str(entry, "quote", where),
            status=_str(entry, "status", where),
            price_precision=_int(entry, "price_precision", where),
            qty_precision=_int(entry, "qty_precision", where),
            price_increment=_dec(entry, "price_increment", where),
            qty_increment=_dec(entry, "qty_increment", where),
            qty_min=_dec(entry, "qty_min", where),
            cost_precision=_int(entry, "cost_precision", where, False),
            cost_min=_dec(entry, "cost_min", where, False),
            marginable=_bool(entry, "marginable", where, False),
            has_index=_bool(entry, "has_index", where, False),
            margin_initial=_dec(entry, "margin_initial", where, False),
            position_limit_long=_int(entry, "position_limit_long", where, False),
            position_limit_short=_int(entry, "position_limit_short", where, False),
            tick_size=_dec(entry, "tick_size", where, False),
        ))
    for pair in pairs:
        if pair.price_precision < 0 or pair.qty_precision < 0:
            raise _Bad(f"instrument data pairs {pair.symbol}: precisions must be >= 0")
    return m.InstrumentMessage(type=frame_type, assets=tuple(assets), pairs=tuple(pairs))


_EXECUTION_TEXTS = ("cl_ord_id", "limit_price_type", "fee_ccy_pref", "reason", "position_status", "ord_ref_id",
                    "sender_sub_id", "ext_ord_id", "ext_exec_id", "user", "cancel_reason", "trigger", "exec_id",
                    "symbol")
_EXECUTION_DECIMALS = ("order_qty", "cash_order_qty", "limit_price", "display_qty", "display_qty_remain",
                       "cum_qty", "cum_cost", "avg_price", "last_qty", "last_price", "cost", "fee_usd_equiv",
                       "stop_price", "triggered_price")
_EXECUTION_BOOLS = ("post_only", "reduce_only", "margin", "margin_borrow", "no_mpp", "amended", "liquidated")
_EXECUTION_INTS = ("order_userref", "trade_id", "ratecount")


def _execution_triggers(triggers: dict, where: str) -> m.ExecutionTriggers:
    trigger_time, trigger_time_ns = _time(triggers, "timestamp", where, False)
    return m.ExecutionTriggers(
        reference=_str(triggers, "reference", where, False),
        price=_dec(triggers, "price", where, False),
        price_type=_str(triggers, "price_type", where, False),
        actual_price=_dec(triggers, "actual_price", where, False),
        peak_price=_dec(triggers, "peak_price", where, False),
        last_price=_dec(triggers, "last_price", where, False),
        status=_str(triggers, "status", where, False),
        timestamp=trigger_time,
        timestamp_ns=trigger_time_ns,
    )


def _execution_contingent(contingent: dict, where: str) -> m.Contingent:
    return m.Contingent(
        order_type=_str(contingent, "order_type", where, False),
        trigger_price=_dec(contingent, "trigger_price", where, False),
        trigger_price_type=_str(contingent, "trigger_price_type", where, False),
        limit_price=_dec(contingent, "limit_price", where, False),
        limit_price_type=_str(contingent, "limit_price_type", where, False),
    )


def _decode_execution(where: str, entry: dict) -> m.Execution:
    values: dict[str, Any] = {}
    for name in _EXECUTION_TEXTS:
        values[name] = _str(entry, name, where, False)
    for name in _EXECUTION_DECIMALS:
        values[name] = _dec(entry, name, where, False)
    for name in _EXECUTION_BOOLS:
        values[name] = _bool(entry, name, where, False)
    for name in _EXECUTION_INTS:
        values[name] = _int(entry, name, where, False)
    for name in ("timestamp", "effective_time", "expire_time"):
        values[name], values[f"{name}_ns"] = _time(entry, name, where, False)
    fees = []
    for fee_where, fee in _items(entry, "fees", where, required=False):
        fees.append(m.Fee(asset=_str(fee, "asset", fee_where), qty=_dec(fee, "qty", fee_where)))
    triggers = _dict(entry, "triggers", where, False)
    if triggers is not None:
        values["triggers"] = _execution_triggers(triggers, f"{where} triggers")
    contingent = _dict(entry, "contingent", where, False)
    if contingent is not None:
        values["contingent"] = _execution_contingent(contingent, f"{where} contingent")
    return m.Execution(
        order_id=_str(entry, "order_id", where),
        exec_type=_enum(entry, "exec_type", where, m.ExecType),
        order_status=_enum(entry, "order_status", where, m.OrderStatus, False),
        side=_enum(entry, "side", where, m.Side, False),
        order_type=_enum(entry, "order_type", where, m.OrderType, False),
        time_in_force=_enum(entry, "time_in_force", where, m.TimeInForce, False, lower=True),
        liquidity_ind=_enum(entry, "liquidity_ind", where, m.LiquidityIndicator, False),
        fees=tuple(fees),
        **values,
    )


def _decode_executions(obj: dict) -> m.ExecutionsMessage:
    frame_type = _frame_type(obj, "executions")
    executions = tuple(_decode_execution(where, entry) for where, entry in _items(obj, "data", "executions"))
    return m.ExecutionsMessage(type=frame_type, sequence=_int(obj, "sequence", "executions", False),
                               executions=executions)


# The executions fast path: one pass over the keys an entry has (a dozen or so, of Execution's 56 fields)
# instead of a checked lookup per field, the Execution built through its slot descriptors. Anything it does
# not take as it is (a missing or mistyped field, a decimal sent as a string, an unknown enum value,
# triggers, contingent) sends the entry to the checked decoder above, which builds the equal message or
# names what is wrong. tests/core/kraken/test_codec_text_paths.py compares the two.
_K_STR, _K_DEC, _K_BOOL, _K_INT, _K_TIME, _K_ENUM, _K_FEES, _K_CHECKED = range(8)


def _execution_specs() -> tuple[dict[str, tuple[int, int, Any]], tuple[Any, ...]]:
    names = tuple(f.name for f in fields(m.Execution))
    index = {name: position for position, name in enumerate(names)}
    specs: dict[str, tuple[int, int, Any]] = {}
    for group, kind in ((_EXECUTION_TEXTS, _K_STR), (_EXECUTION_DECIMALS, _K_DEC), (_EXECUTION_BOOLS, _K_BOOL),
                        (_EXECUTION_INTS, _K_INT), (("timestamp", "effective_time", "expire_time"), _K_TIME)):
        for name in group:
            specs[name] = (index[name], kind, None)
    for name, enum in (("exec_type", m.ExecType), ("order_status", m.OrderStatus), ("side", m.Side),
                       ("order_type", m.OrderType), ("time_in_force", m.TimeInForce),
                       ("liquidity_ind", m.LiquidityIndicator)):
        specs[name] = (index[name], _K_ENUM, {member.value: member for member in enum})
    specs["order_id"] = (index["order_id"], _K_STR, None)
    specs["fees"] = (index["fees"], _K_FEES, None)
    for name in ("triggers", "contingent"):  # objects of their own: the checked decoder builds them
        specs[name] = (index[name], _K_CHECKED, None)
    defaults = tuple(f.default for f in fields(m.Execution))  # dataclasses.MISSING for order_id, exec_type
    return specs, defaults


_EXECUTION_SPECS, _EXECUTION_DEFAULTS = _execution_specs()
_NO_DEFAULT = _EXECUTION_DEFAULTS[0]
_TIME_IN_FORCE = _EXECUTION_SPECS["time_in_force"][0]  # its value is lower-cased first, as the checked path does


def _execution_fast(entry: dict) -> m.Execution | None:
    """An execution entry whose every known field is of its usual type; None for anything else."""
    values = list(_EXECUTION_DEFAULTS)
    specs = _EXECUTION_SPECS
    for key, value in entry.items():
        spec = specs.get(key)
        if spec is None or value is None:  # unknown keys are ignored, a null is an absent field (as checked)
            continue
        position, kind, table = spec
        cls = value.__class__
        if kind == _K_DEC:
            if cls is Decimal:
                if not value.is_finite():
                    return None
            elif cls is int:
                value = Decimal(value)
            else:
                return None
        elif kind == _K_STR:
            if cls is not str:
                return None
        elif kind == _K_ENUM:
            if cls is not str:
                return None
            value = table.get(value.lower() if position == _TIME_IN_FORCE else value)
            if value is None:
                return None
        elif kind == _K_TIME:
            if cls is not str:
                return None
            try:
                values[position + 1] = rfc3339_to_ns(value)
            except ValueError:
                return None
        elif kind == _K_BOOL:
            if cls is not bool:
                return None
        elif kind == _K_INT:
            if cls is not int:
                return None
        elif kind == _K_FEES:
            if cls is not list:
                return None
            fees = []
            for fee in value:
                if fee.__class__ is not dict:
                    return None
                asset, qty = fee.get("asset"), fee.get("qty")
                if asset.__class__ is not str or (qty.__class__ is not Decimal or not qty.is_finite()):
                    return None
                fees.append(_build_fee(asset, qty))
            value = tuple(fees)
        else:  # triggers, contingent
            return None
        values[position] = value
    if values[0] is _NO_DEFAULT or values[1] is _NO_DEFAULT:
        return None
    return _build_execution(*values)


def _decode_executions_fast(obj: dict) -> m.ExecutionsMessage:
    kind_text = obj.get("type")
    kind = _FRAME_TYPES.get(kind_text) if kind_text.__class__ is str else None
    data = obj.get("data")
    sequence = obj.get("sequence")
    if kind is None or data.__class__ is not list or (sequence is not None and sequence.__class__ is not int):
        return _decode_executions(obj)
    executions = []
    for index, entry in enumerate(data):
        execution = _execution_fast(entry) if entry.__class__ is dict else None
        if execution is None:  # the checked decoder builds it, or names what is wrong
            execution = _decode_execution(f"executions data[{index}]", entry) if entry.__class__ is dict else None
            if execution is None:
                return _decode_executions(obj)
        executions.append(execution)
    return _build_executions_message(kind, sequence, tuple(executions))


# The executions frame path: msgspec parses an executions frame straight into Structs mirroring the wire objects
# (C speed; a JSON number in a decimal field arrives as Decimal of its wire text through float_hook, or as
# int), and one generated function per object checks what msgspec left open and builds the message dataclass
# (see ``_generated_builder``). msgspec types strings, integers, booleans and enum values as strictly as the
# checked decoder (a null is an absent optional field, unknown keys are ignored, the last of duplicate keys
# counts, as there); decimal fields are typed Any, so a decimal sent as a string (which msgspec's own Decimal
# type would read laxly: "+1", " 1", "1_0") declines, as do an impossible date, a time_in_force outside the
# enum (case-insensitive, as checked) and anything msgspec rejects. A declined frame takes the checked path
# (``wire.loads`` + ``_decode_executions_fast``), which builds the equal message or names what is wrong.
# tests/core/kraken/test_codec_text_paths.py compares the two.


class _Decline(Exception):
    """Internal: the msgspec path leaves this frame to the checked path."""


def _wire_decimal(value: Any) -> Decimal:
    """A decimal field's value as msgspec gave it when not a Decimal: an int becomes one; else decline."""
    if value.__class__ is int:
        return Decimal(value)
    raise _Decline


def _wire_time_in_force(value: str) -> m.TimeInForce:
    member = _TIME_IN_FORCE_VALUES.get(value.lower())
    if member is None:
        raise _Decline
    return member


_TIME_IN_FORCE_VALUES = {member.value: member for member in m.TimeInForce}
_wire_values = msgspec.structs.astuple


def _wire_model(cls: type, nested: dict[str, tuple[Any, str]], helpers: dict[str, Any]) -> tuple[Any, Any]:
    """The msgspec Struct of ``cls``'s wire object (its fields but the ``X_ns`` of a timestamp ``X``, in order,
    decimal fields as Any) and ``build(*astuple(struct))`` making the ``cls``. ``nested``: field -> (wire
    type, check statement) for fields holding objects, ``helpers`` the names those statements call."""
    hints = typing.get_type_hints(cls, vars(m))
    all_fields = fields(cls)
    names = tuple(f.name for f in all_fields)
    wire_names = tuple(name for name in names if not (name.endswith("_ns") and name[:-3] in names))
    spec: list[Any] = []
    checks: list[str] = []
    for f in all_fields:
        name, hint = f.name, hints[f.name]
        if name not in wire_names:
            continue
        if name in nested:
            wire_type, check = nested[name]
            checks.append(check)
        elif hint is Decimal:
            wire_type = Any
            checks.append(f"if {name}.__class__ is not _D: {name} = _dec({name})")  # None declines too
        elif hint == Decimal | None:
            wire_type = Any
            checks.append(f"if {name} is not None and {name}.__class__ is not _D: {name} = _dec({name})")
        else:  # texts, booleans, integers, timestamps (text), enums: msgspec checks them as the checked path does
            wire_type = hint
        spec.append((name, wire_type) if f.default is _NO_DEFAULT else (name, wire_type, f.default))
    struct = msgspec.defstruct(f"_{cls.__name__}Wire", spec, kw_only=True)
    namespace: dict[str, Any] = {"_D": Decimal, "_dec": _wire_decimal, "_ns": rfc3339_to_ns, **helpers}
    values = tuple(name if name in wire_names else f"None if {name[:-3]} is None else _ns({name[:-3]})"
                   for name in names)
    return struct, _generated_builder(cls, ", ".join(wire_names), checks, values, namespace)


_FeeWire, _fee_from_wire = _wire_model(m.Fee, {}, {})
_TriggersWire, _triggers_from_wire = _wire_model(m.ExecutionTriggers, {}, {})
_ContingentWire, _contingent_from_wire = _wire_model(m.Contingent, {}, {})


def _wire_fees(fees: tuple[Any, ...]) -> tuple[m.Fee, ...]:
    return tuple([_fee_from_wire(*_wire_values(fee)) for fee in fees])


def _wire_triggers(triggers: Any) -> m.ExecutionTriggers:
    return _triggers_from_wire(*_wire_values(triggers))


def _wire_contingent(contingent: Any) -> m.Contingent:
    return _contingent_from_wire(*_wire_values(contingent))


_ExecutionWire, _execution_from_wire = _wire_model(m.Execution, {
    "time_in_force": (str | None, "if time_in_force is not None: time_in_force = _tif(time_in_force)"),
    "fees": (tuple[_FeeWire, ...], "if fees: fees = _fees(fees)"),  # type: ignore[valid-type]
    "triggers": (_TriggersWire | None, "if triggers is not None: triggers = _triggers(triggers)"),
    "contingent": (_ContingentWire | None, "if contingent is not None: contingent = _contingent(contingent)"),
}, {"_tif": _wire_time_in_force, "_fees": _wire_fees, "_triggers": _wire_triggers, "_contingent": _wire_contingent})


def _check_wire_builders() -> None:
    """One instance of each (the layout check of ``_slots_twin``), with every check passed."""
    decimal = Decimal("1")
    fee = _fee_from_wire("USD", decimal)
    triggers = _triggers_from_wire(*([None] * 8))
    contingent = _contingent_from_wire(*([None] * 5))
    execution = _execution_from_wire("O", m.ExecType.NEW, *([None] * (len(_ExecutionWire.__struct_fields__) - 2)))
    for built, cls in ((fee, m.Fee), (triggers, m.ExecutionTriggers), (contingent, m.Contingent),
                       (execution, m.Execution)):
        if type(built) is not cls:
            raise TypeError(f"{cls.__name__}: the wire builder made the wrong type")


_check_wire_builders()


class _ExecutionsWire(msgspec.Struct):
    channel: typing.Literal["executions"]
    type: m.FrameType
    data: tuple[_ExecutionWire, ...]  # type: ignore[valid-type]
    sequence: int | None = None


# One Decoder for every thread: msgspec's Decoder methods are thread-safe since 0.15 (msgspec PR #402).
_executions_wire = msgspec.json.Decoder(_ExecutionsWire, float_hook=Decimal).decode


def decode_executions_wire(frame: str) -> m.ExecutionsMessage | None:
    """An ``executions`` frame decoded by msgspec into the typed message; None for anything it declines (see
    above), which the checked path then decodes or names."""
    try:
        wire = _executions_wire(frame)
    except (msgspec.MsgspecError, ArithmeticError, ValueError, RecursionError):
        return None
    try:
        executions = tuple([_execution_from_wire(*_wire_values(entry)) for entry in wire.data])
    except (_Decline, ValueError):  # ValueError: an impossible date
        return None
    return _build_executions_message(wire.type, wire.sequence, executions)


def _decode_balances(obj: dict) -> m.BalancesSnapshot | m.BalancesUpdate:
    frame_type = _frame_type(obj, "balances")
    sequence = _int(obj, "sequence", "balances", False)
    if frame_type is m.FrameType.SNAPSHOT:
        balances = []
        for where, entry in _items(obj, "data", "balances snapshot"):
            wallets = tuple(
                m.Wallet(type=_str(wallet, "type", wallet_where), id=_str(wallet, "id", wallet_where),
                         balance=_dec(wallet, "balance", wallet_where))
                for wallet_where, wallet in _items(entry, "wallets", where, required=False)
            )
            balances.append(m.AssetBalance(
                asset=_str(entry, "asset", where),
                asset_class=_str(entry, "asset_class", where, False),
                balance=_dec(entry, "balance", where),
                wallets=wallets,
            ))
        return m.BalancesSnapshot(sequence=sequence, balances=tuple(balances))
    entries = []
    for where, entry in _items(obj, "data", "balances update"):
        timestamp, timestamp_ns = _time(entry, "timestamp", where)
        entries.append(m.LedgerEntry(
            ledger_id=_str(entry, "ledger_id", where),
            ref_id=_str(entry, "ref_id", where, False),
            timestamp=timestamp,
            timestamp_ns=timestamp_ns,
            type=_str(entry, "type", where),
            asset=_str(entry, "asset", where),
            amount=_dec(entry, "amount", where),
            fee=_dec(entry, "fee", where),
            balance=_dec(entry, "balance", where),
            asset_class=_str(entry, "asset_class", where, False),
            subtype=_str(entry, "subtype", where, False),
            category=_str(entry, "category", where, False),
            wallet_type=_str(entry, "wallet_type", where, False),
            wallet_id=_str(entry, "wallet_id", where, False),
            user=_str(entry, "user", where, False),
        ))
    return m.BalancesUpdate(sequence=sequence, entries=tuple(entries))


_CHANNELS = {
    "heartbeat": _decode_heartbeat,
    "status": _decode_status,
    "ticker": _decode_ticker,
    "trade": _decode_trade,
    "ohlc": _decode_ohlc,
    "instrument": _decode_instrument,
    "executions": _decode_executions_fast,
    "balances": _decode_balances,
    "book": decode_book,
    "level3": decode_level3,
}


# -------------------------------------------------------------------------------- method responses


def _response_common(obj: dict, method: str, result: Any) -> dict[str, Any]:
    time_in, time_in_ns = _time(obj, "time_in", method, False)
    time_out, time_out_ns = _time(obj, "time_out", method, False)
    warnings: tuple[str, ...] = ()
    if isinstance(result, dict):
        warnings = _texts(result, "warnings", f"{method} result")
    return {
        "method": method,
        "req_id": _int(obj, "req_id", method, False),
        "time_in": time_in,
        "time_in_ns": time_in_ns,
        "time_out": time_out,
        "time_out_ns": time_out_ns,
        "warnings": warnings,
    }


def _result_dict(obj: dict, method: str) -> dict:
    return _dict(obj, "result", method)


def _subscription_fields(result: dict, where: str) -> dict[str, Any]:
    return {
        "channel": _str(result, "channel", where),
        "symbol": _str(result, "symbol", where, False),
        "depth": _int(result, "depth", where, False),
        "snapshot": _bool(result, "snapshot", where, False),
        "event_trigger": _str(result, "event_trigger", where, False),
        "interval": _int(result, "interval", where, False),
    }


def _ack_subscribe(obj: dict, common: dict) -> m.SubscribeAck:
    result = _result_dict(obj, "subscribe")
    where = "subscribe result"
    return m.SubscribeAck(
        **common, **_subscription_fields(result, where),
        maxratecount=_int(result, "maxratecount", where, False),
        snap_orders=_bool(result, "snap_orders", where, False),
        snap_trades=_bool(result, "snap_trades", where, False),
    )


def _ack_unsubscribe(obj: dict, common: dict) -> m.UnsubscribeAck:
    result = _result_dict(obj, "unsubscribe")
    return m.UnsubscribeAck(**common, **_subscription_fields(result, "unsubscribe result"))


def _ack_pong(obj: dict, common: dict) -> m.Pong:
    return m.Pong(**common)


def _add_order_result(result: dict, where: str, common: dict) -> m.AddOrderAck:
    return m.AddOrderAck(
        **common,
        order_id=_str(result, "order_id", where),
        cl_ord_id=_str(result, "cl_ord_id", where, False),
        order_userref=_int(result, "order_userref", where, False),
    )


def _ack_add_order(obj: dict, common: dict) -> m.AddOrderAck:
    return _add_order_result(_result_dict(obj, "add_order"), "add_order result", common)


def _ack_amend_order(obj: dict, common: dict) -> m.AmendOrderAck:
    result = _result_dict(obj, "amend_order")
    where = "amend_order result"
    return m.AmendOrderAck(
        **common,
        amend_id=_str(result, "amend_id", where),
        order_id=_str(result, "order_id", where, False),
        cl_ord_id=_str(result, "cl_ord_id", where, False),
    )


def _ack_edit_order(obj: dict, common: dict) -> m.EditOrderAck:
    result = _result_dict(obj, "edit_order")
    where = "edit_order result"
    return m.EditOrderAck(
        **common,
        order_id=_str(result, "order_id", where),
        original_order_id=_str(result, "original_order_id", where, False),
    )


def _ack_cancel_order(obj: dict, common: dict) -> m.CancelOrderAck:
    result = _result_dict(obj, "cancel_order")
    where = "cancel_order result"
    return m.CancelOrderAck(
        **common,
        order_id=_str(result, "order_id", where, False),
        cl_ord_id=_str(result, "cl_ord_id", where, False),
    )


def _ack_cancel_all(obj: dict, common: dict) -> m.CancelAllAck:
    return m.CancelAllAck(**common, count=_int(_result_dict(obj, "cancel_all"), "count", "cancel_all result"))


def _ack_cancel_all_orders_after(obj: dict, common: dict) -> m.CancelAllOrdersAfterAck:
    where = "cancel_all_orders_after result"
    result = _result_dict(obj, "cancel_all_orders_after")
    current_time, current_time_ns = _time(result, "currentTime", where)
    trigger_time, trigger_time_ns = _time(result, "triggerTime", where)
    return m.CancelAllOrdersAfterAck(**common, current_time=current_time, current_time_ns=current_time_ns,
                                     trigger_time=trigger_time, trigger_time_ns=trigger_time_ns)


def _ack_batch_add(obj: dict, common: dict) -> m.BatchAddAck:
    orders = []
    item_common = {"method": "batch_add", "req_id": common["req_id"], "time_in": common["time_in"],
                   "time_in_ns": common["time_in_ns"], "time_out": common["time_out"],
                   "time_out_ns": common["time_out_ns"]}
    for where, item in _items(obj, "result", "batch_add"):
        warnings = _texts(item, "warnings", where)
        orders.append(_add_order_result(item, where, {**item_common, "warnings": warnings}))
    return m.BatchAddAck(**common, orders=tuple(orders))


def _ack_batch_cancel(obj: dict, common: dict) -> m.BatchCancelAck:
    # The docs put the count in result.count; a recorded live reply has a top-level orders_cancelled.
    if "result" in obj and obj["result"] is not None:
        count = _int(_result_dict(obj, "batch_cancel"), "count", "batch_cancel result")
    else:
        count = _int(obj, "orders_cancelled", "batch_cancel")
    return m.BatchCancelAck(**common, count=count)


_METHODS = {
    "pong": _ack_pong,
    "subscribe": _ack_subscribe,
    "unsubscribe": _ack_unsubscribe,
    "add_order": _ack_add_order,
    "amend_order": _ack_amend_order,
    "edit_order": _ack_edit_order,
    "cancel_order": _ack_cancel_order,
    "cancel_all": _ack_cancel_all,
    "cancel_all_orders_after": _ack_cancel_all_orders_after,
    "batch_add": _ack_batch_add,
    "batch_cancel": _ack_batch_cancel,
}
_ERROR_CLASSES: dict[str, type[m.MethodError]] = {
    "subscribe": m.SubscribeError,
    "unsubscribe": m.UnsubscribeError,
}


def _decode_response(obj: dict) -> m.MethodResponse:
    method = _str(obj, "method", "response")
    if "params" in obj:
        raise _Bad(f"{method}: this is a request (it has 'params'), not a response; use decode_request")
    success = _bool(obj, "success", method, required=False)
    error = _str(obj, "error", method, required=False)
    result = obj.get("result")
    if success is False or (success is None and error is not None):
        if error is None:
            raise _Bad(f"{method}: 'error' missing from a failed response")
        common = _response_common(obj, method, result)
        error_class = _ERROR_CLASSES.get(method, m.MethodError)
        return error_class(**common, error=error, symbol=_str(obj, "symbol", method, False),
                           channel=_str(obj, "channel", method, False))
    handler = _METHODS.get(method)
    if handler is None:
        raise _Bad(f"response: unknown method {method[:40]!r}")
    if success is None and method != "pong":
        raise _Bad(f"{method}: 'success' missing")
    return handler(obj, _response_common(obj, method, result))


# ---------------------------------------------------------------------------------------- decode


def decode_message(obj: Any) -> m.InboundMessage | Any:
    """Type one already parsed frame (numbers as ``wire.loads`` gives them). Raises ``DecodeError``."""
    try:
        return _dispatch(obj)
    except _Bad as bad:
        raise DecodeError(bad.reason, excerpt_of(obj)) from None


def decode(frame: str | bytes) -> m.InboundMessage | Any:
    """Type one raw frame. Returns a message from ``messages`` (or ``book``/``l3book`` for those channels);
    raises ``DecodeError`` for anything malformed or unknown, and nothing else."""
    if frame.__class__ is str:
        # Kraken's own book, level3, trade and ticker layouts are decoded from their text (exact, no JSON
        # parse), executions frames by msgspec; equal messages. Any other frame, or one these decline, takes
        # the checked path.
        if frame.startswith(_TEXT_FRAMES):
            decoded = _TEXT_DECODERS[frame[12]](frame)
            if decoded is not None:
                return decoded
        elif frame.startswith('{"channel":"executions"'):
            decoded = decode_executions_wire(frame)
            if decoded is not None:
                return decoded
    obj = _parse(frame)
    try:
        return _dispatch(obj)
    except _Bad as bad:
        raise DecodeError(bad.reason, excerpt_of(frame)) from None


# By the channel name's first letter ('{"channel":"b...'), for a frame starting with one of _TEXT_FRAMES.
_TEXT_DECODERS: dict[str, Any] = {
    "b": decode_canonical_book_frame,
    "l": decode_canonical_level3_frame,
    "t": lambda frame: decode_trade_text(frame) if frame[13] == "r" else decode_ticker_text(frame),
}


def _parse(frame: str | bytes) -> Any:
    try:
        return loads(frame)
    except RecursionError:
        raise DecodeError("invalid JSON: nested too deeply", excerpt_of(frame)) from None
    except ArithmeticError as error:  # decimal.InvalidOperation: an exponent beyond Decimal's range
        raise DecodeError(f"invalid JSON: number out of range ({type(error).__name__})", excerpt_of(frame)) from None


def _dispatch(obj: Any) -> Any:
    if not isinstance(obj, dict):
        raise _Bad(f"frame: expected a JSON object, got {_kind(obj)}")
    if "channel" in obj:
        channel = obj["channel"]
        if not isinstance(channel, str):
            raise _Bad(f"frame: 'channel' expected a string, got {_kind(channel)}")
        handler = _CHANNELS.get(channel)
        if handler is None:
            raise _Bad(f"frame: unknown channel {channel[:40]!r}")
        if channel in ("book", "level3"):
            return _guarded(handler, obj, channel)
        return handler(obj)
    if "method" in obj:
        return _decode_response(obj)
    for key in ("error", "Error"):
        if isinstance(obj.get(key), str):
            return m.ServerError(error=obj[key])
    raise _Bad("frame: neither 'channel' nor 'method' present")


def _guarded(handler: Any, obj: dict, channel: str) -> Any:
    """Book decoders live in other modules; keep the promise that only DecodeError escapes."""
    try:
        return handler(obj)
    except DecodeError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError) as error:
        raise _Bad(f"{channel}: {type(error).__name__}: {error}") from error


# ---------------------------------------------------------------------------------------- encode

# Field kinds, derived from each request dataclass's annotations.
_DEC, _INT, _BOOL, _STR, _STRS, _INTS = "dec", "int", "bool", "str", "strs", "ints"

# Python attribute -> wire parameter name, where they differ.
_WIRE_NAMES: dict[type, dict[str, str]] = {
    m.Subscribe: {"symbols": "symbol"},
    m.Unsubscribe: {"symbols": "symbol"},
    m.CancelOrder: {"order_ids": "order_id", "cl_ord_ids": "cl_ord_id", "order_userrefs": "order_userref"},
    m.BatchCancel: {"cl_ord_ids": "cl_ord_id"},
}
_METHOD_OF: dict[type, str] = {
    m.Subscribe: "subscribe",
    m.Unsubscribe: "unsubscribe",
    m.Ping: "ping",
    m.AddOrder: "add_order",
    m.AmendOrder: "amend_order",
    m.CancelOrder: "cancel_order",
    m.CancelAll: "cancel_all",
    m.CancelAllOrdersAfter: "cancel_all_orders_after",
    m.BatchAdd: "batch_add",
    m.BatchCancel: "batch_cancel",
}
_REQUEST_OF = {method: cls for cls, method in _METHOD_OF.items()}


def _field_kind(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _field_kind(inner)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if item is str:
            return _STRS
        if item is int:
            return _INTS
        return ("objects", item)
    if hint is Decimal:
        return _DEC
    if hint is bool:
        return _BOOL
    if hint is int:
        return _INT
    if hint is str:
        return _STR
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return ("enum", hint)
    return ("object", hint)


def _spec(cls: type) -> tuple[tuple[str, str, Any], ...]:
    hints = typing.get_type_hints(cls, vars(m))
    renames = _WIRE_NAMES.get(cls, {})
    return tuple((f.name, renames.get(f.name, f.name), _field_kind(hints[f.name]))
                 for f in fields(cls) if f.name != "req_id")


_SPECS: dict[type, tuple[tuple[str, str, Any], ...]] = {
    cls: _spec(cls) for cls in (*_METHOD_OF, m.BatchOrder, m.Triggers, m.Conditional)
}


def _wire_value(value: Any, kind: Any) -> Any:
    if isinstance(kind, tuple) and kind[0] == "objects":
        return [_wire_params(item) for item in value]
    if isinstance(kind, tuple) and kind[0] == "object":
        return _wire_params(value)
    if isinstance(kind, tuple) and kind[0] == "enum":
        return kind[1](value).value
    if kind in (_STRS, _INTS):
        return list(value)
    return value


def _wire_params(request: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, wire_name, kind in _SPECS[type(request)]:
        value = getattr(request, name)
        if value is None or (kind in (_STRS, _INTS) and not value):
            continue
        params[wire_name] = _wire_value(value, kind)
    return params


def encode_params(request: m.Request) -> dict[str, Any]:
    """The request as the JSON object Kraken expects (Decimals stay Decimal; see ``encode``)."""
    cls = type(request)
    if cls not in _METHOD_OF:
        raise TypeError(f"not a Kraken request: {cls.__name__}")
    message: dict[str, Any] = {"method": _METHOD_OF[cls]}
    if cls is not m.Ping:
        message["params"] = _wire_params(request)
    if request.req_id is not None:
        message["req_id"] = request.req_id
    return message


def encode(request: m.Request) -> str:
    """One request as compact JSON text; Decimals written exactly from their digits, never via float."""
    out: list[str] = []
    _write_json(encode_params(request), out)
    return "".join(out)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot encode a non-finite Decimal: {value}")
    return format(value, "f")  # plain digits, no exponent; keeps trailing zeros ("0.00010000")


def _write_json(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, Decimal):
        out.append(_decimal_text(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _write_json(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write_json(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON (floats are refused: use Decimal)")


# -------------------------------------------------------------------------------- decode_request


def _request_value(value: Any, kind: Any, key: str, where: str) -> Any:
    if kind == _DEC:
        if isinstance(value, str) or isinstance(value, bool):
            # Kraken: "Limit_price field must be a number_float"
            raise _Bad(f"{where}: '{key}' expected a number, got {_kind(value)}")
        return _to_decimal(value, key, where)
    if kind == _INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"{where}: '{key}' expected an integer, got {_kind(value)}")
        return value
    if kind == _BOOL:
        if not isinstance(value, bool):
            raise _Bad(f"{where}: '{key}' expected a boolean, got {_kind(value)}")
        return value
    if kind == _STR:
        if not isinstance(value, str):
            raise _Bad(f"{where}: '{key}' expected a string, got {_kind(value)}")
        return value
    if kind in (_STRS, _INTS):
        if not isinstance(value, list):
            raise _Bad(f"{where}: '{key}' expected an array, got {_kind(value)}")
        item_kind = _STR if kind == _STRS else _INT
        return tuple(_request_value(item, item_kind, f"{key}[{index}]", where) for index, item in enumerate(value))
    if kind[0] == "enum":
        if not isinstance(value, str):
            raise _Bad(f"{where}: '{key}' expected a string, got {_kind(value)}")
        try:
            return kind[1](value)
        except ValueError:
            allowed = "|".join(member.value for member in kind[1])
            raise _Bad(f"{where}: '{key}' expected one of {allowed}, got {value[:30]!r}") from None
    if kind[0] == "object":
        if not isinstance(value, dict):
            raise _Bad(f"{where}: '{key}' expected an object, got {_kind(value)}")
        return _build_request(kind[1], value, f"{where} {key}")
    if kind[0] == "objects":
        if not isinstance(value, list):
            raise _Bad(f"{where}: '{key}' expected an array, got {_kind(value)}")
        built = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise _Bad(f"{where}: '{key}[{index}]' expected an object, got {_kind(item)}")
            built.append(_build_request(kind[1], item, f"{where} {key}[{index}]"))
        return tuple(built)
    raise AssertionError(kind)  # pragma: no cover


def _build_request(cls: type, params: dict, where: str, req_id: Any = None) -> Any:
    spec = _SPECS[cls]
    known = {wire_name for _, wire_name, _ in spec}
    for key in params:
        if key not in known:
            raise _Bad(f"{where}: Unsupported field: {key[:40]!r}")
    values = {}
    for name, wire_name, kind in spec:
        if wire_name in params and params[wire_name] is not None:
            values[name] = _request_value(params[wire_name], kind, wire_name, where)
    if cls in _METHOD_OF:
        values["req_id"] = req_id
    try:
        return cls(**values)
    except TypeError as error:  # a required field is missing
        missing = re.findall(r"'(\w+)'", str(error))
        wire = _WIRE_NAMES.get(cls, {})
        names = ", ".join(repr(wire.get(name, name)) for name in missing) or str(error)
        raise _Bad(f"{where}: missing {names}") from None
    except ValueError as error:
        raise _Bad(f"{where}: {error}") from None


def decode_request(frame: str | bytes) -> m.Request:
    """Parse a client's request (the local exchange's side of ``encode``). Raises ``DecodeError``."""
    obj = _parse(frame)
    try:
        if not isinstance(obj, dict):
            raise _Bad(f"request: expected a JSON object, got {_kind(obj)}")
        method = _str(obj, "method", "request")
        cls = _REQUEST_OF.get(method)
        if cls is None:
            raise _Bad(f"request: unknown method {method[:40]!r}")
        for key in obj:
            if key not in ("method", "params", "req_id"):
                raise _Bad(f"{method}: Unsupported field: {key[:40]!r}")
        req_id = _int(obj, "req_id", method, False)
        if cls is m.Ping:
            if "params" in obj:
                raise _Bad("ping: Unsupported field: 'params' for the given msg type: ping")
            params: dict = {}
        else:
            params = _dict(obj, "params", method)
        return _build_request(cls, params, method, req_id)
    except _Bad as bad:
        raise DecodeError(bad.reason, excerpt_of(frame)) from None


# ------------------------------------------------------------------------- encode inbound messages
# The local Kraken-compatible exchange speaks Kraken's side of the protocol: these write the frames that
# ``decode`` reads, in Kraken's shapes (data arrays, ``result`` objects, camelCase where Kraken uses it).


def ns_to_rfc3339(ns: int, digits: int = 6) -> str:
    """Kraken-style RFC 3339 UTC text with ``digits`` fractional digits (6 on most channels, 9 on level3
    and ohlc, 0 for cancel_all_orders_after); exact, truncating below the last digit shown."""
    if not 0 <= digits <= 9:
        raise ValueError(f"digits must be 0..9, got {digits}")
    seconds, nanos = divmod(ns, 1_000_000_000)
    days, second_of_day = divmod(seconds, 86400)
    date = _dt.date.fromordinal(_EPOCH_ORDINAL + days)
    hour, rest = divmod(second_of_day, 3600)
    minute, second = divmod(rest, 60)
    text = f"{date.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}"
    if digits:
        text += "." + f"{nanos:09d}"[:digits]
    return text + "Z"


def _entry(value: Any, upper: frozenset[str] = frozenset()) -> Any:
    """A typed entry as Kraken's JSON object: None and *_ns fields left out, tuples as arrays."""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return [_entry(item) for item in value]
    if not hasattr(value, "__dataclass_fields__"):
        return value
    out: dict[str, Any] = {}
    for field in fields(value):
        item = getattr(value, field.name)
        if item is None or field.name.endswith("_ns"):
            continue
        if isinstance(item, tuple) and not item and field.name != "wallets":
            continue
        item = _entry(item)
        if field.name in upper and isinstance(item, str):
            item = item.upper()
        out[field.name] = item
    return out


_RESPONSE_BASE = frozenset(f.name for f in fields(m.MethodResponse))
_ERROR_TOP_LEVEL = ("symbol", "channel")
_RESULT_RENAMES = {"current_time": "currentTime", "trigger_time": "triggerTime"}


def _response_frame(message: m.MethodResponse) -> dict[str, Any]:
    frame: dict[str, Any] = {"method": message.method}
    if message.req_id is not None:
        frame["req_id"] = message.req_id
    if isinstance(message, m.MethodError):
        frame["error"] = message.error
        frame["success"] = False
        for name in _ERROR_TOP_LEVEL:
            if getattr(message, name) is not None:
                frame[name] = getattr(message, name)
    elif isinstance(message, m.BatchAddAck):
        frame["result"] = [_add_order_result_json(order) for order in message.orders]
        frame["success"] = True
    elif not isinstance(message, m.Pong):
        result: dict[str, Any] = {}
        for field in fields(message):
            name = field.name
            value = getattr(message, name)
            if name in _RESPONSE_BASE or name.endswith("_ns") or value is None:
                continue
            result[_RESULT_RENAMES.get(name, name)] = _entry(value)
        if message.warnings:
            result["warnings"] = list(message.warnings)
        frame["result"] = result
        frame["success"] = True
    if message.time_in is not None:
        frame["time_in"] = message.time_in
    if message.time_out is not None:
        frame["time_out"] = message.time_out
    return frame


def _add_order_result_json(order: m.AddOrderAck) -> dict[str, Any]:
    result: dict[str, Any] = {"order_id": order.order_id}
    if order.cl_ord_id is not None:
        result["cl_ord_id"] = order.cl_ord_id
    if order.order_userref is not None:
        result["order_userref"] = order.order_userref
    if order.warnings:
        result["warnings"] = list(order.warnings)
    return result


def message_frame(message: Any) -> dict[str, Any]:
    """An inbound message (as ``decode`` returns it) back in Kraken's JSON shape (Decimals kept)."""
    frame: dict[str, Any]
    match message:
        case m.HeartbeatMessage():
            return {"channel": "heartbeat"}
        case m.Status():
            data = {"api_version": message.api_version, "connection_id": message.connection_id,
                    "system": message.system.value if isinstance(message.system, StrEnum) else message.system,
                    "version": message.version}
            return {"channel": "status", "type": str(message.type), "data": [data]}
        case m.TickerMessage():
            return {"channel": "ticker", "type": str(message.type), "data": _entry(message.tickers)}
        case m.TradeMessage():
            return {"channel": "trade", "type": str(message.type), "data": _entry(message.trades)}
        case m.OhlcMessage():
            frame = {"channel": "ohlc", "type": str(message.type)}
            if message.timestamp is not None:
                frame["timestamp"] = message.timestamp
            frame["data"] = _entry(message.candles)
            return frame
        case m.InstrumentMessage():
            return {"channel": "instrument", "type": str(message.type),
                    "data": {"assets": _entry(message.assets), "pairs": _entry(message.pairs)}}
        case m.ExecutionsMessage():
            frame = {"channel": "executions", "type": str(message.type),
                     "data": [_entry(execution, upper=frozenset({"time_in_force"}))
                              for execution in message.executions]}
            if message.sequence is not None:
                frame["sequence"] = message.sequence
            return frame
        case m.BalancesSnapshot():
            frame = {"channel": "balances", "type": "snapshot", "data": _entry(message.balances)}
            if message.sequence is not None:
                frame["sequence"] = message.sequence
            return frame
        case m.BalancesUpdate():
            frame = {"channel": "balances", "type": "update", "data": _entry(message.entries)}
            if message.sequence is not None:
                frame["sequence"] = message.sequence
            return frame
        case m.MethodResponse():
            return _response_frame(message)
        case m.ServerError():
            return {"Error": message.error}
    raise TypeError(f"not an inbound Kraken message: {type(message).__name__}")


def encode_message(message: Any) -> str:
    """Kraken's frame text for an inbound message: what the local exchange sends. ``decode`` inverts it."""
    out: list[str] = []
    _write_json(message_frame(message), out)
    return "".join(out)
