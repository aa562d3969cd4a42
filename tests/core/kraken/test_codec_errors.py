"""codec.decode on malformed and unknown frames: always a DecodeError that names what is wrong."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_runtime.core.kraken import messages as m
from kraken_runtime.core.kraken.codec import decode, decode_message
from kraken_runtime.core.kraken.wire import DecodeError, loads

CAPTURES = Path(__file__).resolve().parents[3] / "tests" / "data" / "kraken" / "captures"

TRADE = ('{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"sell","price":0.5117,'
         '"qty":40.0,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"}]}')
ADD_ORDER_ERROR = ('{"error":"EOrder:Insufficient funds","method":"add_order","req_id":123456789,"success":false,'
                   '"time_in":"2023-09-21T14:15:07.197274Z","time_out":"2023-09-21T14:15:07.205301Z"}')


def _reason(frame) -> str:
    with pytest.raises(DecodeError) as caught:
        decode(frame)
    assert caught.type is DecodeError
    return caught.value.reason


def _trade_with(**changes) -> str:
    frame = json.loads(TRADE)
    for key, value in changes.items():
        if value is _DROP:
            del frame["data"][0][key]
        else:
            frame["data"][0][key] = value
    return json.dumps(frame)


_DROP = object()


def test_decode_when_frame_is_valid_then_the_fixture_itself_decodes():
    assert isinstance(decode(TRADE), m.TradeMessage)
    assert isinstance(decode(ADD_ORDER_ERROR), m.MethodError)


def test_decode_when_json_is_truncated_then_reason_says_invalid_json():
    assert _reason(TRADE[:57]).startswith("invalid JSON")


def test_decode_when_bytes_are_not_utf8_then_reason_says_invalid_json():
    assert _reason(b'{"channel":"\xff"}').startswith("invalid JSON")


def test_decode_when_json_is_not_an_object_then_reason_names_what_it_is():
    assert _reason("[1,2]") == "frame: expected a JSON object, got array"
    assert _reason('"heartbeat"') == "frame: expected a JSON object, got string"


def test_decode_when_channel_is_unknown_then_reason_names_the_channel():
    assert _reason('{"channel":"orderbook","type":"update","data":[]}') == "frame: unknown channel 'orderbook'"


def test_decode_when_method_is_unknown_then_reason_names_the_method():
    frame = '{"method":"frobnicate","success":true,"result":{}}'
    assert _reason(frame) == "response: unknown method 'frobnicate'"


def test_decode_when_neither_channel_nor_method_then_reason_says_so():
    assert _reason('{"event":"heartbeat"}') == "frame: neither 'channel' nor 'method' present"


def test_decode_when_field_missing_then_reason_names_channel_and_field():
    assert _reason(_trade_with(price=_DROP)) == "trade data[0]: 'price' missing"


def test_decode_when_float_given_where_string_required_then_reason_names_the_field():
    assert _reason(_trade_with(symbol=1.5)) == "trade data[0]: 'symbol' expected a string, got number"


def test_decode_when_string_given_where_number_required_then_reason_names_the_field():
    assert _reason(_trade_with(price="cheap")).startswith("trade data[0]: 'price' expected a number")


def test_decode_when_boolean_given_where_number_required_then_rejected():
    assert _reason(_trade_with(qty=True)) == "trade data[0]: 'qty' expected a number, got boolean"
    assert _reason(_trade_with(trade_id=True)) == "trade data[0]: 'trade_id' expected an integer, got boolean"


def test_decode_when_integer_field_is_fractional_then_rejected():
    assert _reason(_trade_with(trade_id=1.5)) == "trade data[0]: 'trade_id' expected an integer, got number"


def test_decode_when_enum_value_unknown_then_reason_lists_allowed_values():
    assert _reason(_trade_with(side="short")) == "trade data[0]: 'side' expected one of buy|sell, got 'short'"


def test_decode_when_timestamp_malformed_then_reason_names_the_field():
    assert "trade data[0]: 'timestamp' expected an RFC 3339 timestamp" in _reason(_trade_with(timestamp="yesterday"))
    assert "invalid date" in _reason(_trade_with(timestamp="2023-02-30T00:00:00Z"))


def test_decode_when_data_is_not_an_array_then_reason_names_it():
    assert _reason('{"channel":"ticker","type":"update","data":{}}') == "ticker: 'data' expected an array, got object"
    assert _reason('{"channel":"ticker","type":"update","data":[3]}') == "ticker data[0]: expected an object, got number"


def test_decode_when_type_is_neither_snapshot_nor_update_then_rejected():
    frame = '{"channel":"trade","type":"delta","data":[]}'
    assert _reason(frame) == "trade: 'type' expected one of snapshot|update, got 'delta'"


def test_decode_when_status_has_two_entries_then_rejected():
    entry = '{"api_version":"v2","connection_id":1,"system":"online","version":"2.0.0"}'
    frame = '{"channel":"status","type":"update","data":[' + entry + "," + entry + "]}"
    assert _reason(frame) == "status: 'data' expected exactly one entry, got 2"


def test_decode_when_status_system_unknown_then_rejected():
    frame = '{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":1,"system":"on fire","version":"2"}]}'
    assert "'system' expected one of online|cancel_only|maintenance|post_only" in _reason(frame)


def test_decode_when_exec_type_unknown_then_reason_names_executions():
    frame = '{"channel":"executions","type":"update","data":[{"order_id":"X","exec_type":"teleported"}],"sequence":1}'
    assert _reason(frame).startswith("executions data[0]: 'exec_type' expected one of pending_new|new|trade")


def test_decode_when_fee_qty_is_a_string_word_then_reason_points_into_fees():
    frame = ('{"channel":"executions","type":"update","data":[{"order_id":"X","exec_type":"trade",'
             '"fees":[{"asset":"USD","qty":"lots"}]}],"sequence":1}')
    assert _reason(frame).startswith("executions data[0] fees[0]: 'qty' expected a number")


def test_decode_when_response_success_is_missing_then_rejected():
    frame = '{"method":"add_order","result":{"order_id":"A"}}'
    assert _reason(frame) == "add_order: 'success' missing"


def test_decode_when_failed_response_has_no_error_string_then_rejected():
    assert _reason('{"method":"add_order","success":false}') == "add_order: 'error' missing from a failed response"


def test_decode_when_success_is_not_boolean_then_rejected():
    frame = '{"method":"cancel_all","success":"yes","result":{"count":1}}'
    assert _reason(frame) == "cancel_all: 'success' expected a boolean, got string"


def test_decode_when_ack_result_lacks_order_id_then_rejected():
    frame = '{"method":"add_order","success":true,"result":{}}'
    assert _reason(frame) == "add_order result: 'order_id' missing"


def test_decode_when_subscribe_error_names_symbol_then_it_is_kept():
    frame = ('{"error":"Subscription Not Found","method":"subscribe","req_id":123456789,"success":false,'
             '"symbol":"BTC/USD","time_in":"2023-09-21T14:15:07.197274Z"}')
    error = decode(frame)
    assert isinstance(error, m.SubscribeError) and error.symbol == "BTC/USD" and error.error == "Subscription Not Found"


def test_decode_when_bare_rate_limit_error_then_server_error():
    assert decode('{"Error":"Exceeded msg rate"}') == m.ServerError(error="Exceeded msg rate")


def test_decode_when_excerpt_requested_then_it_holds_the_start_of_the_frame():
    with pytest.raises(DecodeError) as caught:
        decode(_trade_with(symbol=None))
    assert caught.value.excerpt.startswith('{"channel": "trade"')
    assert "trade data[0]: 'symbol' expected a string, got null" in str(caught.value)


def test_decode_when_nested_too_deeply_then_decode_error_not_recursion_error():
    assert _reason("[" * 100_000 + "]" * 100_000).startswith("invalid JSON")


def test_decode_when_exponent_beyond_decimal_range_then_decode_error():
    frame = _trade_with().replace('"qty": 40.0', '"qty": 1e99999999999999999999999')
    assert "1e9999" in frame
    assert _reason(frame).startswith("invalid JSON")


def test_decode_when_negative_connection_id_then_rejected():
    frame = '{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":-1,"system":"online","version":"2"}]}'
    assert "'connection_id' expected an unsigned integer" in _reason(frame)


def test_decode_message_when_given_a_parsed_frame_then_same_result_as_decode():
    assert decode_message(loads(TRADE)) == decode(TRADE)
    with pytest.raises(DecodeError, match="expected a JSON object"):
        decode_message([])


# ------------------------------------------------------------------------------------- properties

_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.decimals(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["heartbeat", "status", "book", "level3", "ticker", "trade", "ohlc", "instrument",
                     "executions", "balances", "snapshot", "update", "subscribe", "add_order", "pong",
                     "2023-09-25T07:49:37.708706Z", "buy", "trade", "new"]),
)
_KEYS = ["channel", "type", "data", "method", "success", "result", "error", "symbol", "price", "qty", "bids",
         "asks", "checksum", "timestamp", "order_id", "exec_type", "req_id", "sequence", "connection_id", "system"]
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=6),
                                   children, max_size=6)),
    max_leaves=10,
)


def _dump(value) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(_dump(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(key) + ":" + _dump(item) for key, item in value.items()) + "}"
    return json.dumps(value)


def _decodes_or_decode_error(frame) -> None:
    try:
        decode(frame)
    except DecodeError as error:
        assert type(error) is DecodeError
        assert isinstance(error.reason, str) and error.reason


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=6), _json_values, max_size=6))
def test_decode_when_given_arbitrary_json_objects_then_returns_a_message_or_decode_error(obj):
    _decodes_or_decode_error(_dump(obj))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decode_when_given_arbitrary_bytes_then_returns_a_message_or_decode_error(frame):
    _decodes_or_decode_error(frame)


def _sample_frames() -> list[dict]:
    frames = []
    with open(CAPTURES / "ws_v2_assorted_frames.json", encoding="utf-8") as handle:
        for entry in json.load(handle, parse_float=Decimal)["messages"]:
            if "params" not in entry["msg"]:
                frames.append(entry["msg"])
    for line in (CAPTURES / "ws_v2_executions_lifecycle_docs.jsonl").read_text().splitlines():
        frames.append(json.loads(line, parse_float=Decimal))
    return frames


SAMPLES = _sample_frames()


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_decode_when_a_real_frame_is_mutated_then_returns_a_message_or_decode_error(data):
    frame = copy.deepcopy(data.draw(st.sampled_from(SAMPLES)))
    paths = [path for path in _paths(frame) if path]
    path = data.draw(st.sampled_from(paths))
    parent = frame
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(_json_values)
    _decodes_or_decode_error(_dump(frame))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_decode_when_a_real_frame_is_truncated_then_decode_error(data):
    text = _dump(data.draw(st.sampled_from(SAMPLES)))
    cut = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    with pytest.raises(DecodeError):
        decode(text[:cut])
