"""FrameParser: the read side of the feed's WebSocket connections (RFC 6455 framing, server -> client).

Frames are built with websocket-client's own encoder (ABNF), an independent implementation, and fed
split at arbitrary byte boundaries, as a socket delivers them."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websocket import ABNF

from kraken_runtime.core.kraken.wsframes import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameParser,
)


def frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A server frame (unmasked), as websocket-client encodes it."""
    abnf = ABNF(fin=1 if fin else 0, opcode=opcode, mask_value=0, data=payload)
    return abnf.format()


def feed_in_pieces(parser: FrameParser, data: bytes, cuts: list[int]) -> list:
    out = []
    previous = 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(data))) + [len(data)]:
        out.extend(parser.feed(data[previous:cut]))
        previous = cut
    return out


def test_text_frame_of_each_length_encoding_comes_back_whole():
    for size in (0, 1, 125, 126, 65535, 65536, 300_000):
        text = ("x" * size)
        assert FrameParser().feed(frame(OP_TEXT, text.encode())) == [(OP_TEXT, text)]


def test_several_frames_in_one_read_come_back_in_order():
    data = frame(OP_TEXT, b'{"a":1}') + frame(OP_BINARY, b"\x00\x01") + frame(OP_PING, b"hi") + frame(OP_TEXT, b"{}")
    assert FrameParser().feed(data) == [(OP_TEXT, '{"a":1}'), (OP_BINARY, b"\x00\x01"), (OP_PING, b"hi"), (OP_TEXT, "{}")]


def test_frame_split_inside_its_header_waits_for_the_rest():
    parser = FrameParser()
    data = frame(OP_TEXT, b"y" * 300)  # 16-bit extended length
    assert parser.feed(data[:1]) == []
    assert parser.feed(data[1:3]) == []
    assert parser.buffered_bytes == 3
    assert parser.feed(data[3:]) == [(OP_TEXT, "y" * 300)]
    assert parser.buffered_bytes == 0


def test_large_frame_arriving_in_many_reads_is_gathered_once():
    parser = FrameParser()
    payload = bytes(range(256)) * 8192  # 2 MiB binary
    data = frame(OP_BINARY, payload) + frame(OP_TEXT, b"after")
    out = []
    for start in range(0, len(data), 65536):
        out.extend(parser.feed(data[start:start + 65536]))
    assert out == [(OP_BINARY, payload), (OP_TEXT, "after")]


def test_fragmented_message_with_a_ping_between_fragments():
    data = (frame(OP_TEXT, b'{"chan', fin=False) + frame(OP_PING, b"p") + frame(OP_CONT, b'nel":', fin=False)
            + frame(OP_CONT, b'"book"}'))
    assert FrameParser().feed(data) == [(OP_PING, b"p"), (OP_TEXT, '{"channel":"book"}')]


def test_invalid_utf8_is_replaced_not_raised():
    assert FrameParser().feed(frame(OP_TEXT, b"ok\xff")) == [(OP_TEXT, "ok\ufffd")]


@pytest.mark.parametrize("data, expected", [
    (bytes((0x81, 0x85)) + b"\x00\x00\x00\x00hello", "masked frame"),
    (frame(OP_CONT, b"x"), "continuation frame without a message"),
    (frame(OP_TEXT, b"a", fin=False) + frame(OP_TEXT, b"b"), "new message began before"),
    (frame(OP_PING, b"p", fin=False), "fragmented control frame"),
    (bytes((0x89, 126)) + struct.pack("!H", 126) + b"p" * 126, "at most 125"),
    (bytes((0xC1, 1)) + b"x", "RSV bits set"),
    (bytes((0x83, 1)) + b"x", "reserved opcode 0x3"),
    (bytes((0x81, 127)) + struct.pack("!Q", 1 << 63) + b"x", "most significant bit"),
])
def test_framing_violation_raises_naming_the_rule(data, expected):
    with pytest.raises(FrameError, match=expected):
        FrameParser().feed(data)


def test_message_over_the_limit_is_refused_before_it_is_buffered():
    parser = FrameParser(max_message_bytes=1000)
    header_only = bytes((0x81, 127)) + struct.pack("!Q", 10_000_000)
    with pytest.raises(FrameError, match="exceeds the 1000-byte"):
        parser.feed(header_only)
    fragments = frame(OP_TEXT, b"a" * 600, fin=False) + frame(OP_CONT, b"b" * 600)
    with pytest.raises(FrameError, match="fragmented message exceeds"):
        FrameParser(max_message_bytes=1000).feed(fragments)


messages = st.lists(
    st.one_of(
        st.tuples(st.just(OP_TEXT), st.text(max_size=400)),
        st.tuples(st.just(OP_BINARY), st.binary(max_size=70_000)),
        st.tuples(st.just(OP_PING), st.binary(max_size=125)),
        st.tuples(st.just(OP_PONG), st.binary(max_size=125)),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(messages=messages, fragment_sizes=st.lists(st.integers(1, 50), max_size=5),
       cuts=st.lists(st.integers(0, 200_000), max_size=20))
def test_any_stream_split_anywhere_decodes_to_the_messages_sent(messages, fragment_sizes, cuts):
    wire = b""
    expected = []
    for opcode, payload in messages:
        raw = payload.encode() if opcode == OP_TEXT else payload
        if opcode in (OP_TEXT, OP_BINARY) and fragment_sizes and len(raw) > 1:
            pieces, rest = [], raw
            for size in fragment_sizes:
                if len(rest) <= size:
                    break
                pieces.append(rest[:size])
                rest = rest[size:]
            pieces.append(rest)
            for i, piece in enumerate(pieces):
                wire += frame(opcode if i == 0 else OP_CONT, piece, fin=i == len(pieces) - 1)
        else:
            wire += frame(opcode, raw)
        expected.append((opcode, payload))
    assert feed_in_pieces(FrameParser(), wire, cuts) == expected


def test_close_frame_is_returned_with_its_code():
    payload = struct.pack("!H", 1001) + b"going away"
    assert FrameParser().feed(frame(OP_CLOSE, payload)) == [(OP_CLOSE, payload)]


def test_bad_header_is_refused_before_its_payload_is_waited_for():
    for header in (bytes((0x89, 126)) + struct.pack("!H", 60_000),  # a 60 KB ping
                   bytes((0xC2, 127)) + struct.pack("!Q", 10_000_000),  # RSV bits on a 10 MB frame
                   bytes((0x8B, 126)) + struct.pack("!H", 1000)):  # reserved opcode
        parser = FrameParser()
        with pytest.raises(FrameError):
            parser.feed(header)  # nothing of the payload has arrived yet


def test_fragmented_message_over_the_limit_is_refused_at_the_header_of_the_fragment_that_crosses_it():
    parser = FrameParser(max_message_bytes=1000)
    assert parser.feed(frame(OP_TEXT, b"a" * 600, fin=False)) == []
    with pytest.raises(FrameError, match="fragmented message exceeds"):
        parser.feed(bytes((0x80, 126)) + struct.pack("!H", 600))  # only the next fragment's header arrived
    parser = FrameParser()
    parser.feed(frame(OP_TEXT, b"a", fin=False))
    with pytest.raises(FrameError, match="new message began"):
        parser.feed(bytes((0x81, 126)) + struct.pack("!H", 300))  # a final text frame inside a fragmented one
