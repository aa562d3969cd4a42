"""Thin WebSocket client adapter (websocket-client) for the feed actors: connect, send, receive.

Kept apart from the domain so the same code talks to Kraken and to the local exchange. UTF-8
validation of every text frame is skipped: websocket-client's pure-Python validator costs ~30 us a
frame, and every frame is parsed as JSON right after, which rejects invalid text anyway.
"""

from __future__ import annotations

import ssl
from typing import Callable

import websocket

__all__ = ["WsClosed", "WsTimeout", "WsConnection", "connect"]


class WsClosed(ConnectionError):
    """The connection is gone (closed by the peer, reset, or failed to open)."""


class WsTimeout(TimeoutError):
    """No frame within the receive timeout (the connection may still be fine)."""


class WsConnection:
    __slots__ = ("url", "_ws")

    def __init__(self, url: str, ws: websocket.WebSocket) -> None:
        self.url = url
        self._ws = ws

    def send(self, text: str) -> None:
        try:
            self._ws.send(text)
        except (websocket.WebSocketException, OSError) as exc:
            raise WsClosed(f"send to {self.url} failed: {exc}") from None

    def recv(self) -> str | bytes:
        """The next frame's payload; WsTimeout after the receive timeout; WsClosed when the connection ends."""
        try:
            opcode, data = self._ws.recv_data(control_frame=False)
        except websocket.WebSocketTimeoutException:
            raise WsTimeout(self.url) from None
        except (websocket.WebSocketConnectionClosedException, websocket.WebSocketException, OSError) as exc:
            raise WsClosed(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise WsClosed(f"{self.url}: closed by peer")
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        return data

    def set_timeout(self, timeout_s: float | None) -> None:
        self._ws.settimeout(timeout_s)

    def close(self) -> None:
        try:
            self._ws.close(timeout=1)
        except Exception:  # noqa: BLE001 - closing a broken socket may fail; it is gone either way
            try:
                self._ws.shutdown()
            except Exception:  # noqa: BLE001
                pass

    @property
    def connected(self) -> bool:
        return bool(self._ws.connected)


def connect(url: str, *, timeout_s: float, recv_timeout_s: float = 1.0,
            on_socket: Callable[[websocket.WebSocket], None] | None = None) -> WsConnection:
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
    if on_socket is not None:
        on_socket(ws)
    return WsConnection(url, ws)
