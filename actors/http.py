"""The daemon's one HTTP listener (127.0.0.1:9464 by default): /metrics, /healthz, /readyz, and what other
parts register (/snapshot.json, the status page at /); read-only (GET and HEAD; any other method answers 405).

Bounded, so it can never starve the daemon (an idle client once held a thread and a descriptor each, without
end): one asyncio loop on one thread reads every connection; a connection that has not sent a whole request
head within `idle_timeout_s` is closed; at most `max_connections` are open at once, and one more is answered
503 at once and closed; routes that may block (the metrics exposition, pages reading the database) run on a
small pool of `route_workers` threads with a deadline, the probes (/healthz, /readyz) on the loop itself, so
they answer even while every worker is busy. One request per connection (`Connection: close`).

Adding a route is one call, before or after `start()`:

    server.add_route("/snapshot.json", board.snapshot_json)            # runs on the worker pool
    server.add_route("/healthz", probe, blocking=False)                # runs on the loop: must never block

A route takes no arguments and returns (status, content type, body bytes); an exception is a 500 with one
line, logged. It runs on a listener thread: it may read only thread-safe state (the Prometheus registry, a
board an actor publishes to), never ask an actor.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

# A route returns (status, content type, body).
Route = Callable[[], tuple[int, str, bytes]]
TEXT = "text/plain; charset=utf-8"
MAX_REQUEST_HEAD_BYTES = 16 * 1024  # a request line and headers beyond this are refused (431)
ROUTE_DEADLINE_S = 10.0  # a route on the pool that takes longer answers 503 (its thread finishes in the background)
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request", 408: "Request Timeout",
            431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(frozen=True, slots=True)
class _Registered:
    route: Route
    blocking: bool


class HttpServer:
    def __init__(self, host: str, port: int, *, registry: CollectorRegistry,
                 health: Callable[[], tuple[bool, str]], ready: Callable[[], tuple[bool, str]],
                 max_connections: int = 64, idle_timeout_s: float = 5.0, route_workers: int = 2) -> None:
        if max_connections < 1 or idle_timeout_s <= 0 or route_workers < 1:
            raise ValueError("http listener needs max_connections >= 1, idle_timeout_s > 0 and route_workers >= 1")
        self._routes: dict[str, _Registered] = {}
        self.add_route("/metrics", lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry)))
        self.add_route("/healthz", lambda: _probe(health), blocking=False)
        self.add_route("/readyz", lambda: _probe(ready), blocking=False)
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.open_connections = 0  # touched on the loop's thread only
        self.rejected = 0  # connections answered 503 for being over the cap
        self.timed_out = 0  # connections closed for not sending a whole request in time
        # Bind now: a port already taken fails here (the daemon binds before it records a run or starts anything).
        family, _type, _proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        self._socket = socket.create_server(address, family=family, backlog=128)
        self._socket.setblocking(False)
        self._pool = ThreadPoolExecutor(max_workers=route_workers, thread_name_prefix="http-route")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="http", daemon=True)
        self._ready = threading.Event()
        self._stopped = False

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    def add_route(self, path: str, route: Route, *, blocking: bool = True) -> None:
        """Serve `route` at `path` (exact match, query string ignored). blocking=False runs it on the loop:
        only for routes that never wait (the probes)."""
        self._routes = {**self._routes, path: _Registered(route=route, blocking=blocking)}

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(5.0)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)
        else:
            self._loop.close()
        self._socket.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- the loop's thread --------------------------------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            server = self._loop.run_until_complete(
                asyncio.start_server(self._connection, sock=self._socket, limit=MAX_REQUEST_HEAD_BYTES))
        except Exception:  # noqa: BLE001 - reported; the daemon's probes then fail to connect
            log.exception("http: cannot serve on %s:%d", *self.address)
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            if tasks:
                self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open_connections >= self.max_connections:
            self.rejected += 1
            if self.rejected == 1 or self.rejected % 100 == 0:
                log.warning("http: %d connection(s) open, the most allowed (http.max_connections); answering 503 "
                            "(%d refused so far)", self.open_connections, self.rejected)
            await self._respond(writer, 503, TEXT, b"unavailable: too many connections\n", head=False)
            return
        self.open_connections += 1
        try:
            await self._one_request(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        finally:
            self.open_connections -= 1
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout_s)
        except asyncio.TimeoutError:
            self.timed_out += 1
            return  # idle or trickling: closed without a word (it has not asked for anything)
        except asyncio.LimitOverrunError:
            await self._respond(writer, 431, TEXT, b"request head too large\n", head=False)
            return
        request_line = raw.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            await self._respond(writer, 400, TEXT, b"bad request\n", head=False)
            return
        method, target = parts[0], parts[1]
        if method not in ("GET", "HEAD"):
            await self._respond(writer, 405, TEXT, b"method not allowed: this listener is read-only (GET, HEAD)\n",
                                head=False, extra=(("Allow", "GET, HEAD"),))
            return
        head = method == "HEAD"
        registered = self._routes.get(target.split("?", 1)[0])
        if registered is None:
            await self._respond(writer, 404, TEXT, b"not found\n", head=head)
            return
        try:
            if registered.blocking:
                status, ctype, body = await asyncio.wait_for(
                    self._loop.run_in_executor(self._pool, registered.route), ROUTE_DEADLINE_S)
            else:
                status, ctype, body = registered.route()
        except asyncio.TimeoutError:
            log.warning("http: %s took longer than %.0fs; answered 503", target, ROUTE_DEADLINE_S)
            status, ctype, body = 503, TEXT, b"unavailable: timed out\n"
        except Exception as exc:  # noqa: BLE001 - a broken route is a 500, not a dead listener
            log.error("http: %s failed: %s: %s", target, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            status, ctype, body = 500, TEXT, f"error: {type(exc).__name__}\n".encode()
        await self._respond(writer, status, ctype, body, head=head)

    async def _respond(self, writer: asyncio.StreamWriter, status: int, ctype: str, body: bytes, *, head: bool,
                       extra: tuple[tuple[str, str], ...] = ()) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Server: kraken-runtime",
                 f"Content-Type: {ctype}", f"Content-Length: {len(body)}", "Cache-Control: no-store", "Connection: close",
                 *(f"{name}: {value}" for name, value in extra)]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else body))
        try:
            await asyncio.wait_for(writer.drain(), self.idle_timeout_s)
        except (asyncio.TimeoutError, ConnectionError):
            pass  # a client that does not read its answer is dropped
        writer.close()


def _probe(check: Callable[[], tuple[bool, str]]) -> tuple[int, str, bytes]:
    """A probe's callable returns (ok, its one line: "ok: ..." or "unavailable: ...")."""
    ok, line = check()
    return (200 if ok else 503), TEXT, (line.rstrip("\n") + "\n").encode()
