"""The reader thread of a connection: it never dies silently, and a closed connection delivers nothing more."""

from __future__ import annotations

import threading

import pytest

from actors import wsreader
from actors.wsreader import Connection
from core.feed_policy import IdleWatchdog
from core.marketdata import ConnectionLost, ConnectionOpened, FramesReady


class FakeRef:
    def __init__(self) -> None:
        self.told: list = []
        self.event = threading.Event()

    def tell(self, message) -> None:
        self.told.append(message)
        self.event.set()

    def is_alive(self) -> bool:
        return True


def start(conn: Connection, ref: FakeRef, url: str = "ws://127.0.0.1:9/v2", conn_id: int = 1) -> None:
    conn.start(ref=ref, conn_id=conn_id, url=url, subscriptions=lambda: [], connect_timeout_s=2,
               watchdog=IdleWatchdog(timeout_s=10, last_frame_s=0), thread_name="test-reader")


def test_reader_that_fails_unexpectedly_reports_and_can_be_started_again(monkeypatch):
    def broken_connect(*args, **kwargs):
        raise RuntimeError("bug in the connect path")

    monkeypatch.setattr(wsreader, "connect", broken_connect)
    conn, ref = Connection("public"), FakeRef()
    start(conn, ref)
    assert ref.event.wait(5)
    conn.thread.join(5)
    (lost,) = ref.told
    assert isinstance(lost, ConnectionLost) and "RuntimeError" in lost.reason and lost.conn_id == 1
    assert conn.can_start(now_s=conn.next_attempt_s)  # dead without being stopped: it may start again


def test_closed_connection_forgets_late_frames_and_its_id():
    from websockets.sync.server import serve

    release = threading.Event()

    def handler(ws):
        for _ in range(50):
            ws.send('{"channel":"heartbeat"}')
        release.wait(5)

    server = serve(handler, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn, ref = Connection("public"), FakeRef()
        start(conn, ref, url=f"ws://127.0.0.1:{server.socket.getsockname()[1]}/v2", conn_id=7)
        deadline = threading.Event()
        for _ in range(500):
            if any(isinstance(m, FramesReady) for m in ref.told):
                break
            deadline.wait(0.01)
        assert any(isinstance(m, ConnectionOpened) and m.conn_id == 7 for m in ref.told)
        conn.close()
        assert conn.conn_id == 0 and len(conn.frames) == 0
        assert not conn.thread.is_alive()
    finally:
        release.set()
        server.shutdown()
        thread.join(5)
