"""The bounded HTTP listener (actors/http.py). Finding: 1,000 idle partial requests raised the threads from
24 to 1,024, and under a 256-descriptor limit the feeds could not reconnect and /healthz was unreachable.
Now idle connections cost no thread, are closed after the idle timeout, and are capped (503 beyond).
Connection counts stay at a few hundred: this sandbox misbehaves past ~350 local connections."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry

from kraken_runtime.actors.http import HttpServer

TIMEOUT = 5


@pytest.fixture
def listener():
    made: list[HttpServer] = []

    def make(**kwargs) -> HttpServer:
        server = HttpServer("127.0.0.1", 0, registry=CollectorRegistry(), health=lambda: (True, "ok: alive"),
                            ready=lambda: (False, "unavailable: 0 of 2 symbols ready (need 1)"), **kwargs)
        server.start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


def get(server: HttpServer, path: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request("http://%s:%d%s" % (*server.address, path), method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def idle_connections(server: HttpServer, count: int, partial: bytes = b"GET /healthz HTTP/1.1\r\nHost: x\r\n") -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(server.address, timeout=TIMEOUT)
        sock.sendall(partial)  # a request head never finished: a slow or stuck client
        sockets.append(sock)
    return sockets


def test_probes_metrics_and_errors_answer_with_one_line(listener) -> None:
    server = listener()
    assert get(server, "/healthz") == (200, "ok: alive\n")
    assert get(server, "/readyz") == (503, "unavailable: 0 of 2 symbols ready (need 1)\n")
    assert get(server, "/metrics")[0] == 200
    assert get(server, "/nope") == (404, "not found\n")
    assert get(server, "/healthz", method="HEAD") == (200, "")
    status, body = get(server, "/healthz", method="POST")
    assert status == 405 and "read-only" in body


def test_a_route_added_later_is_served_and_a_broken_one_is_a_500_not_a_dead_listener(listener) -> None:
    server = listener()
    server.add_route("/snapshot.json", lambda: (200, "application/json", b'{"ok": true}'))
    server.add_route("/broken", lambda: 1 / 0)  # type: ignore[arg-type, return-value]
    assert get(server, "/snapshot.json") == (200, '{"ok": true}')
    assert get(server, "/broken") == (500, "error: ZeroDivisionError\n")
    assert get(server, "/healthz")[0] == 200


def test_200_idle_connections_then_threads_stay_bounded_and_healthz_answers(listener) -> None:
    server = listener(max_connections=256, idle_timeout_s=30)
    threads_before = threading.active_count()
    sockets = idle_connections(server, 200)
    try:
        deadline = time.monotonic() + TIMEOUT
        while server.open_connections < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.open_connections == 200
        assert threading.active_count() <= threads_before + 2  # the route pool at most, never a thread per connection
        assert get(server, "/healthz") == (200, "ok: alive\n")
        assert get(server, "/metrics")[0] == 200
    finally:
        for sock in sockets:
            sock.close()


def test_connections_over_the_cap_then_answered_503_and_closed(listener) -> None:
    server = listener(max_connections=8, idle_timeout_s=30)
    sockets = idle_connections(server, 8)
    try:
        deadline = time.monotonic() + TIMEOUT
        while server.open_connections < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert get(server, "/healthz") == (503, "unavailable: too many connections\n")
        assert server.rejected == 1
    finally:
        for sock in sockets:
            sock.close()
    deadline = time.monotonic() + TIMEOUT
    while server.open_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert get(server, "/healthz")[0] == 200


def test_a_connection_that_never_finishes_its_request_then_closed_after_the_idle_timeout(listener) -> None:
    server = listener(idle_timeout_s=0.3)
    (sock,) = idle_connections(server, 1)
    try:
        sock.settimeout(TIMEOUT)
        assert sock.recv(100) == b""  # closed by the listener, without an answer
        assert server.timed_out == 1 and server.open_connections == 0
    finally:
        sock.close()


def test_an_oversized_request_head_then_431(listener) -> None:
    server = listener()
    with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 431")


def test_a_taken_port_fails_when_the_listener_is_made(listener) -> None:
    server = listener()
    with pytest.raises(OSError):
        HttpServer("127.0.0.1", server.address[1], registry=CollectorRegistry(), health=lambda: (True, "ok"),
                   ready=lambda: (True, "ok"))


def test_stop_without_start_releases_the_port() -> None:
    server = HttpServer("127.0.0.1", 0, registry=CollectorRegistry(), health=lambda: (True, "ok"), ready=lambda: (True, "ok"))
    port = server.address[1]
    server.stop()
    again = HttpServer("127.0.0.1", port, registry=CollectorRegistry(), health=lambda: (True, "ok"), ready=lambda: (True, "ok"))
    again.stop()
