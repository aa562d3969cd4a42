"""One asyncio listener for the local exchange: HTTP/1.1 (REST, admin) and WebSocket (public, level3,
auth, reference) on the same port, routed by path.

Thin I/O adapter. HTTP is parsed here (keep-alive, Content-Length and chunked bodies); a request that
asks for a WebSocket upgrade is handed to the `websockets` package's sans-I/O ServerProtocol, which
does the handshake, framing, ping/pong and the close handshake. Sending never blocks the market loop:
`ServerWsConnection.send` frames the text and writes it to the transport; a client whose unsent bytes exceed
`max_buffer_bytes` is dropped (Kraken drops slow consumers too).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Protocol
from urllib.parse import parse_qs, urlsplit

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_BUFFER_BYTES = 4 * 1024 * 1024

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(slots=True)
class HttpRequest:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    peer: str = ""

    def form(self) -> dict[str, str]:
        """Form-encoded body, last value wins (Kraken's own parsers behave that way for repeats)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}

    def query_one(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass(slots=True)
class HttpResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


HttpHandler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class WsHandler(Protocol):
    def on_open(self, conn: "ServerWsConnection") -> None: ...
    def on_message(self, conn: "ServerWsConnection", text: str) -> Awaitable[None] | None: ...
    def on_close(self, conn: "ServerWsConnection") -> None: ...


class ServerWsConnection:
    """One accepted WebSocket. `send` is synchronous and bounded; `close` starts the close handshake."""

    _next_id = 1

    def __init__(self, protocol: ServerProtocol, writer: asyncio.StreamWriter, path: str,
                 max_buffer_bytes: int) -> None:
        self.protocol = protocol
        self.writer = writer
        self.path = path
        self.max_buffer_bytes = max_buffer_bytes
        self.closed = False
        self.dropped_slow = False
        self.id = ServerWsConnection._next_id
        ServerWsConnection._next_id += 1
        self.state: dict = {}  # per-session data owned by the route handler
        self.sent_messages = 0

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.writer.write(chunk)
            else:
                self._abort()
                return

    def send(self, text: str) -> bool:
        """Queue one text frame. Returns False if the client is gone or was dropped as too slow."""
        if self.closed or self.protocol.state is not State.OPEN:
            return False
        transport = self.writer.transport
        if transport.is_closing():
            self.closed = True
            return False
        if transport.get_write_buffer_size() > self.max_buffer_bytes:
            log.warning("dropping slow websocket client %s on %s", self.id, self.path)
            self.dropped_slow = True
            self._abort()
            return False
        self.protocol.send_text(text.encode())
        self._flush()
        self.sent_messages += 1
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        try:
            if self.protocol.state is State.OPEN:
                self.protocol.send_close(code, reason)
                self._flush()
        except Exception:  # noqa: BLE001 - closing a broken socket must not raise
            pass
        self._abort_later()

    def _abort_later(self) -> None:
        # Give the close frame a moment to leave, then drop the TCP connection regardless.
        loop = asyncio.get_running_loop()
        loop.call_later(1.0, self._abort)

    def _abort(self) -> None:
        self.closed = True
        try:
            self.writer.transport.abort()
        except Exception:  # noqa: BLE001
            pass


@dataclass
class Router:
    http: HttpHandler
    websockets: dict[str, WsHandler] = field(default_factory=dict)


class Listener:
    """asyncio server accepting HTTP and WebSocket on one port."""

    def __init__(self, router: Router, max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES) -> None:
        self.router = router
        self.max_buffer_bytes = max_buffer_bytes
        self.server: asyncio.base_events.Server | None = None
        self.connections: set[ServerWsConnection] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._serve, host, port, limit=MAX_HEAD_BYTES,
                                                 reuse_address=True)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.close(1001, "server shutting down")
            conn._abort()
        for writer in list(self._writers):
            writer.transport.abort()
        if self.server is not None:
            try:
                await asyncio.wait_for(self.server.wait_closed(), 2.0)
            except asyncio.TimeoutError:
                pass

    def drop_websockets(self, paths: tuple[str, ...] | None = None) -> int:
        """Abort every WebSocket (or those on `paths`) without a close frame, like a network drop."""
        count = 0
        for conn in list(self.connections):
            if paths is None or conn.path in paths:
                conn._abort()
                count += 1
        return count

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        peer = str(writer.get_extra_info("peername"))
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    await self._write_response(writer, HttpResponse(413, b"request head too large",
                                                                    "text/plain"), False)
                    return
                try:
                    method, target, version, headers = _parse_head(head)
                except ValueError:
                    await self._write_response(writer, HttpResponse(400, b"bad request", "text/plain"), False)
                    return
                if headers.get("upgrade", "").lower() == "websocket":
                    self._writers.discard(writer)
                    await self._serve_websocket(head, target, reader, writer)
                    return
                try:
                    body = await _read_body(reader, headers)
                except ValueError as exc:
                    await self._write_response(writer, HttpResponse(400, str(exc).encode(), "text/plain"), False)
                    return
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                split = urlsplit(target)
                request = HttpRequest(method=method, target=target, path=split.path,
                                      query=parse_qs(split.query, keep_blank_values=True),
                                      headers=headers, body=body, peer=peer)
                try:
                    response = await self.router.http(request)
                except Exception:  # noqa: BLE001 - one bad request must not kill the listener
                    log.exception("HTTP handler failed for %s %s", method, target)
                    response = HttpResponse(500, b'{"error":["EGeneral:Internal error"]}')
                connection_header = headers.get("connection", "").lower()
                keep_alive = (version == "HTTP/1.1" and connection_header != "close") or (
                    version == "HTTP/1.0" and connection_header == "keep-alive")
                await self._write_response(writer, response, keep_alive, head_only=method == "HEAD")
                if not keep_alive:
                    return
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.transport.close()

    async def _write_response(self, writer: asyncio.StreamWriter, response: HttpResponse,
                              keep_alive: bool, head_only: bool = False) -> None:
        lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Status')}",
                 f"Content-Type: {response.content_type}",
                 f"Content-Length: {len(response.body)}",
                 "Connection: keep-alive" if keep_alive else "Connection: close",
                 "Server: kraken-runtime-sim"]
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if not head_only:
            writer.write(response.body)
        try:
            await writer.drain()
        except ConnectionError:
            pass

    async def _serve_websocket(self, head: bytes, target: str, reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
        path = urlsplit(target).path
        handler = self.router.websockets.get(path) or self.router.websockets.get(path.rstrip("/"))
        protocol = ServerProtocol(max_size=1 << 20)
        protocol.receive_data(head)
        events = protocol.events_received()
        if not events or not isinstance(events[0], Request):
            writer.transport.abort()
            return
        request = events[0]
        if handler is None:
            response = protocol.reject(404, f"no websocket endpoint at {path}\n")
        else:
            response = protocol.accept(request)
        protocol.send_response(response)
        for chunk in protocol.data_to_send():
            if chunk:
                writer.write(chunk)
        if handler is None or protocol.state is not State.OPEN:
            try:
                await writer.drain()
            finally:
                writer.transport.close()
            return
        conn = ServerWsConnection(protocol, writer, path, self.max_buffer_bytes)
        self.connections.add(conn)
        fragments: list[bytes] = []
        try:
            handler.on_open(conn)
            while not conn.closed:
                data = await reader.read(65536)
                if not data:
                    protocol.receive_eof()
                    break
                protocol.receive_data(data)
                for event in protocol.events_received():
                    if not isinstance(event, Frame):
                        continue
                    opcode = event.opcode
                    if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                        if event.fin:
                            text = bytes(event.data).decode("utf-8", "replace")
                            await _maybe_await(handler.on_message(conn, text))
                        else:
                            fragments = [bytes(event.data)]
                    elif opcode is Opcode.CONT:
                        fragments.append(bytes(event.data))
                        if event.fin:
                            text = b"".join(fragments).decode("utf-8", "replace")
                            fragments = []
                            await _maybe_await(handler.on_message(conn, text))
                conn._flush()  # pongs and close replies produced by the protocol
                if protocol.state is State.CLOSED or protocol.close_expected():  # type: ignore[comparison-overlap]  # state changes inside receive_data; mypy narrowed it at the loop's test
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # noqa: BLE001
            log.exception("websocket handler failed on %s", path)
        finally:
            conn.closed = True
            self.connections.discard(conn)
            try:
                handler.on_close(conn)
            finally:
                if not writer.transport.is_closing():
                    try:
                        await asyncio.wait_for(writer.drain(), 1.0)
                    except Exception:  # noqa: BLE001
                        pass
                    writer.transport.close()


async def _maybe_await(value) -> None:
    if value is not None and hasattr(value, "__await__"):
        await value


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError("bad request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError("bad header line")
        headers[name.strip().lower()] = value.strip()
    return parts[0].upper(), parts[1], parts[2], headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise ValueError("body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length_text = headers.get("content-length")
    if not length_text:
        return b""
    try:
        length = int(length_text)
    except ValueError as exc:
        raise ValueError("bad Content-Length") from exc
    if length < 0 or length > MAX_BODY_BYTES:
        raise ValueError("bad Content-Length")
    return await reader.readexactly(length)
