"""One WebSocket connection's reader thread, shared by the feed actors.

The thread connects, sends the subscriptions, then receives frames, stamps each with its receive time
(ns) and appends it to the connection's queue; it tells the owning actor one `FramesReady` doorbell per
burst, so under load one `tell` carries many frames. The actor clears `doorbell_pending` before it
drains, so a frame appended while it drains rings again. Connection end and failures arrive as
`ConnectionLost`; a reader whose actor is gone closes its socket and ends.

Reads are buffered (`buffer_reads`): websocket-client asks the socket for exactly the bytes it needs
next (header, extended length, payload: three `recv` system calls per frame), which is most of its cost
under load (ops/bench/ingest.py, docs/PERFORMANCE.md "Ingest"); the reader's sockets instead read up to
64 KiB at a time and hand websocket-client slices of that.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from core.feed_policy import IdleWatchdog
from core.kraken.ws import WsClosed, WsConnection, WsTimeout, connect
from core.marketdata import ConnectionLost, ConnectionOpened, FramesReady


@dataclass(eq=False)
class Connection:
    channel: str
    conn_id: int = 0
    ws: WsConnection | None = None
    thread: threading.Thread | None = None
    frames: deque = field(default_factory=deque)
    doorbell_pending: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    open: bool = False
    failures: int = 0
    attempts: int = 0
    next_attempt_s: float = 0.0
    watchdog: IdleWatchdog | None = None
    max_backlog: int = 100_000  # frames waiting for the actor before the connection is dropped and resynced

    def start(self, *, ref: Any, conn_id: int, url: str, subscriptions: Callable[[], list[str]], connect_timeout_s: float,
              watchdog: IdleWatchdog, thread_name: str) -> None:
        self.conn_id = conn_id
        self.stop = threading.Event()
        self.frames = deque()
        self.doorbell_pending = False
        self.open = False
        self.watchdog = watchdog
        self.attempts += 1
        self.thread = threading.Thread(
            target=_read, args=(self, ref, conn_id, url, subscriptions, connect_timeout_s, self.stop),
            name=thread_name, daemon=True,
        )
        self.thread.start()

    def can_start(self, now_s: float) -> bool:
        """Not open, its backoff has passed, and no reader of it is still running (a reader that died
        without being stopped counts as gone too)."""
        return not self.open and now_s >= self.next_attempt_s and (self.thread is None or not self.thread.is_alive())

    def take_frames(self) -> list[tuple[int, Any]]:
        self.doorbell_pending = False  # first: a frame appended from now on rings again
        frames = self.frames
        taken = []
        while frames:
            taken.append(frames.popleft())
        return taken

    def close(self) -> None:
        self.stop.set()
        self.open = False
        ws, self.ws = self.ws, None
        if ws is not None:
            ws.close()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)
        # Whatever the reader delivered while closing belongs to a connection already declared gone:
        # forget it, and make its late doorbells and reports (same id) no longer match.
        self.frames.clear()
        self.conn_id = 0

    def send(self, text: str) -> None:
        ws = self.ws
        if ws is None:
            raise WsClosed(f"{self.channel}: not connected")
        ws.send(text)


READ_CHUNK_BYTES = 65536


def buffer_reads(ws: Any) -> None:
    """Make a websocket-client `WebSocket` read its socket in chunks of up to READ_CHUNK_BYTES.

    Its frame parser calls `recv(n)` and accepts fewer bytes than asked; this hands it slices of one
    larger read. Timeouts and closed sockets still come from websocket-client's own `_recv` (it raises
    WebSocketTimeoutException / WebSocketConnectionClosedException), so nothing else changes. If this
    websocket-client lacks the internals it relies on, reads stay unbuffered (slower, still correct)."""
    frame_buffer = getattr(ws, "frame_buffer", None)
    raw_recv = getattr(ws, "_recv", None)
    if frame_buffer is None or raw_recv is None or not hasattr(frame_buffer, "recv"):
        return
    state = [b"", 0]  # buffer, read position

    def recv(bufsize: int) -> bytes:
        buf, pos = state
        if pos >= len(buf):
            buf, pos = raw_recv(READ_CHUNK_BYTES), 0
            state[0] = buf
        end = pos + bufsize
        state[1] = end
        if pos == 0 and end >= len(buf):
            return buf
        return buf[pos:end]

    ws.frame_buffer.recv = recv


def _tell(ref: Any, message: Any) -> bool:
    try:
        ref.tell(message)
        return True
    except Exception:  # noqa: BLE001 - pykka.ActorDeadError: the actor is gone, the reader ends
        return False


def _read(conn: Connection, ref: Any, conn_id: int, url: str, subscriptions: Callable[[], list[str]],
          connect_timeout_s: float, stop: threading.Event) -> None:
    """The reader thread's body: whatever ends it unexpectedly is reported, so the actor reconnects."""
    try:
        _read_loop(conn, ref, conn_id, url, subscriptions, connect_timeout_s, stop)
    except BaseException as exc:  # noqa: BLE001 - a reader must never die silently
        if not stop.is_set():
            _tell(ref, ConnectionLost(channel=conn.channel, conn_id=conn_id, reason=f"reader failed: {type(exc).__name__}: {exc}"))
        ws = conn.ws
        if ws is not None:
            ws.close()


def _read_loop(conn: Connection, ref: Any, conn_id: int, url: str, subscriptions: Callable[[], list[str]],
               connect_timeout_s: float, stop: threading.Event) -> None:
    """`subscriptions()` runs here, off the actor (it may fetch a WS token over REST, with retries)."""
    channel = conn.channel
    try:
        frames_to_send = subscriptions()
    except Exception as exc:  # noqa: BLE001 - reported as a failed attempt; the actor backs off and retries
        _tell(ref, ConnectionLost(channel=channel, conn_id=conn_id, reason=f"preparing subscriptions: {type(exc).__name__}: {exc}"))
        return
    try:
        ws = connect(url, timeout_s=connect_timeout_s, recv_timeout_s=0.5, on_socket=buffer_reads)
    except WsClosed as exc:
        _tell(ref, ConnectionLost(channel=channel, conn_id=conn_id, reason=str(exc)))
        return
    if stop.is_set():
        ws.close()
        return
    conn.ws = ws
    if stop.is_set():  # closed while we connected: close() may not have seen this socket
        ws.close()
        return
    try:
        for text in frames_to_send:
            ws.send(text)
    except WsClosed as exc:
        ws.close()
        _tell(ref, ConnectionLost(channel=channel, conn_id=conn_id, reason=str(exc)))
        return
    if not _tell(ref, ConnectionOpened(channel=channel, conn_id=conn_id)):
        ws.close()
        return
    frames = conn.frames
    clock_ns = time.time_ns
    reason = "stopped"
    max_backlog = conn.max_backlog
    while not stop.is_set():
        try:
            payload = ws.recv()
        except WsTimeout:
            if not ref.is_alive():
                reason = "actor gone"
                break
            continue
        except WsClosed as exc:
            reason = str(exc)
            break
        frames.append((clock_ns(), payload))
        if len(frames) > max_backlog:
            # The actor cannot keep up: rather than grow without bound (and decide on ever older data),
            # drop the connection; the reconnect starts every book from a fresh snapshot.
            reason = f"backlog over {max_backlog} frames: the consumer cannot keep up"
            break
        if not conn.doorbell_pending:
            conn.doorbell_pending = True
            if not _tell(ref, FramesReady(channel=channel, conn_id=conn_id)):
                reason = "actor gone"
                break
    ws.close()
    if not stop.is_set():
        _tell(ref, ConnectionLost(channel=channel, conn_id=conn_id, reason=reason))
