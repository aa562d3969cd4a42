"""Kraken WS v2 ``level3`` channel: order-by-order messages, decoding, and the checksummed ``L3Book``.

Stable API (other modules code against these names):

- ``L3Order(order_id, limit_price, order_qty, timestamp, event)``: one order (snapshot: ``event`` None) or
  one order event (update: ``event`` is ``"add"``, ``"modify"`` or ``"delete"``). Immutable NamedTuple.
- ``Level3Data(symbol, bids, asks, checksum, timestamp)``, ``Level3Message(type, data)``: frozen,
  slotted, keyword-only dataclasses with tuples.
- ``decode_level3(msg: dict) -> Level3Message``: ``msg`` parsed by ``wire.loads`` with channel ``"level3"``;
  raises ``wire.DecodeError``.
- ``L3Book(symbol, depth=10, price_precision=None, qty_precision=None)``:
  ``apply(data, snapshot=False) -> book.ChecksumResult``, ``apply_message(msg)``, ``checksum()``,
  ``checksum_input()``, ``l2_view(depth=None) -> L2View`` (aggregated levels), ``queue_position(order_id)
  -> QueuePosition | None`` (None when the order is not in the book), ``best_bid()``/``best_ask()`` ->
  aggregated ``BookLevel | None``, ``order(order_id) -> L3Order | None``, ``orders_at(side, price)``.

Book maintenance (PROTOCOL.md section 3):

- a snapshot replaces the book; within a price level orders keep the order the snapshot lists them in, which
  is queue (time-priority) order;
- ``add`` appends the order at the back of its price level's queue (an ``add`` for an order id already in
  the book replaces it, at the back);
- ``modify`` with an unchanged price changes the quantity in place and **keeps the queue place** (a partial
  fill or a qty-down amend); with a changed price the order moves to the back of the new level; a ``modify``
  for an unknown order is treated as an ``add``; a ``modify`` to qty 0 deletes;
- ``delete`` removes the order (unknown ids are ignored: they may have left the subscribed depth);
- after every message each side is truncated to ``depth`` price levels (Kraken sends no deletes for orders
  that leave the subscribed depth, and re-sends a level entering it as ``add`` events);
- the checksum covers every order, in queue order, inside the top 10 price levels of each side
  (PROTOCOL.md 3.1), numbers formatted at the pair's precision when known, else as on the wire.
"""

from __future__ import annotations

import re
import zlib
from bisect import bisect_left
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NamedTuple

import orjson

from kraken_runtime.core.kraken.book import (
    _NUM,
    _PRICE,
    _TEXT_DECIMALS,
    CHECKSUM_ABSENT,
    CHECKSUM_MISMATCH,
    CHECKSUM_OK,
    BookLevel,
    ChecksumResult,
    _converter_for,
    _exact_number,
    _Inexact,
    _Irregular,
    _item_header,
    _slot_builder,
)
from kraken_runtime.core.kraken.wire import DecodeError, excerpt_of, fast_number_guard, loads

__all__ = [
    "L3Order",
    "Level3Data",
    "Level3Message",
    "QueuePosition",
    "L2View",
    "decode_level3",
    "decode_level3_frame",
    "decode_canonical_level3_frame",
    "L3Book",
    "EVENTS",
]

EVENTS = ("add", "modify", "delete")
_ZERO = Decimal(0)
_new_tuple = tuple.__new__
_FRAGMENT_CACHE = 4096


class L3Order(NamedTuple):
    """One resting order (snapshot) or one order event (update, with ``event``)."""

    order_id: str
    limit_price: Decimal
    order_qty: Decimal
    timestamp: str | None
    event: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Level3Data:
    """One item of a level3 message's ``data``: the orders (snapshot) or order events (update)."""

    symbol: str
    bids: tuple[L3Order, ...]
    asks: tuple[L3Order, ...]
    checksum: int | None
    timestamp: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Level3Message:
    type: Literal["snapshot", "update"]
    data: tuple[Level3Data, ...]

    @property
    def is_snapshot(self) -> bool:
        return self.type == "snapshot"


class QueuePosition(NamedTuple):
    """Where an order sits in its price level's queue: what must trade before it does."""

    side: str  # "bid" | "ask"
    price: Decimal
    orders_ahead: int
    qty_ahead: Decimal
    order_qty: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class L2View:
    """The aggregated level-2 view of an L3 book, best first per side (qty = sum of the level's orders)."""

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]


# --------------------------------------------------------------------------------------------- decoding


def _fail(kind: str, reason: str, frame: Any) -> DecodeError:
    return DecodeError(f"{kind}: {reason}", excerpt_of(frame))


def _decode_orders(
    kind: str, side: str, raw: Any, frame: Any, snapshot: bool, price_convert: Any, qty_convert: Any
) -> tuple[L3Order, ...]:
    if raw.__class__ is not list:
        raise _fail(kind, f"'{side}' is not a list", frame)
    orders = []
    for index, entry in enumerate(raw):
        if entry.__class__ is not dict:
            raise _fail(kind, f"{side}[{index}] is not an object", frame)
        for field in ("order_id", "limit_price", "order_qty"):
            if field not in entry:
                raise _fail(kind, f"'{field}' missing in {side}[{index}]", frame)
        order_id = entry["order_id"]
        if order_id.__class__ is not str or not order_id:
            raise _fail(kind, f"'order_id' is not a string in {side}[{index}]", frame)
        price = price_convert(entry["limit_price"])
        if price is None or price <= _ZERO:
            raise _fail(kind, f"'limit_price' is not a positive number in {side}[{index}]", frame)
        qty = qty_convert(entry["order_qty"])
        if qty is None or qty < _ZERO:
            raise _fail(kind, f"'order_qty' is not a non-negative number in {side}[{index}]", frame)
        timestamp = entry.get("timestamp")
        if timestamp is not None and timestamp.__class__ is not str:
            raise _fail(kind, f"'timestamp' is not a string in {side}[{index}]", frame)
        event = entry.get("event")
        if snapshot:
            if event is not None:
                raise _fail(kind, f"'event' in a snapshot order {side}[{index}]", frame)
        elif event not in EVENTS:
            raise _fail(kind, f"'event' is {event!r}, not add/modify/delete, in {side}[{index}]", frame)
        orders.append(L3Order(order_id, price, qty, timestamp, event))
    return tuple(orders)


def _decode_level3_parsed(msg: Any, frame: Any, price_convert: Any, qty_convert: Any) -> Level3Message:
    if msg.__class__ is not dict:
        raise DecodeError("level3: frame is not a JSON object", excerpt_of(frame))
    if msg.get("channel") != "level3":
        raise DecodeError(f"level3: channel is {msg.get('channel')!r}, not 'level3'", excerpt_of(frame))
    kind_value = msg.get("type")
    if kind_value not in ("snapshot", "update"):
        raise DecodeError(f"level3: 'type' is {kind_value!r}, not 'snapshot' or 'update'", excerpt_of(frame))
    kind = f"level3 {kind_value}"
    snapshot = kind_value == "snapshot"
    raw_data = msg.get("data")
    if raw_data.__class__ is not list or not raw_data:
        raise _fail(kind, "'data' is missing or not a non-empty list", frame)
    items = []
    for position, item in enumerate(raw_data):
        if item.__class__ is not dict:
            raise _fail(kind, f"data[{position}] is not an object", frame)
        symbol = item.get("symbol")
        if symbol.__class__ is not str or not symbol:
            raise _fail(kind, f"'symbol' missing or not a string in data[{position}]", frame)
        checksum = item.get("checksum")
        if checksum is not None and (checksum.__class__ is not int or not 0 <= checksum <= 0xFFFFFFFF):
            raise _fail(kind, f"'checksum' is not an unsigned 32-bit integer: {checksum!r}", frame)
        timestamp = item.get("timestamp")
        if timestamp is not None and timestamp.__class__ is not str:
            raise _fail(kind, f"'timestamp' is not a string: {timestamp!r}", frame)
        bids = _decode_orders(kind, "bids", item.get("bids", []), frame, snapshot, price_convert, qty_convert)
        asks = _decode_orders(kind, "asks", item.get("asks", []), frame, snapshot, price_convert, qty_convert)
        items.append(Level3Data(symbol=symbol, bids=bids, asks=asks, checksum=checksum, timestamp=timestamp))
    return Level3Message(type=kind_value, data=tuple(items))


def decode_level3(msg: dict) -> Level3Message:
    """Decode an already parsed ``level3`` frame (numbers as Decimal/int, from ``wire.loads``)."""
    return _decode_level3_parsed(msg, msg, _exact_number, _exact_number)


# Kraken's own level3 layout (key order as sent, no whitespace; PROTOCOL.md 3): a frame that matches is decoded
# straight from its text, every number as written (``Decimal`` of its text: exact, any precision). Snapshot
# items are symbol, checksum, bids, asks[, timestamp] with orders without ``event``; update items are checksum,
# symbol, timestamp, bids, asks with an ``event`` per order. Anything else takes the general path. Patterns
# without ambiguity (linear time), as book.py's.
_T = r'[^"\\\x00-\x1f]'
# Repeats are possessive (``*+``, ``++``, ``?+``): what follows each one can never be matched by it, so the
# language is the same and the matcher keeps no backtracking state (as book.py's pattern).
_ORDER_BODY = (
    r'"order_id":"' + _T + r'++","limit_price":' + _PRICE + r',"order_qty":' + _NUM + r',"timestamp":"' + _T
    + r'*+"\}'
)
_SNAPSHOT_ORDER = r"\{" + _ORDER_BODY
_UPDATE_ORDER = r'\{"event":"(?:add|modify|delete)",' + _ORDER_BODY
_CHECKSUM = r"(0|[1-9][0-9]{0,9}+)"


def _orders(order: str) -> str:
    return r"(?:" + order + r"(?:," + order + r")*+)?+"


# An update side: its first order's event, id, price, qty and timestamp captured, the other orders as one
# text (findall); both absent when the side is empty. Most update sides hold one order: no second pass.
_UPDATE_SIDE = (
    r'\[(?:\{"event":"(add|modify|delete)","order_id":"(' + _T + r'++)","limit_price":(' + _PRICE
    + r'),"order_qty":(' + _NUM + r'),"timestamp":"(' + _T + r'*+)"\}((?:,' + _UPDATE_ORDER + r')*+))?+\]'
)
_CANONICAL_L3_SNAPSHOT = re.compile(
    r'\{"channel":"level3","type":"snapshot","data":\[\{"symbol":"(' + _T + r'++)","checksum":' + _CHECKSUM
    + r',"bids":\[(' + _orders(_SNAPSHOT_ORDER) + r')\],"asks":\[(' + _orders(_SNAPSHOT_ORDER) + r')\]'
    + r'(?:,"timestamp":"(' + _T + r'*+)")?+\}\]\}'
)
_CANONICAL_L3_UPDATE = re.compile(
    r'\{"channel":"level3","type":"update","data":\[\{"checksum":' + _CHECKSUM + r',"symbol":"(' + _T + r'++)",'
    + r'"timestamp":"(' + _T + r'*+)","bids":' + _UPDATE_SIDE + r',"asks":' + _UPDATE_SIDE + r'\}\]\}'
)
_findall_orders = re.compile(
    r'\{(?:"event":"(add|modify|delete)",)?+"order_id":"(' + _T + r'++)","limit_price":(' + _PRICE
    + r'),"order_qty":(' + _NUM + r'),"timestamp":"(' + _T + r'*+)"\}'
).findall
_SNAPSHOT_PREFIX = '{"channel":"level3","type":"snapshot"'
_build_l3_data = _slot_builder(Level3Data)
_build_l3_message = _slot_builder(Level3Message)
_UPDATE_PREFIX = '{"channel":"level3","type":"update"'


def _text_orders(text: str) -> tuple[L3Order, ...]:
    if not text:
        return ()
    prices = _TEXT_DECIMALS  # prices repeat (cached); quantities mostly do not (a cache would miss)
    return tuple([
        _new_tuple(L3Order, (order_id, prices[price], Decimal(qty), timestamp, event or None))
        for event, order_id, price, qty, timestamp in _findall_orders(text)
    ])


def _update_side(event: str | None, order_id: str, price: str, qty: str, timestamp: str,
                 others: str) -> tuple[L3Order, ...]:
    """An update side from ``_UPDATE_SIDE``'s groups."""
    if event is None:
        return ()
    first = _new_tuple(L3Order, (order_id, _TEXT_DECIMALS[price], Decimal(qty), timestamp, event))
    if not others:
        return (first,)
    return (first, *_text_orders(others))


def decode_canonical_level3_frame(frame: str) -> Level3Message | None:
    """Decode a ``level3`` frame in Kraken's own layout from its text (numbers exact as written, no precision
    needed); None for any other frame (then ``decode_level3_frame`` decodes it, or names what is wrong)."""
    if frame.startswith(_UPDATE_PREFIX):
        match = _CANONICAL_L3_UPDATE.fullmatch(frame)
        if match is None:
            return None
        groups = match.groups()
        checksum = int(groups[0])
        if checksum > 0xFFFFFFFF:
            return None
        bids = () if groups[3] is None else _update_side(*groups[3:9])
        asks = () if groups[9] is None else _update_side(*groups[9:15])
        return _build_l3_message("update", (_build_l3_data(groups[1], bids, asks, checksum, groups[2]),))
    if frame.startswith(_SNAPSHOT_PREFIX):
        match = _CANONICAL_L3_SNAPSHOT.fullmatch(frame)
        if match is None:
            return None
        symbol, checksum_text, bids_text, asks_text, timestamp = match.groups()
        checksum = int(checksum_text)
        if checksum > 0xFFFFFFFF:
            return None
        return _build_l3_message(
            "snapshot",
            (_build_l3_data(symbol, _text_orders(bids_text), _text_orders(asks_text), checksum, timestamp),),
        )
    return None


def decode_level3_frame(
    frame: str | bytes, price_precision: int | None = None, qty_precision: int | None = None
) -> Level3Message:
    """Decode a raw ``level3`` frame by the fastest path that applies: Kraken's own layout from its text
    (``decode_canonical_level3_frame``), else orjson with exact conversion at the pair's precision when both
    precisions are known (see book.py), else ``wire.loads`` and the checked decoder (which names errors)."""
    if isinstance(frame, str):
        decoded = decode_canonical_level3_frame(frame)
        if decoded is not None:
            return decoded
    if price_precision is not None and qty_precision is not None:
        if fast_number_guard(frame.encode() if isinstance(frame, str) else bytes(frame)):
            try:
                msg = orjson.loads(frame)
            except orjson.JSONDecodeError:
                msg = None
            if msg is not None:
                price_convert = _converter_for(price_precision, False)
                qty_convert = _converter_for(qty_precision, True)
                try:
                    return _decode_level3_fast(msg, price_convert, qty_convert)
                except _Inexact:
                    pass
                except (_Irregular, TypeError, OverflowError, ValueError):
                    # The checked decoder names what is wrong, or accepts what was merely unusual.
                    try:
                        return _decode_level3_parsed(msg, frame, price_convert, qty_convert)
                    except (_Inexact, TypeError, OverflowError):
                        pass
    return _decode_level3_parsed(loads(frame), frame, _exact_number, _exact_number)


_KINDS = frozenset(("snapshot", "update"))
_EVENT_SET = frozenset(EVENTS)


def _fast_orders(raw: Any, snapshot: bool, price_convert: Any, qty_convert: Any) -> tuple[L3Order, ...]:
    if raw.__class__ is not list:
        raise _Irregular
    orders: list[L3Order] = []
    append = orders.append
    for entry in raw:
        if entry.__class__ is not dict:
            raise _Irregular
        order_id = entry.get("order_id")
        price = price_convert(entry.get("limit_price"))  # None: absent, not a number, or not > 0
        qty = qty_convert(entry.get("order_qty"))  # None: absent, not a number, or < 0
        timestamp = entry.get("timestamp")
        event = entry.get("event")
        if (
            order_id.__class__ is not str
            or not order_id
            or price is None
            or qty is None
            or (timestamp is not None and timestamp.__class__ is not str)
            or (event is not None if snapshot else event not in _EVENT_SET)
        ):
            raise _Irregular
        append(_new_tuple(L3Order, (order_id, price, qty, timestamp, event)))
    return tuple(orders)


def _decode_level3_fast(msg: Any, price_convert: Any, qty_convert: Any) -> Level3Message:
    """The common case without error bookkeeping (as book.py's ``_decode_book_fast``); raises ``_Irregular``
    for anything unusual, and the checked ``_decode_level3_parsed`` then decides and names the error."""
    if msg.__class__ is not dict:
        raise _Irregular
    kind = msg.get("type")
    raw_data = msg.get("data")
    if msg.get("channel") != "level3" or kind not in _KINDS or raw_data.__class__ is not list or not raw_data:
        raise _Irregular
    snapshot = kind == "snapshot"
    items = []
    for item in raw_data:
        if item.__class__ is not dict:
            raise _Irregular
        symbol, checksum, timestamp = _item_header(item)
        items.append(
            Level3Data(
                symbol=symbol,
                bids=_fast_orders(item.get("bids", _EMPTY), snapshot, price_convert, qty_convert),
                asks=_fast_orders(item.get("asks", _EMPTY), snapshot, price_convert, qty_convert),
                checksum=checksum,
                timestamp=timestamp,
            )
        )
    return Level3Message(type=kind, data=tuple(items))


_EMPTY: list[Any] = []


# ------------------------------------------------------------------------------------------------ book


class _Resting(NamedTuple):
    price: Decimal
    qty: Decimal
    fragment: str
    timestamp: str | None


class _Side:
    """Price levels sorted ascending (bids read from the end); each level an insertion-ordered queue.

    ``texts`` caches each level's checksum text (its orders' fragments joined, in queue order) and ``top``
    the side's part of the checksum text (None when stale), ``crc`` its CRC32: ``touch(price)`` before a
    change at ``price`` drops that level's text, and the side's when the level is at or better than the
    10th best (only those count in the checksum)."""

    __slots__ = ("name", "prices", "levels", "texts", "top", "crc")

    def __init__(self, name: str) -> None:
        self.name = name
        self.prices: list[Decimal] = []
        self.levels: dict[Decimal, dict[str, _Resting]] = {}
        self.texts: dict[Decimal, str] = {}
        self.top: str | None = None
        self.crc = 0

    def clear(self) -> None:
        self.prices.clear()
        self.levels.clear()
        self.texts.clear()
        self.top = None

    def touch(self, price: Decimal) -> None:
        self.texts.pop(price, None)
        if self.top is not None and self.in_top(price):
            self.top = None

    def in_top(self, price: Decimal) -> bool:
        prices = self.prices
        if len(prices) < 10:
            return True
        return price >= prices[-10] if self.name == "bid" else price <= prices[9]

    def top_text(self) -> str:
        """The checksum text of this side: every order of the 10 best levels, best level first."""
        prices = self.prices[:-11:-1] if self.name == "bid" else self.prices[:10]
        texts = self.texts
        levels = self.levels
        parts = []
        for price in prices:
            text = texts.get(price)
            if text is None:
                text = texts[price] = "".join([resting.fragment for resting in levels[price].values()])
            parts.append(text)
        return "".join(parts)

    def best_first(self) -> list[Decimal]:
        return self.prices[::-1] if self.name == "bid" else list(self.prices)


class L3Book:
    """An order-by-order book for one symbol with Kraken's level3 checksum and queue positions."""

    __slots__ = (
        "symbol",
        "depth",
        "price_precision",
        "qty_precision",
        "_price_spec",
        "_qty_spec",
        "_price_fragments",
        "_qty_fragments",
        "_bids",
        "_asks",
        "_where",
        "snapshots_applied",
        "updates_applied",
    )

    def __init__(
        self, symbol: str, depth: int = 10, price_precision: int | None = None, qty_precision: int | None = None
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.symbol = symbol
        self.depth = depth
        self._bids = _Side("bid")
        self._asks = _Side("ask")
        self._where: dict[str, tuple[_Side, Decimal]] = {}  # order_id -> (side, price) holding it
        self.snapshots_applied = 0
        self.updates_applied = 0
        self.price_precision: int | None = None
        self.qty_precision: int | None = None
        self._price_spec = "f"
        self._qty_spec = "f"
        # value -> checksum text, precision mode only (in wire-text mode equal values may be written
        # differently); bounded, cleared when full or when the precision changes.
        self._price_fragments: dict[Decimal, str] = {}
        self._qty_fragments: dict[Decimal, str] = {}
        self.set_precision(price_precision, qty_precision)

    # ----------------------------------------------------------------------------------- maintenance

    def set_precision(self, price_precision: int | None, qty_precision: int | None) -> None:
        """Set the pair's precisions (None: hash the wire text) and recompute every cached fragment."""
        self.price_precision = price_precision
        self.qty_precision = qty_precision
        self._price_spec = f".{price_precision}f" if price_precision is not None else "f"
        self._qty_spec = f".{qty_precision}f" if qty_precision is not None else "f"
        self._price_fragments.clear()
        self._qty_fragments.clear()
        for side in (self._bids, self._asks):
            side.texts.clear()
            side.top = None
            for level in side.levels.values():
                for order_id, resting in level.items():
                    level[order_id] = resting._replace(fragment=self._fragment(resting.price, resting.qty))

    def _fragment(self, price: Decimal, qty: Decimal) -> str:
        if self.price_precision is None or self.qty_precision is None:
            return (
                format(price, self._price_spec).replace(".", "").lstrip("0")
                + format(qty, self._qty_spec).replace(".", "").lstrip("0")
            )
        prices = self._price_fragments
        price_text = prices.get(price)
        if price_text is None:
            price_text = format(price, self._price_spec).replace(".", "").lstrip("0")
            if len(prices) >= _FRAGMENT_CACHE:
                prices.clear()
            prices[price] = price_text
        qtys = self._qty_fragments
        qty_text = qtys.get(qty)
        if qty_text is None:
            qty_text = format(qty, self._qty_spec).replace(".", "").lstrip("0")
            if len(qtys) >= _FRAGMENT_CACHE:
                qtys.clear()
            qtys[qty] = qty_text
        return price_text + qty_text

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self._where.clear()

    def _append(self, side: _Side, order: L3Order) -> None:
        price = order.limit_price
        side.touch(price)
        level = side.levels.get(price)
        if level is None:
            level = side.levels[price] = {}
            prices = side.prices
            prices.insert(bisect_left(prices, price), price)
        level[order.order_id] = _new_tuple(  # a _Resting, without the NamedTuple's Python-level __new__
            _Resting, (price, order.order_qty, self._fragment(price, order.order_qty), order.timestamp)
        )
        self._where[order.order_id] = (side, price)

    def _apply_event(self, side: _Side, order: L3Order) -> None:
        event = order.event
        order_id = order.order_id
        if event == "delete":
            self._drop(order_id)
            return
        if event == "modify":
            where = self._where.get(order_id)
            if where is not None and where[0] is side and where[1] == order.limit_price:
                if not order.order_qty:
                    self._drop(order_id)
                    return
                price = where[1]
                side.touch(price)
                # In place: a dict keeps a key's position when its value is replaced.
                side.levels[price][order_id] = _new_tuple(
                    _Resting, (price, order.order_qty, self._fragment(price, order.order_qty), order.timestamp)
                )
                return
            self._drop(order_id)
            if order.order_qty:
                self._append(side, order)
            return
        # add (an add for a known id replaces it, at the back of the queue)
        self._drop(order_id)
        if order.order_qty:
            self._append(side, order)

    def _find(self, order_id: str) -> tuple[_Side, _Resting] | None:
        where = self._where.get(order_id)
        if where is None:
            return None
        side, price = where
        return side, side.levels[price][order_id]

    def _drop(self, order_id: str) -> None:
        where = self._where.pop(order_id, None)
        if where is None:
            return
        side, price = where
        side.touch(price)
        level = side.levels[price]
        del level[order_id]
        if not level:
            del side.levels[price]
            prices = side.prices
            del prices[bisect_left(prices, price)]

    def _truncate(self) -> None:
        depth = self.depth
        for side in (self._bids, self._asks):
            prices = side.prices
            excess = len(prices) - depth
            if excess <= 0:
                continue
            if side.name == "bid":
                dropped = prices[:excess]
                del prices[:excess]
            else:
                dropped = prices[depth:]
                del prices[depth:]
            if depth < 10:  # a dropped level was among the 10 best
                side.top = None
            where = self._where
            texts = side.texts
            for price in dropped:
                texts.pop(price, None)
                for order_id in side.levels.pop(price):
                    where.pop(order_id, None)

    def apply(self, data: Level3Data, snapshot: bool = False) -> ChecksumResult:
        """Apply one data item (a snapshot replaces the book), truncate to depth, check its checksum."""
        if data.symbol != self.symbol:
            raise ValueError(f"book for {self.symbol!r} given data for {data.symbol!r}")
        if snapshot:
            self.clear()
            self.snapshots_applied += 1
            for side, orders in ((self._bids, data.bids), (self._asks, data.asks)):
                for order in orders:
                    self._drop(order.order_id)
                    if order.order_qty:
                        self._append(side, order)
        else:
            self.updates_applied += 1
            for side, orders in ((self._bids, data.bids), (self._asks, data.asks)):
                for order in orders:
                    self._apply_event(side, order)
        self._truncate()
        computed = self.checksum()
        expected = data.checksum
        if expected is None:
            return ChecksumResult(CHECKSUM_ABSENT, None, computed)
        if expected == computed:
            return _new_tuple(ChecksumResult, (CHECKSUM_OK, expected, computed))
        return ChecksumResult(CHECKSUM_MISMATCH, expected, computed)

    def apply_message(self, msg: Level3Message) -> ChecksumResult:
        """Apply the data item of ``msg`` for this book's symbol (the last one, if several)."""
        result: ChecksumResult | None = None
        for data in msg.data:
            if data.symbol == self.symbol:
                result = self.apply(data, snapshot=msg.type == "snapshot")
        if result is None:
            raise ValueError(f"message carries no data for {self.symbol!r}")
        return result

    # --------------------------------------------------------------------------------------- reading

    def checksum_input(self) -> str:
        """The exact string hashed by ``checksum()``."""
        return self._asks.top_text() + self._bids.top_text()

    def checksum(self) -> int:
        """Kraken's level3 CRC32: every order, in queue order, in the top 10 price levels per side (cached
        until a change touches one of those levels; each level's text cached until that level changes)."""
        asks, bids = self._asks, self._bids
        if asks.top is None:
            asks.top = asks.top_text()
            asks.crc = zlib.crc32(asks.top.encode())
        if bids.top is None:
            bids.top = bids.top_text()
        return zlib.crc32(bids.top.encode(), asks.crc) & 0xFFFFFFFF

    def _aggregate(self, side: _Side, prices: list[Decimal]) -> tuple[BookLevel, ...]:
        levels = side.levels
        return tuple(BookLevel(price, sum((r.qty for r in levels[price].values()), _ZERO)) for price in prices)

    def l2_view(self, depth: int | None = None) -> L2View:
        """Aggregated levels, best first, at most ``depth`` per side (all when None)."""
        bid_prices = self._bids.prices[::-1]
        ask_prices = self._asks.prices
        if depth is not None:
            bid_prices, ask_prices = bid_prices[:depth], ask_prices[:depth]
        return L2View(
            symbol=self.symbol,
            bids=self._aggregate(self._bids, bid_prices),
            asks=self._aggregate(self._asks, list(ask_prices)),
        )

    def best_bid(self) -> BookLevel | None:
        prices = self._bids.prices
        return self._aggregate(self._bids, prices[-1:])[0] if prices else None

    def best_ask(self) -> BookLevel | None:
        prices = self._asks.prices
        return self._aggregate(self._asks, prices[:1])[0] if prices else None

    def order(self, order_id: str) -> L3Order | None:
        found = self._find(order_id)
        if found is None:
            return None
        resting = found[1]
        return L3Order(order_id, resting.price, resting.qty, resting.timestamp)

    def orders_at(self, side: Literal["bid", "ask"], price: Decimal) -> tuple[L3Order, ...]:
        """The orders resting at ``price`` on ``side``, in queue order (front first)."""
        book_side = self._bids if side == "bid" else self._asks
        level = book_side.levels.get(price, {})
        return tuple(L3Order(oid, r.price, r.qty, r.timestamp) for oid, r in level.items())

    def queue_position(self, order_id: str) -> QueuePosition | None:
        """Orders and quantity ahead of ``order_id`` in its level's queue; None if it is not in the book."""
        found = self._find(order_id)
        if found is None:
            return None
        side, resting = found
        ahead = 0
        qty_ahead = _ZERO
        for other_id, other in side.levels[resting.price].items():
            if other_id == order_id:
                break
            ahead += 1
            qty_ahead += other.qty
        return QueuePosition(side.name, resting.price, ahead, qty_ahead, resting.qty)

    def order_count(self) -> int:
        return len(self._where)

    def is_crossed(self) -> bool:
        return bool(self._bids.prices and self._asks.prices and self._bids.prices[-1] >= self._asks.prices[0])
