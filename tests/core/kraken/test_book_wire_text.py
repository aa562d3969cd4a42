"""core.kraken.book's wire-text path (parse_book_frame + L2Book.apply_text): the same books, checksums and
results as the exact Decimal path (wire.loads + decode_book + L2Book.apply), on every capture and on
generated frames."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_runtime.core.kraken.book import (
    CHECKSUM_MISMATCH,
    CHECKSUM_OK,
    BookFrameText,
    L2Book,
    decode_book,
    decode_canonical_book_frame,
    parse_book_frame,
)
from kraken_runtime.core.kraken.wire import loads

CANONICAL_CAPTURES = {
    "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl": (1, 8),
    "ws_v2_book_BTCUSD_depth25.jsonl": (1, 8),
    "ws_v2_book_ETHUSD_depth25.jsonl": (2, 8),
    "ws_v2_book_XRPUSD_depth25.jsonl": (5, 8),
    "ws_v2_book_BTCUSD_snapshot_19_updates.jsonl": (1, 8),
}


def _frame(kind: str, symbol: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], checksum: int) -> str:
    def side(levels: list[tuple[str, str]]) -> str:
        return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in levels)

    return (f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{symbol}","bids":[{side(bids)}],'
            f'"asks":[{side(asks)}],"checksum":{checksum},"timestamp":"2026-08-01T00:00:00.000001Z"}}]}}')


@pytest.mark.parametrize("name", sorted(CANONICAL_CAPTURES))
@pytest.mark.parametrize("hash_at", ["precision", "wire text"])
def test_apply_text_when_replaying_each_capture_then_every_checksum_matches_like_the_decimal_path(
    kraken_data, name, hash_at
):
    precision = CANONICAL_CAPTURES[name] if hash_at == "precision" else (None, None)
    depth = 25 if "depth25" in name else 10
    exact = wire = None
    checked = 0
    for line in (kraken_data / "captures" / name).read_text().splitlines():
        parsed = parse_book_frame(line)
        if parsed is None:
            assert not line.startswith('{"channel":"book"')  # every live book line is canonical
            continue
        if exact is None:
            exact = L2Book(parsed.symbol, depth, *precision)
            wire = L2Book(parsed.symbol, depth, *precision)
        decoded = decode_book(loads(line))
        expected = exact.apply(decoded.data[0], decoded.is_snapshot)
        got = wire.apply_text(parsed)
        assert got == expected and got.status == CHECKSUM_OK
        assert wire.bids() == exact.bids() and wire.asks() == exact.asks()
        assert wire.checksum_input() == exact.checksum_input()
        checked += 1
    assert checked > 0 and wire.updates_applied + wire.snapshots_applied == checked


def test_parse_book_frame_splits_the_canonical_layout_without_converting_numbers():
    frame = _frame("update", "BTC/USD", [("63005.0", "0.00005100")], [], 123)
    parsed = parse_book_frame(frame)
    assert parsed == BookFrameText("update", "BTC/USD", '{"price":63005.0,"qty":0.00005100}', "", 123,
                                   "2026-08-01T00:00:00.000001Z")
    assert not parsed.is_snapshot


@pytest.mark.parametrize("frame", [
    _frame("update", "BTC/USD", [("0", "1.0")], [], 1),  # a zero price: the checked decoder names it
    _frame("update", "BTC/USD", [("0.000", "1.0")], [], 1),
    _frame("update", "BTC/USD", [("1.0", "1.0")], [], 4294967296),  # checksum above 32 bits
    _frame("update", "BTC/USD", [("1e3", "1.0")], [], 1),  # exponent: not the canonical layout
    _frame("update", "BTC/USD", [("1.0", "1.0")], [], 1).replace('"bids":', '"bids": '),
    _frame("update", "BTC/USD", [("1.0", "1.0")], [], 1).replace('}]}', '},{"symbol":"ETH/USD","bids":[],"asks":[],"checksum":1}]}'),
    '{"channel":"trade","type":"update","data":[]}',
    "",
])
def test_parse_book_frame_when_frame_is_not_canonical_then_none(frame):
    assert parse_book_frame(frame) is None
    assert decode_canonical_book_frame(frame) is None


def test_parse_book_frame_when_a_price_is_small_but_positive_then_it_is_canonical():
    parsed = parse_book_frame(_frame("update", "X/Y", [("0.00000010", "0")], [], 5))
    assert parsed is not None and parsed.bids_text == '{"price":0.00000010,"qty":0}'


def test_apply_text_when_symbol_differs_then_value_error_and_book_unchanged():
    book = L2Book("BTC/USD", 10, 1, 8)
    with pytest.raises(ValueError, match="ETH/USD"):
        book.apply_text(parse_book_frame(_frame("snapshot", "ETH/USD", [("1.0", "1.0")], [], 1)))
    assert book.depth_of_bids() == 0 and book.snapshots_applied == 0


def test_apply_text_when_checksum_differs_then_mismatch_with_both_values():
    book = L2Book("X/Y", 10, 1, 8)
    result = book.apply_text(parse_book_frame(_frame("snapshot", "X/Y", [("1.0", "2.00000000")], [], 7)))
    assert result.status == CHECKSUM_MISMATCH and result.expected == 7 and result.computed == book.checksum()


def test_apply_text_when_wire_text_has_fewer_or_more_decimals_than_precision_then_fragment_is_formatted():
    # "1.5" at price precision 2 hashes as "150"; "0.123456789" at qty precision 8 rounds half-even.
    frame = _frame("snapshot", "X/Y", [("1.5", "0.123456785")], [("2", "3.1")], 0)
    wire = L2Book("X/Y", 10, 2, 8)
    exact = L2Book("X/Y", 10, 2, 8)
    got = wire.apply_text(parse_book_frame(frame))
    expected = exact.apply(decode_book(loads(frame)).data[0], snapshot=True)
    assert got.computed == expected.computed
    assert wire.checksum_input() == exact.checksum_input() == "200310000000" + "15012345678"


def test_apply_text_when_precision_changes_then_fragments_follow_it():
    frame = _frame("snapshot", "X/Y", [("1.50", "2.00000000")], [], 0)
    book = L2Book("X/Y", 10)
    book.apply_text(parse_book_frame(frame))
    assert book.checksum_input() == "150200000000"
    book.set_precision(1, 4)
    book.apply_text(parse_book_frame(frame))
    assert book.checksum_input() == "1520000"


# ------------------------------------------------------------------------------ generated frames (property)

_DECIMALS = st.integers(min_value=0, max_value=4)


@st.composite
def _number_text(draw, positive: bool, decimals: int) -> str:
    ticks = draw(st.integers(min_value=1 if positive else 0, max_value=10**7))
    if draw(st.booleans()):  # sometimes not at the usual decimals (fewer or more than the precision)
        decimals = draw(_DECIMALS)
    digits = str(ticks).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}" if decimals else digits


@st.composite
def _frames(draw):
    price_places, qty_places = draw(_DECIMALS), draw(_DECIMALS)
    level = st.tuples(_number_text(True, price_places), _number_text(False, qty_places))
    count = draw(st.integers(min_value=1, max_value=12))
    frames = []
    for index in range(count):
        bids = draw(st.lists(level, max_size=6))
        asks = draw(st.lists(level, max_size=6))
        frames.append(_frame("snapshot" if index == 0 or draw(st.integers(0, 9)) == 0 else "update",
                             "X/Y", bids, asks, draw(st.integers(0, 0xFFFFFFFF))))
    hash_at = draw(st.sampled_from([(None, None), (price_places, qty_places), (4, 4)]))
    return frames, hash_at, draw(st.sampled_from([1, 2, 3, 10, 25]))


@settings(max_examples=300, deadline=None)
@given(_frames())
def test_apply_text_equals_the_decimal_path_on_generated_frames(case):
    frames, hash_at, depth = case
    exact = L2Book("X/Y", depth, *hash_at)
    wire = L2Book("X/Y", depth, *hash_at)
    for frame in frames:
        parsed = parse_book_frame(frame)
        assert parsed is not None
        decoded = decode_book(loads(frame))
        assert wire.apply_text(parsed) == exact.apply(decoded.data[0], decoded.is_snapshot)
        assert wire.bids() == exact.bids() and wire.asks() == exact.asks()
        assert wire.checksum_input() == exact.checksum_input()
        for mine, theirs in zip(wire.bids() + wire.asks(), exact.bids() + exact.asks()):
            assert isinstance(mine.price, Decimal) and str(mine.qty) == str(theirs.qty)
