"""Admin HTTP API for fault injection: POST/GET/DELETE {admin}/faults.

POST with a JSON body `{"fault": NAME, ...parameters}` answers 200 `{"id": ..., "fault": ...}`, or 400
`{"error": reason}` for an unknown fault or bad parameters. GET lists the active faults; DELETE clears
them all (the venue goes back online). {admin}/script drives a symbol through scripted phases
(admin_script.py).
"""

from __future__ import annotations

import json

from kraken_runtime.sim_server.admin_script import SCRIPT_PATH, handle_script
from kraken_runtime.sim_server.faults import FaultError
from kraken_runtime.sim_server.jsontext import dumps
from kraken_runtime.sim_server.transport import HttpRequest, HttpResponse

ADMIN_PREFIX = "/admin"


def _json(status: int, body) -> HttpResponse:
    return HttpResponse(status, dumps(body).encode())


class AdminApi:
    def __init__(self, app) -> None:
        self.app = app

    async def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path[len(ADMIN_PREFIX):].rstrip("/")
        if path == "/faults":
            if request.method == "POST":
                try:
                    spec = json.loads(request.body.decode("utf-8") or "null")
                except (ValueError, UnicodeDecodeError):
                    return _json(400, {"error": "body is not valid JSON"})
                try:
                    fault = self.app.inject_fault(spec)
                except FaultError as exc:
                    return _json(400, {"error": str(exc)})
                return _json(200, {"id": fault.id, "fault": fault.name, **fault.params})
            if request.method == "GET":
                return _json(200, {"faults": self.app.faults.listing(self.app.clock_ns())})
            if request.method == "DELETE":
                return _json(200, {"cleared": self.app.faults.clear()})
            return _json(405, {"error": "use GET, POST or DELETE"})
        if path == SCRIPT_PATH:
            return handle_script(self.app, request)
        if path in ("", "/status") and request.method == "GET":
            return _json(200, self.app.stats())
        return _json(404, {"error": f"no admin endpoint at {request.path}"})
