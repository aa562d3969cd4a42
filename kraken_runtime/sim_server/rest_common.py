"""What every REST handler of the local exchange shares: Kraken's envelope and error strings."""

from __future__ import annotations

from typing import Any

from kraken_runtime.sim_server.jsontext import dumps
from kraken_runtime.sim_server.transport import HttpResponse

NS = 1_000_000_000
ERR_UNKNOWN_METHOD = "EGeneral:Unknown method"
ERR_INVALID_ARGS = "EGeneral:Invalid arguments"
ERR_UNKNOWN_PAIR = "EQuery:Unknown asset pair"
ERR_UNKNOWN_ASSET = "EQuery:Unknown asset"


def envelope(result: Any = None, errors: list[str] | None = None) -> HttpResponse:
    """Kraken's `{"error": [...], "result": ...}` with HTTP 200 (no result when there are errors)."""
    body: dict[str, Any] = {"error": errors or []}
    if result is not None and not errors:
        body["result"] = result
    return HttpResponse(200, dumps(body).encode())
