"""WsConnection against a real WebSocket server (the `websockets` package) on loopback: messages of any
size and fragmentation arrive whole and in order, pings are answered, a close ends the connection with its
code, a server that breaks the framing rules is dropped, and close() wakes a blocked reader."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time

import pytest
from websockets.sync.server import serve

from kraken_runtime.core.kraken.ws import WsClosed, WsTimeout, connect


@pytest.fixture
def server():
    """serve(handler) -> ws://127.0.0.1:PORT; the server stops after the test."""
    started = []

    def start(handler, **kwargs):
        srv = serve(handler, "127.0.0.1", 0, **kwargs)
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        started.append((srv, thread))
        return f"ws://127.0.0.1:{srv.socket.getsockname()[1]}/v2"

    yield start
    for srv, thread in started:
        srv.shutdown()
        thread.join(5)


def recv_until(ws, count: int, deadline_s: float = 5.0) -> list:
    out: list = []
    deadline = time.monotonic() + deadline_s
    while len(out) < count and time.monotonic() < deadline:
        try:
            out.extend(ws.recv_many())
        except WsTimeout:
            continue
    return out


def test_messages_of_every_size_and_fragmentation_arrive_whole_and_in_order(server):
    big = '{"channel":"book","data":"' + "x" * 1_500_000 + '"}'

    def handler(ws):
        ws.send('{"n":1}')
        ws.send(["{", '"n":', "2}"])  # one message in three fragments
        ws.send(big)
        ws.send(b"\x00binary")
        ws.send('{"n":3}')
        ws.recv()  # keep the connection open until the client is done

    url = server(handler)
    ws = connect(url, timeout_s=5, recv_timeout_s=0.2)
    try:
        assert recv_until(ws, 5) == ['{"n":1}', '{"n":2}', big, b"\x00binary", '{"n":3}']
    finally:
        ws.close()


def test_recv_returns_one_message_at_a_time_from_a_read_holding_many(server):
    def handler(ws):
        for i in range(20):
            ws.send(f'{{"i":{i}}}')
        ws.recv()

    ws = connect(server(handler), timeout_s=5, recv_timeout_s=2)
    try:
        assert [ws.recv() for _ in range(20)] == [f'{{"i":{i}}}' for i in range(20)]
    finally:
        ws.close()


def test_ping_from_the_server_is_answered(server):
    answered = threading.Event()

    def handler(ws):
        pong = ws.ping(b"are-you-there")
        if pong.wait(5):
            answered.set()
        ws.send('{"after":"ping"}')
        ws.recv()

    ws = connect(server(handler), timeout_s=5, recv_timeout_s=0.2)
    try:
        assert recv_until(ws, 1) == ['{"after":"ping"}']
        assert answered.wait(5)
    finally:
        ws.close()


def test_close_from_the_server_raises_wsclosed_with_its_code(server):
    def handler(ws):
        ws.send('{"last":true}')
        ws.close(code=1001, reason="maintenance")

    ws = connect(server(handler), timeout_s=5, recv_timeout_s=0.5)
    try:
        assert ws.recv() == '{"last":true}'
        with pytest.raises(WsClosed, match="code 1001: maintenance"):
            for _ in range(20):
                ws.recv()
    finally:
        ws.close()


def test_server_breaking_the_framing_rules_is_dropped():
    """A raw server that completes the handshake, then sends a masked frame (forbidden from a server)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def raw_server():
        sock, _ = listener.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += sock.recv(4096)
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key"))
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        sock.sendall(bytes((0x81, 0x82)) + b"\x01\x02\x03\x04" + bytes((ord("{") ^ 1, ord("}") ^ 2)))
        sock.recv(1024)
        sock.close()

    thread = threading.Thread(target=raw_server, daemon=True)
    thread.start()
    ws = connect(f"ws://127.0.0.1:{port}/v2", timeout_s=5, recv_timeout_s=2)
    try:
        with pytest.raises(WsClosed, match="protocol error: masked frame"):
            ws.recv()
    finally:
        ws.close()
        thread.join(5)
        listener.close()


def test_close_wakes_a_reader_blocked_in_recv(server):
    release = threading.Event()

    def handler(ws):
        release.wait(10)

    ws = connect(server(handler), timeout_s=5, recv_timeout_s=30)
    ended = []

    def reader():
        try:
            ws.recv()
        except WsClosed as exc:
            ended.append(exc)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(0)  # let it block; close() must wake it whether or not it got there first
    ws.close()
    thread.join(5)
    release.set()
    assert not thread.is_alive() and len(ended) == 1
