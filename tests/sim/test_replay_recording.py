"""`sim --replay` serves a `kraken-runtime record` recording byte for byte, paced by its receive times."""

from __future__ import annotations

import time
from pathlib import Path

import websocket

from kraken_runtime.core.recording import encode_line
from kraken_runtime.sim_server.app import start_sim
from kraken_runtime.sim_server.replay import ReplayHandler, load_capture

STATUS = '{"channel":"status","type":"update","data":[{"version":"2.0.10","system":"online","api_version":"v2","connection_id":1}]}'


def write_recording(path: Path, frames: list[tuple[int, str]]) -> None:
    path.write_text("".join(encode_line(ns, frame) for ns, frame in frames))


def test_load_when_file_is_a_recording_then_frames_are_the_raw_text_and_times_the_receive_times(tmp_path: Path) -> None:
    frames = [(10, STATUS), (20, '{"channel":"heartbeat"}'), (35, '{"a": 1.10 }')]
    write_recording(tmp_path / "r.jsonl", frames)
    capture = load_capture(tmp_path / "r.jsonl")
    assert list(capture) == [frame for _, frame in frames]
    assert ReplayHandler(capture).times == [10, 20, 35]


def test_replay_when_recording_served_then_frames_arrive_byte_identical_and_paced_by_recv_ns(tmp_path: Path) -> None:
    gap_ns = 400_000_000  # 0.4 s between the two frames, replayed at 2x: >= 0.2 s apart
    book = '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":63005.0,"qty":0.00005100}],"asks":[],"checksum":1,"timestamp":"2024-01-01T00:00:00.000000Z"}]}'
    ack = '{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2024-01-01T00:00:00.000000Z","time_out":"2024-01-01T00:00:00.000000Z"}'
    frames = [(1_000, STATUS), (2_000, ack), (2_000 + gap_ns, book)]
    write_recording(tmp_path / "r.jsonl", frames)
    handle = start_sim(replay=str(tmp_path / "r.jsonl"), speed=2.0)
    try:
        ws = websocket.create_connection(handle.endpoints["ws_public"], timeout=5)
        try:
            assert ws.recv() == STATUS
            ws.send('{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"]}}')
            assert ws.recv() == ack
            sent = time.monotonic()
            assert ws.recv() == book
            assert time.monotonic() - sent >= 0.9 * gap_ns / 1e9 / 2.0
        finally:
            ws.close()
    finally:
        handle.stop()
