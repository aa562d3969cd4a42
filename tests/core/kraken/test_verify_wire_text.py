"""core.kraken.verify on the daemon's wire-text path: book lines in Kraken's own layout are read as
BookFrameText and applied from their text; any other line takes the exact JSON path; both feed one book."""

from __future__ import annotations

import json

import pytest

from kraken_runtime.core.kraken.book import BookFrameText
from kraken_runtime.core.kraken.verify import CaptureError, read_capture, verify_capture_text

CAPTURE = "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl"


def _lines(kraken_data) -> list[str]:
    return (kraken_data / "captures" / CAPTURE).read_text().splitlines()


def test_read_capture_when_book_lines_are_canonical_then_they_stay_wire_text(kraken_data):
    frames = read_capture("c", "\n".join(_lines(kraken_data)))
    books = [f for f in frames if isinstance(f.message, BookFrameText)]
    others = [f for f in frames if not isinstance(f.message, BookFrameText)]
    assert len(books) == 301 and others and all(isinstance(f.message, dict) for f in others)
    assert frames[0].location == "line 1"


def test_verify_when_canonical_and_reserialized_lines_mix_then_one_book_checks_them_all(kraken_data):
    lines = _lines(kraken_data)
    mixed = [json.dumps(json.loads(line)) if i % 3 == 0 and '"channel":"book"' in line else line
             for i, line in enumerate(lines)]  # every third book line re-serialized with spaces
    assert any(line.startswith('{"channel": "book"') for line in mixed)
    # the re-serialized numbers lost their trailing zeros: hash at BTC/USD's precision
    report = verify_capture_text("mixed", "\n".join(mixed), precisions={"BTC/USD": (1, 8)})
    (stream,) = report.streams
    assert report.ok and stream.checked == stream.matched == 301 and stream.resyncs == 4


def test_verify_when_a_canonical_line_carries_a_wrong_checksum_then_its_line_is_named(kraken_data):
    lines = _lines(kraken_data)
    index = next(i for i, line in enumerate(lines) if line.startswith('{"channel":"book","type":"update"'))
    start = lines[index].index('"checksum":') + len('"checksum":')
    end = lines[index].index(",", start)
    wrong = (int(lines[index][start:end]) + 1) % 2**32
    lines[index] = lines[index][:start] + str(wrong) + lines[index][end:]
    (stream,) = verify_capture_text("bad", "\n".join(lines)).streams
    assert stream.mismatched == 1 and stream.matched == 300
    assert stream.first_mismatch.startswith(f"line {index + 1}: expected {wrong}, computed ")


def test_verify_when_updates_precede_the_first_snapshot_then_they_are_unchecked(kraken_data):
    lines = [line for line in _lines(kraken_data) if line.startswith('{"channel":"book"')]
    first_snapshot = next(i for i, line in enumerate(lines) if '"type":"snapshot"' in line)
    text = "\n".join(lines[first_snapshot + 1:first_snapshot + 4] + lines[first_snapshot:])
    (stream,) = verify_capture_text("early", text).streams
    assert stream.unchecked == 3 and stream.mismatched == 0 and stream.checked == len(lines) - first_snapshot


def test_verify_when_an_instrument_frame_arrives_then_the_wire_text_path_hashes_at_its_precision(kraken_data):
    lines = _lines(kraken_data)
    instrument = json.dumps({"channel": "instrument", "type": "snapshot", "data": {"assets": [], "pairs": [
        {"symbol": "BTC/USD", "price_precision": 1, "qty_precision": 8}]}})
    report = verify_capture_text("inst", "\n".join([instrument, *lines]))
    (stream,) = report.streams
    assert report.ok and stream.precision == "1/8" and stream.matched == 301


def test_verify_when_a_book_line_has_a_zero_price_then_capture_error_names_line_and_field():
    snapshot = ('{"channel":"book","type":"snapshot","data":[{"symbol":"X/Y","bids":[{"price":0.0,"qty":1.0}],'
                '"asks":[],"checksum":1}]}')
    with pytest.raises(CaptureError, match=r"bad: line 2: book snapshot: 'price' is not a positive number"):
        verify_capture_text("bad", '{"channel":"heartbeat"}\n' + snapshot + "\n")
