"""The kraken venue's private WebSocket session (Kraken's ws-auth v2): one connection, its reader thread, and
the request/answer handshake the executor's thread uses. Wiring only: the frames are core/kraken/codec.py's,
what they mean for orders is core/execution/kraken_events.py.

- The reader thread fetches a token (REST GetWebSocketsToken, through `token_provider`; kept for
  `token_refresh_s`, and fetched fresh after a refused one), connects, subscribes `executions` (snap_orders,
  snap_trades, order_status) and `balances`, and reads. The session is `up` from the executions snapshot on:
  the snapshot is queued before any request can go out, so the venue reconciles against it first.
- Order reports and balances go to a thread-safe queue that the venue drains on the executor's thread; the
  first item after a drain rings the doorbell (`wake`: a `VenueEventsReady` told to the executor). A `wake`
  that fails (the executor is gone) ends the session.
- `request` (executor's thread): sends one trading request with a fresh req_id and waits, bounded, for its
  answer. No answer in time, or the connection lost while waiting: None (the caller treats the outcome as
  unknown and never sends it again). Not connected, or the send itself failed (a WebSocket frame the server
  did not receive whole is never processed): `SessionDown`, and the caller uses REST instead.
- A connection that ends, or is silent for `idle_timeout_s` (a ping goes out after `ping_interval_s` of
  quiet), is reported (`SessionChanged(up=False)` in the queue), and the thread reconnects after a capped,
  jittered backoff with a fresh token when the old one was refused.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from kraken_runtime.core.kraken import codec
from kraken_runtime.core.kraken import messages as m
from kraken_runtime.core.kraken.wire import DecodeError
from kraken_runtime.core.kraken.ws import WsClosed, WsConnection, WsTimeout, connect

log = logging.getLogger(__name__)

BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 15.0


class SessionDown(ConnectionError):
    """The private WebSocket is not up (or the request could not be written): use REST."""


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """Queued by the reader: the session came up (its executions snapshot follows at once) or went down."""

    up: bool
    generation: int


class _Waiter:
    __slots__ = ("event", "answer")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.answer: m.MethodResponse | None = None


class KrakenWsSession:
    def __init__(self, *, url: str, token_provider: Callable[[], str], connect_timeout_s: float = 5.0,
                 token_refresh_s: float = 600.0, ping_interval_s: float = 10.0, idle_timeout_s: float = 30.0,
                 on_state: Callable[[bool], None] | None = None, monotonic_s: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.url = url
        self.token_provider = token_provider
        self.connect_timeout_s = connect_timeout_s
        self.token_refresh_s = token_refresh_s
        self.ping_interval_s = ping_interval_s
        self.idle_timeout_s = idle_timeout_s
        self.on_state = on_state
        self.monotonic_s = monotonic_s
        self._rng = rng or random.Random()
        self._wake: Callable[[], bool] = lambda: True
        self._lock = threading.Lock()
        self._items: deque[Any] = deque()
        self._doorbell = False
        self._waiters: dict[int, _Waiter] = {}
        self._req_ids = itertools.count(100)  # 1 and 2 are the subscriptions
        self._ws: WsConnection | None = None
        self._up = False
        self._token: tuple[str, float] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.generation = 0
        self.connects = 0  # successful (re)connects, for tests and logs

    # --- lifecycle (executor's thread) --------------------------------------------------------------------

    def start(self, wake: Callable[[], bool]) -> None:
        self._wake = wake
        self._thread = threading.Thread(target=self._run, name="kraken-ws-auth", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            ws, self._ws = self._ws, None
            self._set_up(False)
            self._fail_waiters()
        if ws is not None:
            ws.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.connect_timeout_s + 2)

    @property
    def up(self) -> bool:
        return self._up

    @property
    def token(self) -> str | None:
        cached = self._token
        return cached[0] if cached else None

    def wait_up(self, timeout_s: float) -> bool:
        deadline = self.monotonic_s() + timeout_s
        while not self._up and not self._stop.is_set():
            if self.monotonic_s() >= deadline:
                return False
            time.sleep(0.01)  # start-up only: the reconciliation waits (bounded) for the first snapshot
        return self._up

    # --- the executor's side ------------------------------------------------------------------------------

    def drain(self) -> list[Any]:
        with self._lock:
            self._doorbell = False
            items = list(self._items)
            self._items.clear()
        return items

    def wait_items(self, timeout_s: float) -> bool:
        """Wait (bounded) until something is queued; True when something is."""
        deadline = self.monotonic_s() + timeout_s
        while True:
            with self._lock:
                if self._items:
                    return True
            if self.monotonic_s() >= deadline or self._stop.is_set():
                return False
            time.sleep(0.002)  # waiting on the executor's thread for the report of its own request

    def request(self, build: Callable[[int, str], m.Request], timeout_s: float) -> m.MethodResponse | None:
        """Send `build(req_id, token)` and wait for its answer (see the module docstring)."""
        with self._lock:
            ws, token = self._ws, self.token
            if not self._up or ws is None or token is None:
                raise SessionDown("private WebSocket not connected")
            req_id = next(self._req_ids)
            waiter = self._waiters[req_id] = _Waiter()
        text = codec.encode(build(req_id, token))
        try:
            ws.send(text)
        except WsClosed as exc:
            with self._lock:
                self._waiters.pop(req_id, None)
            raise SessionDown(str(exc)) from None
        answered = waiter.event.wait(timeout_s)
        with self._lock:
            self._waiters.pop(req_id, None)
        return waiter.answer if answered else None

    # --- the reader thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                healthy = self._connect_and_read()
            except Exception as exc:  # noqa: BLE001 - a reader must never die silently: reported, retried
                log.warning("kraken ws session: reader failed: %s: %s", type(exc).__name__, exc)
                healthy = False
            with self._lock:
                ws, self._ws = self._ws, None
                was_up = self._up
                self._set_up(False)
                self._fail_waiters()
            if ws is not None:
                ws.close()
            if was_up:
                self._push(SessionChanged(up=False, generation=self.generation))
            if self._stop.is_set():
                return
            failures = 0 if healthy else failures + 1
            delay = min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * (2 ** min(failures, 6)))
            delay *= 0.5 + self._rng.random() / 2
            self._stop.wait(delay)

    def _connect_and_read(self) -> bool:
        """One connection's life; True when it had been up (the next attempt starts from a short backoff)."""
        token = self._fresh_token()
        ws = connect(self.url, timeout_s=self.connect_timeout_s, recv_timeout_s=0.5)
        with self._lock:
            if self._stop.is_set():
                ws.close()
                return False
            self._ws = ws
        ws.send(codec.encode(m.Subscribe(channel="executions", token=token, snap_orders=True, snap_trades=True,
                                         order_status=True, req_id=1)))
        ws.send(codec.encode(m.Subscribe(channel="balances", token=token, req_id=2)))
        last_frame = last_ping = self.monotonic_s()
        was_up = False
        while not self._stop.is_set():
            try:
                payloads = ws.recv_many()
            except WsTimeout:
                payloads = []
            except WsClosed as exc:
                if not self._stop.is_set():
                    log.warning("kraken ws session: connection lost: %s", exc)
                return was_up
            now = self.monotonic_s()
            if payloads:
                last_frame = now
            elif now - last_frame > self.idle_timeout_s:
                log.warning("kraken ws session: nothing received for %.0fs; reconnecting", now - last_frame)
                return was_up
            if now - last_ping > self.ping_interval_s and now - last_frame > self.ping_interval_s / 2:
                last_ping = now
                ws.send(codec.encode(m.Ping(req_id=next(self._req_ids))))
            for payload in payloads:
                try:
                    message = codec.decode(payload)
                except DecodeError as exc:
                    log.warning("kraken ws session: undecodable frame dropped: %s", exc)
                    continue
                if not self._on_message(message):
                    return was_up
                was_up = was_up or self._up
            if not self._wake_if_needed():
                log.info("kraken ws session: the executor is gone; session ends")
                self._stop.set()
        return was_up

    def _on_message(self, message: Any) -> bool:
        """False: the connection must be dropped (a refused subscription)."""
        if isinstance(message, m.ExecutionsMessage):
            if message.type == m.FrameType.SNAPSHOT and not self._up:
                self.generation += 1
                self.connects += 1
                self._push(SessionChanged(up=True, generation=self.generation))
                self._push(message)
                with self._lock:
                    self._set_up(True)
                log.info("kraken ws session: up (connection %d, %d order report(s) in the snapshot)",
                         self.generation, len(message.executions))
            else:
                self._push(message)
            return True
        if isinstance(message, (m.BalancesSnapshot, m.BalancesUpdate)):
            self._push(message)
            return True
        if isinstance(message, m.MethodResponse):
            req_id = message.req_id
            with self._lock:
                waiter = self._waiters.get(req_id) if req_id is not None else None
                if waiter is not None:
                    waiter.answer = message
                    waiter.event.set()
            if isinstance(message, m.SubscribeError):
                log.error("kraken ws session: subscription refused: %s", message.error)
                if "token" in message.error.lower() or "session" in message.error.lower():
                    self._token = None  # refused: a fresh one on the next attempt
                return False
            if waiter is None and isinstance(message, m.AddOrderAck):
                self._push(message)  # an ack that came after its wait: it still names the order's txid
            return True
        if isinstance(message, m.ServerError):
            log.warning("kraken ws session: server error: %s", message.error)
        return True

    def _fresh_token(self) -> str:
        cached = self._token
        if cached is not None and self.monotonic_s() - cached[1] < self.token_refresh_s:
            return cached[0]
        token = self.token_provider()
        self._token = (token, self.monotonic_s())
        return token

    def _push(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)

    def _wake_if_needed(self) -> bool:
        with self._lock:
            if not self._items or self._doorbell:
                return True
            self._doorbell = True
        return self._wake()

    def _set_up(self, up: bool) -> None:
        """Under the lock."""
        if up == self._up:
            return
        self._up = up
        if self.on_state is not None:
            self.on_state(up)

    def _fail_waiters(self) -> None:
        """Under the lock: every request still waiting gets no answer (its outcome is unknown)."""
        for waiter in self._waiters.values():
            waiter.event.set()
        self._waiters.clear()
