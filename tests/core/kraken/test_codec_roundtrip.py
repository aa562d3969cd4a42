"""Kraken's side of the protocol (the local exchange): encode_message(x) decodes back to x, exactly."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_runtime.core.kraken import messages as m
from kraken_runtime.core.kraken.codec import decode, encode_message, ns_to_rfc3339, rfc3339_to_ns

CAPTURES = Path(__file__).resolve().parents[3] / "tests" / "data" / "kraken" / "captures"


def _to_json(value) -> str:
    """Re-serialize a value loaded with parse_float=Decimal, keeping each number's exact digits."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(_to_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(key) + ":" + _to_json(item) for key, item in value.items()) + "}"
    return json.dumps(value)


def _frames() -> list[str]:
    frames = []
    with open(CAPTURES / "ws_v2_assorted_frames.json", encoding="utf-8") as handle:
        for entry in json.load(handle, parse_float=Decimal)["messages"]:
            if "params" not in entry["msg"] and entry["msg"].get("channel") not in ("book", "level3"):
                frames.append(_to_json(entry["msg"]))
    frames += (CAPTURES / "ws_v2_executions_lifecycle_docs.jsonl").read_text().splitlines()
    for path in sorted(CAPTURES.glob("ws_v2_book_*.jsonl")):
        frames += [line for line in path.read_text().splitlines()
                   if line.strip() and '"channel":"book"' not in line.replace(" ", "")][:3]
    frames += ['{"Error":"Exceeded msg rate"}',
               '{"error":"Subscription Not Found","method":"subscribe","req_id":1,"success":false,"symbol":"BTC/USD"}']
    return frames


FRAMES = _frames()


@pytest.mark.parametrize("index", range(len(FRAMES)))
def test_encode_message_when_given_a_decoded_recorded_frame_then_decodes_back_equal(index):
    message = decode(FRAMES[index])
    text = encode_message(message)
    assert decode(text) == message
    assert encode_message(decode(text)) == text


def test_encode_message_when_status_then_connection_id_above_int64_is_written_exactly():
    status = m.Status(type=m.FrameType.UPDATE, system=m.SystemState.ONLINE, api_version="v2",
                      connection_id=13834774380200032777, version="2.0.0")
    text = encode_message(status)
    assert '"connection_id":13834774380200032777' in text
    assert decode(text) == status


def test_encode_message_when_execution_then_time_in_force_is_uppercase_as_kraken_sends_it():
    message = m.ExecutionsMessage(type=m.FrameType.UPDATE, sequence=3, executions=(
        m.Execution(order_id="O", exec_type=m.ExecType.NEW, time_in_force=m.TimeInForce.GTC),))
    assert '"time_in_force":"GTC"' in encode_message(message)


def test_encode_message_when_cancel_after_ack_then_uses_kraken_camel_case():
    ack = decode('{"method":"cancel_all_orders_after","req_id":1,"result":{"currentTime":"2023-09-21T15:49:29Z",'
                 '"triggerTime":"2023-09-21T15:51:09Z"},"success":true}')
    assert '"currentTime":"2023-09-21T15:49:29Z"' in encode_message(ack)


def test_encode_message_when_not_a_message_then_type_error():
    with pytest.raises(TypeError):
        encode_message(m.Ping())


@pytest.mark.parametrize(("ns", "digits", "text"), [
    (0, 6, "1970-01-01T00:00:00.000000Z"),
    (1695628177_708706000, 6, "2023-09-25T07:49:37.708706Z"),
    (1696616455_357467423, 9, "2023-10-06T18:20:55.357467423Z"),
    (1695311369_000000000, 0, "2023-09-21T15:49:29Z"),
    (-1, 9, "1969-12-31T23:59:59.999999999Z"),
])
def test_ns_to_rfc3339_when_kraken_precisions_then_exact_text(ns, digits, text):
    assert ns_to_rfc3339(ns, digits) == text


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=7_000_000_000 * 10**9))
def test_ns_to_rfc3339_when_nine_digits_then_rfc3339_to_ns_inverts_it(ns):
    assert rfc3339_to_ns(ns_to_rfc3339(ns, 9)) == ns


_decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e12"), max_value=Decimal("1e12"))


@st.composite
def _trades(draw):
    ns = draw(st.integers(min_value=0, max_value=4_000_000_000 * 10**9)) // 1000 * 1000
    text = ns_to_rfc3339(ns, 6)
    return m.Trade(symbol=draw(st.sampled_from(["BTC/USD", "ETH/USD"])), side=draw(st.sampled_from(list(m.Side))),
                   price=draw(_decimals), qty=draw(_decimals), ord_type=draw(st.sampled_from(["limit", "market"])),
                   trade_id=draw(st.integers(min_value=0, max_value=2**64)), timestamp=text, timestamp_ns=ns)


@settings(max_examples=100, deadline=None)
@given(st.lists(_trades(), min_size=1, max_size=3), st.sampled_from(list(m.FrameType)))
def test_encode_message_then_decode_when_any_trades_then_equal_with_exact_decimals(trades, frame_type):
    message = m.TradeMessage(type=frame_type, trades=tuple(trades))
    decoded = decode(encode_message(message))
    assert decoded == message
    for before, after in zip(message.trades, decoded.trades):
        assert after.price == before.price and after.qty == before.qty


@settings(max_examples=100, deadline=None)
@given(_decimals, _decimals, st.integers(min_value=0, max_value=2**40), st.booleans())
def test_encode_message_then_decode_when_execution_fill_then_exact(last_price, cost, sequence, maker):
    execution = m.Execution(order_id="OK4GJX-KSTLS-7DZZO5", exec_type=m.ExecType.TRADE,
                            order_status=m.OrderStatus.PARTIALLY_FILLED, last_price=last_price, cost=cost,
                            fees=(m.Fee(asset="USD", qty=cost),), exec_id="T", trade_id=1,
                            liquidity_ind=m.LiquidityIndicator.MAKER if maker else m.LiquidityIndicator.TAKER,
                            timestamp="2023-09-22T10:33:05.709993Z", timestamp_ns=1695378785_709993000)
    message = m.ExecutionsMessage(type=m.FrameType.UPDATE, sequence=sequence, executions=(execution,))
    assert decode(encode_message(message)) == message
