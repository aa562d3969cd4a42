"""REST API of the local exchange: /0/public/* (GET or POST) and /0/private/* (POST, signed).

The router: it parses parameters (query, form-encoded body, or a JSON body as Kraken's signing sample
and its AddOrderBatch / CancelOrderBatch use), checks key, signature, nonce and the REST call counter
for private calls, and dispatches to rest_public, rest_account and rest_orders. Kraken's envelope
`{"error": [...], "result": ...}` with HTTP 200 and its error strings throughout.
"""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal
from typing import Any

from kraken_runtime.sim_server.jsontext import dumps
from kraken_runtime.sim_server.rest_account import ACCOUNT
from kraken_runtime.sim_server.rest_common import (
    ERR_INVALID_ARGS,
    ERR_UNKNOWN_METHOD,
    BadRequest,
    RestApp,
    envelope,
)
from kraken_runtime.sim_server.rest_orders import TRADING
from kraken_runtime.sim_server.rest_public import PUBLIC
from kraken_runtime.sim_server.transport import HttpRequest, HttpResponse

# Trading calls an `ack_delay` fault holds back before answering (as WS trading requests are).
DELAYED = frozenset(TRADING)
_INDEXED = re.compile(r"^(\w+)\[(\d+)\]\[(\w+)\]$")  # orders[0][type]=buy: a form-encoded list of objects


def _json_value(value: Any) -> Any:
    """A JSON body's value as handlers read it: scalars as text (booleans 'true' / 'false'), lists of
    scalars comma-joined, lists of objects kept (AddOrderBatch's `orders`)."""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, list):
        if any(isinstance(v, dict) for v in value):
            return [{str(k): _json_value(x) for k, x in v.items()} if isinstance(v, dict) else _json_value(v)
                    for v in value]
        return ",".join(str(_json_value(v)) for v in value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value if value is None else str(value)


def _form_value(form: dict[str, str]) -> dict[str, Any]:
    """A form body's fields, with `name[i][field]` entries gathered into a list of objects under `name`."""
    out: dict[str, Any] = {}
    lists: dict[str, dict[int, dict[str, str]]] = {}
    for key, value in form.items():
        match = _INDEXED.match(key)
        if match:
            lists.setdefault(match[1], {}).setdefault(int(match[2]), {})[match[3]] = value
        else:
            out[key] = value
    for name, entries in lists.items():
        out[name] = [entries[i] for i in sorted(entries)]
    return out


def private_params(request: HttpRequest) -> dict[str, Any] | None:
    """The body's parameters: form-encoded (Kraken's documented format) or a JSON object (its signing
    sample also accepts JSON, nonce inside). None when unreadable."""
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        try:
            obj = json.loads(request.body.decode("utf-8") or "{}", parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(obj, dict):
            return None
        return {str(k): _json_value(v) for k, v in obj.items()}
    return _form_value(request.form())


class RestApi:
    def __init__(self, app: RestApp) -> None:
        self.app = app

    async def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        try:
            if path.startswith("/0/public/"):
                public = PUBLIC.get(path[len("/0/public/"):])
                if public is None:
                    return envelope(errors=[ERR_UNKNOWN_METHOD])
                params: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
                if request.method == "POST" and request.body:
                    params.update(request.form())
                return envelope(public(self.app, params))
            if path.startswith("/0/private/"):
                return await self._private(request, path[len("/0/private/"):])
        except BadRequest as exc:
            return envelope(errors=[exc.error])
        return HttpResponse(404, dumps({"error": [ERR_UNKNOWN_METHOD]}).encode())

    async def _private(self, request: HttpRequest, name: str) -> HttpResponse:
        handler = ACCOUNT.get(name) or TRADING.get(name)
        if handler is None:
            return envelope(errors=[ERR_UNKNOWN_METHOD])
        if request.method != "POST":
            return envelope(errors=[ERR_INVALID_ARGS])
        trading = self.app.trading
        params = private_params(request)
        if params is None:
            return envelope(errors=[ERR_INVALID_ARGS])
        api_key, error = trading.authenticate_rest(request.path, request.headers, request.body, params)
        if error or api_key is None:
            return envelope(errors=[error or ERR_INVALID_ARGS])
        now = self.app.clock_ns()
        error = trading.charge_rest(api_key, name, now)
        if error:
            return envelope(errors=[error])
        if name in DELAYED:
            delay = self.app.faults.ack_delay_s(now)
            if delay:
                await asyncio.sleep(delay)
        return envelope(handler(self.app, api_key, params))
