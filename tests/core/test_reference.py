from decimal import Decimal

import pytest

from kraken_runtime.core.kraken.wire import DecodeError
from kraken_runtime.core.reference import decode_book_ticker, subscribe_frame, venue_symbol

WATCHED = {"BTCUSD": "BTC/USD"}


def test_book_ticker_decodes_exactly_from_strings():
    quote = decode_book_ticker('{"u":400900217,"s":"BTCUSD","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66"}',
                               WATCHED, 7)
    assert (quote.symbol, quote.bid, quote.ask, quote.ask_qty, quote.update_id, quote.ts_recv_ns) == (
        "BTC/USD", Decimal("25.35190000"), Decimal("25.36520000"), Decimal("40.66"), 400900217, 7)


def test_acks_and_unwatched_symbols_are_ignored():
    assert decode_book_ticker('{"result":null,"id":1}', WATCHED, 1) is None
    assert decode_book_ticker('{"u":1,"s":"ETHUSD","b":"1","B":"1","a":"1","A":"1"}', WATCHED, 1) is None


@pytest.mark.parametrize("frame", [
    'not json',
    '{"u":1,"s":"BTCUSD","b":25.3519,"B":"1","a":"25.4","A":"1"}',  # a number went through float
    '{"u":1,"s":"BTCUSD","b":"abc","B":"1","a":"25.4","A":"1"}',
    '{"u":1,"s":"BTCUSD","b":"NaN","B":"1","a":"25.4","A":"1"}',
    '{"u":1,"s":"BTCUSD","B":"1","a":"25.4","A":"1"}',
])
def test_bad_book_ticker_is_a_decode_error(frame):
    with pytest.raises(DecodeError):
        decode_book_ticker(frame, WATCHED, 1)


def test_subscription_names_the_venue_streams():
    assert venue_symbol("BTC/USD") == "BTCUSD"
    assert subscribe_frame(["BTC/USD", "ETH/USD"]) == '{"method":"SUBSCRIBE","params":["btcusd@bookTicker","ethusd@bookTicker"],"id":1}'
