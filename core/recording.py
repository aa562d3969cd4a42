"""The recording format of `kraken-runtime record`: raw WS frames with their receive times (pure).

One line per received frame, `\\n`-terminated, in one of two forms:

    {"recv_ns":1732240000123456789,"frame":<the frame's text, verbatim>}
    {"recv_ns":1732240000123456789,"text":"<the frame's text as a JSON string>"}

The first form embeds the frame exactly as it arrived: no escaping, so every number keeps its wire text
and the line is still one valid JSON object any reader can parse. It is used whenever the frame is a
valid JSON document without line breaks (every Kraken WS v2 frame). Anything else (a frame that is not
JSON, or holds a line separator) takes the second form, an ASCII JSON string that decodes back to the
same text. `recv_ns` is the receive time in integer nanoseconds since the epoch (wall clock).

`decode_line` takes the exact prefix as written and slices the frame out, so the frame's bytes come
back unchanged; a line that was re-serialized by another tool (spaces, other key order) still decodes,
through a JSON parse, but then the frame is re-encoded compactly rather than byte-exact.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import orjson

__all__ = ["RecordedFrame", "encode_line", "decode_line", "is_recording", "read_recording", "RecordingError"]

_PREFIX = '{"recv_ns":'
_EXACT = re.compile(r'\{"recv_ns":(0|[1-9][0-9]*),"(frame|text)":')
# Characters str.splitlines() (and so some readers) treat as line ends; a frame holding one is escaped.
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


class RecordingError(ValueError):
    """A line that claims to be a recording line but is not one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedFrame:
    recv_ns: int
    frame: str  # the frame's text as received


def encode_line(recv_ns: int, frame: str | bytes) -> str:
    """One recording line (with its trailing newline) for a frame received at `recv_ns`."""
    if isinstance(frame, bytes):
        frame = frame.decode("utf-8", errors="replace")
    if type(recv_ns) is not int or recv_ns < 0:
        raise ValueError(f"recv_ns must be a non-negative int, got {recv_ns!r}")
    if not _LINE_BREAKS.search(frame):
        try:
            orjson.loads(frame)
        except orjson.JSONDecodeError:
            pass
        else:
            return f'{_PREFIX}{recv_ns},"frame":{frame}}}\n'
    return f'{_PREFIX}{recv_ns},"text":{json.dumps(frame, ensure_ascii=True)}}}\n'


def is_recording(text: str) -> bool:
    """True when the first non-blank line of `text` is a recording line."""
    for line in text.split("\n", 64):
        stripped = line.strip()
        if stripped:
            return stripped.startswith(_PREFIX) or _looks_reserialized(stripped)
    return False


def _looks_reserialized(line: str) -> bool:
    if not line.startswith("{") or "\"recv_ns\"" not in line:
        return False
    try:
        value = json.loads(line)
    except ValueError:
        return False
    return isinstance(value, dict) and "recv_ns" in value and ("frame" in value or "text" in value)


def decode_line(line: str) -> RecordedFrame | None:
    """The frame on a recording line; None for a line that is not one (e.g. a bare frame); raises
    RecordingError for a line that starts like one but is malformed."""
    line = line.rstrip("\r\n")
    match = _EXACT.match(line)
    if match is not None and line.endswith("}"):
        recv_ns = int(match.group(1))
        body = line[match.end():-1]
        if match.group(2) == "frame":
            return RecordedFrame(recv_ns=recv_ns, frame=body)
        try:
            text = json.loads(body)
        except ValueError:
            text = None
        if isinstance(text, str):
            return RecordedFrame(recv_ns=recv_ns, frame=text)
        raise RecordingError("the 'text' of a recording line is not a JSON string")
    stripped = line.strip()
    if not stripped.startswith("{") or "\"recv_ns\"" not in stripped:
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        if stripped.startswith(_PREFIX):
            raise RecordingError("a recording line that is not JSON") from None
        return None
    if not isinstance(value, dict) or "recv_ns" not in value:
        return None
    recv_ns = value["recv_ns"]
    if type(recv_ns) is not int or recv_ns < 0:
        raise RecordingError("'recv_ns' is not a non-negative integer")
    if "text" in value and isinstance(value["text"], str):
        return RecordedFrame(recv_ns=recv_ns, frame=value["text"])
    if "frame" in value:
        # re-serialized by another tool: the frame comes back compact, not byte-exact
        return RecordedFrame(recv_ns=recv_ns, frame=json.dumps(value["frame"], separators=(",", ":"), ensure_ascii=False))
    raise RecordingError("a recording line without 'frame' or 'text'")


def read_recording(text: str) -> list[tuple[int, RecordedFrame]]:
    """(1-based line number, frame) for every non-blank line; raises RecordingError naming the line."""
    out: list[tuple[int, RecordedFrame]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            recorded = decode_line(line)
        except RecordingError as error:
            raise RecordingError(f"line {number}: {error}") from None
        if recorded is None:
            raise RecordingError(f"line {number}: not a recording line (expected {{\"recv_ns\":N,\"frame\":...}})")
        out.append((number, recorded))
    return out
