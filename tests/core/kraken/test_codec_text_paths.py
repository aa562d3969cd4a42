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


# Decimal text that json never produces from a number and the checked decoder refuses as a string, but a lax
# Decimal parser would take ("+1", " 1", "1_0", ".5", "NaN", ...): the msgspec path must decline them.
_LAX_DECIMALS = st.sampled_from(['"+1"', '" 1"', '"1 "', '"1_0"', '".5"', '"5."', '"01"', '"NaN"', '"Infinity"',
                                 '"sNaN"', '"1e5"', '"-0"', '"\u0661"', '"1.50"', '"-2.0e-3"'])
_ODD_NUMBERS = st.sampled_from(["1e5", "1.50E+2", "-0.0", "-0", "2.5e-3", str(2**70), "0.00010000"])
_TRIGGER_VALUES = {"reference": _TEXTS, "price": _number(), "price_type": _TEXTS, "actual_price": _number(),
                   "peak_price": _number(), "last_price": _number(), "status": _TEXTS, "timestamp": _timestamp()}
_CONTINGENT_VALUES = {"order_type": _TEXTS, "trigger_price": _number(), "trigger_price_type": _TEXTS,
                      "limit_price": _number(), "limit_price_type": _TEXTS}
_NESTED_QUOTED = {"reference", "price_type", "status", "timestamp", "order_type", "trigger_price_type",
                  "limit_price_type"}


@st.composite
def _nested_object(draw: Any, values: dict[str, Any]) -> str:
    """A triggers or contingent object: some of its fields, now and then of the wrong type or odd text."""
    if draw(st.integers(0, 12)) == 0:
        return draw(st.sampled_from(["null", "[]", '"x"', "7"]))
    parts = []
    for name in draw(st.lists(st.sampled_from(sorted(values)), unique=True, max_size=len(values))):
        choice = draw(st.integers(0, 12))
        if choice == 0:
            value = draw(_ODD_VALUES)
        elif choice == 1 and name not in _NESTED_QUOTED:
            value = draw(st.one_of(_LAX_DECIMALS, _ODD_NUMBERS))
        else:
            value = draw(values[name])
            value = f'"{value}"' if name in _NESTED_QUOTED else value
        parts.append(f'"{name}":{value}')
    return "{" + ",".join(parts) + "}"


@st.composite
def _execution_frame(draw: Any, clean: bool = False) -> str:
    """An executions frame; ``clean``: every value of its field's type (odd numbers still: exponents, -0,
    huge integers), every date possible, so that the checked decoder takes it."""
    entries = []
    for _ in range(draw(st.integers(1, 3))):
        names = draw(st.lists(st.sampled_from(sorted(_EXECUTION_VALUES)), unique=True, max_size=14))
        for required in ("order_id", "exec_type"):
            if required not in names and (clean or draw(st.integers(0, 9))):
                names.append(required)
        names = draw(st.permutations(names))
        parts = []
        for name in names:
            choice = draw(st.integers(0, 14))
            if clean and name in ("timestamp", "effective_time", "expire_time"):
                value = '"' + draw(_timestamp().filter(_is_valid)) + '"'
            elif clean and name == "exec_type":
                value = '"' + draw(st.sampled_from(["trade", "new", "pending_new", "canceled"])) + '"'
            elif clean and name == "order_status":
                value = '"' + draw(st.sampled_from(["new", "filled", "partially_filled"])) + '"'
            elif clean and name == "time_in_force":
                value = draw(st.sampled_from(['"GTC"', '"gtd"', '"IOC"', '"Fok"']))
            elif clean and choice < 3 and name in codec._EXECUTION_DECIMALS:
                value = draw(_ODD_NUMBERS)
            elif clean:
                value = draw(_EXECUTION_VALUES[name])
                value = f'"{value}"' if name in _QUOTED else value
            elif choice == 0:  # the wrong type now and then
                value = draw(_ODD_VALUES)
            elif choice == 1 and name in codec._EXECUTION_DECIMALS:  # odd decimal text, or an odd number
                value = draw(st.one_of(_LAX_DECIMALS, _ODD_NUMBERS))
            elif choice == 2 and name == "time_in_force":
                value = draw(st.sampled_from(['"Gtc"', '"fok"', '"IoC"', '"GTX"', '""']))
            else:
                value = draw(_EXECUTION_VALUES[name])
                value = f'"{value}"' if name in _QUOTED else value
            parts.append(f'"{name}":{value}')
        if draw(st.booleans()):
            fee_qty = _number() if clean else st.one_of(_number(), _number(), _number(), _LAX_DECIMALS, _ODD_VALUES)
            fees = ",".join(f'{{"asset":"{draw(_SYMBOLS)}","qty":{draw(fee_qty)}}}'
                            for _ in range(draw(st.integers(0, 2))))
            parts.append(f'"fees":[{fees}]')
        if draw(st.integers(0, 5)) == 0:
            parts.append('"triggers":{"reference":"index","price":0.21,"status":"triggered"}')
        if clean and draw(st.integers(0, 3)) == 0:
            timestamp = draw(_timestamp().filter(_is_valid))
            parts.append(f'"triggers":{{"price":{draw(_number())},"timestamp":"{timestamp}","status":"x"}}')
            parts.append(f'"contingent":{{"limit_price":{draw(_ODD_NUMBERS)},"order_type":"limit"}}')
        elif not clean and draw(st.integers(0, 5)) == 0:
            parts.append(f'"triggers":{draw(_nested_object(_TRIGGER_VALUES))}')
        if not clean and draw(st.integers(0, 5)) == 0:
            parts.append(f'"contingent":{draw(_nested_object(_CONTINGENT_VALUES))}')
        entries.append("{" + ",".join(parts) + "}")
    sequences = ["", ',"sequence":7', ',"sequence":null'] + ([] if clean else [',"sequence":1.5'])
    sequence = draw(st.sampled_from(sequences))
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


@settings(max_examples=250, deadline=None)
@given(_execution_frame())
def test_executions_msgspec_path_equals_the_checked_decoder_or_declines(frame):
    """The msgspec path alone: what it decodes equals the checked decoder's message (identical Decimal text);
    everything the checked decoder refuses, it declines (None), so codec.decode names it as before."""
    expected = _checked_executions(frame)
    got = codec.decode_executions_wire(frame)
    if isinstance(expected, str):
        assert got is None
        return
    if got is not None:
        assert got == expected and _numbers(got) == _numbers(expected) and repr(got) == repr(expected)


@settings(max_examples=250, deadline=None)
@given(_execution_frame(clean=True))
def test_executions_msgspec_path_takes_well_formed_frames_and_equals_the_checked_decoder(frame):
    expected = _checked_executions(frame)
    assert not isinstance(expected, str), expected
    got = codec.decode_executions_wire(frame)
    assert got is not None
    assert got == expected and _numbers(got) == _numbers(expected) and repr(got) == repr(expected)


def test_executions_msgspec_path_takes_the_recorded_lifecycle_and_kraken_layouts(kraken_data):
    lines = (kraken_data / "captures" / "ws_v2_executions_lifecycle_docs.jsonl").read_text().splitlines()
    frames = [line for line in lines if '"channel":"executions"' in line]
    frames += _compact_frames(kraken_data, "executions")
    assert len(frames) > 4
    for frame in frames:
        got = codec.decode_executions_wire(frame)
        assert got is not None, frame[:120]
        expected = _checked_executions(frame)
        assert got == expected and _numbers(got) == _numbers(expected) and repr(got) == repr(expected)


_ENTRY = '"order_id":"O1","exec_type":"trade","timestamp":"2023-09-22T10:33:05.709993Z"'


@pytest.mark.parametrize("entry, taken", [
    (_ENTRY + ',"last_qty":0.00500,"cost":132.9995,"fees":[{"asset":"USD","qty":0.3458}]', True),
    (_ENTRY + ',"time_in_force":"GTC","order_qty":1.50E+2,"cum_qty":-0.0,"trade_id":' + str(2**70), True),
    (_ENTRY + ',"order_qty":7,"cum_cost":-0', True),
    (_ENTRY + ',"order_id":"O2","order_qty":null,"side":null', True),  # the last of duplicate keys, as json
    (_ENTRY + ',"timestamp_ns":5,"unknown":{"a":[1,2]}', True),  # unknown keys ignored, as checked
    (_ENTRY + ',"triggers":{"price":0.21,"timestamp":"2026-10-09T01:05:00.000000Z"},"contingent":{}', True),
    (_ENTRY + ',"order_qty":"1.5"', False),  # a decimal as a string: the checked decoder reads it
    (_ENTRY + ',"order_qty":"+1"', False),  # ... or refuses it
    (_ENTRY + ',"fees":[{"asset":"USD","qty":"1_0"}]', False),
    (_ENTRY + ',"triggers":{"price":"NaN"}', False),
    (_ENTRY + ',"contingent":[]', False),
    (_ENTRY + ',"time_in_force":"gtx"', False),
    (_ENTRY + ',"effective_time":"2023-02-30T10:33:05.7Z"', False),
    (_ENTRY + ',"trade_id":1.0', False),
    (_ENTRY + ',"post_only":1', False),
    (_ENTRY + ',"side":"BUY"', False),
    (_ENTRY + ',"cl_ord_id":7', False),
    (_ENTRY + ',"fees":null', False),
    ('"order_id":"O1","exec_type":null', False),
    ('"exec_type":"new"', False),
])
def test_executions_msgspec_path_on_edge_entries(entry, taken):
    frame = '{"channel":"executions","type":"update","data":[{' + entry + '}],"sequence":3}'
    got = codec.decode_executions_wire(frame)
    assert (got is not None) is taken
    expected = _checked_executions(frame)
    if got is not None:
        assert got == expected and _numbers(got) == _numbers(expected) and repr(got) == repr(expected)
    if isinstance(expected, str):
        with pytest.raises(DecodeError) as caught:
            codec.decode(frame)
        assert caught.value.reason == expected
    else:
        decoded = codec.decode(frame)
        assert decoded == expected and _numbers(decoded) == _numbers(expected)


@pytest.mark.parametrize("frame", [
    '{"channel":"executions","type":"update","data":[{"order_id":"O","exec_type":"new"}],"sequence":"3"}',
    '{"channel":"executions","type":"updates","data":[]}',
    '{"channel":"executions","type":"update","data":{}}',
    '{"channel":"executions","type":"update","data":[7]}',
    '{"channel":"executions","channel":"trade","type":"update","data":[]}',
    '{"channel":"executions","type":"update","data":[{"order_id":"O","exec_type":"new"}]',
    '{"channel":"executions","type":"update","data":[{"order_id":"O","exec_type":"new",'
    '"cost":1e999999999999999999999}]}',
    '{"channel":"executions","type":"update","data":[{"order_id":"\\ud800","exec_type":"new"}]}',
])
def test_executions_msgspec_path_declines_malformed_frames_and_decode_names_them_as_before(frame):
    assert codec.decode_executions_wire(frame) is None
    try:
        expected: Any = codec.decode_message(codec._parse(frame))  # the checked path: json, then types
    except DecodeError as error:
        expected = error.reason
    if isinstance(expected, str):
        with pytest.raises(DecodeError) as caught:
            codec.decode(frame)
        assert caught.value.reason == expected
    else:
        assert codec.decode(frame) == expected


def test_wire_builders_make_the_message_classes_themselves():
    """The slots-twin builders make real instances: type, equality, hash, repr, frozenness."""
    import dataclasses

    frame = ('{"channel":"executions","type":"update","data":[{"order_id":"O1","exec_type":"trade",'
             '"fees":[{"asset":"USD","qty":0.10}],"triggers":{"price":1.0}}]}')
    got = codec.decode_executions_wire(frame)
    assert got is not None
    execution = got.executions[0]
    assert type(execution) is codec.m.Execution and type(execution.fees[0]) is codec.m.Fee
    assert type(execution.triggers) is codec.m.ExecutionTriggers
    assert hash(execution.fees[0]) == hash(codec.m.Fee(asset="USD", qty=Decimal("0.10")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        execution.order_id = "x"  # type: ignore[misc]
    assert repr(execution) == repr(codec._decode_executions(loads(frame)).executions[0])
