"""The recording line format of `kraken-runtime record` (core/recording.py)."""

from __future__ import annotations

import json

import pytest

from kraken_runtime.core.recording import RecordedFrame, RecordingError, decode_line, encode_line, is_recording, read_recording

BOOK = '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":63005.0,"qty":0.00005100}],"asks":[],"checksum":123,"timestamp":"2024-01-01T00:00:00.000000Z"}]}'


def test_encode_when_frame_is_compact_json_then_line_embeds_it_verbatim_and_parses_as_json() -> None:
    line = encode_line(17, BOOK)
    assert line == '{"recv_ns":17,"frame":' + BOOK + "}\n"
    assert json.loads(line)["frame"]["channel"] == "book"


def test_decode_when_line_was_encoded_then_frame_text_is_byte_identical() -> None:
    assert decode_line(encode_line(1732240000123456789, BOOK)) == RecordedFrame(recv_ns=1732240000123456789, frame=BOOK)


@pytest.mark.parametrize("frame", ["not json", '{"a":\n1}', '{"s":"x\u2028y"}', "  {\"a\": 1.10}  ", "", '{"a":"\\n"}'])
def test_round_trip_when_frame_is_not_plain_json_then_text_comes_back_exactly_on_one_line(frame: str) -> None:
    line = encode_line(5, frame)
    assert line.endswith("\n") and len(line.splitlines()) == 1
    assert decode_line(line) == RecordedFrame(recv_ns=5, frame=frame)


def test_decode_when_line_is_a_bare_frame_then_returns_none() -> None:
    assert decode_line(BOOK) is None
    assert not is_recording(BOOK + "\n")


def test_decode_when_line_was_reserialized_then_frame_comes_back_compact() -> None:
    line = json.dumps({"frame": {"channel": "heartbeat"}, "recv_ns": 9})
    assert decode_line(line) == RecordedFrame(recv_ns=9, frame='{"channel":"heartbeat"}')


def test_read_when_a_line_is_broken_then_error_names_the_line() -> None:
    text = encode_line(1, BOOK) + '{"recv_ns":2,"frame":{"chan\n'
    assert is_recording(text)
    with pytest.raises(RecordingError, match="line 2"):
        read_recording(text)


def test_encode_when_recv_ns_is_negative_then_raises() -> None:
    with pytest.raises(ValueError):
        encode_line(-1, BOOK)
