"""core.kraken.l3book: the order-by-order book, its checksum, queue positions and the L2 view."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_runtime.core.kraken.book import CHECKSUM_MISMATCH, BookData, BookLevel, L2Book
from kraken_runtime.core.kraken.l3book import (
    L3Book,
    L3Order,
    Level3Data,
    QueuePosition,
    decode_level3,
    decode_level3_frame,
)
from kraken_runtime.core.kraken.wire import DecodeError, loads

D = Decimal
L3_CAPTURE = "ws_v2_level3_BTCUSD_docs_snapshot_3_updates.jsonl"


def _docs_book(capture_frames, precision=(1, 8)) -> tuple[L3Book, list[str]]:
    frames = capture_frames(L3_CAPTURE)
    book = L3Book("BTC/USD", 10, *precision)
    result = book.apply_message(decode_level3(loads(frames[0])))
    assert result.ok
    return book, frames


def _events(*orders, side="bids", checksum=None) -> Level3Data:
    events = tuple(L3Order(oid, D(price), D(qty), None, event) for event, oid, price, qty in orders)
    return Level3Data(symbol="BTC/USD", bids=events if side == "bids" else (),
                      asks=events if side == "asks" else (), checksum=checksum, timestamp=None)


@pytest.mark.parametrize("precision", [(1, 8), (None, None)])
@pytest.mark.parametrize("fast", [True, False])
def test_capture_when_replayed_then_every_level3_checksum_matches(capture_frames, precision, fast):
    book = L3Book("BTC/USD", 10, *precision)
    results = []
    for frame in capture_frames(L3_CAPTURE):
        decoded = decode_level3_frame(frame, *precision) if fast else decode_level3(loads(frame))
        results.append(book.apply_message(decoded))
    assert [r.expected for r in results] == [1063832831, 4214623937, 1052444130, 800786314]
    assert all(r.ok for r in results)


def test_checksum_input_when_docs_snapshot_then_equals_documented_strings(capture_frames, checksum_vectors):
    book, _ = _docs_book(capture_frames)
    vector = next(v for v in checksum_vectors["vectors"] if v["name"] == "kraken_docs_ws_v2_level3_snapshot")
    assert book.checksum_input() == vector["expected_asks_string"] + vector["expected_bids_string"]


def test_delete_when_all_orders_of_best_bid_level_go_then_matches_third_party_value(capture_frames):
    book, _ = _docs_book(capture_frames)
    best = book.orders_at("bid", D("44939.4"))
    assert len(best) == 8
    book.apply(_events(*[("delete", o.order_id, "44939.4", "0") for o in best]))
    assert book.checksum() == 3045255171
    assert book.best_bid().price == D("44937.1")


def test_modify_when_price_unchanged_then_keeps_queue_place_and_matches_third_party_value(capture_frames):
    book, _ = _docs_book(capture_frames)
    before = book.queue_position("OMPHVY-IZPJ4-KOKA3P")
    book.apply(_events(("modify", "OTCFZG-YOE2Q-LQKNM3", "44939.4", "0.5")))
    assert book.checksum() == 404903681
    assert book.queue_position("OTCFZG-YOE2Q-LQKNM3").orders_ahead == 0
    after = book.queue_position("OMPHVY-IZPJ4-KOKA3P")
    assert after.orders_ahead == before.orders_ahead == 2
    assert after.qty_ahead == before.qty_ahead - D("0.88968699") + D("0.5")


def test_modify_when_price_changes_then_order_moves_to_back_of_new_level(capture_frames):
    book, _ = _docs_book(capture_frames)
    book.apply(_events(("modify", "OTCFZG-YOE2Q-LQKNM3", "44930.2", "0.5")))
    position = book.queue_position("OTCFZG-YOE2Q-LQKNM3")
    assert position.price == D("44930.2") and position.orders_ahead == 5
    assert book.queue_position("OFGP5R-B3E7G-54EZD6").orders_ahead == 0


def test_add_when_order_id_already_present_then_replaces_it_at_the_back(capture_frames):
    book, _ = _docs_book(capture_frames)
    book.apply(_events(("add", "OTCFZG-YOE2Q-LQKNM3", "44939.4", "0.25")))
    assert book.queue_position("OTCFZG-YOE2Q-LQKNM3") == QueuePosition("bid", D("44939.4"), 7, sum(
        (o.order_qty for o in book.orders_at("bid", D("44939.4"))[:7]), D(0)), D("0.25"))
    assert book.order_count() == 35


def test_delete_when_order_unknown_then_ignored_and_modify_unknown_adds(capture_frames):
    book, _ = _docs_book(capture_frames)
    checksum = book.checksum()
    book.apply(_events(("delete", "NOPE", "44939.4", "1")))
    assert book.checksum() == checksum
    book.apply(_events(("modify", "NEW", "44939.4", "1")))
    assert book.queue_position("NEW").orders_ahead == 8
    assert book.order("NEW") == L3Order("NEW", D("44939.4"), D("1"), None)


def test_queue_position_when_order_is_not_in_book_then_none(capture_frames):
    book, _ = _docs_book(capture_frames)
    assert book.queue_position("MISSING") is None
    assert book.order("MISSING") is None


def test_queue_position_when_order_is_third_in_queue_then_counts_orders_and_qty_ahead(capture_frames):
    book, _ = _docs_book(capture_frames)
    assert book.queue_position("O3DRCT-J5M2S-KYV526") == QueuePosition(
        "ask", D("44939.5"), 2, D("4.52308393") + D("0.00111261"), D("0.00100000"))


def test_truncate_when_levels_exceed_depth_then_worst_levels_and_their_orders_go(capture_frames):
    frames = capture_frames(L3_CAPTURE)
    book = L3Book("BTC/USD", 3, 1, 8)
    result = book.apply_message(decode_level3(loads(frames[0])))
    assert result.status == CHECKSUM_MISMATCH  # the docs' checksum covers 10 levels
    view = book.l2_view()
    assert len(view.bids) == 3 and len(view.asks) == 3
    assert book.queue_position("O73C6Y-VZXYA-H4LDFY") is None  # the worst bid left with its level
    assert book.order_count() == sum(len(book.orders_at("bid", p)) for p, _ in view.bids) + sum(
        len(book.orders_at("ask", p)) for p, _ in view.asks)


def test_l2_view_when_docs_snapshot_then_aggregates_each_level(capture_frames):
    book, _ = _docs_book(capture_frames)
    view = book.l2_view(2)
    assert view.bids[0] == BookLevel(D("44939.4"), D("3.55788870"))
    assert view.asks == (BookLevel(D("44939.5"), D("4.53519654")), BookLevel(D("44950.0"), D("0.10334926")))
    assert book.best_ask() == view.asks[0] and book.best_bid() == view.bids[0]


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        ({"order_id": "A", "limit_price": D(1)}, "level3 update: 'order_qty' missing in bids[0]"),
        ({"order_id": "A", "limit_price": D(1), "order_qty": D(1), "event": "move"},
         "level3 update: 'event' is 'move', not add/modify/delete, in bids[0]"),
        ({"order_id": 7, "limit_price": D(1), "order_qty": D(1), "event": "add"},
         "level3 update: 'order_id' is not a string in bids[0]"),
    ],
)
def test_decode_level3_when_an_order_field_is_wrong_then_decode_error_names_it(order, reason):
    msg = {"channel": "level3", "type": "update", "data": [{"symbol": "X", "bids": [order], "asks": []}]}
    with pytest.raises(DecodeError) as caught:
        decode_level3(msg)
    assert caught.value.reason == reason


# ------------------------------------------------------------------------------------------ properties


@st.composite
def _l3_streams(draw):
    orders = draw(st.lists(st.tuples(st.booleans(), st.integers(1, 30), st.integers(1, 10**6)), max_size=40))
    events = draw(st.lists(st.tuples(st.sampled_from(["add", "modify", "delete"]), st.integers(0, 60),
                                     st.integers(1, 30), st.integers(0, 10**6)), max_size=60))
    return orders, events


def _price(is_ask: bool, offset: int) -> Decimal:
    return D(100 + offset if is_ask else 100 - offset).scaleb(0) + D("0.0")


@settings(max_examples=150, deadline=None)
@given(_l3_streams())
def test_property_l3_aggregated_view_equals_independently_built_l2_book(stream):
    initial, events = stream
    book = L3Book("X/Y", 1000, 1, 8)
    reference: dict[str, tuple[bool, Decimal, Decimal]] = {}  # order id -> (is_ask, price, qty)
    snapshot_bids, snapshot_asks = [], []
    for number, (is_ask, offset, qty) in enumerate(initial):
        order = L3Order(f"O{number}", _price(is_ask, offset), D(qty).scaleb(-8), None)
        (snapshot_asks if is_ask else snapshot_bids).append(order)
        reference[order.order_id] = (is_ask, order.limit_price, order.order_qty)
    book.apply(Level3Data(symbol="X/Y", bids=tuple(snapshot_bids), asks=tuple(snapshot_asks), checksum=None,
                          timestamp=None), snapshot=True)
    for event, number, offset, qty in events:
        order_id = f"O{number}"
        is_ask = reference[order_id][0] if order_id in reference else number % 2 == 1
        price, amount = _price(is_ask, offset), D(qty).scaleb(-8)
        order = L3Order(order_id, price, amount, None, event)
        book.apply(Level3Data(symbol="X/Y", bids=() if is_ask else (order,), asks=(order,) if is_ask else (),
                              checksum=None, timestamp=None))
        if event == "delete" or not qty:
            reference.pop(order_id, None)
        else:
            reference[order_id] = (is_ask, price, amount)

    totals: dict[tuple[bool, Decimal], Decimal] = {}
    for is_ask, price, qty in reference.values():
        totals[(is_ask, price)] = totals.get((is_ask, price), D(0)) + qty
    l2 = L2Book("X/Y", 1000, 1, 8)
    l2.apply(BookData(
        symbol="X/Y",
        bids=tuple(BookLevel(p, q) for (a, p), q in sorted(totals.items(), key=lambda i: -i[0][1]) if not a),
        asks=tuple(BookLevel(p, q) for (a, p), q in sorted(totals.items(), key=lambda i: i[0][1]) if a),
        checksum=None, timestamp=None), snapshot=True)
    view = book.l2_view()
    assert view.bids == l2.bids() and view.asks == l2.asks()
    assert book.order_count() == len(reference)
    assert not book.is_crossed()
