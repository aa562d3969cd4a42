"""codec.decode against real recorded Kraken WS v2 frames (tests/data/kraken/captures)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from kraken_runtime.core.kraken import messages as m
from kraken_runtime.core.kraken.codec import decode, decode_request
from kraken_runtime.core.kraken.wire import DecodeError

CAPTURES = Path(__file__).resolve().parents[3] / "tests" / "data" / "kraken" / "captures"


def _to_json(value) -> str:
    """Re-serialize a value loaded with parse_float=Decimal, keeping each number's exact digits."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ",".join(_to_json(item) for item in value) + "]"
    return "{" + ",".join(json.dumps(key) + ":" + _to_json(item) for key, item in value.items()) + "}"


def _assorted() -> list[tuple[str, str]]:
    with open(CAPTURES / "ws_v2_assorted_frames.json", encoding="utf-8") as handle:
        document = json.load(handle, parse_float=Decimal)
    return [(entry["test_var"], _to_json(entry["msg"])) for entry in document["messages"]]


ASSORTED = _assorted()
LIFECYCLE = (CAPTURES / "ws_v2_executions_lifecycle_docs.jsonl").read_text(encoding="utf-8").splitlines()

# The type each assorted frame must decode to, in file order (48 frames).
ASSORTED_TYPES = [
    m.HeartbeatMessage, m.Status, m.MethodError, m.SubscribeError, m.MethodError, m.MethodError, m.MethodError,
    m.MethodError, m.TickerMessage, m.TickerMessage, "BookMessage", "BookMessage", "Level3Message",
    "Level3Message", m.OhlcMessage, m.TradeMessage, m.TradeMessage, m.InstrumentMessage, m.AddOrderAck,
    m.AmendOrderAck, "request", m.AmendOrderAck, m.MethodError, m.EditOrderAck, m.CancelOrderAck,
    m.CancelOrderAck, m.CancelAllAck, m.CancelAllOrdersAfterAck, m.BatchAddAck, m.BatchCancelAck,
    m.ExecutionsMessage, m.ExecutionsMessage, m.ExecutionsMessage, m.ExecutionsMessage, m.ExecutionsMessage,
    m.ExecutionsMessage, m.BalancesSnapshot, m.BalancesUpdate, m.BalancesUpdate, m.Pong, m.SubscribeAck,
    m.SubscribeAck, m.SubscribeAck, m.SubscribeAck, m.SubscribeAck, m.SubscribeAck, m.SubscribeAck,
    m.SubscribeAck,
]


def _by_name(name: str) -> str:
    return next(frame for test_var, frame in ASSORTED if test_var == name)


def test_assorted_file_when_loaded_then_has_the_48_frames_the_table_expects():
    assert len(ASSORTED) == 48 == len(ASSORTED_TYPES)


@pytest.mark.parametrize("index", range(len(ASSORTED)), ids=[f"{i}-{name}" for i, (name, _) in enumerate(ASSORTED)])
def test_decode_when_given_each_assorted_frame_then_returns_its_type(index):
    name, frame = ASSORTED[index]
    expected = ASSORTED_TYPES[index]
    if expected == "request":  # the file also records one outbound request
        assert isinstance(decode_request(frame), m.AmendOrder)
        with pytest.raises(DecodeError, match="request"):
            decode(frame)
        return
    message = decode(frame)
    if isinstance(expected, str):
        assert type(message).__name__ == expected
    else:
        assert type(message) is expected


def test_decode_status_when_connection_id_exceeds_int64_then_keeps_it_exactly():
    status = decode(_by_name("status_update"))
    assert status == m.Status(type=m.FrameType.UPDATE, system=m.SystemState.ONLINE, api_version="v2",
                              connection_id=12393906104898154338, version="2.0.4")
    assert status.connection_id > 2**63


def test_decode_ticker_when_snapshot_then_numbers_are_exact_decimals_from_the_text():
    message = decode(_by_name("ticker_snapshot"))
    (ticker,) = message.tickers
    assert message.type == "snapshot"
    assert ticker.symbol == "BTC/USD"
    assert ticker.bid == Decimal("65972.8") and ticker.ask == Decimal("65972.9")
    assert ticker.ask_qty == Decimal("39.67506683")
    assert ticker.volume == Decimal("4216.6182937")
    assert str(ticker.high) == "66450.0"  # trailing zero kept
    assert ticker.change_pct == Decimal("7.17")
    assert ticker.timestamp is None  # this capture has none


def test_decode_trade_when_qty_in_scientific_notation_then_value_is_exact():
    message = decode(_by_name("trade_snapshot"))
    first, second = message.trades
    assert first.side is m.Side.SELL and first.ord_type == "market"
    assert first.price == Decimal("68466.9") and first.qty == Decimal("0.01919415")
    assert second.qty == Decimal("0.00007723")
    assert second.trade_id == 70635252
    assert second.timestamp == "2024-05-27T12:33:10.980704Z"
    assert second.timestamp_ns == 1716813190_980704000


def test_decode_ohlc_when_snapshot_then_candles_and_nanosecond_times_are_exact():
    message = decode(_by_name("candles_snapshot"))
    assert message.timestamp_ns == 1715944876_318303322
    first = message.candles[0]
    assert (first.open, first.low, first.close) == (Decimal("3027.8"), Decimal("3026.13"), Decimal("3026.13"))
    assert first.trades == 9 and first.interval == 1
    assert first.interval_begin_ns == 1715944320_000000000
    assert first.volume == Decimal("13.31603062")


def test_decode_instrument_when_snapshot_then_pairs_carry_precisions_and_increments():
    message = decode(_by_name("instrument_snapshot"))
    assert [asset.id for asset in message.assets] == ["USD", "EUR", "ETH"]
    assert message.assets[0].margin_rate == Decimal("0.025")
    eur_usd, eth_btc = message.pairs
    assert (eur_usd.price_precision, eur_usd.qty_precision) == (5, 8)
    assert eur_usd.price_increment == Decimal("0.00001") and eur_usd.qty_increment == Decimal("1E-8")
    assert eur_usd.qty_min == Decimal("0.5") and eur_usd.cost_min == Decimal("0.5")
    assert eur_usd.margin_initial is None and eur_usd.marginable is False
    assert eth_btc.position_limit_long == 1000 and eth_btc.cost_min == Decimal("0.00002")


def test_decode_method_error_when_kraken_rejects_then_keeps_its_error_string():
    error = decode(_by_name("invalid_arguments"))
    assert error.success is False
    assert error.method == "add_order" and error.req_id == 0
    assert error.error == "EGeneral:Invalid arguments:no_mpp order option is only available when ordertype = market"
    assert error.time_in_ns == 1716033788_768086000


def test_decode_responses_when_successful_then_results_are_typed():
    responses = [decode(frame) for name, frame in ASSORTED if name == "response"]
    add, amend, _amend2, amend_error, edit, cancel, cancel_cl, cancel_all, after, batch, batch_cancel = responses
    assert add == m.AddOrderAck(method="add_order", req_id=0, time_in="2024-05-18T12:05:50.293682Z",
                                time_in_ns=1716033950_293682000, time_out="2024-05-18T12:05:50.300542Z",
                                time_out_ns=1716033950_300542000, order_id="OPS23M-VS41G-DDE5Z2",
                                cl_ord_id="client-zero")
    assert add.success is True
    assert (amend.amend_id, amend.order_id) == ("1M2JV8-OEJZD-G5GSBF", "BQS60L-EGW18-UPAK9U")
    assert amend_error.error == "Limit_price field must be a number_float"
    assert (edit.order_id, edit.original_order_id) == ("7FIK6B-S15X0-DPJJTH", "K1FF7H-A13AR-Q1S9Z6")
    assert cancel.order_id == "1V7PZA-L5RIM-RX2G6B" and cancel_cl.cl_ord_id == "a-uuid"
    assert cancel_all.count == 0
    assert after.current_time == "2024-05-19T19:22:20Z" and after.trigger_time_ns - after.current_time_ns == 5 * 10**9
    assert [order.order_id for order in batch.orders] == ["JQDNTT-MZEIZ-OZKUDD", "X67GEK-3VQWM-HPNQ89"]
    assert batch_cancel.count == 2


def test_decode_subscribe_acks_when_channel_options_echoed_then_they_are_typed():
    acks = [decode(frame) for name, frame in ASSORTED if name == "fn"][1:]
    executions, balances, ticker, book, level3, ohlc, trade, instrument = acks
    assert executions.channel == "executions" and executions.maxratecount == 180
    assert executions.warnings[0] == "cancel_reason is deprecated, use reason" and len(executions.warnings) == 4
    assert balances.req_id == 10312008 and balances.symbol is None
    assert (ticker.symbol, ticker.event_trigger, ticker.snapshot) == ("BTC/USD", "trades", True)
    assert (book.channel, book.depth) == ("book", 10)
    assert level3.channel == "level3"
    assert ohlc.interval == 60 and ohlc.warnings == ("timestamp is deprecated, use interval_begin",)
    assert trade.channel == "trade"
    assert instrument.warnings == ("tick_size is deprecated, use price_increment",)


def test_decode_executions_when_trades_snapshot_then_fills_fees_and_flags_are_exact():
    message = decode(_by_name("trades_snapshot"))
    assert message.type == "snapshot" and message.sequence == 1
    first, second = message.executions[:2]
    assert first.exec_type is m.ExecType.TRADE and first.order_status is m.OrderStatus.FILLED
    assert first.last_qty == Decimal("0.00016") and first.last_price == Decimal("63377.2")
    assert first.cost == Decimal("10.12445") and first.liquidity_ind is m.LiquidityIndicator.TAKER
    assert first.fees == (m.Fee(asset="USD", qty=Decimal("0.04051")),)
    assert first.sender_sub_id == "some-uuid"
    assert second.liquidity_ind == "m" and second.margin is True and second.liquidated is True


def test_decode_executions_when_cancel_update_then_reason_and_zero_values_are_kept():
    (execution,) = decode(_by_name("cancel")).executions
    assert execution.exec_type is m.ExecType.CANCELED and execution.order_status is m.OrderStatus.CANCELED
    assert execution.reason == "User requested" and execution.cancel_reason == "User requested"
    assert execution.cum_qty == Decimal("0.0") and execution.symbol is None


def test_decode_executions_when_triggered_order_then_triggers_are_typed():
    frames = [frame for name, frame in ASSORTED if name == "pending_new"]
    (execution,) = decode(frames[1]).executions
    assert execution.order_type is m.OrderType.STOP_LOSS_LIMIT
    assert execution.triggers == m.ExecutionTriggers(reference="index", price=Decimal("0.2"), price_type="static",
                                                     status="untriggered")
    assert execution.time_in_force is m.TimeInForce.GTC  # "GTC" on the wire
    assert execution.cum_cost == Decimal(0) and execution.trigger == "index"


def test_decode_executions_when_amended_then_new_qty_and_price_are_exact():
    (execution,) = decode(_by_name("amend")).executions
    assert execution.exec_type is m.ExecType.AMENDED and execution.amended is True
    assert execution.order_qty == Decimal("5.1") and execution.limit_price == Decimal("0.96")


def test_decode_balances_when_snapshot_and_updates_then_amounts_are_exact():
    snapshot = decode(_by_name("balances_snapshot"))
    assert [balance.asset for balance in snapshot.balances] == ["BRICK", "KAR", "KEEP", "MULTI", "USD"]
    assert snapshot.balances[1].balance == Decimal("774.63669826")
    assert snapshot.balances[4].wallets == (m.Wallet(type="spot", id="main", balance=Decimal("1.34")),)
    (entry,) = decode(_by_name("usd_update")).entries
    assert (entry.amount, entry.fee, entry.balance) == (Decimal("-19.9743"), Decimal("0.0499"), Decimal("118.0677"))
    assert entry.ref_id == "LKAKN2-N0N12-VKQNLN" and entry.type == "trade" and entry.wallet_id == "main"


def test_decode_lifecycle_when_all_fields_snapshot_then_every_documented_field_is_typed():
    message = decode(LIFECYCLE[0])
    (execution,) = message.executions
    assert execution.cl_ord_id == "2c6be801-1f53-4f79-a0bb-4ea1c95dfae9" and execution.order_userref == 100054
    assert execution.order_qty == Decimal(1200) and execution.cash_order_qty == Decimal(252)
    assert execution.limit_price == Decimal("0.2101") and execution.stop_price == Decimal("0.21")
    assert execution.time_in_force is m.TimeInForce.GTD
    assert (execution.post_only, execution.reduce_only, execution.margin, execution.no_mpp) == (True,) * 4
    assert execution.fee_ccy_pref == "fcib"
    assert (execution.display_qty, execution.display_qty_remain) == (Decimal(100), Decimal(80))
    assert execution.effective_time_ns == 1791507600_000000000
    assert execution.expire_time_ns - execution.effective_time_ns == 86400 * 10**9
    assert execution.triggers.peak_price == Decimal("0.2205") and execution.triggers.status == "triggered"
    assert execution.triggers.timestamp_ns == 1791507900_000000000
    assert execution.contingent == m.Contingent(order_type="take-profit-limit", trigger_price=Decimal(5),
                                                trigger_price_type="pct", limit_price=Decimal("4.5"),
                                                limit_price_type="pct")
    assert execution.exec_id == "TFEYXB-5OO6U-H7NFC5" and execution.trade_id == 91342277
    assert execution.liquidity_ind is m.LiquidityIndicator.MAKER and execution.margin_borrow is True
    assert execution.position_status == "opened" and execution.ord_ref_id == "OLUMT4-UTEGU-ZYM7E9"
    assert execution.ext_ord_id.startswith("b9e0b9b0") and execution.ext_exec_id.startswith("5d3c9e1a")
    assert execution.user == "AA96N74GCGEFN8KI" and execution.ratecount == 12
    assert execution.triggered_price == Decimal("0.2099") and execution.cancel_reason == "User requested"
    assert execution.timestamp_ns == 1791507900_120000000


def test_decode_lifecycle_when_pending_new_then_new_then_trade_then_the_order_is_traceable():
    pending, new, trade = (decode(line).executions[0] for line in LIFECYCLE[1:4])
    assert [pending.exec_type, new.exec_type, trade.exec_type] == ["pending_new", "new", "trade"]
    assert pending.order_id == new.order_id == trade.order_id == "OK4GJX-KSTLS-7DZZO5"
    assert pending.limit_price == Decimal("26500.0") and pending.side is m.Side.SELL
    assert new.symbol is None and new.order_qty is None  # the new event is sparse
    assert trade.cost == Decimal("132.9995") and trade.fees[0].qty == Decimal("0.3458")
    assert trade.last_qty * trade.last_price == trade.cost  # exact arithmetic on exact values
    assert (trade.cost * Decimal("0.0026")).quantize(Decimal("0.0001")) == trade.fees[0].qty
    assert pending.timestamp_ns < new.timestamp_ns < trade.timestamp_ns


def test_decode_lifecycle_when_balances_then_snapshot_and_ledger_updates_are_typed():
    snapshot, deposit, transfer = (decode(line) for line in LIFECYCLE[4:7])
    assert isinstance(snapshot, m.BalancesSnapshot) and snapshot.sequence == 1
    matic = snapshot.balances[1]
    assert matic.balance == sum(wallet.balance for wallet in matic.wallets) == Decimal(500)
    assert deposit.entries[0].amount == Decimal("0.01") and deposit.entries[0].category == "deposit"
    assert transfer.entries[0].subtype == "spottostaking" and transfer.entries[0].user == "AA96N74GCGEFN8KI"


def _capture_lines() -> list[tuple[str, int, str]]:
    lines = []
    for path in sorted(CAPTURES.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                lines.append((path.name, number, line))
    return lines


def test_decode_when_given_every_line_of_every_capture_then_each_is_typed_without_error():
    counts: dict[str, int] = {}
    for name, number, line in _capture_lines():
        try:
            message = decode(line)
        except DecodeError as error:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{name}:{number}: {error.reason}")
        counts[type(message).__name__] = counts.get(type(message).__name__, 0) + 1
    assert counts["Status"] == 4 and counts["HeartbeatMessage"] > 0
    assert counts["SubscribeAck"] >= 12 and counts["UnsubscribeAck"] >= 7
    assert counts["BookMessage"] == 301 + 2052 + 1129 + 1147 + 20 + 3 and counts["Level3Message"] == 4


def test_decode_status_lines_of_book_captures_when_connection_id_above_int64_then_exact():
    status = decode(next(line for name, _, line in _capture_lines()
                         if name == "ws_v2_book_ETHUSD_depth25.jsonl" and '"status"' in line))
    assert status.connection_id == 15413894943188002760 > 2**63
    assert status.version == "2.0.10" and status.system is m.SystemState.ONLINE


def test_decode_book_captures_acks_when_unsubscribe_then_typed_with_depth():
    ack = decode(next(line for name, _, line in _capture_lines() if '"unsubscribe"' in line))
    assert isinstance(ack, m.UnsubscribeAck)
    assert (ack.channel, ack.symbol, ack.depth) == ("book", "BTC/USD", 10)
    assert ack.time_out_ns - ack.time_in_ns == 68_000  # 02:53:56.345070 -> .345138
