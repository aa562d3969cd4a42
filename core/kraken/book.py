"""Kraken WS v2 ``book`` channel (level 2): message types, decoding, and the checksummed ``L2Book``.

Stable API (other modules code against these names):

- ``BookLevel(price: Decimal, qty: Decimal)``: one price level (an immutable NamedTuple, so it *is* the
  ``(price, qty)`` pair that ``L2Book.bids(n)`` returns). ``qty == 0`` in an update deletes the level.
- ``BookData(symbol, bids, asks, checksum, timestamp)`` and ``BookMessage(type, data)``: frozen,
  slotted, keyword-only dataclasses; ``type`` is ``"snapshot"`` or ``"update"``; tuples, not lists.
- ``decode_book(msg: dict) -> BookMessage``: ``msg`` is an already parsed frame (``wire.loads``, so numbers
  are ``Decimal``/``int``) with ``channel == "book"``; raises ``wire.DecodeError`` naming what is wrong,
  e.g. ``"book update: 'price' missing in bids[0]"``.
- ``decode_book_frame(frame, price_precision=None, qty_precision=None) -> BookMessage``: the fast path from
  the raw frame text (str or bytes). Kraken's canonical layout is parsed straight from the wire text by one
  anchored pattern (exact, any precision); other layouts, with both precisions known, go through orjson and
  a guarded exact conversion at the pair's precision (``wire.fast_number_guard``, ``_exact_converter``);
  everything else through ``wire.loads``. All paths return equal messages and the same ``DecodeError``s.
- ``parse_book_frame(frame: str) -> BookFrameText | None``: the daemon's wire-text path, step 1: one
  anchored match splits a canonical single-symbol frame (``type``, ``symbol``, the two sides' level text,
  ``checksum``, ``timestamp``) without converting a number; None for any other frame.
- ``L2Book(symbol, depth, price_precision=None, qty_precision=None)``:
  ``apply(data, snapshot=False) -> ChecksumResult``, ``apply_text(frame: BookFrameText) -> ChecksumResult``
  (step 2: levels read from the text, each number's Decimal and checksum fragment taken from its wire text
  through a per-book cache), ``apply_message(msg) -> ChecksumResult``,
  ``best_bid()``/``best_ask()`` -> ``BookLevel | None``, ``bids(n)``/``asks(n)`` -> tuple of ``BookLevel``
  best first, ``checksum() -> int``, ``checksum_input() -> str``, ``set_precision(p, q)``, ``clear()``,
  ``is_crossed()``, ``len``-like ``depth_of_bids()``/``depth_of_asks()``.
- ``ChecksumResult(status, expected, computed)``: ``status`` is ``CHECKSUM_OK``, ``CHECKSUM_MISMATCH`` or
  ``CHECKSUM_ABSENT`` (the message carried none). ``result.ok`` / ``result.mismatch``. A mismatch is a
  value, not an exception: the caller turns it into a resync (a fresh snapshot).

Book maintenance follows PROTOCOL.md 1.8 and 2.1: a snapshot replaces the book; the levels of an update are
applied in order (several updates to one price in one message are applied in sequence); after every message
each side is truncated to the subscribed depth; the checksum covers the top 10 levels of each side.

Checksum text: when the pair's precisions are known, each number is formatted with exactly that many
decimals (so re-serialized numbers that lost trailing zeros still hash right); otherwise the number's own
wire text is used (``Decimal`` keeps the wire's exponent, so ``0.00005100`` stays ``0.00005100``).

Why NamedTuples for levels and results: a frozen slotted dataclass costs ~1.4 us to build here, a
NamedTuple ~0.3 us, and a level is built per price per frame. Both are immutable.
"""

from __future__ import annotations

import re
import zlib
from bisect import bisect_left
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NamedTuple

import orjson

from kraken_runtime.core.kraken.wire import DecodeError, excerpt_of, fast_number_guard, loads

__all__ = [
    "book_frame_symbol",
    "BookFrameText",
    "parse_book_frame",
    "decode_canonical_book_frame",
    "BookLevel",
    "BookData",
    "BookMessage",
    "ChecksumResult",
    "CHECKSUM_OK",
    "CHECKSUM_MISMATCH",
    "CHECKSUM_ABSENT",
    "decode_book",
    "decode_book_frame",
    "L2Book",
    "number_fragment",
]

CHECKSUM_OK = "ok"
CHECKSUM_MISMATCH = "mismatch"
CHECKSUM_ABSENT = "absent"

_ZERO = Decimal(0)


class BookLevel(NamedTuple):
    """One price level: ``(price, qty)``; qty 0 in an update deletes the level."""

    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class BookData:
    """One item of a book message's ``data``: the levels for one symbol, best first per side."""

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    checksum: int | None
    timestamp: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BookMessage:
    """A decoded ``book`` frame: a snapshot (replaces the book) or an update (changed levels only)."""

    type: Literal["snapshot", "update"]
    data: tuple[BookData, ...]

    @property
    def is_snapshot(self) -> bool:
        return self.type == "snapshot"


class ChecksumResult(NamedTuple):
    """The outcome of checking a book against the checksum a message carried."""

    status: str  # CHECKSUM_OK | CHECKSUM_MISMATCH | CHECKSUM_ABSENT
    expected: int | None
    computed: int

    @property
    def ok(self) -> bool:
        return self.status == CHECKSUM_OK

    @property
    def mismatch(self) -> bool:
        return self.status == CHECKSUM_MISMATCH


# --------------------------------------------------------------------------------------------- decoding


def _fail(kind: str, reason: str, frame: Any) -> DecodeError:
    return DecodeError(f"{kind}: {reason}", excerpt_of(frame))


def _exact_number(value: Any) -> Decimal | None:
    """Decimal from a slow-path value (Decimal or int, never bool/float); None if not a number."""
    cls = value.__class__
    if cls is Decimal:
        return value if value.is_finite() else None
    if cls is int:
        return Decimal(value)
    return None


def _decode_levels(
    kind: str, side: str, raw: Any, frame: Any, price_convert: Any, qty_convert: Any
) -> tuple[BookLevel, ...]:
    if raw.__class__ is not list:
        raise _fail(kind, f"'{side}' is not a list", frame)
    levels = []
    for index, entry in enumerate(raw):
        if entry.__class__ is not dict:
            raise _fail(kind, f"{side}[{index}] is not an object", frame)
        try:
            raw_price = entry["price"]
        except KeyError:
            raise _fail(kind, f"'price' missing in {side}[{index}]", frame) from None
        try:
            raw_qty = entry["qty"]
        except KeyError:
            raise _fail(kind, f"'qty' missing in {side}[{index}]", frame) from None
        price = price_convert(raw_price)
        if price is None or price <= _ZERO:
            raise _fail(kind, f"'price' is not a positive number in {side}[{index}]: {raw_price!r}", frame)
        qty = qty_convert(raw_qty)
        if qty is None or qty < _ZERO:
            raise _fail(kind, f"'qty' is not a non-negative number in {side}[{index}]: {raw_qty!r}", frame)
        levels.append(BookLevel(price, qty))
    return tuple(levels)


def _decode_book_parsed(msg: Any, frame: Any, price_convert: Any, qty_convert: Any) -> BookMessage:
    if msg.__class__ is not dict:
        raise DecodeError("book: frame is not a JSON object", excerpt_of(frame))
    channel = msg.get("channel")
    if channel != "book":
        raise DecodeError(f"book: channel is {channel!r}, not 'book'", excerpt_of(frame))
    kind_value = msg.get("type")
    if kind_value not in ("snapshot", "update"):
        raise DecodeError(f"book: 'type' is {kind_value!r}, not 'snapshot' or 'update'", excerpt_of(frame))
    kind = f"book {kind_value}"
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
        bids = _decode_levels(kind, "bids", item.get("bids", []), frame, price_convert, qty_convert)
        asks = _decode_levels(kind, "asks", item.get("asks", []), frame, price_convert, qty_convert)
        items.append(BookData(symbol=symbol, bids=bids, asks=asks, checksum=checksum, timestamp=timestamp))
    return BookMessage(type=kind_value, data=tuple(items))


def decode_book(msg: dict) -> BookMessage:
    """Decode an already parsed ``book`` frame (numbers as Decimal/int, from ``wire.loads``)."""
    return _decode_book_parsed(msg, msg, _exact_number, _exact_number)


_SCALES = tuple(10**p for p in range(19))
_TICK_LIMIT = 1 << 52
_CACHE_SIZE = 4096  # exact conversions remembered per precision (prices repeat); cleared when full


class _Inexact(Exception):
    """Internal: the fast path cannot prove a number exact; decode the frame on the slow path."""


class _Irregular(Exception):
    """Internal: the fast path met something unusual; the checked path decides (and names the error)."""


def _exact_converter(places: int, allow_zero: bool) -> Any:
    """A converter from an orjson value to the exact Decimal at ``places`` decimals, or None when the value
    is not a number, is negative, or is zero while ``allow_zero`` is false (a price).

    The caller has checked ``wire.fast_number_guard`` (every number text has <= 15 significant digits) and
    asserts the wire carries at most ``places`` decimals (the pair's precision). ``ticks = round(x * 10**p)``
    is then the wire value in ticks when ``ticks / 10**p == x``: distinct multiples of ``10**-p`` below
    ``2**52`` ticks round to distinct doubles. When that check fails (a number with more decimals than the
    precision), ``_Inexact`` sends the whole frame to the exact slow path. Results are cached by the float
    (the class is checked first, so ``True``/``1`` never hit a ``1.0`` entry); only valid values are cached.
    """
    scale = _SCALES[places]
    exponent = -places
    lowest = 0 if allow_zero else 1
    cache: dict[float, Decimal] = {}
    cache_get = cache.get

    def convert(value: Any) -> Decimal | None:
        cls = value.__class__
        if cls is float:
            result = cache_get(value)
            if result is not None:
                return result
            ticks = round(value * scale)
            if ticks / scale != value or ticks >= _TICK_LIMIT:
                raise _Inexact
            if ticks < lowest:
                return None
            result = Decimal(ticks).scaleb(exponent)
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[value] = result
            return result
        if cls is int:
            return Decimal(value) if value >= lowest else None
        return None

    return convert


_CONVERTERS: dict[tuple[int, bool], Any] = {}


def _converter_for(places: int, allow_zero: bool = True) -> Any:
    converter = _CONVERTERS.get((places, allow_zero))
    if converter is None:
        if not 0 <= places < len(_SCALES):
            raise ValueError(f"precision out of range: {places}")
        converter = _CONVERTERS[(places, allow_zero)] = _exact_converter(places, allow_zero)
    return converter


def _slot_builder(cls: type) -> Any:
    """Build a frozen slotted dataclass from positional values without its keyword ``__init__``.

    ~0.6 us instead of ~1.4 us for BookData here. Only for values the decoder has already validated; the
    instance is indistinguishable from one built by ``__init__`` (equality, repr, frozenness).
    """
    new = object.__new__
    setters = tuple(getattr(cls, name).__set__ for name in getattr(cls, "__dataclass_fields__"))

    if len(setters) == 2:
        set_a, set_b = setters

        def build2(a: Any, b: Any) -> Any:
            obj: Any = new(cls)
            set_a(obj, a)
            set_b(obj, b)
            return obj

        return build2
    if len(setters) == 5:
        set_a, set_b, set_c, set_d, set_e = setters

        def build5(a: Any, b: Any, c: Any, d: Any, e: Any) -> Any:
            obj: Any = new(cls)
            set_a(obj, a)
            set_b(obj, b)
            set_c(obj, c)
            set_d(obj, d)
            set_e(obj, e)
            return obj

        return build5
    raise TypeError(f"no builder for {len(setters)} fields")  # pragma: no cover


_new_tuple = tuple.__new__
_build_data = _slot_builder(BookData)
_build_message = _slot_builder(BookMessage)
_KINDS = frozenset(("snapshot", "update"))


def _fast_levels(raw: Any, price_convert: Any, qty_convert: Any) -> tuple[BookLevel, ...]:
    if raw.__class__ is not list:
        raise _Irregular
    if not raw:
        return ()
    levels: list[BookLevel] = []
    append = levels.append
    for entry in raw:
        if entry.__class__ is not dict:
            raise _Irregular
        price = price_convert(entry.get("price"))  # validated: > 0 (see _exact_converter)
        qty = qty_convert(entry.get("qty"))  # validated: >= 0
        if price is None or qty is None:
            raise _Irregular
        append(_new_tuple(BookLevel, (price, qty)))
    return tuple(levels)


def _item_header(item: dict[str, Any]) -> tuple[str, int | None, str | None]:
    """A data item's symbol, checksum and timestamp in the fast decoders (book and level3); ``_Irregular``
    for anything unusual, which the checked decoder then names."""
    symbol = item.get("symbol")
    checksum = item.get("checksum")
    timestamp = item.get("timestamp")
    if (
        symbol.__class__ is not str
        or not symbol
        or (checksum is not None and (checksum.__class__ is not int or not 0 <= checksum <= 0xFFFFFFFF))
        or (timestamp is not None and timestamp.__class__ is not str)
    ):
        raise _Irregular
    return symbol, checksum, timestamp


def _decode_book_fast(msg: Any, price_convert: Any, qty_convert: Any) -> BookMessage:
    """The common case without error bookkeeping; raises ``_Irregular`` for anything unusual."""
    if msg.__class__ is not dict:
        raise _Irregular
    kind = msg.get("type")
    raw_data = msg.get("data")
    if msg.get("channel") != "book" or kind not in _KINDS or raw_data.__class__ is not list or not raw_data:
        raise _Irregular
    items = []
    for item in raw_data:
        if item.__class__ is not dict:
            raise _Irregular
        symbol, checksum, timestamp = _item_header(item)
        items.append(
            _build_data(
                symbol,
                _fast_levels(item.get("bids", _EMPTY), price_convert, qty_convert),
                _fast_levels(item.get("asks", _EMPTY), price_convert, qty_convert),
                checksum,
                timestamp,
            )
        )
    return _build_message(kind, tuple(items))


_EMPTY: list = []


# The canonical layout of Kraken's live book frames (key order as sent, no whitespace). A frame that
# matches is decoded straight from its wire text: every number is a plain JSON decimal the pattern spells out,
# so ``Decimal(text)`` is exact by construction. Anything else (other key order, spaces, exponents, escapes)
# does not match and takes the general path. The pattern is unambiguous (linear time, no backtracking blowup).
# Every repeat is possessive (``*+``, ``++``, ``?+``): what follows each one can never be matched by it
# (a digit run ends at ',', '}' or '.', a text run at '"'), so the language is the same, and the matcher
# keeps no backtracking state per repeat (0.88 -> 0.63 us a frame here).
_NUM = r"(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+"
# A price is positive: a zero price (``0``, ``0.000``) does not match, so the checked decoder names it.
# Unambiguous like _NUM (zeros, then the first non-zero digit): no backtracking blowup.
_PRICE = r"(?:[1-9][0-9]*+(?:\.[0-9]++)?+|0\.0*+[1-9][0-9]*+)"
_LEVEL = r'\{"price":' + _PRICE + r',"qty":' + _NUM + r"\}"
_LEVELS = r"(?:" + _LEVEL + r"(?:," + _LEVEL + r")*+)?+"
_TEXT = r'[^"\\\x00-\x1f]'
_CANONICAL_FRAME = re.compile(
    r'\{"channel":"book","type":"(snapshot|update)","data":\[\{"symbol":"(' + _TEXT + r'++)",'
    r'"bids":\[(' + _LEVELS + r')\],"asks":\[(' + _LEVELS + r')\],'
    r'"checksum":(0|[1-9][0-9]{0,9}+)(?:,"timestamp":"(' + _TEXT + r'*+)")?+\}\]\}'
)
_CANONICAL_LEVEL = re.compile(r'\{"price":(' + _PRICE + r'),"qty":(' + _NUM + r")\}")


_BOOK_PREFIX = '{"channel":"book","type":"'  # Kraken's book frames begin so, then update|snapshot
_BOOK_SYMBOL = '","data":[{"symbol":"'


def book_frame_symbol(frame: Any) -> str | None:
    """The symbol of a book frame in Kraken's own layout that names exactly one symbol, read from its text
    without decoding it (~0.3 us); None for anything else. Routing only: the frame is still decoded and
    verified in full by whoever applies it (a frame that is not what its start says fails there)."""
    if frame.__class__ is not str or not frame.startswith(_BOOK_PREFIX):
        return None
    start = frame.find(_BOOK_SYMBOL, 26, 60)
    if start < 0:
        return None
    start += len(_BOOK_SYMBOL)
    end = frame.find('"', start)
    if end <= start or frame.find('"symbol":"', end) >= 0:
        return None
    return frame[start:end]


class BookFrameText(NamedTuple):
    """A ``book`` frame in Kraken's canonical layout, split by one pattern match but not yet decoded: the
    levels stay wire text (``bids_text``/``asks_text`` are the comma-joined ``{"price":..,"qty":..}``
    objects between the brackets, ``""`` when a side is empty). ``L2Book.apply_text`` applies it straight
    from the text; ``decode_canonical_book_frame`` turns it into a ``BookMessage``."""

    type: str  # "snapshot" | "update"
    symbol: str
    bids_text: str
    asks_text: str
    checksum: int
    timestamp: str | None

    @property
    def is_snapshot(self) -> bool:
        return self.type == "snapshot"


_match_canonical = _CANONICAL_FRAME.fullmatch


def parse_book_frame(frame: str) -> BookFrameText | None:
    """Split a ``book`` frame in Kraken's canonical layout (one symbol, positive prices, a checksum);
    None for anything else (then ``decode_book_frame`` decodes it, or names what is wrong). ~2 us: one
    anchored pattern match, no number converted."""
    match = _match_canonical(frame)
    if match is None:
        return None
    kind, symbol, bids_text, asks_text, checksum_text, timestamp = match.groups()
    checksum = int(checksum_text)
    if checksum > 0xFFFFFFFF:
        return None
    return _new_tuple(BookFrameText, (kind, symbol, bids_text, asks_text, checksum, timestamp))


def decode_canonical_book_frame(frame: str) -> BookMessage | None:
    """Decode a frame in Kraken's canonical layout from its wire text; None when it is not in that layout
    (then ``decode_book_frame`` decodes it, or names what is wrong). Needs no pair precision."""
    match = _match_canonical(frame)
    if match is None:
        return None
    kind, symbol, bids_text, asks_text, checksum_text, timestamp = match.groups()
    checksum = int(checksum_text)
    if checksum > 0xFFFFFFFF:
        return None
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()
    decimals = _TEXT_DECIMALS
    # Prices are positive by the pattern (_PRICE): no zero check here.
    if bids_text:
        bids = tuple([_new_tuple(BookLevel, (decimals[p], decimals[q])) for p, q in _findall_levels(bids_text)])
    if asks_text:
        asks = tuple([_new_tuple(BookLevel, (decimals[p], decimals[q])) for p, q in _findall_levels(asks_text)])
    return _build_message(kind, (_build_data(symbol, bids, asks, checksum, timestamp),))


_findall_levels = _CANONICAL_LEVEL.findall
# What separates two levels, and a level's price from its qty, in a side's text as the pattern matched it:
# '{"price":P,"qty":Q},{"price":P,"qty":Q}' without its first 9 and last 1 characters splits into 'P,"qty":Q'.
_LEVEL_SEPARATOR = '},{"price":'
_QTY_SEPARATOR = ',"qty":'


class _TextDecimals(dict):
    """Wire text -> Decimal, bounded (cleared when full). Keyed by the exact text, so the Decimal keeps the
    wire's exponent; a hit also hands back an object whose hash is already computed (the book's caches
    hash every price and qty). A miss converts and remembers (zero quantities, i.e. deletions, included)."""

    __slots__ = ()

    def __missing__(self, text: str) -> Decimal:
        value = Decimal(text)
        if len(self) >= _CACHE_SIZE * 2:
            self.clear()
        self[text] = value
        return value


_TEXT_DECIMALS = _TextDecimals()


class _TextLevels(dict):
    """Wire text -> ``(Decimal, checksum fragment)`` for one book's prices or quantities, bounded (cleared
    when full). Keyed by the exact text: the fragment is that text with the '.' and leading zeros removed
    when it carries exactly ``places`` decimals (Kraken always does) or when hashing wire text
    (``places`` None); otherwise the value formatted at ``places`` (rounded half-even, as ``_fragment``)."""

    __slots__ = ("places",)

    def __init__(self, places: int | None = None) -> None:
        super().__init__()
        self.places = places

    def __missing__(self, text: str) -> tuple[Decimal, str]:
        value = _TEXT_DECIMALS[text]
        places = self.places
        written = text
        if places is not None:
            dot = text.find(".")
            if (len(text) - dot - 1 if dot >= 0 else 0) != places:
                written = format(value, f".{places}f")
        entry = (value, written.replace(".", "").lstrip("0"))
        if len(self) >= _CACHE_SIZE:
            self.clear()
        self[text] = entry
        return entry


def decode_book_frame(
    frame: str | bytes, price_precision: int | None = None, qty_precision: int | None = None
) -> BookMessage:
    """Decode a raw ``book`` frame, exactly, by the fastest path that applies.

    1. Kraken's canonical layout: parsed from the wire text by one anchored pattern (any precision).
    2. Both precisions known: orjson plus guarded exact conversion (``_exact_converter``).
    3. Otherwise ``wire.loads`` + the checked decoder (which also names any error).
    """
    text: str | None
    if isinstance(frame, str):
        text = frame
    else:
        try:
            text = bytes(frame).decode("ascii")
        except UnicodeDecodeError:
            text = None
    if text is not None:
        decoded = decode_canonical_book_frame(text)
        if decoded is not None:
            return decoded
    if price_precision is not None and qty_precision is not None:
        if fast_number_guard(frame.encode() if isinstance(frame, str) else bytes(frame)):
            try:
                msg = orjson.loads(frame)
            except orjson.JSONDecodeError:
                msg = None  # let the slow path produce the DecodeError
            if msg is not None:
                price_convert = _converter_for(price_precision, allow_zero=False)
                qty_convert = _converter_for(qty_precision, allow_zero=True)
                try:
                    return _decode_book_fast(msg, price_convert, qty_convert)
                except _Inexact:
                    pass
                except (_Irregular, TypeError, OverflowError, ValueError):
                    # The checked decoder names what is wrong, or accepts what was merely unusual.
                    try:
                        return _decode_book_parsed(msg, frame, price_convert, qty_convert)
                    except DecodeError:
                        raise
                    except (_Inexact, TypeError, OverflowError, ValueError):
                        pass
    return _decode_book_parsed(loads(frame), frame, _exact_number, _exact_number)


# ------------------------------------------------------------------------------------------------ book


def number_fragment(value: Decimal, places: int | None) -> str:
    """Checksum text of one number: formatted at ``places`` (or as on the wire), '.' and leading 0s gone."""
    text = format(value, f".{places}f" if places is not None else "f")
    return text.replace(".", "").lstrip("0")


class _Side:
    """One side of a level-2 book: parallel lists sorted by ascending price (bids read from the end)."""

    __slots__ = ("prices", "qtys", "fragments")

    def __init__(self) -> None:
        self.prices: list[Decimal] = []
        self.qtys: list[Decimal | str] = []  # a Decimal (apply) or its exact wire text (apply_text)
        self.fragments: list[str] = []

    def clear(self) -> None:
        self.prices.clear()
        self.qtys.clear()
        self.fragments.clear()


class L2Book:
    """A level-2 book for one symbol, maintained exactly as Kraken's checksum expects."""

    __slots__ = (
        "symbol",
        "depth",
        "price_precision",
        "qty_precision",
        "_bids",
        "_asks",
        "_price_spec",
        "_qty_spec",
        "_price_fragments",
        "_qty_fragments",
        "_price_texts",
        "_qty_texts",
        "_qty_dot",
        "_ask_text",
        "_checksum",
        "snapshots_applied",
        "updates_applied",
    )

    def __init__(
        self, symbol: str, depth: int, price_precision: int | None = None, qty_precision: int | None = None
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.symbol = symbol
        self.depth = depth
        self._bids = _Side()
        self._asks = _Side()
        self.snapshots_applied = 0
        self.updates_applied = 0
        self.price_precision: int | None = None
        self.qty_precision: int | None = None
        self._price_spec = "f"
        self._qty_spec = "f"
        self._price_fragments: dict[Decimal, str] = {}  # price -> its checksum text, bounded (_CACHE_SIZE)
        self._qty_fragments: dict[Decimal, str] = {}  # qty -> its checksum text, bounded (_CACHE_SIZE)
        self._price_texts = _TextLevels()  # wire text -> (price, fragment), for apply_text
        self._qty_texts = _TextLevels()  # wire text -> (qty, fragment), for apply_text
        self._qty_dot = 0  # apply_text: -(qty_precision + 1), the '.' of a quantity at full precision
        self._ask_text: str | None = None  # the asks part of the checksum text; None when a top-10 ask changed
        self._checksum: int | None = None  # the full checksum; None when a top-10 level changed
        self.set_precision(price_precision, qty_precision)

    # ----------------------------------------------------------------------------------- maintenance

    def set_precision(self, price_precision: int | None, qty_precision: int | None) -> None:
        """Set the pair's precisions (None: hash the wire text) and recompute every cached fragment."""
        for value in (price_precision, qty_precision):
            if value is not None and not 0 <= value < len(_SCALES):
                raise ValueError(f"precision out of range: {value}")
        self.price_precision = price_precision
        self.qty_precision = qty_precision
        self._price_spec = f".{price_precision}f" if price_precision is not None else "f"
        self._qty_spec = f".{qty_precision}f" if qty_precision is not None else "f"
        self._price_fragments.clear()
        self._qty_fragments.clear()
        self._price_texts = _TextLevels(price_precision)
        self._qty_texts = _TextLevels(qty_precision)
        self._qty_dot = -(qty_precision + 1) if qty_precision else 0 if qty_precision is None else -1
        self._ask_text = None
        self._checksum = None
        for side in (self._bids, self._asks):
            side.fragments[:] = [self._fragment(p, Decimal(q)) for p, q in zip(side.prices, side.qtys)]

    def _fragment(self, price: Decimal, qty: Decimal) -> str:
        return (
            format(price, self._price_spec).replace(".", "").lstrip("0")
            + format(qty, self._qty_spec).replace(".", "").lstrip("0")
        )

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self._ask_text = None
        self._checksum = None

    def _price_fragment(self, price: Decimal) -> str:
        if self.price_precision is None:  # wire text: equal prices may be written differently, no cache
            return format(price, "f").replace(".", "").lstrip("0")
        cache = self._price_fragments
        fragment = cache.get(price)
        if fragment is None:
            fragment = format(price, self._price_spec).replace(".", "").lstrip("0")
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[price] = fragment
        return fragment

    def _qty_fragment(self, qty: Decimal) -> str:
        if self.qty_precision is None:  # wire text: equal quantities may be written differently, no cache
            return format(qty, "f").replace(".", "").lstrip("0")
        cache = self._qty_fragments
        fragment = cache.get(qty)
        if fragment is None:
            fragment = format(qty, self._qty_spec).replace(".", "").lstrip("0")
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[qty] = fragment
        return fragment

    def _truncate(self) -> None:
        depth = self.depth
        bids = self._bids
        excess = len(bids.prices) - depth
        if excess > 0:  # bids ascend: the worst bids are at the front
            del bids.prices[:excess]
            del bids.qtys[:excess]
            del bids.fragments[:excess]
        asks = self._asks
        if len(asks.prices) > depth:  # asks ascend: the worst asks are at the back
            del asks.prices[depth:]
            del asks.qtys[depth:]
            del asks.fragments[depth:]

    def apply(self, data: BookData, snapshot: bool = False) -> ChecksumResult:
        """Apply one data item (a snapshot replaces the book), truncate to depth, check its checksum."""
        if data.symbol != self.symbol:
            raise ValueError(f"book for {self.symbol!r} given data for {data.symbol!r}")
        if snapshot:
            self._bids.clear()
            self._asks.clear()
            self._ask_text = None
            self._checksum = None
            self.snapshots_applied += 1
        else:
            self.updates_applied += 1
        # _set inlined (this is the per-frame hot path): same logic, no call per level. A change at one of
        # the 10 best indexes of a side invalidates that side's part of the cached checksum.
        # Fragment caches stay empty in wire-text mode (see _price_fragment), so .get() falls through there.
        price_fragment = self._price_fragment
        qty_fragment = self._qty_fragment
        price_cache_get = self._price_fragments.get
        qty_cache_get = self._qty_fragments.get
        levels = data.bids
        if levels:
            side = self._bids
            prices, qtys, fragments = side.prices, side.qtys, side.fragments
            for price, qty in levels:
                index = bisect_left(prices, price)
                count = len(prices)
                present = index < count and prices[index] == price
                if index >= count - 10:  # bids ascend: the best 10 are at the back
                    self._checksum = None
                if qty:
                    fragment = (price_cache_get(price) or price_fragment(price)) + (
                        qty_cache_get(qty) or qty_fragment(qty)
                    )
                    if present:
                        qtys[index] = qty
                        fragments[index] = fragment
                    else:
                        prices.insert(index, price)
                        qtys.insert(index, qty)
                        fragments.insert(index, fragment)
                elif present:
                    del prices[index]
                    del qtys[index]
                    del fragments[index]
        levels = data.asks
        if levels:
            side = self._asks
            prices, qtys, fragments = side.prices, side.qtys, side.fragments
            for price, qty in levels:
                index = bisect_left(prices, price)
                present = index < len(prices) and prices[index] == price
                if index < 10:
                    self._ask_text = None
                    self._checksum = None
                if qty:
                    fragment = (price_cache_get(price) or price_fragment(price)) + (
                        qty_cache_get(qty) or qty_fragment(qty)
                    )
                    if present:
                        qtys[index] = qty
                        fragments[index] = fragment
                    else:
                        prices.insert(index, price)
                        qtys.insert(index, qty)
                        fragments.insert(index, fragment)
                elif present:
                    del prices[index]
                    del qtys[index]
                    del fragments[index]
        if len(self._bids.prices) > self.depth or len(self._asks.prices) > self.depth:
            self._truncate()
        expected = data.checksum
        computed = self._checksum
        if computed is None:
            computed = self.checksum()
        if expected is None:
            return ChecksumResult(CHECKSUM_ABSENT, None, computed)
        if expected == computed:
            return _new_tuple(ChecksumResult, (CHECKSUM_OK, expected, computed))
        return ChecksumResult(CHECKSUM_MISMATCH, expected, computed)

    def apply_text(self, frame: BookFrameText) -> ChecksumResult:
        """``apply`` for a frame split by ``parse_book_frame``: the levels are read from the wire text, each
        price text mapped once to its Decimal and checksum fragment (``_TextLevels``), each quantity kept as
        its wire text (made a Decimal only when read: ``bids``/``asks``), so no BookLevel, BookData, Decimal
        or format() is made per level. Same book, same result as ``apply(decode_...(frame))``.

        The level text must be what ``parse_book_frame`` matched (its pattern spells out every number), so it
        is split with ``str.split`` on the fixed separators instead of being matched again."""
        kind, symbol, bids_text, asks_text, expected, _ = frame
        if symbol != self.symbol:
            raise ValueError(f"book for {self.symbol!r} given data for {symbol!r}")
        if kind == "snapshot":
            self._bids.clear()
            self._asks.clear()
            self._ask_text = None
            self._checksum = None
            self.snapshots_applied += 1
        else:
            self.updates_applied += 1
        # A quantity whose text has exactly the pair's decimals (Kraken's case; ``qty_dot`` is the index of
        # its '.' from the end), or any quantity when hashing wire text (``qty_dot`` 0), has the text without
        # '.' and leading zeros as its fragment, empty exactly when the quantity is zero (a deletion). Other
        # texts go through the formatting cache, and its Decimal decides.
        price_texts = self._price_texts
        qty_dot = self._qty_dot
        if bids_text:
            side = self._bids
            prices, qtys, fragments = side.prices, side.qtys, side.fragments
            for level in bids_text[9:-1].split(_LEVEL_SEPARATOR):
                price_text, qty_text = level.split(_QTY_SEPARATOR)
                price, price_fragment = price_texts[price_text]
                if not qty_dot or qty_text[qty_dot:qty_dot + 1] == ".":
                    live = qty_fragment = qty_text.replace(".", "").lstrip("0")
                else:
                    live, qty_fragment = self._qty_texts[qty_text]  # live: the Decimal, false when zero
                index = bisect_left(prices, price)
                count = len(prices)
                present = index < count and prices[index] == price
                if index >= count - 10:  # bids ascend: the best 10 are at the back
                    self._checksum = None
                if live:
                    if present:
                        qtys[index] = qty_text
                        fragments[index] = price_fragment + qty_fragment
                    else:
                        prices.insert(index, price)
                        qtys.insert(index, qty_text)
                        fragments.insert(index, price_fragment + qty_fragment)
                elif present:
                    del prices[index]
                    del qtys[index]
                    del fragments[index]
        if asks_text:
            side = self._asks
            prices, qtys, fragments = side.prices, side.qtys, side.fragments
            for level in asks_text[9:-1].split(_LEVEL_SEPARATOR):
                price_text, qty_text = level.split(_QTY_SEPARATOR)
                price, price_fragment = price_texts[price_text]
                if not qty_dot or qty_text[qty_dot:qty_dot + 1] == ".":
                    live = qty_fragment = qty_text.replace(".", "").lstrip("0")
                else:
                    live, qty_fragment = self._qty_texts[qty_text]  # live: the Decimal, false when zero
                index = bisect_left(prices, price)
                present = index < len(prices) and prices[index] == price
                if index < 10:
                    self._ask_text = None
                    self._checksum = None
                if live:
                    if present:
                        qtys[index] = qty_text
                        fragments[index] = price_fragment + qty_fragment
                    else:
                        prices.insert(index, price)
                        qtys.insert(index, qty_text)
                        fragments.insert(index, price_fragment + qty_fragment)
                elif present:
                    del prices[index]
                    del qtys[index]
                    del fragments[index]
        depth = self.depth
        if len(self._bids.prices) > depth or len(self._asks.prices) > depth:
            self._truncate()
        computed = self._checksum
        if computed is None:
            computed = self.checksum()
        if expected == computed:
            return _new_tuple(ChecksumResult, (CHECKSUM_OK, expected, computed))
        return ChecksumResult(CHECKSUM_MISMATCH, expected, computed)

    def apply_message(self, msg: BookMessage) -> ChecksumResult:
        """Apply the data item of ``msg`` for this book's symbol (the last one, if several)."""
        result: ChecksumResult | None = None
        snapshot = msg.type == "snapshot"
        for data in msg.data:
            if data.symbol == self.symbol:
                result = self.apply(data, snapshot=snapshot)
        if result is None:
            raise ValueError(f"message carries no data for {self.symbol!r}")
        return result

    # --------------------------------------------------------------------------------------- reading

    def checksum_input(self) -> str:
        """The exact string hashed by ``checksum()``: top-10 asks low->high, then top-10 bids high->low."""
        return "".join(self._asks.fragments[:10]) + "".join(self._bids.fragments[:-11:-1])

    def checksum(self) -> int:
        """Kraken's CRC32 of the current top 10 levels per side (cached until a top-10 level changes)."""
        computed = self._checksum
        if computed is None:
            ask_text = self._ask_text
            if ask_text is None:
                ask_text = self._ask_text = "".join(self._asks.fragments[:10])
            computed = self._checksum = zlib.crc32((ask_text + "".join(self._bids.fragments[:-11:-1])).encode())
        return computed

    # Quantities are stored as ``apply`` got them (Decimal) or as ``apply_text`` read them (their wire text);
    # ``Decimal(q)`` is exact for both, and keeps the wire text's exponent.

    def best_bid(self) -> BookLevel | None:
        bids = self._bids
        return BookLevel(bids.prices[-1], Decimal(bids.qtys[-1])) if bids.prices else None

    def best_ask(self) -> BookLevel | None:
        asks = self._asks
        return BookLevel(asks.prices[0], Decimal(asks.qtys[0])) if asks.prices else None

    def bids(self, n: int | None = None) -> tuple[BookLevel, ...]:
        """The best ``n`` bids (all when None), highest price first."""
        prices = self._bids.prices[::-1]
        qtys = self._bids.qtys[::-1]
        if n is not None:
            prices, qtys = prices[:n], qtys[:n]
        return tuple(map(BookLevel, prices, map(Decimal, qtys)))

    def asks(self, n: int | None = None) -> tuple[BookLevel, ...]:
        """The best ``n`` asks (all when None), lowest price first."""
        prices = self._asks.prices
        qtys = self._asks.qtys
        if n is not None:
            prices, qtys = prices[:n], qtys[:n]
        return tuple(map(BookLevel, prices, map(Decimal, qtys)))

    def depth_of_bids(self) -> int:
        return len(self._bids.prices)

    def depth_of_asks(self) -> int:
        return len(self._asks.prices)

    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask."""
        return bool(self._bids.prices and self._asks.prices and self._bids.prices[-1] >= self._asks.prices[0])

    def __repr__(self) -> str:
        return (
            f"L2Book({self.symbol!r}, depth={self.depth}, bids={self.depth_of_bids()}, "
            f"asks={self.depth_of_asks()}, best_bid={self.best_bid()}, best_ask={self.best_ask()})"
        )
