"""verify-capture reads `kraken-runtime record` recordings (core/recording.py) like the captures they wrap."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kraken_runtime.core.kraken.verify import CaptureError, read_capture, verify_capture_text
from kraken_runtime.core.recording import encode_line

CAPTURE = "ws_v2_book_BTCUSD_depth10_with_resubscribes.jsonl"


def as_recording(text: str) -> str:
    return "".join(encode_line(1_000 + i, line) for i, line in enumerate(text.splitlines()) if line.strip())


def test_verify_when_capture_is_wrapped_as_recording_then_report_equals_the_bare_capture(captures_dir: Path) -> None:
    text = (captures_dir / CAPTURE).read_text()
    bare = verify_capture_text("bare", text)
    recorded = verify_capture_text("recorded", as_recording(text))
    assert recorded.ok and recorded.checked == 301
    assert [s.as_dict() for s in recorded.streams] == [s.as_dict() for s in bare.streams]
    assert recorded.frames_read == bare.frames_read


def test_verify_when_recorded_book_frame_is_corrupted_then_reports_the_mismatch(captures_dir: Path) -> None:
    lines = (captures_dir / CAPTURE).read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"type":"update"' in line and '"checksum":' in line)
    lines[index] = re.sub(r'"checksum":(\d+)', lambda m: f'"checksum":{(int(m.group(1)) + 1) % 2**32}', lines[index], count=1)
    report = verify_capture_text("recorded", as_recording("\n".join(lines)))
    assert not report.ok
    assert report.streams[0].first_mismatch.startswith(f"line {index + 1}:")


def test_read_when_a_recording_line_is_truncated_then_capture_error_names_the_line() -> None:
    text = encode_line(1, '{"channel":"heartbeat"}') + '{"recv_ns":2,"frame":{"channel":"hea\n'
    with pytest.raises(CaptureError, match="line 2"):
        read_capture("rec", text)
