"""One WebSocket connection's reader thread, shared by the feed actors.

The thread connects, sends the subscriptions, then reads the socket up to 64 KiB at a time
(core/kraken/ws.py `recv_many`: every complete message of one read) and stamps the messages of a read
with that read's receive time (ns). Then, one of two ways:

- `deliver` given (the market-data feeds): the reader calls `deliver(frames)` itself, in this thread,
  for every read: decoding and handing the frames on happen here, so a frame crosses one thread
  boundary (reader -> state holder) instead of two, and the owning actor's thread stays free for
  control (reconnects, watchdog, resubscribes). The idle watchdog is fed from here.
- otherwise: the frames go to the connection's queue and the owning actor gets one `FramesReady`
  doorbell per burst (the actor clears `doorbell_pending` before it drains, so a frame appended while it
  drains rings again); the queue is bounded by `max_backlog` (over it the connection is dropped and
  resynced).

Connection end and failures arrive as `ConnectionLost`. A reader whose actor is gone (stopped, crashed,
or replaced while hung: the `alive` predicate) delivers nothing more, closes its socket and ends.
Connection ids come from one process-wide counter, so they also name a stream of batches.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from kraken_runtime.core.feed_policy import IdleWatchdog
from kraken_runtime.core.kraken.ws import WsClosed, WsConnection, WsTimeout, connect
from kraken_runtime.core.marketdata import ConnectionLost, ConnectionOpened, FramesReady


_connection_ids = itertools.count(1)
DELIVER_BATCH_FRAMES = 8192  # deliver mode: frames read back to back go on together, at most this many (measured: ops/bench/ingest.py)


def next_connection_id() -> int:
    """A connection id unique in this process (ids are never reused, not even by a restarted actor)."""
    return next(_connection_ids)


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
              watchdog: IdleWatchdog, thread_name: str, deliver: Callable[[list[tuple[int, Any]]], None] | None = None,
              monotonic_s: Callable[[], float] = time.monotonic, alive: Callable[[], bool] | None = None) -> None:
        self.conn_id = conn_id
        self.stop = threading.Event()
        self.frames = deque()
        self.doorbell_pending = False
        self.open = False
        self.watchdog = watchdog
        self.attempts += 1
        self.thread = threading.Thread(
            target=_read, args=(self, ref, conn_id, url, subscriptions, connect_timeout_s, self.stop, deliver, watchdog,
                                monotonic_s, alive or ref.is_alive),
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


def _tell(ref: Any, message: Any) -> bool:
    try:
        ref.tell(message)
        return True
    except Exception:  # noqa: BLE001 - pykka.ActorDeadError: the actor is gone, the reader ends
        return False


def _read(conn: Connection, ref: Any, conn_id: int, url: str, subscriptions: Callable[[], list[str]],
          connect_timeout_s: float, stop: threading.Event, deliver: Any, watchdog: IdleWatchdog,
          monotonic_s: Callable[[], float], alive: Callable[[], bool]) -> None:
    """The reader thread's body: whatever ends it unexpectedly is reported, so the actor reconnects."""
    try:
        _read_loop(conn, ref, conn_id, url, subscriptions, connect_timeout_s, stop, deliver, watchdog, monotonic_s, alive)
    except BaseException as exc:  # noqa: BLE001 - a reader must never die silently
        if not stop.is_set():
            _tell(ref, ConnectionLost(channel=conn.channel, conn_id=conn_id, reason=f"reader failed: {type(exc).__name__}: {exc}"))
        ws = conn.ws
        if ws is not None:
            ws.close()


def _read_loop(conn: Connection, ref: Any, conn_id: int, url: str, subscriptions: Callable[[], list[str]],
               connect_timeout_s: float, stop: threading.Event, deliver: Any, watchdog: IdleWatchdog,
               monotonic_s: Callable[[], float], alive: Callable[[], bool]) -> None:
    """`subscriptions()` runs here, off the actor (it may fetch a WS token over REST, with retries)."""
    channel = conn.channel
    try:
        frames_to_send = subscriptions()
    except Exception as exc:  # noqa: BLE001 - reported as a failed attempt; the actor backs off and retries
        _tell(ref, ConnectionLost(channel=channel, conn_id=conn_id, reason=f"preparing subscriptions: {type(exc).__name__}: {exc}"))
        return
    try:
        ws = connect(url, timeout_s=connect_timeout_s, recv_timeout_s=0.5)
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
    batch: list[tuple[int, Any]] = []  # deliver mode: read, not yet handed on
    clock_ns = time.time_ns
    reason = "stopped"
    max_backlog = conn.max_backlog
    while not stop.is_set():
        try:
            payloads = ws.recv_many()
        except WsTimeout:
            if not alive():
                reason = "actor gone"
                break
            payloads = None
        except WsClosed as exc:
            reason = str(exc)
            if batch and not stop.is_set() and alive():
                watchdog.frame(monotonic_s())
                deliver(batch)  # received before the connection ended: still valid
            break
        if deliver is not None:
            if payloads:
                now_ns = clock_ns()  # every message of one read arrived with it
                batch.extend([(now_ns, payload) for payload in payloads])
            # Hand on what was read once the socket has nothing more right now (so a frame waits for no
            # other, also after a read that held only a ping or part of a frame), or once a batch is
            # large: under load batches grow and per-batch costs shrink.
            if batch and (len(batch) >= DELIVER_BATCH_FRAMES or not ws.readable_now()):
                if stop.is_set() or not alive():  # closed, or the actor crashed or was replaced: never deliver
                    reason = "actor gone" if not stop.is_set() else reason
                    break
                watchdog.frame(monotonic_s())
                deliver(batch)
                batch = []
            continue
        if not payloads:
            continue
        now_ns = clock_ns()  # every message of one read arrived with it
        frames.extend([(now_ns, payload) for payload in payloads])
        if len(frames) > max_backlog:
            # The actor cannot keep up: rather than grow without bound (and decide on ever older data),
            # drop the connection; the reconnect starts every book from a fresh snapshot.
            reason = f"backlog over {max_backlog} frames: the consumer cannot keep up"
            break
        if not conn.doorbell_pending:
            conn.doorbell_pending = True
            if not alive() or not _tell(ref, FramesReady(channel=channel, conn_id=conn_id)):
                reason = "actor gone"
                break
    ws.close()
    if not stop.is_set():
        _tell(ref, ConnectionLost(channel=channel, conn_id=conn_id, reason=reason))
