"""Replay a recorded capture on the public endpoint (`/v2`), at 1x or Nx speed.

Formats (the ones verify-capture reads): JSON lines, one raw frame per line (sent byte for byte,
without the line end), one JSON document `{"init": snapshot, "updates": [...]}` (each frame sent
as compact JSON with every number's text exactly as in the file), or a recording of `kraken-runtime
record` (`{"recv_ns": N, "frame": <raw frame>}` per line, core/recording.py: each frame sent byte for
byte as it was received).

Per connection: the capture's leading `status` frames are sent on connect; the rest streams from the
first `subscribe` request on, paced by the frames' own times divided by `speed`: a recording's receive
times (`recv_ns`), else the data's `timestamp`, else `time_in`/`time_out`. If the capture holds no subscribe acks, the server answers
the subscribe itself. `ping` is answered with `pong`. After the last frame the socket stays open
(heartbeats continue every second).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from kraken_runtime.core.recording import RecordingError, is_recording, read_recording
from kraken_runtime.sim_server import wsproto
from kraken_runtime.sim_server.jsontext import Num, dumps
from kraken_runtime.sim_server.transport import ServerWsConnection


def _parse_exact(text: str):
    return json.loads(text, parse_float=Num, parse_int=lambda s: int(s))


class Capture(list):
    """A capture's frames (a list of str); `recv_ns` holds a recording's receive times, one per frame
    (None for captures without them)."""

    recv_ns: list[int] | None = None


def load_capture(path: str | Path) -> list[str]:
    """The capture's frames as text (a `Capture`). Raises OSError (unreadable) or ValueError (not a capture)."""
    text = Path(path).read_text(encoding="utf-8")
    if is_recording(text):
        try:
            recorded = read_recording(text)
        except RecordingError as exc:
            raise ValueError(str(exc)) from None
        if not recorded:
            raise ValueError("no frames in capture")
        capture = Capture(item.frame for _, item in recorded)
        capture.recv_ns = [item.recv_ns for _, item in recorded]
        return capture
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n" in stripped.strip():
        try:
            doc = _parse_exact(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and "init" in doc and "updates" in doc:
            return [dumps(doc["init"])] + [dumps(update) for update in doc["updates"]]
    if stripped.startswith("{"):
        try:
            doc = _parse_exact(text)
            if isinstance(doc, dict) and "init" in doc and "updates" in doc:
                return [dumps(doc["init"])] + [dumps(update) for update in doc["updates"]]
        except ValueError:
            pass
    frames = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        try:
            json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {number} is not JSON: {exc}") from None
        frames.append(line)
    if not frames:
        raise ValueError("no frames in capture")
    return frames


def _frame_time_ns(frame: str) -> int | None:
    try:
        message = json.loads(frame)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    data = message.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict) and isinstance(data[0].get("timestamp"), str):
        try:
            return wsproto.parse_rfc3339(data[0]["timestamp"])
        except ValueError:
            return None
    for key in ("time_in", "time_out"):
        if isinstance(message.get(key), str):
            try:
                return wsproto.parse_rfc3339(message[key])
            except ValueError:
                return None
    return None


class ReplayHandler:
    def __init__(self, frames: list[str], speed: float = 1.0) -> None:
        self.frames = frames
        self.speed = speed
        recv_ns = getattr(frames, "recv_ns", None)
        self.times = list(recv_ns) if recv_ns is not None else [_frame_time_ns(f) for f in frames]
        self.lead = 0
        while self.lead < len(frames) and '"channel":"status"' in frames[self.lead].replace(" ", ""):
            self.lead += 1
        self.has_acks = any('"method":"subscribe"' in f.replace(" ", "") for f in frames)
        self.tasks: dict[int, asyncio.Task] = {}
        self.sent_total = 0

    def on_open(self, conn: ServerWsConnection) -> None:
        for frame in self.frames[: self.lead]:
            conn.send(frame)

    def on_close(self, conn: ServerWsConnection) -> None:
        task = self.tasks.pop(conn.id, None)
        if task is not None:
            task.cancel()

    def on_message(self, conn: ServerWsConnection, text: str) -> None:
        time_in = wsproto.clock_ns()
        message, error = wsproto.parse_request(text)
        if message is None:
            conn.send(wsproto.response("", error=error, time_in=time_in, time_out=wsproto.clock_ns()))
            return
        req_id = wsproto.valid_req_id(message)
        if message.get("method") == "ping":
            conn.send(dumps({"method": "pong", **({"req_id": req_id} if req_id is not None else {}),
                             "time_in": wsproto.rfc3339_us(time_in), "time_out": wsproto.rfc3339_us(wsproto.clock_ns())}))
            return
        if message.get("method") == "subscribe" and conn.id not in self.tasks:
            if not self.has_acks:
                raw_params = message.get("params")
                params: dict = raw_params if isinstance(raw_params, dict) else {}
                for symbol in params.get("symbol") or []:
                    result = {"channel": params.get("channel"), "depth": params.get("depth", 10),
                              "snapshot": params.get("snapshot", True), "symbol": symbol}
                    conn.send(wsproto.response("subscribe", req_id=req_id, result=result, time_in=time_in,
                                               time_out=wsproto.clock_ns()))
            self.tasks[conn.id] = asyncio.get_running_loop().create_task(self._stream(conn))

    async def _stream(self, conn: ServerWsConnection) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        first = next((t for t in self.times[self.lead:] if t is not None), None)
        last_sent = loop.time()
        for frame, stamp in zip(self.frames[self.lead:], self.times[self.lead:]):
            if stamp is not None and first is not None:
                due = start + (stamp - first) / 1e9 / self.speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            if conn.closed or not conn.send(frame):
                return
            self.sent_total += 1
            last_sent = loop.time()
        while not conn.closed:
            await asyncio.sleep(max(0.0, last_sent + 1.0 - loop.time()))
            if not conn.send('{"channel":"heartbeat"}'):
                return
            last_sent = loop.time()
