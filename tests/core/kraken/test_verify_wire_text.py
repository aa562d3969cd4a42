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


# ---------------------------------------------- JSON lines replayed as read (raw lines, streamed chunks)


def _interleaved(kraken_data) -> list[str]:
    """Two symbols' book lines interleaved, with a wrong checksum, blank lines, a re-serialized line, an
    update before its snapshot and other frames between them: every branch of the replay loop."""
    first = _lines(kraken_data)
    second = [line.replace('"BTC/USD"', '"XBT/USD"') for line in first if line.startswith('{"channel":"book"')]
    lines: list[str] = []
    for index in range(max(len(first), len(second))):
        lines.extend(first[index:index + 1])
        if index % 7 == 0:
            lines.extend(second[index:index + 3])
        if index % 50 == 0:
            lines.append("")
    index = next(i for i, line in enumerate(lines)
                 if i > 40 and line.startswith('{"channel":"book","type":"update"') and '"BTC/USD"' in line)
    start = lines[index].index('"checksum":') + len('"checksum":')
    end = lines[index].index(",", start)
    lines[index] = lines[index][:start] + str((int(lines[index][start:end]) + 1) % 2**32) + lines[index][end:]
    reserialized = next(i for i in range(index + 5, len(lines)) if lines[i].startswith('{"channel":"book"'))
    lines[reserialized] = json.dumps(json.loads(lines[reserialized]))
    return ['{"channel":"book","type":"update","data":[{"symbol":"XBT/USD","bids":[],"asks":[],"checksum":0}]}',
            *lines]


def _frame_path(name: str, text: str):
    """The same capture replayed from read_capture's Frames (the path without raw lines)."""
    from kraken_runtime.core.kraken.verify import replay

    frames = read_capture(name, text)
    return [stream.as_dict() for stream in replay(name, frames, precisions={"BTC/USD": (1, 8)})], len(frames)


def test_verify_capture_text_equals_the_frame_by_frame_replay_on_an_interleaved_capture(kraken_data):
    text = "\n".join(_interleaved(kraken_data))
    report = verify_capture_text("mix", text, precisions={"BTC/USD": (1, 8)})
    streams, frames_read = _frame_path("mix", text)
    assert [stream.as_dict() for stream in report.streams] == streams and report.frames_read == frames_read
    assert any(stream["mismatched"] for stream in streams) and any(stream["unchecked"] for stream in streams)
    # XBT/USD gets 3 of every 7 lines: its book drifts and mismatches (the tight loop's mismatch branch)
    assert len(streams) == 2 and streams[1]["matched"] == 300 and streams[0]["mismatched"] > 10


@pytest.mark.parametrize("chunk_chars", [64, 1000, 1 << 20])
def test_verify_command_when_streaming_chunks_then_same_report_as_the_whole_text(kraken_data, tmp_path,
                                                                                   monkeypatch, chunk_chars):
    from kraken_runtime.commands import verify_capture
    from kraken_runtime.core.kraken.verify import json_lines_head, verify_capture_lines

    text = "\n".join(_interleaved(kraken_data)) + "\n"
    path = tmp_path / "capture.jsonl"
    path.write_text(text)
    monkeypatch.setattr(verify_capture, "_CHUNK_CHARS", chunk_chars)
    with path.open(encoding="utf-8") as handle:
        head = handle.read(chunk_chars)
        assert json_lines_head(head) == (chunk_chars >= 1000)  # 64: the first line does not fit in the head
        lines = list(verify_capture._numbered_lines(handle, head))
    assert lines == list(enumerate(text.split("\n"), start=1))
    streamed = verify_capture_lines("c", iter(lines), precisions={"BTC/USD": (1, 8)})
    whole = verify_capture_text("c", text, precisions={"BTC/USD": (1, 8)})
    assert streamed.as_dict() == whole.as_dict()
    out, err = _Capture(), _Capture()
    args = verify_capture.build_parser().parse_args(["--json", "--precision", "BTC/USD=1/8", str(path)])
    assert verify_capture.run(args, out, err) == 1 and not err.text  # the wrong checksum: exit 1
    document = json.loads(out.text)
    assert document["files"][0]["streams"] == [stream.as_dict() for stream in whole.streams]


class _Capture:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        return None


@pytest.mark.parametrize("head, expected", [
    ('{"channel":"heartbeat"}\n{"channel":"heartbeat"}', True),
    ('\n\n{"channel":"heartbeat"}\n{"a"', True),  # the first line decides; the rest is read as it comes
    ('{"channel":"heartbeat"}\n', False),  # one JSON value: read whole
    ('{"channel":"heartbeat"}\n   \n', False),
    ('[\n{"channel":"heartbeat"}\n]', False),  # a pretty-printed array
    ('{"channel":"heartbeat"', False),  # the first line does not fit in the head
    ('{"recv_ns":1,"frame":"{}"}\n{"recv_ns":2,"frame":"{}"}', False),  # a recording
    ("", False),
])
def test_json_lines_head_when_the_start_of_a_capture_is_seen_then_streams_only_json_lines(head, expected):
    from kraken_runtime.core.kraken.verify import json_lines_head

    assert json_lines_head(head) is expected
