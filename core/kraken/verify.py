"""Replay recorded Kraken WS v2 traffic through the books and check every checksum (pure; no I/O here
except reading the capture text handed in).

Used by ``kraken-runtime verify-capture``. A capture is either JSON lines (one frame per line, blank lines
ignored), a JSON array of frames, the ``{"init": frame, "updates": [frame, ...]}`` form, or a recording of
``kraken-runtime record`` (JSON lines ``{"recv_ns": N, "frame": <raw frame>}``, see core/recording.py). Frames other
than ``book``/``level3`` data are read and skipped, except:

- subscribe acks (``method == "subscribe"``, ``success`` true) whose ``result`` names ``book``/``level3``
  and a ``depth``: the depth of that (channel, symbol) from then on (the next snapshot uses it);
- ``instrument`` frames: each pair's ``price_precision``/``qty_precision`` (unless given explicitly).

Numbers are hashed at the pair's precision when it is known (explicitly, or from an instrument frame), and
as their exact wire text otherwise.

Speed: a ``book`` line in Kraken's own layout takes the daemon's wire-text path (``book.parse_book_frame``
when read, ``L2Book.apply_text`` when replayed: no JSON parse, no Decimal or format work per frame); every
other line is parsed exactly (``wire.loads``) and decoded by the checked decoders, which name what is wrong. A snapshot replaces the book; one that replaces a book already built
counts as a resync. An update before any snapshot cannot be checked and counts as ``unchecked``.

API: ``read_capture(name, text) -> list[Frame]`` (raises ``CaptureError``; ``iter_capture`` the same one
frame at a time), ``replay(name, frames, ...) -> list[StreamStats]``, ``verify_capture_text(name, text, ...) -> FileReport``,
``verify_capture_lines(name, numbered_lines, ...)`` (a JSON-lines capture streamed by the caller, when
``json_lines_head(start_of_text)``), ``parse_precision(spec)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from kraken_runtime.core.kraken.book import CHECKSUM_OK, BookFrameText, L2Book, decode_book, parse_book_frame
from kraken_runtime.core.kraken.l3book import L3Book, decode_level3
from kraken_runtime.core.kraken.wire import DecodeError, loads
from kraken_runtime.core.recording import RecordedFrame, RecordingError, is_recording, read_recording

__all__ = [
    "CaptureError",
    "Frame",
    "StreamStats",
    "FileReport",
    "read_capture",
    "iter_capture",
    "replay",
    "verify_capture_text",
    "verify_capture_lines",
    "json_lines_head",
    "parse_precision",
    "DEFAULT_DEPTH",
]

DEFAULT_DEPTH = 10
BOOK_CHANNELS = ("book", "level3")


class CaptureError(ValueError):
    """The capture cannot be read: not JSON, not one of the known layouts, or an undecodable book frame."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Frame(NamedTuple):
    """One read frame and where it came from: ``where`` is the 1-based line number (JSON lines) or the
    position in the file (``"init"``, ``"updates[3]"``, ``"[3]"``); ``location`` says it in words.
    ``message`` is the parsed JSON value, or a ``BookFrameText`` for a book line in Kraken's own layout.
    A NamedTuple (immutable, ~0.1 us to make): a capture holds one per line, millions for long ones."""

    where: int | str
    message: Any

    @property
    def location(self) -> str:
        where = self.where
        return f"line {where}" if where.__class__ is int else str(where)


@dataclass(slots=True, kw_only=True)
class StreamStats:
    """Counts for one (symbol, channel) stream of one capture."""

    symbol: str
    channel: str
    frames: int = 0
    checked: int = 0
    matched: int = 0
    mismatched: int = 0
    resyncs: int = 0
    unchecked: int = 0
    depth: int = DEFAULT_DEPTH
    precision: str = "wire text"
    first_mismatch: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "channel": self.channel,
            "frames": self.frames,
            "checksums_checked": self.checked,
            "matched": self.matched,
            "mismatched": self.mismatched,
            "resyncs": self.resyncs,
            "unchecked": self.unchecked,
            "depth": self.depth,
            "precision": self.precision,
            "first_mismatch": self.first_mismatch,
        }


@dataclass(slots=True, kw_only=True)
class FileReport:
    name: str
    frames_read: int
    streams: list[StreamStats] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(stream.mismatched == 0 for stream in self.streams)

    @property
    def checked(self) -> int:
        return sum(stream.checked for stream in self.streams)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "frames_read": self.frames_read,
            "ok": self.ok,
            "streams": [stream.as_dict() for stream in self.streams],
        }


def parse_precision(spec: str) -> tuple[str, int, int]:
    """``"BTC/USD=1/8"`` -> ``("BTC/USD", 1, 8)``; raises ValueError with the reason."""
    symbol, sep, pair = spec.rpartition("=")
    if not sep or not symbol:
        raise ValueError(f"expected SYMBOL=PRICE/QTY (e.g. BTC/USD=1/8), got {spec!r}")
    price_text, slash, qty_text = pair.partition("/")
    if not slash or not price_text.isdigit() or not qty_text.isdigit():
        raise ValueError(f"expected SYMBOL=PRICE/QTY with integer precisions (e.g. BTC/USD=1/8), got {spec!r}")
    price, qty = int(price_text), int(qty_text)
    if price > 18 or qty > 18:
        raise ValueError(f"precision above 18 in {spec!r}")
    return symbol, price, qty


def read_capture(name: str, text: str) -> list[Frame]:
    """Split a capture's text into parsed frames; raises ``CaptureError`` with a one-line reason."""
    return list(iter_capture(name, text))


def iter_capture(name: str, text: str) -> Iterator[Frame]:
    """``read_capture`` one frame at a time (``verify_capture_text`` replays them as they are read, so a long
    capture never holds millions of frames at once); the layout is checked before the first frame."""
    frames = _source(name, text)
    return _iter_lines(name, text) if frames is None else frames


def _source(name: str, text: str) -> Iterator[Frame] | None:
    """The frames of a capture that is one JSON value or a recording; None for JSON lines (read line by line:
    ``_iter_lines``, or ``_replay`` with ``raw_lines``)."""
    if not text or text.isspace():  # (not text.strip(): a copy of the whole capture)
        raise CaptureError(f"{name}: empty capture")
    if is_recording(text):
        return _iter_recording(name, text)
    try:
        whole = loads(text)
    except DecodeError:
        return None
    if isinstance(whole, dict) and "init" in whole and "updates" in whole:
        updates = whole["updates"]
        if not isinstance(updates, list):
            raise CaptureError(f"{name}: 'updates' is not a list")
        whole_frames = [Frame(where="init", message=whole["init"])]
        whole_frames.extend(Frame(where=f"updates[{i}]", message=m) for i, m in enumerate(updates))
        return iter(whole_frames)
    if isinstance(whole, list):
        return iter([Frame(where=f"[{i}]", message=m) for i, m in enumerate(whole)])
    if isinstance(whole, dict):
        return iter([Frame(where=1, message=whole)])
    raise CaptureError(f"{name}: a capture must hold JSON objects, found {type(whole).__name__}")


def _iter_lines(name: str, text: str) -> Iterator[Frame]:
    new_frame = _new_frame
    for number, line in enumerate(text.splitlines(), start=1):
        book = parse_book_frame(line)
        if book is not None:  # the daemon's wire-text path
            yield new_frame(Frame, (number, book))
            continue
        if not line.strip():
            continue
        try:
            message = loads(line)
        except DecodeError as error:
            raise CaptureError(f"{name}:{number}: {error.reason}") from None
        yield new_frame(Frame, (number, message))


_new_frame = tuple.__new__


def _iter_recording(name: str, text: str) -> Iterator[Frame]:
    try:
        recorded = read_recording(text)
    except RecordingError as error:
        raise CaptureError(f"{name}: {error}") from None
    return _iter_recorded(name, recorded)


def _iter_recorded(name: str, recorded: list[tuple[int, RecordedFrame]]) -> Iterator[Frame]:
    for number, item in recorded:
        book = parse_book_frame(item.frame)
        if book is not None:
            yield Frame(number, book)
            continue
        try:
            message = loads(item.frame)
        except DecodeError as error:
            raise CaptureError(f"{name}:{number}: {error.reason}") from None
        yield Frame(where=number, message=message)


def _precision_text(precision: tuple[int, int] | None) -> str:
    return "wire text" if precision is None else f"{precision[0]}/{precision[1]}"


def replay(
    name: str,
    frames: Iterable[Frame],
    *,
    default_depth: int = DEFAULT_DEPTH,
    precisions: dict[str, tuple[int, int]] | None = None,
) -> list[StreamStats]:
    """Replay frames through fresh books; returns per-(symbol, channel) stats in first-seen order."""
    return _replay(name, frames, default_depth, precisions)[0]


def _replay(
    name: str, frames: Iterable[tuple[int | str, Any]], default_depth: int,
    precisions: dict[str, tuple[int, int]] | None, raw_lines: bool = False,
) -> tuple[list[StreamStats], int]:
    """``replay``, and how many frames it read. With ``raw_lines``, ``frames`` are ``(line number, line)`` of a
    JSON-lines capture, each parsed here as it comes (no generator, no Frame per line: the replay row of
    docs/PERFORMANCE.md), blank lines skipped and not counted."""
    explicit = dict(precisions or {})
    count = 0
    learned: dict[str, tuple[int, int]] = {}
    depths: dict[tuple[str, str], int] = {}
    books: dict[tuple[str, str], L2Book | L3Book] = {}
    stats: dict[tuple[str, str], StreamStats] = {}
    # The wire-text path's per-symbol state: [stream, book or None, frames matched and not yet counted into
    # the stream (_fold), the learned_version its precision was looked up at].
    fast: dict[str, list[Any]] = {}
    learned_version = 0

    blank = 0
    count = 0
    pending: tuple[int | str, Any] | None = None  # a line _hot_lines read and handed back
    items = iter(frames)
    while True:
        if pending is None:
            item = next(items, None)
            if item is None:
                break
            where, message = item
        else:
            (where, message), pending = pending, None
        count += 1
        if raw_lines and message.__class__ is str:  # a JSON line as read (verify_capture_lines): parsed here
            book_text = parse_book_frame(message)
            if book_text is not None:  # the daemon's wire-text path
                message = book_text
            elif not message or message.isspace():
                blank += 1
                continue
            else:
                try:
                    message = loads(message)
                except DecodeError as error:
                    raise CaptureError(f"{name}:{where}: {error.reason}") from None
        if message.__class__ is BookFrameText:
            symbol = message[1]
            entry = fast.get(symbol)
            if entry is None:
                key = ("book", symbol)
                stream = stats.get(key)
                if stream is None:
                    stream = stats[key] = StreamStats(symbol=symbol, channel="book")
                entry = fast[symbol] = [stream, books.get(key), 0, -1]
            book = entry[1]
            if message[0] == "snapshot" or book is None or entry[3] != learned_version:
                precision = explicit.get(symbol) or learned.get(symbol)
                book = _prepare_book(entry[0], books, depths, default_depth, "book", message[0] == "snapshot",
                                     precision)
                if book is None:
                    entry[0].frames += 1
                    continue
                entry[1], entry[3] = book, learned_version
            result = book.apply_text(message)
            if result[0] == CHECKSUM_OK:
                entry[2] += 1  # a matched frame, counted into the stream by _fold
            else:
                stream = entry[0]
                stream.frames += 1
                stream.checked += 1
                _mismatch(stream, _location(where), result[1], result[2])
            if raw_lines:  # the updates of this stream that follow (most lines of a capture), in a tight loop
                applied, pending = _hot_lines(items, book.apply_text, symbol, entry)
                count += applied
            continue
        if not isinstance(message, dict):
            continue
        channel = message.get("channel")
        if channel is None and message.get("method") == "subscribe" and message.get("success") is True:
            result_field = message.get("result")
            if isinstance(result_field, dict) and result_field.get("channel") in BOOK_CHANNELS:
                depth = result_field.get("depth")
                acked = result_field.get("symbol")
                if isinstance(depth, int) and not isinstance(depth, bool) and isinstance(acked, str):
                    depths[(result_field["channel"], acked)] = depth
            continue
        if channel == "instrument":
            _learn_precisions(message, learned)
            learned_version += 1  # the wire-text path looks its books' precision up again
            continue
        if channel not in BOOK_CHANNELS:
            continue
        try:
            decoded = decode_book(message) if channel == "book" else decode_level3(message)
        except DecodeError as error:
            raise CaptureError(f"{name}: {_location(where)}: {error.reason}") from None
        snapshot = decoded.type == "snapshot"
        for data in decoded.data:
            key = (channel, data.symbol)
            stream = stats.get(key)
            if stream is None:
                stream = stats[key] = StreamStats(symbol=data.symbol, channel=channel)
            stream.frames += 1
            precision = explicit.get(data.symbol) or learned.get(data.symbol)
            book = _prepare_book(stream, books, depths, default_depth, channel, snapshot, precision)
            if book is None:
                continue
            if channel == "book" and data.symbol in fast:
                _fold(fast.pop(data.symbol))  # the wire-text path looks its book up again
            result = book.apply(data, snapshot=snapshot)  # type: ignore[arg-type]
            if result.expected is None:
                stream.unchecked += 1
                continue
            stream.checked += 1
            if result.ok:
                stream.matched += 1
            else:
                _mismatch(stream, _location(where), result.expected, result.computed)
    for entry in fast.values():
        _fold(entry)
    return list(stats.values()), count - blank


def _location(where: int | str) -> str:
    return f"line {where}" if where.__class__ is int else str(where)


def _hot_lines(
    lines: Iterator[tuple[int | str, Any]], apply: Any, symbol: str, entry: list[Any]
) -> tuple[int, tuple[int | str, Any] | None]:
    """Apply the lines that follow while they are updates of ``symbol``'s wire-text stream in Kraken's
    layout (``entry``: ``_replay``'s state for it), matches counted into ``entry`` for ``_fold``; returns how
    many it applied and the first other line (as read, or as ``BookFrameText``), None at the end. Nothing
    else can change between two such lines (precisions, depth, the book), so none is looked up again."""
    parse = parse_book_frame
    applied = matched = 0
    for where, line in lines:
        parsed = parse(line)
        if parsed is None or parsed[1] != symbol or parsed[0] != "update":
            entry[2] += matched
            return applied, (where, line if parsed is None else parsed)
        applied += 1
        result = apply(parsed)
        if result[0] == CHECKSUM_OK:
            matched += 1
        else:
            stream = entry[0]
            stream.frames += 1
            stream.checked += 1
            _mismatch(stream, _location(where), result[1], result[2])
    entry[2] += matched
    return applied, None


def _fold(entry: list[Any]) -> None:
    """Count the wire-text path's matched frames into their stream."""
    stream, matched = entry[0], entry[2]
    stream.frames += matched
    stream.checked += matched
    stream.matched += matched
    entry[2] = 0


def _prepare_book(
    stream: StreamStats,
    books: dict[tuple[str, str], L2Book | L3Book],
    depths: dict[tuple[str, str], int],
    default_depth: int,
    channel: str,
    snapshot: bool,
    precision: tuple[int, int] | None,
) -> L2Book | L3Book | None:
    """The stream's book made ready for its next message (None, counted unchecked, when an update comes
    before any snapshot): a snapshot sets the depth (and counts a resync when it replaces a book); the
    book hashes at ``precision`` (None: the wire text)."""
    key = (channel, stream.symbol)
    book = books.get(key)
    if snapshot:
        depth = depths.get(key, default_depth)
        if book is None:
            book_type = L2Book if channel == "book" else L3Book
            book = books[key] = book_type(stream.symbol, depth, *(precision or (None, None)))
        else:
            stream.resyncs += 1
            book.depth = depth
        stream.depth = depth
    elif book is None:
        stream.unchecked += 1
        return None
    if precision != _book_precision(book):
        book.set_precision(*(precision or (None, None)))
    stream.precision = _precision_text(precision)
    return book


def _mismatch(stream: StreamStats, location: str, expected: int | None, computed: int) -> None:
    stream.mismatched += 1
    if stream.first_mismatch is None:
        stream.first_mismatch = f"{location}: expected {expected}, computed {computed}"


def _book_precision(book: L2Book | L3Book) -> tuple[int, int] | None:
    if book.price_precision is None or book.qty_precision is None:
        return None
    return (book.price_precision, book.qty_precision)


def _learn_precisions(message: dict, learned: dict[str, tuple[int, int]]) -> None:
    data = message.get("data")
    pairs = data.get("pairs") if isinstance(data, dict) else None
    if not isinstance(pairs, list):
        return
    for pair in pairs:
        if not isinstance(pair, dict):
            continue
        symbol, price, qty = pair.get("symbol"), pair.get("price_precision"), pair.get("qty_precision")
        if isinstance(symbol, str) and type(price) is int and type(qty) is int:
            learned[symbol] = (price, qty)


def json_lines_head(head: str) -> bool:
    """True when ``head``, the start of a capture, shows a JSON-lines capture: not a recording, and its first
    non-blank line is a JSON value on its own followed by more text (so the whole text is not one JSON value:
    ``read_capture`` would read it line by line too). A caller holding a long capture as a stream can then
    hand its lines to ``verify_capture_lines`` instead of reading it whole; False means: read it whole."""
    if is_recording(head):
        return False
    start = len(head) - len(head.lstrip())
    end = head.find("\n", start)
    if end < 0 or head.isspace() or head[end + 1:].isspace() or not head[end + 1:]:
        return False
    try:
        loads(head[start:end])
    except DecodeError:
        return False
    return True


def verify_capture_lines(
    name: str,
    lines: Iterable[tuple[int, str]],
    *,
    default_depth: int = DEFAULT_DEPTH,
    precisions: dict[str, tuple[int, int]] | None = None,
) -> FileReport:
    """``verify_capture_text`` for a JSON-lines capture given as ``(line number, line)`` pairs, numbered as
    ``text.split("\n")`` would (``json_lines_head`` tells when a capture is one); each line is parsed as it
    comes, so a long capture is never held whole. Raises ``CaptureError`` as ``verify_capture_text``."""
    streams, count = _replay(name, lines, default_depth, precisions, True)
    if count == 0:
        raise CaptureError(f"{name}: empty capture")
    return FileReport(name=name, frames_read=count, streams=streams)


def verify_capture_text(
    name: str,
    text: str,
    *,
    default_depth: int = DEFAULT_DEPTH,
    precisions: dict[str, tuple[int, int]] | None = None,
) -> FileReport:
    """Read and replay one capture; raises ``CaptureError`` when it cannot be read."""
    frames = _source(name, text)
    if frames is None:  # JSON lines: each line parsed by the replay as it comes
        streams, count = _replay(name, enumerate(text.split("\n"), start=1), default_depth, precisions, True)
    else:
        streams, count = _replay(name, frames, default_depth, precisions)
    return FileReport(name=name, frames_read=count, streams=streams)
