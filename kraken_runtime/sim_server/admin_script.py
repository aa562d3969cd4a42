"""Admin HTTP API for the scriptable market: {admin}/script.

POST `{"symbol": "BTC/USD", "phases": [{"phase": "trending", "seconds": 10, "drift_bps_per_s": 5}, ...]}`
drives the symbol through the phases from now (core/sim/script.py: trending, mean_reverting, volatile,
illiquid, frozen) and answers 200 with the script; 400 `{"error": reason}` names what is wrong with it.
GET lists the scripts still running; DELETE ends them all (the symbols go back to their own flow).
"""

from __future__ import annotations

import json
from typing import Any

from kraken_runtime.core.sim.script import ScriptError
from kraken_runtime.sim_server.jsontext import dumps
from kraken_runtime.sim_server.transport import HttpRequest, HttpResponse

SCRIPT_PATH = "/script"


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse(status, dumps(body).encode())


def handle_script(app: Any, request: HttpRequest) -> HttpResponse:
    exchange = getattr(app, "exchange", None)
    if exchange is None or not hasattr(exchange, "set_market_script"):
        return _json(409, {"error": "this market cannot be scripted (a replayed capture plays as recorded)"})
    if request.method == "POST":
        try:
            spec = json.loads(request.body.decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError):
            return _json(400, {"error": "body is not valid JSON"})
        try:
            symbol, script = exchange.set_market_script(spec)
        except ScriptError as exc:
            return _json(400, {"error": str(exc)})
        except KeyError:
            symbols = ", ".join(getattr(app, "symbols", ()) or ())
            return _json(400, {"error": f"symbol {spec.get('symbol')!r} is not served; expected one of {symbols}"})
        return _json(200, {"symbol": symbol, **script.listing(script.start_ns)})
    if request.method == "GET":
        return _json(200, {"scripts": exchange.market_scripts()})
    if request.method == "DELETE":
        return _json(200, {"cleared": exchange.clear_market_scripts()})
    return _json(405, {"error": "use GET, POST or DELETE"})
