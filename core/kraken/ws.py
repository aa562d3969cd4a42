"""Thin WebSocket client adapter for the feed actors: connect, send, receive.

Kept apart from the domain so the same code talks to Kraken and to the local exchange. websocket-client
opens the connection (handshake, TLS, proxies) and writes what the client sends; the read side is
core/kraken/wsframes.py's FrameParser over one `recv(65536)` at a time, which hands back every complete
message of a read at once (`recv_many`) for a tenth of websocket-client's per-frame cost. Pings are
answered, a close from the peer is answered and ends the connection. UTF-8 is not validated strictly
(invalid bytes are replaced): every frame is parsed as JSON right after, which rejects what is not JSON.
"""

from __future__ import annotations

import select
import socket
import ssl
from collections import deque
import websocket

from kraken_runtime.core.kraken.wsframes import OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, FrameError, FrameParser

READ_CHUNK_BYTES = 65536

__all__ = ["WsClosed", "WsTimeout", "WsConnection", "connect"]


class WsClosed(ConnectionError):
    """The connection is gone (closed by the peer, reset, or failed to open)."""


class WsTimeout(TimeoutError):
    """No frame within the receive timeout (the connection may still be fine)."""


class WsConnection:
    __slots__ = ("url", "_ws", "_sock", "_parser", "_pending", "_closed", "_poll")

    def __init__(self, url: str, ws: websocket.WebSocket) -> None:
        self.url = url
        self._ws = ws
        sock = ws.sock
        if sock is None:
            raise WsClosed(f"{url}: not connected")
        self._sock: socket.socket | None = sock
        self._parser = FrameParser()
        self._pending: deque[str | bytes] = deque()  # messages read but not yet returned by recv()
        self._closed: WsClosed | None = None  # the peer's close, raised once what came before it is returned
        self._poll = select.poll()  # poll, not select: no FD_SETSIZE limit in a process with many sockets
        self._poll.register(sock, select.POLLIN)

    def send(self, text: str) -> None:
        try:
            self._ws.send(text)
        except (websocket.WebSocketException, OSError) as exc:
            raise WsClosed(f"send to {self.url} failed: {exc}") from None

    def recv_many(self) -> list[str | bytes]:
        """Every complete message of the next socket read (text as str, binary as bytes), in order; an
        empty list when the read held only part of a frame or control frames. WsTimeout after the receive
        timeout; WsClosed when the connection ends (closed by the peer, reset, or broken framing)."""
        if self._pending:
            pending = list(self._pending)
            self._pending.clear()
            return pending
        if self._closed is not None:
            raise self._closed
        sock = self._sock
        if sock is None:
            raise WsClosed(f"{self.url}: not connected")
        try:
            data = sock.recv(READ_CHUNK_BYTES)
        except (socket.timeout, ssl.SSLWantReadError):
            raise WsTimeout(self.url) from None
        except (OSError, ValueError) as exc:  # reset, closed under us (ValueError/OSError on a closed fd), TLS errors
            raise WsClosed(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if not data:
            raise WsClosed(f"{self.url}: connection closed by peer")
        try:
            frames = self._parser.feed(data)
        except FrameError as exc:
            raise WsClosed(f"{self.url}: protocol error: {exc}") from None
        out: list[str | bytes] = []
        for opcode, payload in frames:
            if opcode == OP_TEXT or opcode == OP_BINARY:
                out.append(payload)
            elif opcode == OP_PING:
                try:
                    self._ws.pong(payload)
                except (websocket.WebSocketException, OSError) as exc:
                    raise WsClosed(f"pong to {self.url} failed: {exc}") from None
            elif opcode == OP_CLOSE:
                try:
                    self._ws.send_close()
                except (websocket.WebSocketException, OSError):
                    pass
                body = payload if isinstance(payload, bytes) else payload.encode()  # control frames are bytes
                code = int.from_bytes(body[:2], "big") if len(body) >= 2 else None
                reason = body[2:].decode("utf-8", "replace")
                self._closed = WsClosed(f"{self.url}: closed by peer (code {code}{': ' + reason if reason else ''})")
                if not out:
                    raise self._closed
                break  # the messages before the close first; the next call raises
            # pongs: nothing to do
        return out

    def readable_now(self) -> bool:
        """True when the next `recv_many` would not wait: messages already read, decrypted bytes buffered
        in TLS, or bytes (or the end of the connection) waiting in the socket."""
        if self._pending or self._closed is not None:
            return True
        sock = self._sock
        if sock is None:
            return True  # recv_many raises at once
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        try:
            return bool(self._poll.poll(0))
        except (OSError, ValueError):
            return True

    def recv(self) -> str | bytes:
        """The next message; WsTimeout after the receive timeout; WsClosed when the connection ends."""
        pending = self._pending
        while not pending:
            pending.extend(self.recv_many())
        return pending.popleft()

    def set_timeout(self, timeout_s: float | None) -> None:
        self._ws.settimeout(timeout_s)

    def close(self) -> None:
        """Send a close frame and shut the socket down at once (a reader blocked in recv wakes with
        WsClosed). The peer's close reply is not waited for: nothing read after this is used."""
        ws, sock = self._ws, self._sock
        self._sock = None
        if ws.connected:
            try:
                ws.send_close()
            except Exception:  # noqa: BLE001 - closing a broken socket may fail; it is gone either way
                pass
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            ws.shutdown()
        except Exception:  # noqa: BLE001
            pass

    @property
    def connected(self) -> bool:
        return bool(self._ws.connected)


def connect(url: str, *, timeout_s: float, recv_timeout_s: float = 1.0) -> WsConnection:
    """Open a connection (handshake bounded by `timeout_s`); receives then time out after `recv_timeout_s`."""
    ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=True,
                             sslopt={"cert_reqs": ssl.CERT_REQUIRED} if url.startswith("wss://") else None)
    try:
        ws.connect(url, timeout=timeout_s, suppress_origin=True)
    except (websocket.WebSocketException, OSError, ValueError) as exc:
        try:
            ws.shutdown()
        except Exception:  # noqa: BLE001
            pass
        raise WsClosed(f"connect {url}: {type(exc).__name__}: {exc}") from None
    ws.settimeout(recv_timeout_s)
    return WsConnection(url, ws)
