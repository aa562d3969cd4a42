"""codec's text paths (trade, ticker, level3 in Kraken's own layout, decoded from the frame's text without a
JSON parse) against the checked path (``wire.loads`` with exact Decimals + the typed decoder): equal messages
with identical numbers (same Decimal text, trailing zeros kept), on generated and recorded frames; frames
the text path declines (other layouts, exponents, impossible dates, malformed text) get the checked path's
one DecodeError."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_runtime.core.kraken import codec
from kraken_runtime.core.kraken.l3book import decode_canonical_level3_frame
from kraken_runtime.core.kraken.wire import DecodeError, loads


def _checked(frame: str) -> Any:
    return codec.decode_message(loads(frame))


def _numbers(value: Any) -> list[str]:
    """Every Decimal in a decoded message, as its exact text (so '1.50' != '1.5'), in field order."""
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, Decimal):
            found.append(str(item))
        elif isinstance(item, tuple):
            for part in item:
                walk(part)
        elif hasattr(item, "__dataclass_fields__"):
            for name in item.__dataclass_fields__:
                walk(getattr(item, name))

    walk(value)
    return found


def _assert_same(frame: str) -> Any:
    fast = codec.decode(frame)
    checked = _checked(frame)
    assert fast == checked
    assert type(fast) is type(checked)
    assert _numbers(fast) == _numbers(checked)
    return fast


# ------------------------------------------------------------------------------------ generated frames

_DIGITS = st.integers(min_value=0, max_value=10**12)


@st.composite
def _number(draw: Any, signed: bool = True) -> str:
    """A JSON number as Kraken writes it, with the occasional oddity: an integer, trailing zeros, -0.0,
    negative values, a leading 0."""
    whole = draw(_DIGITS)
    places = draw(st.integers(min_value=0, max_value=10))
    text = str(whole)
    if places:
        text = f"{whole // 10**places}.{str(whole % 10**places).rjust(places, '0')}"
    if signed and draw(st.booleans()):
        text = "-" + text
    return text


_TEXTS = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'), max_size=12)
_SYMBOLS = _TEXTS.filter(bool)


@st.composite
def _timestamp(draw: Any) -> str:
    year = draw(st.integers(min_value=1970, max_value=2099))
    month = draw(st.integers(min_value=1, max_value=13))  # 13: an impossible date now and then
    day = draw(st.integers(min_value=1, max_value=31))
    hour, minute, second = draw(st.integers(0, 24)), draw(st.integers(0, 59)), draw(st.integers(0, 60))
    fraction = draw(st.text(alphabet="0123456789", min_size=1, max_size=9))
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{fraction}Z"


def _bare_minus_zero(frame: str) -> bool:
    """A "-0" number: json reads it as the int 0 (Decimal "0", not "-0"); the text paths leave it to json."""
    return re.search(r":-0[,}]", frame) is not None


def _is_valid(timestamp: str) -> bool:
    try:
        codec.rfc3339_to_ns(timestamp)
    except ValueError:
        return False
    return True


@st.composite
def _trade_frame(draw: Any) -> str:
    items = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        trade_id = draw(st.integers(min_value=-5, max_value=2**70))
        items.append(
            f'{{"symbol":"{draw(_SYMBOLS)}","side":"{draw(st.sampled_from(["buy", "sell"]))}",'
            f'"price":{draw(_number())},"qty":{draw(_number())},"ord_type":"{draw(_TEXTS)}",'
            f'"trade_id":{trade_id},"timestamp":"{draw(_timestamp())}"}}'
        )
    kind = draw(st.sampled_from(["update", "snapshot"]))
    return f'{{"channel":"trade","type":"{kind}","data":[{",".join(items)}]}}'


_TICKER_FIELDS = ("bid", "bid_qty", "ask", "ask_qty", "last", "volume", "vwap", "low", "high", "change", "change_pct")


@st.composite
def _ticker_frame(draw: Any) -> str:
    numbers = ",".join(f'"{name}":{draw(_number())}' for name in _TICKER_FIELDS)
    timestamp = f',"timestamp":"{draw(_timestamp())}"' if draw(st.booleans()) else ""
    kind = draw(st.sampled_from(["update", "snapshot"]))
    return (f'{{"channel":"ticker","type":"{kind}","data":[{{"symbol":"{draw(_SYMBOLS)}",{numbers}'
            f'{timestamp}}}]}}')


@settings(max_examples=250, deadline=None)
@given(_trade_frame())
def test_trade_text_path_equals_the_checked_path_on_generated_frames(frame):
    valid = all(_is_valid(part.split('"')[0]) for part in frame.split('"timestamp":"')[1:])
    if not valid:  # declined by the text path; the checked path names the timestamp
        assert codec.decode_trade_text(frame) is None
        with pytest.raises(DecodeError, match="'timestamp'"):
            codec.decode(frame)
        return
    assert (codec.decode_trade_text(frame) is None) == _bare_minus_zero(frame)
    _assert_same(frame)


@settings(max_examples=250, deadline=None)
@given(_ticker_frame())
def test_ticker_text_path_equals_the_checked_path_on_generated_frames(frame):
    parts = frame.split('"timestamp":"')[1:]
    if parts and not _is_valid(parts[0].split('"')[0]):
        assert codec.decode_ticker_text(frame) is None
        with pytest.raises(DecodeError, match="'timestamp'"):
            codec.decode(frame)
        return
    assert (codec.decode_ticker_text(frame) is None) == _bare_minus_zero(frame)
    _assert_same(frame)


def test_trade_text_path_keeps_each_numbers_wire_text():
    frame = ('{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":63000.0,'
             '"qty":0.00005100,"ord_type":"limit","trade_id":7,"timestamp":"2026-08-01T07:49:37.5Z"},'
             '{"symbol":"BTC/USD","side":"sell","price":-0.0,"qty":12,"ord_type":"","trade_id":0,'
             '"timestamp":"2026-08-01T07:49:37.000000001Z"}]}')
    message = _assert_same(frame)
    first, second = message.trades
    assert (str(first.price), str(first.qty)) == ("63000.0", "0.00005100")
    assert first.timestamp_ns == codec.rfc3339_to_ns("2026-08-01T07:49:37.500000000Z")
    assert (str(second.price), str(second.qty), second.timestamp_ns % 10**9) == ("-0.0", "12", 1)


@pytest.mark.parametrize("frame", [
    # other layouts: key order, spaces, an exponent, an escape, a bare -0, a timestamp with an offset
    '{"type":"update","channel":"trade","data":[{"symbol":"A/B","side":"buy","price":1.0,"qty":1.0,'
    '"ord_type":"limit","trade_id":1,"timestamp":"2026-08-01T07:49:37.5Z"}]}',
    '{"channel":"trade","type":"update","data":[{"symbol":"A/B","side":"buy","price":1.0, "qty":1.0,'
    '"ord_type":"limit","trade_id":1,"timestamp":"2026-08-01T07:49:37.5Z"}]}',
    '{"channel":"trade","type":"update","data":[{"symbol":"A/B","side":"buy","price":1.0,"qty":7.723e-05,'
    '"ord_type":"limit","trade_id":1,"timestamp":"2026-08-01T07:49:37.5Z"}]}',
    '{"channel":"trade","type":"update","data":[{"symbol":"A\\/B","side":"buy","price":1.0,"qty":1.0,'
    '"ord_type":"limit","trade_id":1,"timestamp":"2026-08-01T07:49:37.5Z"}]}',
    '{"channel":"trade","type":"update","data":[{"symbol":"A/B","side":"buy","price":-0,"qty":1.0,'
    '"ord_type":"limit","trade_id":1,"timestamp":"2026-08-01T07:49:37.5Z"}]}',
    '{"channel":"trade","type":"update","data":[{"symbol":"A/B","side":"buy","price":1.0,"qty":1.0,'
    '"ord_type":"limit","trade_id":1,"timestamp":"2026-08-01T07:49:37.5+00:00"}]}',
    '{"channel":"ticker","type":"update","data":[{"symbol":"A/B","bid":1,"bid_qty":1,"ask":1,"ask_qty":1,'
    '"last":1,"volume":1,"vwap":1,"low":1,"high":1,"change":1E2,"change_pct":1}]}',
])
def test_text_paths_when_not_kraken_layout_then_declined_and_the_checked_path_decides(frame):
    assert codec.decode_trade_text(frame) is None and codec.decode_ticker_text(frame) is None
    _assert_same(frame)


@pytest.mark.parametrize("frame, reason", [
    ('{"channel":"trade","type":"update","data":[{"symbol":"A/B","side":"buy","price":1.0,"qty":1.0,'
     '"ord_type":"limit","trade_id":1,"timestamp":"2026-02-30T07:49:37.5Z"}]}', "'timestamp' invalid date"),
    ('{"channel":"trade","type":"update","data":[{"symbol":"A/B","side":"hold","price":1.0,"qty":1.0,'
     '"ord_type":"limit","trade_id":1,"timestamp":"2026-08-01T07:49:37.5Z"}]}', "'side' expected one of buy|sell"),
    ('{"channel":"trade","type":"update","data":[{"symbol":"A/B","side":"buy","price":1.0,"qty":1.0,'
     '"ord_type":"limit","trade_id":1.5,"timestamp":"2026-08-01T07:49:37.5Z"}]}', "'trade_id' expected an integer"),
    ('{"channel":"ticker","type":"update","data":[{"symbol":"A/B","bid":1,"bid_qty":1,"ask":1,"ask_qty":1,'
     '"last":1,"volume":1,"vwap":1,"low":1,"high":1,"change":1,"change_pct":1,"timestamp":"2026-08-01T25:00:00.1Z"}]}',
     "'timestamp' invalid time of day"),
    ('{"channel":"ticker","type":"update","data":[{"symbol":"A/B","bid":1,"bid_qty":1,"ask":1,"ask_qty":1,'
     '"last":1,"volume":1,"vwap":1,"low":1,"high":1,"change":1}]}', "'change_pct' missing"),
    ('{"channel":"trade","type":"update","data":[{"symbol":"A/B","side":"buy","price":1.0,"qty":1.0,'
     '"ord_type":"limit","trade_id":1,"timestamp":"2026-08-01T07:49:37.5Z"}]', "invalid JSON"),
])
def test_text_paths_when_malformed_then_one_decode_error_naming_it(frame, reason):
    with pytest.raises(DecodeError) as caught:
        codec.decode(frame)
    assert caught.type is DecodeError and reason in caught.value.reason


# ------------------------------------------------------------------------------------- recorded frames


def _compact_frames(kraken_data, channel: str) -> list[str]:
    """The assorted recorded frames of one channel, written back in Kraken's compact layout (numbers as
    Python writes the floats they were stored as; one written with an exponent takes the checked path)."""
    messages = json.loads((kraken_data / "captures" / "ws_v2_assorted_frames.json").read_text())["messages"]
    return [json.dumps(item["msg"], separators=(",", ":")) for item in messages
            if item["msg"].get("channel") == channel]


@pytest.mark.parametrize("channel", ["trade", "ticker", "level3", "executions"])
def test_text_paths_equal_the_checked_path_on_recorded_frames(kraken_data, channel):
    frames = _compact_frames(kraken_data, channel)
    assert frames
    for frame in frames:
        _assert_same(frame)


def test_level3_text_path_equals_the_checked_path_on_the_recorded_capture(kraken_data):
    lines = (kraken_data / "captures" / "ws_v2_level3_BTCUSD_docs_snapshot_3_updates.jsonl").read_text().splitlines()
    for line in filter(None, lines):
        assert decode_canonical_level3_frame(line) is not None
        _assert_same(line)


@st.composite
def _level3_update(draw: Any) -> str:
    def order() -> str:
        return (f'{{"event":"{draw(st.sampled_from(["add", "modify", "delete"]))}","order_id":"{draw(_SYMBOLS)}",'
                f'"limit_price":{draw(_number(signed=False).filter(lambda t: Decimal(t) > 0))},'
                f'"order_qty":{draw(_number(signed=False))},"timestamp":"{draw(_TEXTS)}"}}')

    bids = ",".join(order() for _ in range(draw(st.integers(0, 3))))
    asks = ",".join(order() for _ in range(draw(st.integers(0, 3))))
    return (f'{{"channel":"level3","type":"update","data":[{{"checksum":{draw(st.integers(0, 2**32 - 1))},'
            f'"symbol":"{draw(_SYMBOLS)}","timestamp":"{draw(_TEXTS)}","bids":[{bids}],"asks":[{asks}]}}]}}')


@settings(max_examples=300, deadline=None)
@given(_level3_update())
def test_level3_text_path_equals_the_checked_path_on_generated_updates(frame):
    assert decode_canonical_level3_frame(frame) is not None
    _assert_same(frame)


# ------------------------------------------------------------------------------- executions fast path


def _checked_executions(frame: str) -> Any:
    """The checked executions decoder alone (codec.decode now tries the fast one first): a message, or the
    reason it names."""
    try:
        return codec._decode_executions(loads(frame))
    except codec._Bad as bad:
        return bad.reason


_EXECUTION_VALUES = {
    **{name: _TEXTS for name in codec._EXECUTION_TEXTS},
    **{name: _number() for name in codec._EXECUTION_DECIMALS},
    **{name: st.sampled_from(["true", "false"]) for name in codec._EXECUTION_BOOLS},
    **{name: st.integers(-3, 2**65).map(str) for name in codec._EXECUTION_INTS},
    **{name: _timestamp() for name in ("timestamp", "effective_time", "expire_time")},
    "order_id": _SYMBOLS,
    "exec_type": st.sampled_from(["trade", "new", "pending_new", "canceled", "bogus"]),
    "order_status": st.sampled_from(["new", "filled", "partially_filled", "nope"]),
    "side": st.sampled_from(["buy", "sell"]),
    "order_type": st.sampled_from(["limit", "market", "stop-loss-limit"]),
    "time_in_force": st.sampled_from(["GTC", "gtd", "IOC", "xyz"]),
    "liquidity_ind": st.sampled_from(["t", "m"]),
}
_QUOTED = {*codec._EXECUTION_TEXTS, "timestamp", "effective_time", "expire_time", "order_id", "exec_type",
           "order_status", "side", "order_type", "time_in_force", "liquidity_ind"}
_ODD_VALUES = st.sampled_from(['"1.5"', "null", "true", "1.5", "7", '"x"', "[]", "{}", "1e3"])


@st.composite
def _execution_frame(draw: Any) -> str:
    entries = []
    for _ in range(draw(st.integers(1, 3))):
        names = draw(st.lists(st.sampled_from(sorted(_EXECUTION_VALUES)), unique=True, max_size=14))
        for required in ("order_id", "exec_type"):
            if required not in names and draw(st.integers(0, 9)):
                names.append(required)
        names = draw(st.permutations(names))
        parts = []
        for name in names:
            if draw(st.integers(0, 14)) == 0:  # the wrong type now and then
                value = draw(_ODD_VALUES)
            else:
                value = draw(_EXECUTION_VALUES[name])
                value = f'"{value}"' if name in _QUOTED else value
            parts.append(f'"{name}":{value}')
        if draw(st.booleans()):
            fees = ",".join(f'{{"asset":"{draw(_SYMBOLS)}","qty":{draw(_number())}}}' for _ in range(draw(st.integers(0, 2))))
            parts.append(f'"fees":[{fees}]')
        if draw(st.integers(0, 5)) == 0:
            parts.append('"triggers":{"reference":"index","price":0.21,"status":"triggered"}')
        entries.append("{" + ",".join(parts) + "}")
    sequence = draw(st.sampled_from(["", ',"sequence":7', ',"sequence":null', ',"sequence":1.5']))
    kind = draw(st.sampled_from(["update", "snapshot"]))
    return f'{{"channel":"executions","type":"{kind}","data":[{",".join(entries)}]{sequence}}}'


@settings(max_examples=250, deadline=None)
@given(_execution_frame())
def test_executions_fast_path_equals_the_checked_decoder_on_generated_frames(frame):
    expected = _checked_executions(frame)
    if isinstance(expected, str):
        with pytest.raises(DecodeError) as caught:
            codec.decode(frame)
        assert caught.value.reason == expected
        return
    got = codec.decode(frame)
    assert got == expected and _numbers(got) == _numbers(expected)


def test_executions_fast_path_equals_the_checked_decoder_on_the_recorded_lifecycle(kraken_data):
    lines = (kraken_data / "captures" / "ws_v2_executions_lifecycle_docs.jsonl").read_text().splitlines()
    frames = [line for line in lines if '"channel":"executions"' in line]
    assert frames
    for frame in frames:
        expected = _checked_executions(frame)
        assert not isinstance(expected, str)
        got = codec.decode(frame)
        assert got == expected and _numbers(got) == _numbers(expected)
