"""messages: frozen slotted value types, and exact RFC 3339 -> nanoseconds."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_runtime.core.kraken import messages as m
from kraken_runtime.core.kraken.codec import decode, rfc3339_to_ns

ALL_CLASSES = [getattr(m, name) for name in m.__all__ if dataclasses.is_dataclass(getattr(m, name, None))]


def test_every_message_class_when_inspected_then_is_frozen_slotted_and_keyword_only():
    assert len(ALL_CLASSES) > 40
    for cls in ALL_CLASSES:
        params = cls.__dataclass_params__
        assert params.frozen, cls
        assert "__slots__" in vars(cls), cls
        assert all(field.kw_only for field in dataclasses.fields(cls)), cls


def test_decoded_message_when_mutated_then_frozen_instance_error():
    trade = decode('{"channel":"trade","type":"update","data":[{"symbol":"A/B","side":"buy","price":1.5,"qty":2,'
                   '"ord_type":"limit","trade_id":1,"timestamp":"2024-01-01T00:00:00.000001Z"}]}')
    with pytest.raises(dataclasses.FrozenInstanceError):
        trade.trades[0].price = Decimal(2)
    assert isinstance(trade.trades, tuple)
    assert not hasattr(trade.trades[0], "__dict__")


def test_method_responses_when_typed_then_share_the_base_for_req_id_correlation():
    for cls in (m.Pong, m.SubscribeAck, m.UnsubscribeAck, m.AddOrderAck, m.AmendOrderAck, m.CancelOrderAck,
                m.CancelAllAck, m.CancelAllOrdersAfterAck, m.BatchAddAck, m.BatchCancelAck, m.MethodError,
                m.SubscribeError, m.UnsubscribeError, m.EditOrderAck):
        assert issubclass(cls, m.MethodResponse)
    assert issubclass(m.SubscribeError, m.MethodError)
    assert m.MethodError(method="x", error="E").success is False
    assert m.CancelAllAck(method="cancel_all", count=1).success is True


def test_enums_when_compared_with_wire_strings_then_equal():
    assert m.Side.BUY == "buy" and m.OrderType.STOP_LOSS_LIMIT == "stop-loss-limit"
    assert m.TimeInForce("gtc") is m.TimeInForce.GTC


@pytest.mark.parametrize(("text", "expected"), [
    ("1970-01-01T00:00:00Z", 0),
    ("2023-09-25T07:49:37.708706Z", 1695628177_708706000),
    ("2023-10-06T18:20:55.357467423Z", 1696616455_357467423),
    ("2023-09-21T15:49:29Z", 1695311369_000000000),
    ("2023-09-21T17:49:29+02:00", 1695311369_000000000),
    ("2023-09-21T15:19:29.5-00:30", 1695311369_500000000),
    ("2022-06-13T08:09:10.7890123", 1655107750_789012300),  # Kraken's batch_add example: no offset -> UTC
    ("1969-12-31T23:59:59.999999999Z", -1),
])
def test_rfc3339_to_ns_when_kraken_timestamps_then_exact_nanoseconds(text, expected):
    assert rfc3339_to_ns(text) == expected


@pytest.mark.parametrize("text", ["", "2023-09-25", "2023-09-25T07:49:37.1234567890Z", "2023-13-01T00:00:00Z",
                                  "2023-01-01T24:00:00Z", "2023-01-01T00:00:00+25:00", "2023-09-25T07:49:37.Z",
                                  " 2023-09-25T07:49:37Z"])
def test_rfc3339_to_ns_when_malformed_then_value_error(text):
    with pytest.raises(ValueError):
        rfc3339_to_ns(text)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2200, 1, 1)),
       st.integers(min_value=0, max_value=999))
def test_rfc3339_to_ns_when_any_instant_then_matches_exact_datetime_arithmetic(instant, extra_ns):
    text = instant.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{extra_ns:03d}Z"
    delta = instant - dt.datetime(1970, 1, 1)
    expected = (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000 + extra_ns
    assert rfc3339_to_ns(text) == expected
