"""Incremental decoder of the WebSocket frames a client receives (RFC 6455, section 5), sans I/O.

Why not websocket-client's own reader: it asks the socket for exactly the bytes it needs next (header,
extended length, payload) and builds an ABNF object per frame, ~7 us a frame here; under a book
firehose that was the largest single cost of ingest (ops/bench/ingest.py, docs/PERFORMANCE.md "Ingest").
This decoder takes whatever one `recv(65536)` returned and hands back every complete message in it
(~0.7 us a frame). websocket-client still opens the connection (handshake, TLS, proxies) and writes
every frame the client sends (masked, as a client must), so only the read side is ours.

What it enforces, as a client must (RFC 6455 5.1-5.5): frames from a server are never masked; no RSV
bits (no extension is negotiated); no reserved opcodes; control frames are final and at most 125 bytes;
a continuation only inside a fragmented message and a new data frame never inside one. A message (all of
its fragments) larger than `max_message_bytes` is refused before it is buffered. Any violation raises
`FrameError`: the connection cannot be trusted any further and is dropped by the caller.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["FrameError", "FrameParser", "OP_CONT", "OP_TEXT", "OP_BINARY", "OP_CLOSE", "OP_PING", "OP_PONG"]

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

_FIN_TEXT = 0x80 | OP_TEXT  # the common case: a final, unfragmented text frame
_CONTROL = frozenset((OP_CLOSE, OP_PING, OP_PONG))
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # a Kraken level3 snapshot at depth 1000 is well under 1 MiB


class FrameError(ValueError):
    """The peer broke the WebSocket framing rules; the connection must be closed."""


class FrameParser:
    """Feed it the bytes read from the socket; get back the complete messages, in order.

    `feed(data)` returns a list of `(opcode, payload)`: text messages as `str` (UTF-8, invalid bytes
    replaced: the JSON decoder after it rejects what is not JSON), binary messages and control frames
    (close, ping, pong) as `bytes`. Fragmented messages come back whole, as the opcode of their first frame.
    """

    __slots__ = ("max_message_bytes", "_rest", "_parts", "_have", "_need", "_frag_opcode", "_frag_parts", "_frag_size")

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        if max_message_bytes < 125:
            raise ValueError(f"max_message_bytes must be at least 125, got {max_message_bytes}")
        self.max_message_bytes = max_message_bytes
        self._rest = b""  # an incomplete frame header (or frame) from the previous feed
        self._parts: list[bytes] = []  # a large incomplete frame, gathered until `_need` bytes are here
        self._have = 0
        self._need = 0
        self._frag_opcode: int | None = None  # a fragmented message in progress
        self._frag_parts: list[bytes] = []
        self._frag_size = 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes held back waiting for the rest of a frame or message."""
        return len(self._rest) + self._have + self._frag_size

    def feed(self, data: bytes) -> list[tuple[int, str | bytes]]:
        if self._need:  # in the middle of a frame too large for one read: gather without copying
            self._parts.append(data)
            self._have += len(data)
            if self._have < self._need:
                return []
            buf = b"".join(self._parts)
            self._parts = []
            self._have = self._need = 0
        elif self._rest:
            buf = self._rest + data
        else:
            buf = data
        out: list[tuple[int, str | bytes]] = []
        append = out.append
        n = len(buf)
        pos = 0
        while n - pos >= 2:
            b0 = buf[pos]
            length = buf[pos + 1]
            if length & 0x80:
                raise FrameError("masked frame from the server (RFC 6455 5.1: a client must close the connection)")
            if length < 126:
                start = pos + 2
            elif length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                start = pos + 4
            else:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 10], "big")
                if length >> 63:
                    raise FrameError("frame length with the most significant bit set (RFC 6455 5.2)")
                start = pos + 10
            if b0 != _FIN_TEXT or self._frag_opcode is not None:
                self._check_header(b0, length)  # before buffering any of its payload
            elif length > self.max_message_bytes:
                raise FrameError(f"message of {length} bytes exceeds the {self.max_message_bytes}-byte limit")
            end = start + length
            if end > n:
                if end - pos > 65536:  # wait for the whole frame without re-copying what is buffered
                    self._parts = [buf[pos:]]
                    self._have = n - pos
                    self._need = end - pos
                    self._rest = b""
                    return out
                break
            if b0 == _FIN_TEXT and self._frag_opcode is None:
                append((OP_TEXT, buf[start:end].decode("utf-8", "replace")))
            else:
                self._frame(b0, buf[start:end], append)
            pos = end
        self._rest = buf[pos:] if pos < n else b""
        return out

    def _frame(self, b0: int, payload: bytes, append: Callable[[tuple[int, str | bytes]], None]) -> None:
        """A whole frame whose header `_check_header` passed: control frames as they are, data frames whole
        or gathered into their message."""
        opcode = b0 & 0x0F
        if opcode in _CONTROL:
            append((opcode, payload))
            return
        if opcode != OP_CONT:  # a message begins
            if b0 & 0x80:
                append((opcode, payload.decode("utf-8", "replace") if opcode == OP_TEXT else payload))
            else:
                self._frag_opcode = opcode
                self._frag_parts = [payload]
                self._frag_size = len(payload)
            return
        self._frag_parts.append(payload)
        self._frag_size += len(payload)
        if b0 & 0x80:
            whole = b"".join(self._frag_parts)
            first = self._frag_opcode
            if first is None:  # (_check_header refuses a continuation without a message in progress)
                raise FrameError("continuation frame without a message in progress (RFC 6455 5.4)")
            self._frag_opcode = None
            self._frag_parts = []
            self._frag_size = 0
            append((first, whole.decode("utf-8", "replace") if first == OP_TEXT else whole))

    def _check_header(self, b0: int, length: int) -> None:
        """Every rule a frame header decides (RFC 6455 5.2, 5.4, 5.5), with the message in progress: so a
        frame that breaks one is refused before any of its payload is waited for or buffered."""
        if b0 & 0x70:
            raise FrameError(f"RSV bits set ({(b0 >> 4) & 0x7:03b}) but no extension was negotiated")
        opcode = b0 & 0x0F
        if opcode in _CONTROL:
            if not b0 & 0x80:
                raise FrameError(f"fragmented control frame (opcode {opcode:#x})")
            if length > 125:
                raise FrameError(f"control frame (opcode {opcode:#x}) of {length} bytes; at most 125 allowed")
        elif opcode in (OP_TEXT, OP_BINARY):
            if self._frag_opcode is not None:
                raise FrameError("a new message began before the fragmented one ended")
            if length > self.max_message_bytes:
                raise FrameError(f"message of {length} bytes exceeds the {self.max_message_bytes}-byte limit")
        elif opcode == OP_CONT:
            if self._frag_opcode is None:
                raise FrameError("continuation frame without a message to continue")
            if self._frag_size + length > self.max_message_bytes:
                raise FrameError(f"fragmented message exceeds the {self.max_message_bytes}-byte limit")
        else:
            raise FrameError(f"reserved opcode {opcode:#x}")
