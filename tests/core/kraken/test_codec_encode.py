"""codec.encode / decode_request: requests as Kraken documents them, exact numbers, validation."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_runtime.core.kraken import messages as m
from kraken_runtime.core.kraken.codec import decode, decode_request, encode, encode_params
from kraken_runtime.core.kraken.wire import DecodeError

TOKEN = "G38a1tGFzqGiUCmnegBcm8d4nfP3tytiNQz6tkCBYXY"
D = Decimal


def _same_json(text: str, documented: str) -> None:
    assert json.loads(text, parse_float=Decimal) == json.loads(documented, parse_float=Decimal)


# ---------------------------------------------------------------- documented examples (PROTOCOL.md 1, 3, 4)


def test_encode_subscribe_when_book_for_two_symbols_then_matches_the_docs():
    request = m.Subscribe(channel="book", symbols=("ALGO/USD", "MATIC/USD"))
    _same_json(encode(request), '{"method": "subscribe", "params": {"channel": "book", "symbol": ["ALGO/USD", "MATIC/USD"]}}')


def test_encode_subscribe_when_instrument_with_req_id_then_no_symbol_is_sent():
    _same_json(encode(m.Subscribe(channel="instrument", req_id=79)),
               '{"method": "subscribe", "params": {"channel": "instrument"}, "req_id": 79}')


def test_encode_subscribe_when_executions_then_token_and_snapshot_options_are_sent():
    request = m.Subscribe(channel="executions", token=TOKEN, snap_orders=True, snap_trades=True)
    _same_json(encode(request), '{"method": "subscribe", "params": {"channel": "executions", "token": "%s", '
                                '"snap_orders": true, "snap_trades": true}}' % TOKEN)


def test_encode_subscribe_when_level3_then_matches_the_docs():
    request = m.Subscribe(channel="level3", symbols=("ALGO/USD", "MATIC/USD"), snapshot=True, token=TOKEN)
    _same_json(encode(request), '{"method": "subscribe", "params": {"channel": "level3", "symbol": '
                                '["ALGO/USD", "MATIC/USD"], "snapshot": true, "token": "%s"}}' % TOKEN)


def test_encode_subscribe_when_ohlc_with_interval_then_matches_the_docs():
    request = m.Subscribe(channel="ohlc", symbols=("ALGO/USD", "MATIC/USD"), interval=5)
    _same_json(encode(request), '{"method": "subscribe", "params": {"channel": "ohlc", "symbol": '
                                '["ALGO/USD", "MATIC/USD"], "interval": 5}}')


def test_encode_unsubscribe_when_book_then_echoes_depth():
    request = m.Unsubscribe(channel="book", symbols=("BTC/USD",), depth=25, req_id=3)
    assert encode(request) == ('{"method":"unsubscribe","params":{"channel":"book","symbol":["BTC/USD"],'
                               '"depth":25},"req_id":3}')


def test_encode_ping_when_req_id_then_matches_the_docs():
    assert encode(m.Ping(req_id=101)) == '{"method":"ping","req_id":101}'
    assert encode(m.Ping()) == '{"method":"ping"}'


def test_encode_add_order_when_limit_then_matches_the_docs_example():
    request = m.AddOrder(order_type=m.OrderType.LIMIT, side=m.Side.BUY, limit_price=D("26500.4"),
                         order_userref=100054, order_qty=D("1.2"), symbol="BTC/USD", token=TOKEN, req_id=123456789)
    _same_json(encode(request), '{"method": "add_order", "params": {"order_type": "limit", "side": "buy", '
                                '"limit_price": 26500.4, "order_userref": 100054, "order_qty": 1.2, "symbol": '
                                '"BTC/USD", "token": "%s"}, "req_id": 123456789}' % TOKEN)


def test_encode_add_order_when_stop_loss_with_pct_trigger_then_matches_the_docs_example():
    request = m.AddOrder(order_type="stop-loss", side="sell", order_qty=D(100), symbol="MATIC/USD", token=TOKEN,
                         triggers=m.Triggers(reference="last", price=D("-2.0"), price_type="pct"))
    _same_json(encode(request), '{"method": "add_order", "params": {"order_type": "stop-loss", "side": "sell", '
                                '"order_qty": 100, "symbol": "MATIC/USD", "triggers": {"reference": "last", '
                                '"price": -2.0, "price_type": "pct"}, "token": "%s"}}' % TOKEN)


def test_encode_add_order_when_conditional_close_then_matches_the_docs_example():
    request = m.AddOrder(order_type="limit", side="buy", order_qty=D("1.2"), symbol="BTC/USD", limit_price=D(28440),
                         token=TOKEN, conditional=m.Conditional(order_type="stop-loss-limit",
                                                                trigger_price=D(28410), limit_price=D(28400)))
    _same_json(encode(request), '{"method": "add_order", "params": {"order_type": "limit", "side": "buy", '
                                '"order_qty": 1.2, "symbol": "BTC/USD", "limit_price": 28440, "conditional": '
                                '{"order_type": "stop-loss-limit", "trigger_price": 28410, "limit_price": 28400}, '
                                '"token": "%s"}}' % TOKEN)


def test_encode_amend_order_when_recorded_request_then_matches_it():
    request = m.AmendOrder(order_id="BQS60L-EGW18-UPAK9U", order_qty=D("5.1"), limit_price=D("0.96"),
                           post_only=False, token="aToken", req_id=0)
    _same_json(encode(request), '{"method": "amend_order", "params": {"order_id": "BQS60L-EGW18-UPAK9U", '
                                '"order_qty": 5.1, "limit_price": 0.96, "post_only": false, "token": "aToken"}, '
                                '"req_id": 0}')


def test_encode_amend_order_when_by_client_order_id_then_matches_the_docs_example():
    request = m.AmendOrder(cl_ord_id="2c6be801-1f53-4f79-a0bb-4ea1c95dfae9", limit_price=D(490795),
                           order_qty=D("1.2"), token="PM5Qm0MDrS54l657aQAtb7AhrwN30e2LBg1nUYOd6vU")
    _same_json(encode(request), '{"method": "amend_order", "params": {"cl_ord_id": '
                                '"2c6be801-1f53-4f79-a0bb-4ea1c95dfae9", "limit_price": 490795, "order_qty": 1.2, '
                                '"token": "PM5Qm0MDrS54l657aQAtb7AhrwN30e2LBg1nUYOd6vU"}}')


def test_encode_cancel_order_when_two_order_ids_then_matches_the_docs_example():
    request = m.CancelOrder(order_ids=("OM5CRX-N2HAL-GFGWE9", "OLUMT4-UTEGU-ZYM7E9"), token="t", req_id=123456789)
    assert encode(request) == ('{"method":"cancel_order","params":{"token":"t","order_id":["OM5CRX-N2HAL-GFGWE9",'
                               '"OLUMT4-UTEGU-ZYM7E9"]},"req_id":123456789}')


def test_encode_cancel_all_and_dead_mans_switch_when_built_then_match_the_docs():
    assert encode(m.CancelAll(token="t", req_id=1234567890)) == \
        '{"method":"cancel_all","params":{"token":"t"},"req_id":1234567890}'
    assert encode(m.CancelAllOrdersAfter(timeout=100, token="t", req_id=1234567890)) == \
        '{"method":"cancel_all_orders_after","params":{"timeout":100,"token":"t"},"req_id":1234567890}'


def test_encode_batch_add_when_two_orders_then_matches_the_docs_example():
    request = m.BatchAdd(
        symbol="BTC/USD", token="TxxxxxxxxxOxxxxxxxxxxKxxxxxxxExxxxxxxxN", deadline="2022-06-13T08:09:10.123456Z",
        validate=False, req_id=1234567890,
        orders=(m.BatchOrder(limit_price=D("1010.10"), order_qty=D("0.123456789"), order_type="limit",
                             order_userref=1, side="buy"),
                m.BatchOrder(limit_price=D("2020.20"), order_qty=D("0.987654321"), order_type="limit",
                             order_userref=2, side="sell", stp_type="cancel_both")))
    text = encode(request)
    _same_json(text, '{"method": "batch_add", "params": {"deadline": "2022-06-13T08:09:10.123456Z", "orders": '
                     '[{"limit_price": 1010.10, "order_qty": 0.123456789, "order_type": "limit", "order_userref": 1, '
                     '"side": "buy"}, {"limit_price": 2020.20, "order_qty": 0.987654321, "order_type": "limit", '
                     '"order_userref": 2, "side": "sell", "stp_type": "cancel_both"}], "symbol": "BTC/USD", '
                     '"token": "TxxxxxxxxxOxxxxxxxxxxKxxxxxxxExxxxxxxxN", "validate": false}, "req_id": 1234567890}')
    assert '"limit_price":1010.10' in text  # the Decimal's own digits, trailing zero kept


# ------------------------------------------------------------------------------------ exact numbers


@pytest.mark.parametrize(("value", "text"), [
    (D("0.00010000"), "0.00010000"), (D("1E-8"), "0.00000001"), (D("65000"), "65000"), (D("6.5E+4"), "65000"),
    (D("0.1"), "0.1"), (D("123456789.123456789123"), "123456789.123456789123"),
])
def test_encode_when_decimal_quantity_then_written_from_its_digits_without_exponent(value, text):
    request = m.AddOrder(order_type="market", side="sell", order_qty=value, symbol="BTC/USD", token="t")
    assert encode(request).endswith(f'"order_qty":{text}}}}}')


def test_encode_when_float_price_given_then_refused_before_anything_is_written():
    with pytest.raises(ValueError, match="limit_price must be a Decimal"):
        m.AddOrder(order_type="limit", side="buy", order_qty=D(1), limit_price=0.1, symbol="BTC/USD", token="t")


def test_encode_when_not_a_request_then_type_error():
    with pytest.raises(TypeError, match="not a Kraken request"):
        encode(m.HeartbeatMessage())


# ---------------------------------------------------------------------------------------- validation


def _limit(**changes):
    values = dict(order_type="limit", side="buy", order_qty=D("0.5"), limit_price=D("26500.4"), symbol="BTC/USD",
                  token="t")
    values.update(changes)
    return m.AddOrder(**values)


@pytest.mark.parametrize(("changes", "message"), [
    ({"limit_price": None}, "AddOrder.limit_price is required for a limit order"),
    ({"order_type": "market"}, "AddOrder.limit_price is not allowed for a market order"),
    ({"order_qty": None}, "exactly one of order_qty and cash_order_qty"),
    ({"order_qty": D(0)}, "AddOrder.order_qty must be > 0"),
    ({"order_qty": D("NaN")}, "AddOrder.order_qty must be finite"),
    ({"limit_price": D("-1")}, "AddOrder.limit_price must be > 0"),
    ({"side": "long"}, "AddOrder.side must be one of buy, sell"),
    ({"order_type": "stop"}, "AddOrder.order_type must be one of limit, market"),
    ({"cl_ord_id": "abc", "order_userref": 5}, "cl_ord_id and order_userref are mutually exclusive"),
    ({"cl_ord_id": "this-is-longer-than-eighteen"}, "cl_ord_id must be a UUID"),
    ({"order_userref": 2**31}, "order_userref must fit a signed 32-bit integer"),
    ({"order_type": "iceberg"}, "display_qty is required for an iceberg order"),
    ({"order_type": "iceberg", "display_qty": D("0.01")}, "display_qty must be at least 1/15 of order_qty"),
    ({"display_qty": D("0.1")}, "display_qty is only for iceberg orders"),
    ({"time_in_force": "gtd"}, "expire_time is required with time_in_force gtd"),
    ({"expire_time": "2024-01-01T00:00:00Z"}, "expire_time is only for time_in_force gtd"),
    ({"time_in_force": "gtd", "expire_time": "tomorrow"}, "expire_time must be an RFC 3339 timestamp"),
    ({"order_type": "stop-loss-limit"}, "triggers is required for a stop-loss-limit order"),
    ({"triggers": m.Triggers(price=D(1))}, "triggers is not allowed for a limit order"),
    ({"order_type": "market", "limit_price": None, "post_only": True}, "post_only is only for orders with a limit price"),
    ({"order_type": "market", "limit_price": None, "time_in_force": "fok"}, "fok is only for limit orders"),
    ({"order_qty": None, "cash_order_qty": D(10)}, "cash_order_qty is only for buy market orders"),
    ({"token": ""}, "AddOrder.token must be a non-empty str"),
    ({"req_id": -1}, "req_id must be in"),
    ({"limit_price_type": "pct"}, "limit_price_type is only for trailing-stop-limit orders"),
])
def test_add_order_when_invalid_then_value_error_names_the_rule(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        _limit(**changes)


def test_add_order_when_valid_variants_then_constructed():
    _limit(post_only=True, time_in_force="gtd", expire_time="2024-01-01T00:00:00Z", cl_ord_id="client-zero")
    _limit(order_type="iceberg", display_qty=D("0.1"))
    _limit(order_type="market", limit_price=None, order_qty=None, cash_order_qty=D(10))
    _limit(order_type="trailing-stop-limit", limit_price=D("-0.5"), limit_price_type="pct",
           triggers=m.Triggers(price=D("1.0"), price_type="pct"))
    _limit(cl_ord_id="2c6be801-1f53-4f79-a0bb-4ea1c95dfae9")
    _limit(cl_ord_id="2c6be8011f534f79a0bb4ea1c95dfae9")


@pytest.mark.parametrize(("build", "message"), [
    (lambda: m.Subscribe(channel="book", symbols=("BTC/USD",), depth=20), "depth for book must be one of"),
    (lambda: m.Subscribe(channel="level3", symbols=("BTC/USD",), depth=25, token="t"), "depth for level3 must be"),
    (lambda: m.Subscribe(channel="level3", symbols=("BTC/USD",)), "token is required for channel level3"),
    (lambda: m.Subscribe(channel="ticker", symbols=("BTC/USD",), token="t"), "token is not allowed"),
    (lambda: m.Subscribe(channel="ticker"), "symbols is required for channel ticker"),
    (lambda: m.Subscribe(channel="ticker", symbols=["BTC/USD"]), "symbols must be a tuple"),
    (lambda: m.Subscribe(channel="ticker", symbols=("A", "A")), "symbols has duplicates"),
    (lambda: m.Subscribe(channel="balances", symbols=("BTC/USD",), token="t"), "symbols is not allowed"),
    (lambda: m.Subscribe(channel="heartbeat"), "channel must be one of"),
    (lambda: m.Subscribe(channel="ticker", symbols=("A",), depth=10), "depth is not allowed for channel ticker"),
    (lambda: m.Subscribe(channel="ticker", symbols=("A",), event_trigger="quote"), "event_trigger must be bbo or"),
    (lambda: m.Subscribe(channel="ohlc", symbols=("A",), interval=2), "interval must be one of"),
    (lambda: m.Unsubscribe(channel="ohlc", symbols=("A",)), "interval is required to unsubscribe from ohlc"),
    (lambda: m.Ping(req_id=True), "req_id must be an int"),
    (lambda: m.AmendOrder(order_qty=D(1), token="t"), "exactly one of order_id and cl_ord_id"),
    (lambda: m.AmendOrder(order_id="O", cl_ord_id="c", order_qty=D(1), token="t"), "exactly one of order_id"),
    (lambda: m.AmendOrder(order_id="O", order_qty=None, token="t"), "order_qty is required"),
    (lambda: m.CancelOrder(token="t"), "needs at least one of order_ids"),
    (lambda: m.CancelOrder(order_ids=("",), token="t"), r"order_ids\[0\] must be a non-empty str"),
    (lambda: m.CancelAllOrdersAfter(timeout=86400, token="t"), r"timeout must be in \[0, 86400\)"),
    (lambda: m.CancelAllOrdersAfter(timeout=-1, token="t"), "timeout must be in"),
    (lambda: m.BatchAdd(symbol="BTC/USD", token="t", orders=(m.BatchOrder(order_type="market", side="buy",
                                                                          order_qty=D(1)),)), "2 to 15 orders"),
    (lambda: m.BatchCancel(orders=("A",), token="t"), "2 to 50 orders"),
    (lambda: m.Conditional(order_type="stop-loss-limit", trigger_price=D(1)), "limit_price is required"),
])
def test_requests_when_invalid_then_value_error_names_the_rule(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# ------------------------------------------------------------------------------------ decode_request


def test_decode_request_when_recorded_amend_request_then_typed():
    frame = ('{"method": "amend_order", "params": {"order_id": "BQS60L-EGW18-UPAK9U", "order_qty": 5.1, '
             '"limit_price": 0.96, "post_only": false, "token": "aToken"}, "req_id": 0}')
    assert decode_request(frame) == m.AmendOrder(order_id="BQS60L-EGW18-UPAK9U", order_qty=D("5.1"),
                                                 limit_price=D("0.96"), post_only=False, token="aToken", req_id=0)


@pytest.mark.parametrize(("frame", "reason"), [
    ('{"method":"add_order","params":{"order_type":"limit","side":"buy","order_qty":1,"limit_price":1,'
     '"symbol":"BTC/USD","token":"t","leverage":2}}', "add_order: Unsupported field: 'leverage'"),
    ('{"method":"ping","params":{}}', "ping: Unsupported field: 'params' for the given msg type: ping"),
    ('{"method":"add_order","params":{"order_type":"limit","side":"buy","order_qty":1,"limit_price":"1.5",'
     '"symbol":"BTC/USD","token":"t"}}', "add_order: 'limit_price' expected a number, got string"),
    ('{"method":"add_order","params":{"order_type":"limit","side":"buy","order_qty":1,"symbol":"BTC/USD",'
     '"token":"t"}}', "add_order: AddOrder.limit_price is required for a limit order"),
    ('{"method":"add_order","params":{"side":"buy","order_qty":1,"symbol":"BTC/USD"}}', "add_order: missing"),
    ('{"method":"add_order","params":{"order_type":"limit!","side":"buy"}}', "'order_type' expected one of limit"),
    ('{"method":"teleport","params":{}}', "request: unknown method 'teleport'"),
    ('{"method":"cancel_all"}', "cancel_all: 'params' missing"),
    ('{"method":"cancel_all","params":{"token":"t"},"event":"x"}', "cancel_all: Unsupported field: 'event'"),
    ('[]', "request: expected a JSON object, got array"),
    ('{"method":', "invalid JSON"),
])
def test_decode_request_when_invalid_then_decode_error_names_the_problem(frame, reason):
    with pytest.raises(DecodeError) as caught:
        decode_request(frame)
    assert reason in caught.value.reason


def test_decode_request_when_add_order_missing_fields_then_names_wire_params():
    with pytest.raises(DecodeError) as caught:
        decode_request('{"method":"add_order","params":{"side":"buy","order_qty":1,"symbol":"BTC/USD"}}')
    assert "'order_type'" in caught.value.reason and "'token'" in caught.value.reason


def _fixed_requests():
    return [
        m.Subscribe(channel="book", symbols=("BTC/USD", "ETH/USD"), depth=25, snapshot=True, req_id=7),
        m.Subscribe(channel="ticker", symbols=("BTC/USD",), event_trigger="bbo"),
        m.Subscribe(channel="executions", token="t", snap_orders=True, snap_trades=False, order_status=True,
                    ratecounter=True),
        m.Unsubscribe(channel="level3", symbols=("BTC/USD",), depth=10, token="t"),
        m.Ping(req_id=2**62),
        m.AmendOrder(cl_ord_id="client-1", order_qty=D("1.50"), limit_price=D("0.1"), token="t",
                     deadline="2024-07-21T09:53:59.050Z", trigger_price=D("-1.5"), trigger_price_type="pct"),
        m.CancelOrder(order_ids=("A",), cl_ord_ids=("b", "c"), order_userrefs=(1, -2), token="t", req_id=1),
        m.CancelAll(token="t"),
        m.CancelAllOrdersAfter(timeout=0, token="t"),
        m.BatchCancel(orders=("A", "B"), token="t"),
        m.AddOrder(order_type="take-profit-limit", side="sell", order_qty=D("0.001"), limit_price=D("70000.0"),
                   triggers=m.Triggers(price=D("69000"), reference="index"), symbol="BTC/USD", token="t",
                   time_in_force="ioc", reduce_only=True, margin=False, fee_preference="quote",
                   stp_type="cancel_oldest", validate=True, sender_sub_id="sub",
                   deadline="2024-01-01T00:00:01.500Z", effective_time="2024-01-01T00:00:00Z",
                   conditional=m.Conditional(order_type="limit", limit_price=D("1.0"))),
    ]


@pytest.mark.parametrize("index", range(11))
def test_decode_request_when_given_an_encoded_request_then_round_trips_exactly(index):
    request = _fixed_requests()[index]
    decoded = decode_request(encode(request))
    assert decoded == request
    assert encode(decoded) == encode(request)


def test_encode_params_when_called_then_returns_the_json_object_with_decimals():
    params = encode_params(_limit(limit_price=D("26500.40")))
    assert params["params"]["limit_price"] == D("26500.40") and isinstance(params["params"]["limit_price"], Decimal)


# ------------------------------------------------------------------------------------- properties

_prices = st.decimals(min_value=D("0.00000001"), max_value=D("10000000"), allow_nan=False, allow_infinity=False,
                      places=8)
_quantities = st.decimals(min_value=D("0.00000001"), max_value=D("100000"), allow_nan=False, allow_infinity=False)
_exponents = st.integers(min_value=-12, max_value=6)


@st.composite
def _scaled_decimals(draw):
    """Decimals with assorted exponents and trailing zeros (e.g. 0.00010000, 6.5E+4)."""
    digits = draw(st.integers(min_value=1, max_value=10**15))
    return D(digits).scaleb(draw(_exponents))


_orders = st.builds(
    m.AddOrder,
    order_type=st.just("limit"), side=st.sampled_from(list(m.Side)), order_qty=_quantities | _scaled_decimals(),
    limit_price=_prices | _scaled_decimals(), symbol=st.sampled_from(["BTC/USD", "ETH/USD", "XRP/USD"]),
    token=st.text(alphabet="abcXYZ012/+=", min_size=1, max_size=44),
    post_only=st.none() | st.booleans(), time_in_force=st.none() | st.sampled_from(["gtc", "ioc", "fok"]),
    cl_ord_id=st.none() | st.uuids().map(str), req_id=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
)


@settings(max_examples=200, deadline=None)
@given(_orders)
def test_encode_then_decode_request_when_any_limit_order_then_identical_with_exact_decimals(order):
    text = encode(order)
    decoded = decode_request(text)
    assert decoded == order
    written = text.split('"limit_price":')[1].split(",")[0].rstrip("}")
    assert "e" not in written.lower() and D(written) == order.limit_price  # plain digits, exact value


@settings(max_examples=200, deadline=None)
@given(_prices | _scaled_decimals(), _quantities | _scaled_decimals())
def test_decode_when_trade_has_any_decimal_price_then_price_is_exactly_the_written_number(price, qty):
    frame = ('{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":%s,"qty":%s,'
             '"ord_type":"limit","trade_id":1,"timestamp":"2024-05-27T12:43:11.798009Z"}]}' % (price, qty))
    (trade,) = decode(frame).trades
    assert trade.price == price and str(trade.price) == str(price)
    assert trade.qty == qty and str(trade.qty) == str(qty)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_decode_status_when_any_uint64_connection_id_then_kept_exactly(connection_id):
    frame = ('{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":%d,'
             '"system":"online","version":"2.0.10"}]}' % connection_id)
    assert decode(frame).connection_id == connection_id
