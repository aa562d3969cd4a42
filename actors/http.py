"""The daemon's one HTTP listener (127.0.0.1:9464 by default): /metrics, /healthz, /readyz; read-only
(GET and HEAD; any other method answers 405).

Routes are a table, so later issues add /snapshot.json and the Tier 1 page at / with `add_route`.
The server runs in its own daemon threads (ThreadingHTTPServer); a handler only reads thread-safe
state (the Prometheus registry, the supervisor's health object) and never talks to actors.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

# A route returns (status, content type, body).
Route = Callable[[], tuple[int, str, bytes]]


class HttpServer:
    def __init__(self, host: str, port: int, *, registry: CollectorRegistry,
                 health: Callable[[], tuple[bool, str]], ready: Callable[[], tuple[bool, str]]) -> None:
        self._routes: dict[str, Route] = {}
        self.add_route("/metrics", lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry)))
        self.add_route("/healthz", lambda: _probe(health))
        self.add_route("/readyz", lambda: _probe(ready))
        routes = self._routes

        class Handler(BaseHTTPRequestHandler):
            server_version = "kraken-runtime"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._serve(head=False)

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
                self._serve(head=True)

            def __getattr__(self, name: str) -> Any:
                # Read-only listener: any other method (POST, PUT, DELETE, OPTIONS, ...) is 405, not 501.
                if name.startswith("do_"):
                    return self._not_allowed
                raise AttributeError(name)

            def _not_allowed(self) -> None:
                body = b"method not allowed: this listener is read-only (GET, HEAD)\n"
                self.send_response(405)
                self.send_header("Allow", "GET, HEAD")
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _serve(self, *, head: bool) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                if route is None:
                    status, ctype, body = 404, "text/plain; charset=utf-8", b"not found\n"
                else:
                    try:
                        status, ctype, body = route()
                    except Exception as exc:  # noqa: BLE001 - a broken route is a 500, not a dead listener
                        log.exception("http: %s failed", self.path)
                        status, ctype, body = 500, "text/plain; charset=utf-8", f"error: {type(exc).__name__}\n".encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
                log.debug("http: " + format, *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def add_route(self, path: str, route: Route) -> None:
        self._routes[path] = route

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _probe(check: Callable[[], tuple[bool, str]]) -> tuple[int, str, bytes]:
    ok, why = check()
    return (200 if ok else 503), "text/plain; charset=utf-8", f"{'ok' if ok else 'unavailable'}: {why}\n".encode()
