"""Recorded Kraken REST responses (tests/data/kraken/rest) parsed into typed results with exact Decimals."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from kraken_runtime.core.kraken import responses
from kraken_runtime.core.kraken.errors import InsufficientFunds, InvalidResponse, raise_for_errors


@pytest.fixture(scope="module")
def rest_dir(kraken_data: Path) -> Path:
    return kraken_data / "rest"


def _load(path: Path):
    return responses.decode_json(path.read_bytes())


@pytest.fixture(scope="module")
def assorted(rest_dir):
    return _load(rest_dir / "rest_responses_assorted.json")["responses"]


@pytest.fixture(scope="module")
def private_2024(rest_dir):
    return _load(rest_dir / "rest_responses_private_2024.json")


def _no_floats(value) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(_no_floats(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_no_floats(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return all(_no_floats(getattr(value, name)) for name in value.__dataclass_fields__)
    return True


# ---- decoding ------------------------------------------------------------------------------------------


def test_decode_json_when_numbers_have_fractions_then_decimals_keep_their_text():
    value = responses.decode_json(b'{"a": 0.00005100, "b": 64525.0, "c": 12, "d": 1.5e-05}')
    assert value == {"a": Decimal("0.00005100"), "b": Decimal("64525.0"), "c": 12, "d": Decimal("1.5e-05")}
    assert str(value["a"]) == "0.00005100"


def test_decode_json_when_nan_or_trailing_garbage_then_refuses():
    with pytest.raises(ValueError):
        responses.decode_json(b'{"a": NaN}')
    with pytest.raises(ValueError):
        responses.decode_json(b'{"a": 1} x')


def test_parsers_when_given_a_float_then_refuse_it_instead_of_rounding():
    with pytest.raises(TypeError, match="parse_float=Decimal"):
        responses.parse_balance({"ZUSD": 1.1})


# ---- public responses (2025 recordings) ----------------------------------------------------------------


def test_parse_server_time_when_recorded_then_typed(rest_dir):
    result = responses.parse_server_time(_load(rest_dir / "public_server_time.json")["result"])
    assert result == responses.ServerTime(unixtime=1762820224, rfc1123="Tue, 11 Nov 25 00:17:04 +0000")


def test_parse_system_status_when_recorded_then_typed(rest_dir):
    result = responses.parse_system_status(_load(rest_dir / "public_system_status.json")["result"])
    assert result == responses.SystemStatus(status="online", timestamp="2025-11-11T00:17:10Z")


def test_parse_asset_pairs_when_recorded_then_precisions_and_fees_are_exact(rest_dir):
    pairs = responses.parse_asset_pairs(_load(rest_dir / "public_asset_pairs.json")["result"])
    pair = pairs["XBTUSDT"]
    assert (pair.altname, pair.wsname, pair.base, pair.quote) == ("XBTUSDT", "XBT/USDT", "XXBT", "USDT")
    assert (pair.pair_decimals, pair.lot_decimals, pair.cost_decimals) == (1, 8, 5)
    assert pair.tick_size == Decimal("0.1")
    assert pair.fees[0] == responses.FeeTier(volume_usd=Decimal(0), percent=Decimal("0.4"))
    assert pair.fees_maker[0].percent == Decimal("0.25")
    assert pair.fees_maker[-1] == responses.FeeTier(volume_usd=Decimal(10000000), percent=Decimal("0.0"))
    assert pair.status == "online"
    assert _no_floats(pairs)


def test_parse_ticker_when_recorded_then_every_field_exact(rest_dir):
    ticker = responses.parse_ticker(_load(rest_dir / "public_ticker.json")["result"])["XBTUSDT"]
    assert ticker.ask == Decimal("105944.30000") and str(ticker.ask) == "105944.30000"
    assert ticker.bid == Decimal("105944.20000")
    assert (ticker.last_price, ticker.last_volume) == (Decimal("105899.40000"), Decimal("0.00009443"))
    assert (ticker.trades_today, ticker.trades_24h) == (35, 3276)
    assert ticker.open_today == Decimal("106021.60000")
    assert ticker.high_24h == Decimal("106613.10000")


def test_parse_depth_when_recorded_then_levels_in_order_with_times(rest_dir):
    depth = responses.parse_depth(_load(rest_dir / "public_order_book.json")["result"])
    assert depth.pair == "XBTUSDT"
    assert depth.asks[0] == responses.DepthLevel(
        price=Decimal("105944.30000"), volume=Decimal("0.136"), timestamp_ns=1762820248 * 10**9
    )
    assert depth.bids[0].price == Decimal("105944.20000")
    assert [lv.price for lv in depth.asks] == sorted(lv.price for lv in depth.asks)
    assert [lv.price for lv in depth.bids] == sorted((lv.price for lv in depth.bids), reverse=True)


def test_parse_trades_when_recorded_then_times_are_exact_nanoseconds(rest_dir):
    trades = responses.parse_trades(_load(rest_dir / "public_trades.json")["result"])
    assert trades.pair == "XBTUSDT" and len(trades.trades) == 1000
    first = trades.trades[0]
    assert first == responses.PublicTrade(
        price=Decimal("105433.60000"),
        volume=Decimal("0.00027625"),
        time_ns=1762795433971744500,
        side="b",
        ordertype="l",
        misc="",
        trade_id=10218208,
    )
    assert trades.last == "1762820035982277754"


# ---- assorted recordings (kraken-async-rs) -------------------------------------------------------------


def test_parse_assorted_public_when_recorded_then_all_parse(assorted):
    public = assorted["public_response_json.rs"]
    assert responses.parse_server_time(public["get_server_time_json"]["result"]).unixtime == 1688669448
    pairs = responses.parse_asset_pairs(public["get_tradable_asset_pairs_json"]["result"])
    assert set(pairs) == {"XXBTZUSD", "USDCUSD", "XETHXXBT"}
    assert pairs["XETHXXBT"].tick_size == Decimal("0.00001")
    assert pairs["XETHXXBT"].costmin == Decimal("0.00002")
    assert pairs["XXBTZUSD"].fees[0].percent == Decimal("0.26")
    tickers = responses.parse_ticker(public["get_ticker_information_json"]["result"])
    assert tickers["USDCUSD"].ask_whole_lot_volume == Decimal("583087")
    depth = responses.parse_depth(public["get_orderbook_json"]["result"])
    assert depth.pair == "XXBTZUSD" and len(depth.bids) == 19
    trades = responses.parse_trades(public["get_recent_trades_json"]["result"])
    assert trades.last == "1701023458860710717" and len(trades.trades) == 31
    assert trades.trades[0].time_ns == 1701019771038366300


def test_parse_assorted_trading_when_recorded_then_all_parse(assorted):
    trading = assorted["trading_response_json.rs"]
    added = responses.parse_add_order(trading["get_add_order_json"]["result"], cl_ord_id="x1")
    assert added.txids == ("AKB9L1-XC5U3-CYCTO1",)
    assert added.description == "buy 5.00000000 USDCUSD @ limit 0.9000"
    assert not added.resolved_by_lookup and not added.validated_only
    assert responses.parse_cancel_order(trading["get_cancel_order_json"]["result"]) == responses.CancelOrderResult(
        count=1, pending=False
    )
    assert responses.parse_cancel_order(trading["get_cancel_all_orders_json"]["result"]).count == 4
    after = responses.parse_cancel_all_orders_after(trading["get_cancel_all_orders_after_json"]["result"])
    assert after == responses.CancelAllOrdersAfterResult(
        current_time="2023-03-24T17:41:56Z", trigger_time="2023-03-24T17:42:56Z"
    )


def test_parse_assorted_account_when_recorded_then_orders_balances_and_trades_parse(assorted):
    account = assorted["account_response_json.rs"]
    balance = responses.parse_balance(account["get_account_balance_json"]["result"])
    assert balance["XXBT"] == Decimal("0.0022698000") and balance["ZUSD"] == Decimal("22.6354")
    assert all(isinstance(v, Decimal) for v in balance.values())

    open_orders = responses.parse_open_orders(account["get_open_orders_json"]["result"])
    assert len(open_orders) == 6
    first = open_orders[0]
    assert first.txid == "604X4L-ANXHT-JV0ZQT" and first.cl_ord_id == "some-uuid"
    assert first.descr.price == "0.008770" and first.descr.type == "sell"
    assert first.vol == Decimal("1.00000000") and first.oflags == ("fciq",)
    assert first.open_time_ns == 1676384710121142000 and first.start_time_ns is None
    assert first.trigger == "index"
    assert open_orders[1].link_id == "APCXQQ-SAYXM-3CC6EY"

    closed = responses.parse_closed_orders(account["get_closed_orders_json"]["result"])
    assert closed.count == 99 and len(closed.orders) == 3
    canceled = closed.orders[2]
    assert canceled.status == "canceled" and canceled.reason == "User requested"
    assert closed.orders[1].cost == Decimal("4.8507000000000")
    assert closed.orders[0].close_time_ns == 1731519777553314000

    queried = responses.parse_query_orders(account["get_query_order_info_json"]["result"])
    assert queried[0].reason == "Order replaced"

    history = responses.parse_trades_history(account["get_trades_history_json"]["result"])
    assert history.count == 396
    trade = history.trades[0]
    assert trade.txid == "DH9ICY-FXRTM-GESBKK" and trade.ordertxid == "R0X871-F5PY6-A5707B"
    assert trade.price == Decimal("8.250000") and trade.fee == Decimal("0.079000")
    assert trade.maker is True and trade.trade_id == 6179175
    assert trade.ledgers == ("R0X871-F5PY6-A5707B", "BV7YXR-DTHM9-AZRON4")
    assert trade.time_ns == 1700237532169032600
    assert any(t.maker is False for t in history.trades)


def test_parse_websockets_token_when_recorded_then_token_hidden_from_repr(assorted):
    token = responses.parse_websockets_token(assorted["websockets_json.rs"]["get_websockets_token_json"]["result"])
    assert token.token == "nmc39wCfFqn0mirRrpHMFOu0xfq4VVghFy+UPzpVcJo" and token.expires_s == 900
    assert token.token not in repr(token)


# ---- private recordings (ccxt, 2024): numbers and times sent as strings ---------------------------------


def test_parse_private_2024_add_order_when_recorded_then_txid(private_2024):
    added = responses.parse_add_order(private_2024["AddOrder_market_buy_LTCUSDT"]["result"])
    assert added.txids == ("OL7LNO-R4SAD-6UINEU",)
    assert added.description == "buy 0.10000000 LTCUSDT @ market"


def test_parse_private_2024_orders_when_times_and_userref_are_strings_then_still_exact(private_2024):
    (postonly,) = responses.parse_query_orders(private_2024["QueryOrders_open_limit_postonly"]["result"])
    assert postonly.userref == 0 and postonly.oflags == ("post", "fciq")
    assert postonly.open_time_ns == 1705259439563000000 and postonly.reason is None
    (market,) = responses.parse_query_orders(private_2024["QueryOrders_closed_market"]["result"])
    assert market.avg_price == Decimal("71.05741") and market.fee == Decimal("0.018475")
    assert market.trades == ("TWA6QJ-ZO4EM-6QIHQJ",)
    assert market.close_time_ns == 1705260547472865800
    (stop,) = responses.parse_open_orders(private_2024["OpenOrders_stop_loss_limit"]["result"])
    assert (stop.descr.price, stop.descr.price2) == ("55.00000", "54.00000")
    (trailing,) = responses.parse_open_orders(private_2024["OpenOrders_trailing_stop"]["result"])
    assert trailing.descr.price == "+50.0000%"
    assert trailing.stopprice == Decimal("0.75790000") and trailing.limitprice == Decimal("0.50527000")
    (take_profit,) = responses.parse_open_orders(private_2024["OpenOrders_take_profit"]["result"])
    assert take_profit.descr.ordertype == "take-profit"


def test_parse_private_2024_public_when_trades_rows_have_extra_column_then_parse(private_2024):
    trades = responses.parse_trades(private_2024["Trades_XBTUSDT"]["result"])
    assert trades.trades[0].trade_id == 6324366 and trades.last == "1710327959173746878"
    ticker = responses.parse_ticker(private_2024["Ticker_XBTUSDT"]["result"])["XBTUSDT"]
    assert ticker.vwap_24h == Decimal("71501.57520")


# ---- shape errors ---------------------------------------------------------------------------------------


def test_parsers_when_result_is_malformed_then_invalid_response():
    with pytest.raises(InvalidResponse):
        responses.parse_ticker({"XXBTZUSD": {"a": ["1"]}})
    with pytest.raises(InvalidResponse):
        responses.parse_depth({"A": {"asks": [], "bids": []}, "B": {"asks": [], "bids": []}})
    with pytest.raises(InvalidResponse):
        responses.parse_add_order({"descr": {"order": "x"}})  # no txid on a real order
    with pytest.raises(InvalidResponse):
        responses.parse_balance(["not", "an", "object"])


def test_parse_add_order_when_validate_only_then_no_txid_is_fine():
    result = responses.parse_add_order({"descr": {"order": "buy 1.45 XBTUSD @ limit 27500.0"}}, validated_only=True)
    assert result.txids == () and result.validated_only


def test_recorded_error_body_when_decoded_then_raises_typed():
    body = json.dumps({"error": ["EOrder:Insufficient funds"]}).encode()
    with pytest.raises(InsufficientFunds):
        raise_for_errors(responses.decode_json(body)["error"])
