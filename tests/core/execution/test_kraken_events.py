"""Kraken's execution reports and REST totals as order events (pure): one fill id scheme for both paths, gaps and
duplicates, final states."""

from __future__ import annotations

from decimal import Decimal as D

from kraken_runtime.core.execution.kraken_events import Booked, exec_id_for, fill_from_totals, map_execution
from kraken_runtime.core.execution.orders import Acked, Amended, Canceled, Executed, Expired, OrderRecord, apply_event
from kraken_runtime.core.kraken import codec
from kraken_runtime.core.kraken.messages import ExecType, Execution, ExecutionsMessage, Fee, LiquidityIndicator

TXID = "OK4GJX-KSTLS-7DZZO5"


def trade(cum: str, last: str, price: str = "100", fee: str = "0.26", cum_cost: str | None = None, **kw: object) -> Execution:
    base: dict[str, object] = dict(
        order_id=TXID, exec_type=ExecType.TRADE, cl_ord_id="c1", exec_id="TGBB7L-HT5LX-J3BZ4A", trade_id=7,
        last_qty=D(last), last_price=D(price), cost=D(last) * D(price), fees=(Fee(asset="USD", qty=D(fee)),),
        liquidity_ind=LiquidityIndicator.TAKER, cum_qty=D(cum),
        cum_cost=D(cum_cost) if cum_cost is not None else D(cum) * D(price), timestamp_ns=42)
    base.update(kw)
    return Execution(**base)  # type: ignore[arg-type]


def mapped(report: Execution, booked: Booked = Booked(), *, txid: str | None = TXID, qty: str = "1", snapshot: bool = False,
           cancel_reason: str | None = None):  # type: ignore[no-untyped-def]
    return map_execution(report, txid=txid, booked=booked, order_qty=D(qty), post_only=False, snapshot=snapshot,
                         now_ns=1, cancel_reason=cancel_reason)


def test_a_trade_is_one_fill_with_its_own_price_fee_and_liquidity_and_the_cumulative_id() -> None:
    result = mapped(trade("0.4", "0.4", price="100", fee="0.104"))
    [fill] = result.events
    assert fill == Executed(exec_id=f"{TXID}-0.4", qty=D("0.4"), price=D("100"), fee=D("0.104"), liquidity="taker", ts_ns=42)
    assert result.booked == Booked(D("0.4"), D("40.0"), D("0.104")) and not result.done and not result.lookup


def test_the_same_trade_seen_again_or_after_a_rest_poll_booked_it_changes_nothing() -> None:
    first = mapped(trade("0.4", "0.4"))
    again = mapped(trade("0.4", "0.4"), first.booked)
    assert again.events == () and again.booked == first.booked
    # REST saw both trades as one growth to 0.7: the channel's reports of 0.4 and 0.7 are both already booked
    _, booked = fill_from_totals(TXID, Booked(), vol_exec=D("0.7"), cost=D("70"), fee=D("0.2"), liquidity="taker", ts_ns=1)
    assert mapped(trade("0.4", "0.4"), booked).events == () and mapped(trade("0.7", "0.3"), booked).events == ()


def test_rest_and_channel_give_the_same_execution_id_for_the_same_cumulative_volume() -> None:
    fill, _ = fill_from_totals(TXID, Booked(), vol_exec=D("0.40"), cost=D("40"), fee=D("0.1"), liquidity="taker", ts_ns=1)
    [ws_fill] = mapped(trade("0.4", "0.4")).events
    assert fill is not None and isinstance(ws_fill, Executed) and fill.exec_id == ws_fill.exec_id == exec_id_for(TXID, D("0.4"))
    # a fill stored by one path and reported by the other is one execution in the order's record
    order = OrderRecord(client_order_id="c1", symbol="BTC/USD", side="buy", qty=D("1"), price=D("101"), post_only=False,
                        time_in_force="ioc", status="new")
    once = apply_event(order, fill).order
    assert apply_event(once, ws_fill).changed is False


def test_a_missed_trade_is_not_booked_from_the_next_one_but_looked_up() -> None:
    result = mapped(trade("0.7", "0.3"), Booked(D("0.2"), D("20"), D("0.05")))
    assert result.events == () and result.lookup and result.booked == Booked(D("0.2"), D("20"), D("0.05"))


def test_snapshot_trades_carry_no_cumulative_volume_and_are_not_booked() -> None:
    result = mapped(trade("0.4", "0.4", cum_qty=None), snapshot=True)
    assert result.events == () and not result.lookup


def test_the_full_fill_ends_the_order_and_the_filled_report_after_it_changes_nothing() -> None:
    result = mapped(trade("1", "1"))
    assert result.done and isinstance(result.events[0], Executed)
    filled = mapped(Execution(order_id=TXID, exec_type=ExecType.FILLED, cum_qty=D("1")), result.booked)
    assert filled.events == () and filled.done and not filled.lookup


def test_a_filled_report_with_volume_not_booked_is_looked_up_not_closed() -> None:
    result = mapped(Execution(order_id=TXID, exec_type=ExecType.FILLED, cum_qty=D("1")), Booked(D("0.5"), D("50"), D(0)))
    assert result.lookup and not result.done and result.events == ()


def test_canceled_carries_our_reason_when_we_asked_and_the_exchanges_otherwise() -> None:
    ours = mapped(Execution(order_id=TXID, exec_type=ExecType.CANCELED, cum_qty=D(0), reason="User requested"),
                  cancel_reason="hybrid: crossing as a taker")
    assert ours.done and ours.events == (Canceled(reason="hybrid: crossing as a taker", ts_ns=1),)
    theirs = mapped(Execution(order_id=TXID, exec_type=ExecType.CANCELED, reason="CancelAllOrdersAfter Timeout"))
    assert theirs.events == (Canceled(reason="CancelAllOrdersAfter Timeout", ts_ns=1),)
    expired = mapped(Execution(order_id=TXID, exec_type=ExecType.EXPIRED))
    assert expired.done and isinstance(expired.events[0], Expired)


def test_canceled_with_fills_not_booked_is_looked_up_first() -> None:
    result = mapped(Execution(order_id=TXID, exec_type=ExecType.CANCELED, cum_qty=D("0.3")))
    assert result.lookup and not result.done and result.events == ()


def test_an_unknown_submit_is_acknowledged_by_the_report_that_names_it() -> None:
    result = mapped(Execution(order_id=TXID, exec_type=ExecType.NEW, cl_ord_id="c1"), txid=None)
    assert result.events == (Acked(exchange_order_id=TXID, ts_ns=1),)


def test_a_snapshot_open_order_with_unbooked_volume_is_looked_up() -> None:
    result = mapped(Execution(order_id=TXID, exec_type=ExecType.NEW, cum_qty=D("0.5")), Booked(D("0.2"), D("20"), D(0)),
                    snapshot=True)
    assert result.lookup and result.events == ()
    assert not mapped(Execution(order_id=TXID, exec_type=ExecType.NEW, cum_qty=D("0.2")), Booked(D("0.2"), D(20), D(0))).lookup


def test_an_amend_report_moves_the_price() -> None:
    result = mapped(Execution(order_id=TXID, exec_type=ExecType.AMENDED, limit_price=D("99.5"), cum_qty=D(0)))
    assert result.events == (Amended(price=D("99.5"), ts_ns=1),)
    order = OrderRecord(client_order_id="c1", symbol="BTC/USD", side="buy", qty=D("1"), price=D("99"), post_only=True,
                        time_in_force="gtc", status="new")
    moved = apply_event(order, result.events[0])
    assert moved.changed and moved.order.price == D("99.5") and moved.order.status == "new"


def test_the_documented_trade_frame_decodes_and_maps() -> None:
    """PROTOCOL.md 4.2's docs example, through the project's codec."""
    frame = ('{"channel": "executions", "type": "update", "data": [{"order_id": "OK4GJX-KSTLS-7DZZO5", "order_userref": 3, '
             '"exec_id": "TGBB7L-HT5LX-J3BZ4A", "exec_type": "trade", "trade_id": 62887576, "symbol": "BTC/USD", '
             '"side": "sell", "last_qty": 0.005, "last_price": 26599.9, "liquidity_ind": "t", "cost": 132.9995, '
             '"order_type": "limit", "timestamp": "2023-09-22T10:33:05.709993Z", "order_status": "partially_filled", '
             '"cum_qty": 0.005, "cum_cost": 132.9995, "avg_price": 26599.9, "fee_usd_equiv": 0.3458, '
             '"fees": [{"asset": "USD", "qty": 0.3458}]}], "sequence": 10}')
    message = codec.decode(frame)
    assert isinstance(message, ExecutionsMessage)
    result = mapped(message.executions[0], qty="0.005")
    [fill] = result.events
    assert fill == Executed(exec_id=f"{TXID}-0.005", qty=D("0.005"), price=D("26599.9"), fee=D("0.3458"), liquidity="taker",
                            ts_ns=message.executions[0].timestamp_ns or 0)
    assert result.done
