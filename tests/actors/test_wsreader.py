"""The reader thread of a connection: it never dies silently, and a closed connection delivers nothing more."""

from __future__ import annotations

import threading

import pytest
from websockets.sync.server import serve

from kraken_runtime.actors import wsreader
from kraken_runtime.actors.wsreader import Connection
from kraken_runtime.core.feed_policy import IdleWatchdog
from kraken_runtime.core.kraken.ws import WsClosed, WsTimeout
from kraken_runtime.core.marketdata import ConnectionLost, ConnectionOpened, FramesReady


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


def test_deliver_mode_hands_every_frame_on_in_order_from_the_reader_thread_and_feeds_the_watchdog():
    release = threading.Event()

    def handler(ws):
        for i in range(500):
            ws.send(f'{{"channel":"heartbeat","n":{i}}}')
        release.wait(5)

    server = serve(handler, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    delivered: list = []
    got_all = threading.Event()
    threads: set = set()

    def deliver(frames):
        threads.add(threading.current_thread().name)
        delivered.extend(frames)
        if len(delivered) >= 500:
            got_all.set()

    clock = [100.0]
    try:
        conn, ref = Connection("public"), FakeRef()
        watchdog = IdleWatchdog(timeout_s=10, last_frame_s=0)
        conn.start(ref=ref, conn_id=9, url=f"ws://127.0.0.1:{server.socket.getsockname()[1]}/v2", subscriptions=lambda: [],
                   connect_timeout_s=2, watchdog=watchdog, thread_name="test-deliver-reader", deliver=deliver, monotonic_s=lambda: clock[0])
        assert got_all.wait(5)
        assert [payload for _, payload in delivered] == [f'{{"channel":"heartbeat","n":{i}}}' for i in range(500)]
        assert all(isinstance(ts, int) for ts, _ in delivered) and threads == {"test-deliver-reader"}
        assert watchdog.last_frame_s == 100.0
        assert not any(isinstance(m, FramesReady) for m in ref.told)  # no doorbells in deliver mode
        conn.close()
        assert not conn.thread.is_alive()
    finally:
        release.set()
        server.shutdown()
        thread.join(5)


class ScriptedWs:
    """Stands in for core/kraken/ws.WsConnection: each recv_many() plays the next step of a script."""

    def __init__(self, steps, readable) -> None:
        self.steps = list(steps)
        self.readable = list(readable)
        self.exhausted = threading.Event()

    def send(self, text) -> None:
        pass

    def recv_many(self):
        if not self.steps:
            self.exhausted.set()
            raise WsClosed("script over")
        step = self.steps.pop(0)
        if step == "timeout":
            raise WsTimeout("x")
        return step

    def readable_now(self) -> bool:
        return self.readable.pop(0) if self.readable else False

    def close(self) -> None:
        pass


@pytest.mark.parametrize("second", [[], "timeout"], ids=["a read with only a ping", "a receive timeout"])
def test_deliver_mode_never_holds_a_frame_back_behind_a_read_without_messages(monkeypatch, second):
    """Frame A arrives while more bytes wait in the socket (so it is held for them); the next read brings no
    message (a ping, part of a frame) or times out: A goes on then, not with the next data frame."""
    deliveries: list = []
    ws = ScriptedWs(steps=[["A"], second, ["B"]], readable=[True, False, False])
    monkeypatch.setattr(wsreader, "connect", lambda *args, **kwargs: ws)
    conn, ref = Connection("public"), FakeRef()
    conn.start(ref=ref, conn_id=3, url="ws://127.0.0.1:9/v2", subscriptions=lambda: [], connect_timeout_s=2,
               watchdog=IdleWatchdog(timeout_s=10, last_frame_s=0), thread_name="test-scripted-reader",
               deliver=lambda frames: deliveries.append([payload for _, payload in frames]))
    assert ws.exhausted.wait(5)
    conn.thread.join(5)
    assert deliveries == [["A"], ["B"]]


def test_reader_of_an_actor_that_is_gone_delivers_nothing_more(monkeypatch):
    deliveries: list = []
    alive = threading.Event()
    alive.set()
    ws = ScriptedWs(steps=[["A"], ["B"], ["C"]], readable=[False, False, False])
    original = ws.recv_many

    def recv_many():
        frames = original()
        if frames == ["B"]:
            alive.clear()  # the feed actor crashed (or was replaced while hung) before B was handed on
        return frames

    ws.recv_many = recv_many
    monkeypatch.setattr(wsreader, "connect", lambda *args, **kwargs: ws)
    conn, ref = Connection("public"), FakeRef()
    conn.start(ref=ref, conn_id=4, url="ws://127.0.0.1:9/v2", subscriptions=lambda: [], connect_timeout_s=2,
               watchdog=IdleWatchdog(timeout_s=10, last_frame_s=0), thread_name="test-orphan-reader",
               deliver=lambda frames: deliveries.append([payload for _, payload in frames]), alive=alive.is_set)
    conn.thread.join(5)
    assert not conn.thread.is_alive()
    assert deliveries == [["A"]]
    lost = [m for m in ref.told if isinstance(m, ConnectionLost)]
    assert lost and lost[-1].reason == "actor gone"
