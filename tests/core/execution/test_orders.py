"""The order state machine, positions and PnL with fees, attribution (pure)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kraken_runtime.core.execution.orders import (
    Acked, Canceled, Executed, Expired, OrderInvariantError, OrderRecord, OutcomeUnknown, Rejected, apply_event,
)
from kraken_runtime.core.execution.positions import (
    EMPTY_LEDGER, Position, apply_fill, book_fill, equity, ledger_from_fills, split_among,
)


def order(**kw: object) -> OrderRecord:
    base: dict[str, object] = dict(client_order_id="krt-1", symbol="BTC/USD", side="buy", qty=D("1"), price=D("100"),
                                   post_only=True, time_in_force="gtc")
    base.update(kw)
    return OrderRecord(**base)  # type: ignore[arg-type]


def fill(exec_id: str, qty: str, price: str = "100", fee: str = "0.1") -> Executed:
    return Executed(exec_id=exec_id, qty=D(qty), price=D(price), fee=D(fee), liquidity="maker", ts_ns=5)


def test_pending_new_acked_then_partially_then_filled_with_average_price_and_fees() -> None:
    o = apply_event(order(), Acked(exchange_order_id="OX-1", ts_ns=1)).order
    assert o.status == "new" and o.exchange_order_id == "OX-1"
    o = apply_event(o, fill("e1", "0.4", "100")).order
    assert o.status == "partially_filled" and o.filled_qty == D("0.4")
    o = apply_event(o, fill("e2", "0.6", "90")).order
    assert o.status == "filled" and o.avg_fill_price == D("94") and o.fees == D("0.2")


def test_fill_seen_twice_is_applied_once() -> None:
    o = apply_event(order(), fill("e1", "0.5")).order
    t = apply_event(o, fill("e1", "0.5"))
    assert not t.changed and t.fill is None and t.order.filled_qty == D("0.5")


def test_overfill_raises() -> None:
    o = apply_event(order(), fill("e1", "0.7")).order
    with pytest.raises(OrderInvariantError):
        apply_event(o, fill("e2", "0.4"))


def test_reject_only_from_pending_or_unknown() -> None:
    assert apply_event(order(), Rejected(reason="EOrder:Insufficient funds", ts_ns=1)).order.status == "rejected"
    acked = apply_event(order(), Acked(exchange_order_id="O", ts_ns=1)).order
    t = apply_event(acked, Rejected(reason="cancel refused", ts_ns=2))
    assert t.order.status == "new" and t.order.last_error == "cancel refused"


def test_unknown_outcome_then_resolved_by_ack_or_reject() -> None:
    u = apply_event(order(), OutcomeUnknown(reason="timeout", ts_ns=1)).order
    assert u.status == "unknown" and u.is_open
    assert apply_event(u, Acked(exchange_order_id="O", ts_ns=2)).order.status == "new"
    assert apply_event(u, Rejected(reason="not found", ts_ns=2)).order.status == "rejected"
    acked = apply_event(order(), Acked(exchange_order_id="O", ts_ns=1)).order
    assert not apply_event(acked, OutcomeUnknown(reason="x", ts_ns=2)).changed


def test_terminal_states_ignore_events_but_take_a_late_fill() -> None:
    c = apply_event(order(), Canceled(reason="user", ts_ns=1)).order
    assert not apply_event(c, Acked(exchange_order_id="O", ts_ns=2)).changed
    assert not apply_event(c, Expired(reason="", ts_ns=2)).changed
    late = apply_event(c, fill("e1", "0.3")).order
    assert late.status == "canceled" and late.filled_qty == D("0.3")
    assert apply_event(c, fill("e2", "1")).order.status == "filled"


def test_ioc_remainder_expires_keeping_its_partial_fill() -> None:
    o = apply_event(order(time_in_force="ioc", post_only=False), fill("e1", "0.25")).order
    o = apply_event(o, Expired(reason="ioc remainder", ts_ns=2)).order
    assert o.status == "expired" and o.filled_qty == D("0.25") and not o.is_open


# --- positions and PnL --------------------------------------------------------------------------------------

def test_position_average_cost_realised_and_unrealised_pnl_with_fees() -> None:
    p = apply_fill(Position(), side="buy", qty=D("1"), price=D("100"), fee=D("0.25"))
    p = apply_fill(p, side="buy", qty=D("1"), price=D("110"), fee=D("0.25"))
    assert p.qty == D("2") and p.avg_price == D("105")
    p = apply_fill(p, side="sell", qty=D("1"), price=D("120"), fee=D("0.3"))
    assert p.realised == D("15") and p.fees == D("0.8") and p.qty == D("1")
    assert p.unrealised(D("100")) == D("-5")
    assert p.net(D("100")) == D("15") - D("0.8") - D("5")


def test_position_through_zero_opens_the_rest_at_the_fill_price() -> None:
    p = apply_fill(Position(), side="buy", qty=D("1"), price=D("100"), fee=D(0))
    p = apply_fill(p, side="sell", qty=D("3"), price=D("90"), fee=D(0))
    assert p.qty == D("-2") and p.avg_price == D("90") and p.realised == D("-10")
    p = apply_fill(p, side="buy", qty=D("2"), price=D("80"), fee=D(0))
    assert p.qty == 0 and p.realised == D("10")


def test_attribution_splits_evenly_and_adds_up_exactly() -> None:
    shares = split_among(("a", "b", "c"), D("1"))
    assert sum(s for _, s in shares) == D("1") and len(shares) == 3
    ledger = book_fill(EMPTY_LEDGER, symbol="X/USD", side="buy", qty=D("3"), price=D("10"), fee=D("0.3"), strategies=("a", "b"))
    ledger = book_fill(ledger, symbol="X/USD", side="sell", qty=D("3"), price=D("12"), fee=D("0.3"), strategies=("a", "b"))
    assert ledger.by_symbol["X/USD"].realised == D("6")
    a, b = ledger.by_strategy[("a", "X/USD")], ledger.by_strategy[("b", "X/USD")]
    assert a.realised + b.realised == D("6") and a.fees + b.fees == D("0.6")
    assert book_fill(EMPTY_LEDGER, symbol="X/USD", side="buy", qty=D(1), price=D(1), fee=D(0), strategies=()).by_strategy.keys() == {("unattributed", "X/USD")}


def test_ledger_rebuilt_from_stored_fills_equals_the_live_one_and_gives_equity() -> None:
    rows = [dict(symbol="X/USD", side="buy", qty="2", price="10", fee="0.1", strategies=["m"]),
            dict(symbol="X/USD", side="sell", qty="1", price="9", fee="0.1", strategies=["m"])]
    ledger = ledger_from_fills(rows)
    assert ledger.by_symbol["X/USD"].qty == D("1")
    assert equity(ledger, {"X/USD": D("8")}) == D("-1") - D("0.2") - D("2")
