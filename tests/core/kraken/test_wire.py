"""core.kraken.wire: exact JSON decoding and fixed-point formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_runtime.core.kraken.wire import DecodeError, fast_number_guard, format_decimal, loads


def test_loads_when_number_has_trailing_zeros_then_decimal_keeps_them():
    value = loads('{"qty":0.00005100,"price":63005.0}')
    assert value["qty"] == Decimal("0.00005100")
    assert str(value["qty"]) == "0.00005100"
    assert format(value["price"], "f") == "63005.0"


def test_loads_when_integer_exceeds_int64_then_int_is_exact():
    value = loads('{"connection_id":15413894943188002760,"big":123456789012345678901234567890}')
    assert value["connection_id"] == 15413894943188002760
    assert type(value["connection_id"]) is int
    assert value["big"] == 123456789012345678901234567890


def test_loads_when_number_uses_scientific_notation_then_value_is_exact():
    value = loads(b'{"qty":5.325e-05}')
    assert value["qty"] == Decimal("0.00005325")
    assert isinstance(value["qty"], Decimal)


def test_loads_when_number_has_more_digits_than_a_double_then_nothing_is_lost():
    value = loads('[0.10000000000000000001]')
    assert value[0] == Decimal("0.10000000000000000001")
    assert value[0] != Decimal("0.1")


def test_loads_when_json_is_invalid_then_raises_decode_error_with_excerpt():
    frame = '{"channel":"book",' + "x" * 500
    with pytest.raises(DecodeError) as caught:
        loads(frame)
    assert caught.value.reason.startswith("invalid JSON")
    assert caught.value.excerpt == frame[:200]
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("frame", ["[NaN]", "[Infinity]", "[-Infinity]", b"\xff\xfe", ""])
def test_loads_when_frame_is_not_standard_json_then_raises_decode_error(frame):
    with pytest.raises(DecodeError):
        loads(frame)


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (Decimal("4"), 8, "4.00000000"),
        (Decimal("0.001"), 8, "0.00100000"),
        (Decimal("5.325E-5"), 8, "0.00005325"),
        (Decimal("1E-8"), 8, "0.00000001"),
        (Decimal("1E+2"), 1, "100.0"),
        (Decimal("29430.2"), 1, "29430.2"),
        (Decimal("29430"), 0, "29430"),
        (Decimal("0.125"), 2, "0.12"),  # half-even
    ],
)
def test_format_decimal_when_called_then_fixed_point_with_exact_places(value, places, text):
    assert format_decimal(value, places) == text


def test_format_decimal_when_places_negative_then_raises():
    with pytest.raises(ValueError):
        format_decimal(Decimal(1), -1)


def test_fast_number_guard_when_frame_is_typical_then_true():
    frame = b'{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[{"price":63405.1,"qty":0.03154320}],"checksum":1396314585,"timestamp":"2026-08-02T03:35:51.671461Z"}]}'
    assert fast_number_guard(frame)


@pytest.mark.parametrize("number", [b"0.10000000000000001", b"1234567890123456", b"12345678.12345678"])
def test_fast_number_guard_when_a_number_has_16_or_more_characters_then_false(number):
    assert not fast_number_guard(b'{"qty":' + number + b"}")
