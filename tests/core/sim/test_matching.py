import random

from kraken_runtime.core.sim.matching import ASK, BID, BookOrder, OrderBook


def book_with(*orders):
    book = OrderBook()
    for order_id, side, price, qty in orders:
        book.add(BookOrder(order_id, side, price, qty, 0))
    return book


def test_match_when_taker_sweeps_levels_then_fills_in_price_then_time_priority():
    book = book_with(("a1", ASK, 101, 5), ("a2", ASK, 100, 3), ("a3", ASK, 100, 4), ("b1", BID, 99, 7))
    result = book.match(BID, 10, limit=101)
    assert [(f.maker.order_id, f.price, f.qty) for f in result.fills] == [("a2", 100, 3), ("a3", 100, 4), ("a1", 101, 3)]
    assert result.remaining == 0
    assert book.best(ASK) == 101 and book.level_qty(ASK, 101) == 2
    book.check_invariants()


def test_match_when_limit_reached_then_stops_and_leaves_remainder():
    book = book_with(("a1", ASK, 100, 5), ("a2", ASK, 102, 5))
    result = book.match(BID, 8, limit=101)
    assert result.remaining == 3
    assert book.best(ASK) == 102
    assert result.touched_prices == [100]


def test_match_when_own_order_at_front_then_stops_for_self_trade_prevention():
    book = OrderBook()
    book.add(BookOrder("mine", ASK, 100, 5, 0, owner="alice"))
    book.add(BookOrder("other", ASK, 100, 5, 1))
    result = book.match(BID, 3, limit=None, owner="alice")
    assert result.self_trade and result.fills == [] and result.remaining == 3


def test_reduce_when_qty_lowered_then_keeps_queue_place():
    book = book_with(("first", BID, 50, 10), ("second", BID, 50, 10))
    book.reduce("first", 4)
    result = book.match(ASK, 4, limit=50)
    assert [f.maker.order_id for f in result.fills] == ["first"]
    assert "first" not in book and book.level_qty(BID, 50) == 10


def test_add_when_order_would_cross_then_raises():
    book = book_with(("a", ASK, 100, 1))
    try:
        book.add(BookOrder("b", BID, 100, 1, 0))
    except ValueError:
        return
    raise AssertionError("crossing add accepted")


def test_random_operations_keep_invariants():
    rng = random.Random(3)
    book = OrderBook()
    n = 0
    for _ in range(5000):
        op = rng.random()
        if op < 0.5:
            side = rng.choice((BID, ASK))
            price = rng.randint(90, 100) if side == BID else rng.randint(101, 111)
            n += 1
            if not book.crosses(side, price):
                book.add(BookOrder(f"o{n}", side, price, rng.randint(1, 20), n))
        elif op < 0.8 and len(book):
            book.remove(rng.choice(list(book._orders)))
        else:
            book.match(rng.choice((BID, ASK)), rng.randint(1, 40), limit=None)
    book.check_invariants()
    depth = book.depth(BID, 5)
    assert depth == sorted(depth, reverse=True)


def test_fillable_qty_and_cost_to_fill_walk_the_book():
    book = book_with(("a1", ASK, 100, 5), ("a2", ASK, 102, 5))
    assert book.fillable_qty(BID, 101, 100) == 5
    assert book.fillable_qty(BID, None, 7) == 7
    assert book.cost_to_fill(BID, 7) == (7, 5 * 100 + 2 * 102)
