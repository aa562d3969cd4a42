from collections import Counter
from decimal import Decimal

T0 = 1_700_000_000 * 1_000_000_000
SEC = 1_000_000_000
from kraken_runtime.core.sim.events import BookLevelChanged, L3OrderEvent, TradePrinted
from kraken_runtime.core.sim.instruments import DEFAULT_SYMBOLS, INSTRUMENTS


def run(x, seconds, tick_ms=100):
    events = []
    for i in range(1, int(seconds * 1000 / tick_ms) + 1):
        events.extend(x.step(T0 + i * tick_ms * 1_000_000))
    return events


def test_same_seed_and_steps_give_identical_events(make_exchange):
    a = make_exchange(("BTC/USD", "XRP/USD"), seed=5)
    b = make_exchange(("BTC/USD", "XRP/USD"), seed=5)
    ea, eb = run(a, 5), run(b, 5)
    assert len(ea) > 100 and ea == eb
    assert a.book("BTC/USD", 1000) == b.book("BTC/USD", 1000)


def test_different_seeds_give_different_markets(make_exchange):
    a = make_exchange(("BTC/USD",), seed=5)
    b = make_exchange(("BTC/USD",), seed=6)
    assert run(a, 2) != run(b, 2)


def test_book_is_deep_and_on_the_grid_at_every_depth(make_exchange):
    x = make_exchange(("BTC/USD", "XRP/USD", "USDC/USD", "ETH/BTC"), seed=2)
    run(x, 10)
    for symbol in x.symbols:
        inst = INSTRUMENTS[symbol]
        bids, asks = x.book(symbol, 1000)
        assert len(bids) == 1000 and len(asks) == 1000, symbol
        assert bids[0][0] < asks[0][0]
        assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
        assert [p for p, _ in asks] == sorted(p for p, _ in asks)
        for price, qty in bids + asks:
            assert price > 0 and price % inst.price_increment == 0 and price.as_tuple().exponent == -inst.price_precision
            assert qty > 0 and qty % inst.qty_increment == 0 and qty.as_tuple().exponent == -inst.qty_precision
        l3_bids, l3_asks = x.l3_book(symbol, 10)
        by_level = {}
        for order_id, price, qty, ts in l3_bids:
            by_level[price] = by_level.get(price, Decimal(0)) + qty
            assert qty >= inst.qty_min or qty > 0
        assert [by_level[p] for p, _ in bids[:10]] == [q for _, q in bids[:10]]


def test_events_replayed_onto_the_start_book_reproduce_the_book(make_exchange):
    x = make_exchange(("ETH/USD",), seed=9)
    bids, asks = x.book("ETH/USD", 5000)
    levels = {("bid", p): q for p, q in bids} | {("ask", p): q for p, q in asks}
    l3 = {}
    b3, a3 = x.l3_book("ETH/USD", 5000)
    for side, rows in (("bid", b3), ("ask", a3)):
        for order_id, price, qty, ts in rows:
            l3[order_id] = (side, price, qty)
    for event in run(x, 5):
        if isinstance(event, BookLevelChanged):
            if event.qty == 0:
                del levels[(event.side, event.price)]
            else:
                levels[(event.side, event.price)] = event.qty
        elif isinstance(event, L3OrderEvent):
            if event.event == "delete":
                del l3[event.order_id]
            else:
                l3[event.order_id] = (event.side, event.limit_price, event.order_qty)
    bids, asks = x.book("ETH/USD", 5000)
    assert levels == {("bid", p): q for p, q in bids} | {("ask", p): q for p, q in asks}
    totals = {}
    for side, price, qty in l3.values():
        totals[(side, price)] = totals.get((side, price), Decimal(0)) + qty
    assert totals == levels


def test_flow_trades_with_heavy_tailed_sizes_and_sequential_trade_ids(make_exchange):
    x = make_exchange(("BTC/USD",), seed=4)
    trades = [e for e in run(x, 60, tick_ms=500) if isinstance(e, TradePrinted)]
    assert len(trades) > 200
    ids = [t.trade_id for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    sizes = sorted(t.qty for t in trades)
    median, p99 = sizes[len(sizes) // 2], sizes[int(len(sizes) * 0.99)]
    assert p99 > 10 * median  # a fat tail, not a bell
    assert {t.side for t in trades} == {"buy", "sell"} and {t.ord_type for t in trades} == {"market", "limit"}
    assert x.recent_trades("BTC/USD", 50) == tuple(trades[-50:])


def test_btc_spread_is_a_few_ticks_most_of_the_time(make_exchange):
    x = make_exchange(("BTC/USD",), seed=8)
    spreads = []
    for i in range(1, 301):
        x.step(T0 + i * 100_000_000)
        bids, asks = x.book("BTC/USD", 1)
        spreads.append((asks[0][0] - bids[0][0]) / Decimal("0.1"))
    spreads.sort()
    assert spreads[len(spreads) // 2] <= 5


def test_ticker_reflects_book_and_trades(make_exchange):
    x = make_exchange(("BTC/USD",), seed=4)
    run(x, 5)
    t = x.ticker("BTC/USD")
    bids, asks = x.book("BTC/USD", 1)
    assert (t.bid, t.bid_qty, t.ask, t.ask_qty) == (bids[0][0], bids[0][1], asks[0][0], asks[0][1])
    assert t.last == x.recent_trades("BTC/USD", 1)[0].price
    assert t.low <= t.last <= t.high and t.low <= t.vwap <= t.high and t.volume > 0
    assert t.change_pct.as_tuple().exponent == -2


def test_regimes_change_volatility_over_time(make_exchange):
    x = make_exchange(("SOL/USD",), seed=1, regime_mean_duration_s=5.0)
    seen = set()
    for i in range(1, 121):
        x.step(T0 + i * SEC)
        seen.add(x.regime("SOL/USD"))
    assert seen == {"calm", "normal", "volatile"}


def test_twenty_symbols_simulate_at_least_300_book_updates_per_second(make_exchange):
    """The model's own rate (simulated time, not CPU time: the step cost is ops/bench/sim.py --engine)."""
    x = make_exchange(DEFAULT_SYMBOLS, seed=3)
    events = run(x, 20)
    l2 = sum(1 for e in events if isinstance(e, BookLevelChanged))
    assert l2 / 20 >= 300
    assert Counter(type(e).__name__ for e in events)["TradePrinted"] > 0