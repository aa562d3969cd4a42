"""core.kraken.book: decoding, the L2 book, and every shared capture's checksums."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_runtime.core.kraken.book import (
    CHECKSUM_ABSENT,
    CHECKSUM_MISMATCH,
    CHECKSUM_OK,
    BookData,
    BookLevel,
    BookMessage,
    L2Book,
    book_frame_symbol,
    decode_book,
    decode_book_frame,
)
from kraken_runtime.core.kraken.wire import DecodeError, loads

D = Decimal

L2_CAPTURES = {
    # file: expected number of checksums (tests/data/kraken/README.md)
    "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl": 301,
    "ws_v2_book_BTCUSD_depth25.jsonl": 2052,
    "ws_v2_book_ETHUSD_depth25.jsonl": 1129,
    "ws_v2_book_XRPUSD_depth25.jsonl": 1147,
    "ws_v2_book_BTCUSD_depth10_reserialized.json": 510,
    "ws_v2_book_BTCUSD_snapshot_19_updates.jsonl": 20,
    "ws_v2_book_scientific_notation.jsonl": 3,
}


def _update(symbol="BTC/USD", bids=(), asks=(), checksum=None, kind="update"):
    data = {"symbol": symbol, "bids": [dict(price=p, qty=q) for p, q in bids],
            "asks": [dict(price=p, qty=q) for p, q in asks]}
    if checksum is not None:
        data["checksum"] = checksum
    return {"channel": "book", "type": kind, "data": [data]}


def replay_capture(frames, precisions, mode):
    """Replay raw frames like a client: depth from the ack, a book per symbol, a snapshot replaces it."""
    depth = 10
    books: dict[str, L2Book] = {}
    results = []
    for frame in frames:
        msg = loads(frame)
        result = msg.get("result")
        if msg.get("method") == "subscribe" and isinstance(result, dict) and result.get("depth"):
            depth = result["depth"]
        if msg.get("channel") != "book":
            continue
        symbol = msg["data"][0]["symbol"]
        precision = precisions.get(symbol, (None, None)) if mode != "wire" else (None, None)
        decoded = decode_book_frame(frame, *precision) if mode == "fast" else decode_book(msg)
        book = books.setdefault(symbol, L2Book(symbol, depth, *precision))
        if decoded.is_snapshot:
            book.depth = depth
        results.append(book.apply_message(decoded))
    return results, books


# ------------------------------------------------------------------------------------------- decoding


def test_decode_book_when_snapshot_then_levels_are_exact_decimals_best_first():
    msg = loads(
        '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":63004.9,'
        '"qty":0.01876947}],"asks":[{"price":63005.0,"qty":2.07265551}],"checksum":2531248887,'
        '"timestamp":"2026-08-01T02:53:53.398143Z"}]}'
    )
    decoded = decode_book(msg)
    assert decoded == BookMessage(
        type="snapshot",
        data=(
            BookData(
                symbol="BTC/USD",
                bids=(BookLevel(D("63004.9"), D("0.01876947")),),
                asks=(BookLevel(D("63005.0"), D("2.07265551")),),
                checksum=2531248887,
                timestamp="2026-08-01T02:53:53.398143Z",
            ),
        ),
    )
    assert decoded.is_snapshot


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        ({"channel": "book", "type": "update", "data": [{"symbol": "X", "bids": [{"qty": 1}], "asks": []}]},
         "book update: 'price' missing in bids[0]"),
        ({"channel": "book", "type": "update", "data": [{"symbol": "X", "bids": [], "asks": [{"price": D(1)}]}]},
         "book update: 'qty' missing in asks[0]"),
        ({"channel": "book", "type": "snapshot", "data": []}, "book snapshot: 'data' is missing or not a non-empty list"),
        ({"channel": "book", "type": "delta", "data": []}, "book: 'type' is 'delta', not 'snapshot' or 'update'"),
        ({"channel": "ticker", "type": "update", "data": []}, "book: channel is 'ticker', not 'book'"),
        ({"channel": "book", "type": "update", "data": [{"bids": [], "asks": []}]},
         "book update: 'symbol' missing or not a string in data[0]"),
        ({"channel": "book", "type": "update", "data": [{"symbol": "X", "bids": {}, "asks": []}]},
         "book update: 'bids' is not a list"),
        ({"channel": "book", "type": "update", "data": [{"symbol": "X", "checksum": -1, "bids": [], "asks": []}]},
         "book update: 'checksum' is not an unsigned 32-bit integer: -1"),
    ],
)
def test_decode_book_when_a_field_is_wrong_then_decode_error_names_it(msg, reason):
    with pytest.raises(DecodeError) as caught:
        decode_book(msg)
    assert caught.value.reason == reason
    assert len(caught.value.excerpt) <= 200


@pytest.mark.parametrize("bad", ['"63000.1"', "true", "-1.0", "0", "null"])
def test_decode_book_when_price_is_not_a_positive_number_then_decode_error(bad):
    frame = '{"channel":"book","type":"update","data":[{"symbol":"X","bids":[{"price":%s,"qty":1.0}],"asks":[]}]}' % bad
    with pytest.raises(DecodeError, match="'price' is not a positive number in bids\\[0\\]"):
        decode_book(loads(frame))
    with pytest.raises(DecodeError, match="'price' is not a positive number in bids\\[0\\]"):
        decode_book_frame(frame, 1, 8)


def test_decode_book_frame_when_json_is_invalid_then_decode_error():
    with pytest.raises(DecodeError, match="invalid JSON"):
        decode_book_frame('{"channel":"book",', 1, 8)


def test_decode_book_frame_when_fast_path_then_equals_exact_path_on_every_capture_frame(
    capture_frames, capture_precisions
):
    compared = 0
    for name in L2_CAPTURES:
        for frame in capture_frames(name):
            msg = loads(frame)
            if msg.get("channel") != "book":
                continue
            precision = capture_precisions[msg["data"][0]["symbol"]]
            fast = decode_book_frame(frame, *precision)
            exact = decode_book(msg)
            assert fast == exact, frame
            compared += 1
    assert compared == sum(L2_CAPTURES.values())


def test_decode_book_frame_when_canonical_layout_then_numbers_keep_their_wire_text():
    frame = ('{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":29430.2,'
             '"qty":0.00005100}],"asks":[],"checksum":1,"timestamp":"t"}]}')
    for precision in ((1, 8), (None, None)):
        level = decode_book_frame(frame, *precision).data[0].bids[0]
        assert str(level.price) == "29430.2" and str(level.qty) == "0.00005100"


def test_decode_book_frame_when_orjson_path_then_decimals_carry_pair_precision():
    # spaces after separators: not the canonical layout, so the orjson path decodes it
    frame = '{"channel": "book", "type": "update", "data": [{"symbol": "BTC/USD", "bids": [{"price": 29430.2, "qty": 0.001}], "asks": []}]}'
    level = decode_book_frame(frame, 1, 8).data[0].bids[0]
    assert str(level.price) == "29430.2" and str(level.qty) == "0.00100000"
    assert decode_book_frame(frame.encode(), 1, 8) == decode_book(loads(frame))


@pytest.mark.parametrize(
    "frame",
    [
        '{"channel":"book","type":"update","data":[{"symbol":"X","bids":[{"price":0,"qty":1.0}],"asks":[],"checksum":1}]}',
        '{"channel":"book","type":"update","data":[{"symbol":"X","bids":[],"asks":[],"checksum":4294967296}]}',
        '{"channel":"book","type":"update","data":[{"symbol":"X","bids":[{"price":01.5,"qty":1.0}],"asks":[],"checksum":1}]}',
    ],
)
def test_decode_book_frame_when_canonical_looking_frame_is_invalid_then_decode_error(frame):
    with pytest.raises(DecodeError):
        decode_book_frame(frame, 1, 8)
    with pytest.raises(DecodeError):
        decode_book_frame(frame)


@pytest.mark.parametrize(
    ("qty_text", "expected"),
    [
        ("0.10000000000000000001", D("0.10000000000000000001")),  # too long for a double: slow path
        ("0.123456789", D("0.123456789")),  # more decimals than qty precision 8: slow path
        ("1e-9", D("1E-9")),
    ],
)
def test_decode_book_frame_when_number_cannot_be_proven_exact_then_falls_back_to_exact_value(qty_text, expected):
    frame = '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":29430.2,"qty":%s}],"asks":[]}]}' % qty_text
    assert decode_book_frame(frame, 1, 8).data[0].bids[0].qty == expected


# ------------------------------------------------------------------------------------------- the book


def _book(depth=10, precision=(1, 8)):
    book = L2Book("BTC/USD", depth, *precision)
    book.apply(
        decode_book(_update(kind="snapshot", bids=[(D("100.0"), D("1.00000000")), (D("99.0"), D("2.00000000"))],
                            asks=[(D("101.0"), D("3.00000000")), (D("102.0"), D("4.00000000"))])).data[0],
        snapshot=True,
    )
    return book


def test_apply_when_snapshot_then_book_reads_best_first():
    book = _book()
    assert book.best_bid() == (D("100.0"), D("1.00000000"))
    assert book.best_ask() == (D("101.0"), D("3.00000000"))
    assert book.bids(5) == ((D("100.0"), D("1")), (D("99.0"), D("2")))
    assert book.asks(1) == ((D("101.0"), D("3")),)
    assert not book.is_crossed()


def test_apply_when_several_updates_to_one_price_in_one_message_then_applied_in_sequence():
    book = _book()
    update = _update(bids=[(D("100.0"), D("0")), (D("100.0"), D("5.00000000")), (D("98.0"), D("1.0")),
                           (D("98.0"), D("0"))])
    book.apply(decode_book(update).data[0])
    assert book.bids() == ((D("100.0"), D("5")), (D("99.0"), D("2")))


def test_apply_when_qty_zero_then_deletes_level_and_unknown_delete_is_ignored():
    book = _book()
    book.apply(decode_book(_update(asks=[(D("101.0"), D("0")), (D("150.0"), D("0"))])).data[0])
    assert book.asks() == ((D("102.0"), D("4")),)


def test_apply_when_inserts_exceed_depth_then_worst_levels_are_truncated():
    book = _book(depth=2)
    book.apply(decode_book(_update(bids=[(D("100.5"), D("1"))], asks=[(D("100.9"), D("1"))])).data[0])
    assert [p for p, _ in book.bids()] == [D("100.5"), D("100.0")]
    assert [p for p, _ in book.asks()] == [D("100.9"), D("101.0")]
    assert book.depth_of_bids() == book.depth_of_asks() == 2


def test_apply_when_snapshot_arrives_again_then_it_replaces_the_book():
    book = _book()
    book.apply(decode_book(_update(kind="snapshot", bids=[(D("50.0"), D("1"))], asks=[])).data[0], snapshot=True)
    assert book.bids() == ((D("50.0"), D("1")),) and book.asks() == ()
    assert book.snapshots_applied == 2


def test_apply_when_data_is_for_another_symbol_then_raises():
    with pytest.raises(ValueError):
        _book().apply(decode_book(_update(symbol="ETH/USD")).data[0])


def test_apply_when_checksum_matches_then_ok_else_typed_mismatch_and_absent_when_missing():
    book = _book()
    good = book.checksum()
    ok = book.apply(decode_book(_update(checksum=good)).data[0])
    assert ok.status == CHECKSUM_OK and ok.ok and not ok.mismatch and ok.computed == good
    bad = book.apply(decode_book(_update(checksum=(good + 1) % 2**32)).data[0])
    assert bad.status == CHECKSUM_MISMATCH and bad.mismatch and bad.expected == (good + 1) % 2**32
    assert bad.computed == good
    assert book.apply(decode_book(_update()).data[0]).status == CHECKSUM_ABSENT


def test_checksum_when_precision_known_then_numbers_are_formatted_at_it():
    book = L2Book("BTC/USD", 10, 1, 8)
    book.apply(decode_book(_update(kind="snapshot", bids=[(D("29426.7"), D("4.0"))], asks=[])).data[0], snapshot=True)
    assert book.checksum_input() == "294267400000000"
    book.set_precision(None, None)
    assert book.checksum_input() == "29426740"  # the wire text as given
    book.set_precision(2, 4)
    assert book.checksum_input() == "294267040000"


# ------------------------------------------------------------------------------------------ captures


@pytest.mark.parametrize("name", sorted(L2_CAPTURES))
@pytest.mark.parametrize("mode", ["precision", "fast"])
def test_capture_when_replayed_at_pair_precision_then_every_checksum_matches(
    capture_frames, capture_precisions, name, mode
):
    results, _ = replay_capture(capture_frames(name), capture_precisions, mode)
    assert len(results) == L2_CAPTURES[name]
    assert [r for r in results if not r.ok] == []


@pytest.mark.parametrize("name", [n for n in sorted(L2_CAPTURES) if "reserialized" not in n and "scientific" not in n])
def test_capture_when_replayed_from_raw_wire_text_then_every_checksum_matches(capture_frames, name):
    results, _ = replay_capture(capture_frames(name), {}, "wire")
    assert len(results) == L2_CAPTURES[name] and all(r.ok for r in results)


def test_capture_when_reserialized_numbers_hashed_as_wire_text_then_checksums_fail(capture_frames):
    results, _ = replay_capture(capture_frames("ws_v2_book_BTCUSD_depth10_reserialized.json"), {}, "wire")
    assert sum(r.mismatch for r in results) > 400


def test_capture_when_depth25_not_truncated_then_most_checksums_fail(capture_frames, capture_precisions):
    frames = [f for f in capture_frames("ws_v2_book_BTCUSD_depth25.jsonl") if '"method"' not in f]
    results, _ = replay_capture(frames, capture_precisions, "fast")  # no ack: depth 10 instead of 25
    assert sum(r.mismatch for r in results) > len(results) // 2


def test_capture_with_resubscribes_when_replayed_then_snapshots_replace_the_book(capture_frames, capture_precisions):
    _, books = replay_capture(capture_frames("ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl"),
                              capture_precisions, "fast")
    assert books["BTC/USD"].snapshots_applied == 5


def test_negative_vector_when_applied_after_its_stream_then_reports_mismatch(
    capture_frames, capture_precisions, checksum_vectors
):
    results, books = replay_capture(capture_frames("ws_v2_book_BTCUSD_depth10_reserialized.json"),
                                    capture_precisions, "fast")
    assert all(r.ok for r in results)
    vector = next(v for v in checksum_vectors["vectors"] if v["name"] == "python_kraken_sdk_negative")
    assert vector["expected_valid"] is False
    frame = json.dumps(vector["message"])
    result = books["BTC/USD"].apply_message(decode_book_frame(frame, 1, 8))
    assert result.status == CHECKSUM_MISMATCH
    assert result.expected == 2438868880 and result.computed == 2438878880


# ------------------------------------------------------------------------------------------ properties

_qtys = st.integers(min_value=0, max_value=10**6)


@st.composite
def _book_streams(draw):
    depth = draw(st.integers(min_value=1, max_value=12))
    bids = draw(st.dictionaries(st.integers(1, 199), st.integers(1, 10**6), max_size=30))
    asks = draw(st.dictionaries(st.integers(201, 400), st.integers(1, 10**6), max_size=30))
    updates = draw(st.lists(st.tuples(st.booleans(), st.integers(1, 199), _qtys), max_size=40))
    return depth, bids, asks, updates


def _level(ticks: int, qty: int) -> BookLevel:
    return BookLevel(D(ticks).scaleb(-1), D(qty).scaleb(-8))


@settings(max_examples=150, deadline=None)
@given(_book_streams())
def test_property_book_stays_sorted_within_depth_and_uncrossed(stream):
    depth, bids, asks, updates = stream
    book = L2Book("X/Y", depth, 1, 8)
    snapshot = BookData(symbol="X/Y", bids=tuple(_level(p, q) for p, q in sorted(bids.items(), reverse=True)),
                        asks=tuple(_level(p, q) for p, q in sorted(asks.items())), checksum=None, timestamp=None)
    book.apply(snapshot, snapshot=True)
    reference_bids, reference_asks = dict(bids), dict(asks)

    def check():
        bid_prices = [p for p, _ in book.bids()]
        ask_prices = [p for p, _ in book.asks()]
        assert bid_prices == sorted(bid_prices, reverse=True) and ask_prices == sorted(ask_prices)
        assert len(bid_prices) <= depth and len(ask_prices) <= depth
        assert not book.is_crossed()
        # the book equals a dict-and-sort reference truncated the same way
        assert book.bids() == tuple(_level(p, q) for p, q in sorted(reference_bids.items(), reverse=True)[:depth])
        assert book.asks() == tuple(_level(p, q) for p, q in sorted(reference_asks.items())[:depth])

    for side_map in (reference_bids, reference_asks):  # the snapshot is truncated too
        keep = sorted(side_map, reverse=side_map is reference_bids)[:depth]
        for price in list(side_map):
            if price not in keep:
                del side_map[price]
    check()
    for is_ask, offset, qty in updates:
        price = offset + 200 if is_ask else offset
        level = (_level(price, qty),)
        data = BookData(symbol="X/Y", bids=() if is_ask else level, asks=level if is_ask else (),
                        checksum=None, timestamp=None)
        book.apply(data)
        side_map = reference_asks if is_ask else reference_bids
        if qty:
            side_map[price] = qty
        else:
            side_map.pop(price, None)
        keep = sorted(side_map, reverse=not is_ask)[:depth]
        for other in list(side_map):
            if other not in keep:
                del side_map[other]
        check()


def test_book_frame_symbol_reads_the_one_symbol_of_a_kraken_layout_frame_and_nothing_else():
    update = '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":1}]}'
    snapshot = update.replace('"update"', '"snapshot"')
    assert book_frame_symbol(update) == "BTC/USD" and book_frame_symbol(snapshot) == "BTC/USD"
    two = update.replace('"checksum":1}]', '"checksum":1},{"symbol":"ETH/USD","bids":[],"asks":[],"checksum":2}]')
    assert book_frame_symbol(two) is None  # more than one symbol: decoded and routed item by item
    assert book_frame_symbol(update.replace('{"channel":"book",', '{ "channel":"book",')) is None
    assert book_frame_symbol('{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD"}]}') is None
    assert book_frame_symbol(update.encode()) is None
    assert book_frame_symbol('{"channel":"book","type":"update","data":[{"symbol":""}]}') is None
