"""KrakenRestClient against a local stub HTTP server (127.0.0.1, port 0, started and stopped per test).

The stub records every request (method, path, headers, body) and answers from a per-path script of
responses. Retries and rate-limit waits use an injected fake clock and sleep, so nothing here sleeps to
synchronize; only the read-timeout tests really wait, for the configured (short) read timeout.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from kraken_runtime.core.kraken import errors, rest_nonces, signing
from kraken_runtime.core.kraken.ratelimit import RestCallCounter, TradingRateCounter
from kraken_runtime.core.kraken.rest import KrakenRestClient

SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
VERSION = "9.9.9-test"
CL_ORD_ID = "6d1b345e-2821-40e2-ad83-4ecb18a06876"

ORDER = {
    "refid": None,
    "userref": 0,
    "cl_ord_id": CL_ORD_ID,
    "status": "open",
    "opentm": 1688666559.8974,
    "starttm": 0,
    "expiretm": 0,
    "descr": {
        "pair": "XBTUSD",
        "type": "buy",
        "ordertype": "limit",
        "price": "27500.0",
        "price2": "0",
        "leverage": "none",
        "order": "buy 1.25000000 XBTUSD @ limit 27500.0",
        "close": "",
    },
    "vol": "1.25000000",
    "vol_exec": "0.00000000",
    "cost": "0.00000",
    "fee": "0.00000",
    "price": "0.00000",
    "stopprice": "0.00000",
    "limitprice": "0.00000",
    "misc": "",
    "oflags": "fciq",
}


def ok(result) -> tuple:
    return ("json", 200, {"error": [], "result": result})


def kraken_error(*strings: str, status: int = 200) -> tuple:
    return ("json", status, {"error": list(strings)})


HANG = ("hang",)  # hold the request until the test ends (a lost reply)
DROP = ("drop",)  # read the request, then close the connection without replying


@dataclass(frozen=True, slots=True, kw_only=True)
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: str

    @property
    def form(self) -> dict:
        return dict(parse_qsl(self.body, keep_blank_values=True))


class StubKraken:
    """Scripted responses per endpoint path; the last scripted response repeats."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque] = {}
        self._changed = threading.Condition()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, name="stub-kraken", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, path: str, *responses) -> None:
        self._scripts[path] = deque(responses)

    def calls(self, path: str) -> list[Recorded]:
        with self._changed:
            return [r for r in self.requests if r.path == path]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.requests) >= count, timeout=timeout)

    def _next(self, path: str):
        script = self._scripts.get(path)
        if not script:
            return ("json", 404, {"error": ["EGeneral:Unknown method"]})
        return script.popleft() if len(script) > 1 else script[0]

    def _handler_class(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def log_message(self, *args):  # keep test output quiet
                pass

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                record = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query)),
                    headers={k: v for k, v in self.headers.items()},
                    body=body,
                )
                with stub._changed:
                    stub.requests.append(record)
                    action = stub._next(parts.path)
                    stub._changed.notify_all()
                if callable(action):
                    action = action(record)
                kind = action[0]
                if kind == "hang":
                    stub.release.wait(timeout=30)
                    self.close_connection = True
                    return
                if kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, payload = action[1], action[2]
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve
            do_POST = _serve

        return Handler

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def stub():
    server = StubKraken()
    server.start()
    yield server
    server.stop()


class FakeTime:
    """A monotonic clock that advances only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def api_key() -> str:
    return f"stub-api-key-{uuid.uuid4()}"


@pytest.fixture
def make_client(stub, fake_time, api_key):
    clients: list[KrakenRestClient] = []

    def make(**overrides) -> KrakenRestClient:
        options = dict(
            version=VERSION,
            base_url=stub.base_url,
            api_key=api_key,
            api_secret=SECRET,
            timeout_s=(2.0, 2.0),
            monotonic_s=fake_time.clock,
            sleep=fake_time.sleep,
            rng=random.Random(7),
        )
        options.update(overrides)
        client = KrakenRestClient(**options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# ---- signing and headers -------------------------------------------------------------------------------


def test_private_call_when_sent_then_api_key_and_api_sign_verify_against_the_exact_body(stub, make_client, api_key):
    stub.script("/0/private/Balance", ok({"ZUSD": "171288.6158", "XXBT": "1011.1908877900"}))
    balance = make_client().balance()
    assert balance == {"ZUSD": Decimal("171288.6158"), "XXBT": Decimal("1011.1908877900")}
    (request,) = stub.calls("/0/private/Balance")
    assert request.method == "POST"
    assert request.headers["API-Key"] == api_key
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert request.headers["User-Agent"] == f"kraken-runtime/{VERSION}"
    assert request.body.startswith("nonce=")
    expected = signing.sign("/0/private/Balance", request.body, request.form["nonce"], SECRET)
    assert request.headers["API-Sign"] == expected


def test_add_order_when_sent_then_body_is_form_encoded_with_exact_decimals_and_signed(stub, make_client):
    stub.script(
        "/0/private/AddOrder",
        ok({"descr": {"order": "buy 1.25 XBTUSD @ limit 27500.0"}, "txid": ["OU22CG-KLAF2-FWUDD7"]}),
    )
    result = make_client().add_order(
        pair="XBTUSD",
        side="buy",
        ordertype="limit",
        volume=Decimal("1.25000000"),
        price=Decimal("2.75E+4"),
        oflags=("post", "fciq"),
        cl_ord_id=CL_ORD_ID,
    )
    assert result.txids == ("OU22CG-KLAF2-FWUDD7",) and result.cl_ord_id == CL_ORD_ID
    (request,) = stub.calls("/0/private/AddOrder")
    form = request.form
    assert form["volume"] == "1.25000000" and form["price"] == "27500"
    assert form["oflags"] == "post,fciq" and form["cl_ord_id"] == CL_ORD_ID
    assert form["type"] == "buy" and form["pair"] == "XBTUSD" and "validate" not in form
    assert request.headers["API-Sign"] == signing.sign("/0/private/AddOrder", request.body, form["nonce"], SECRET)


def test_add_order_when_price_is_a_float_then_refuses_before_sending(stub, make_client):
    with pytest.raises(TypeError):
        make_client().add_order(pair="XBTUSD", side="buy", ordertype="limit", volume=0.1, cl_ord_id=CL_ORD_ID)
    assert stub.requests == []


def test_add_order_when_cl_ord_id_is_invalid_then_refuses_before_sending(stub, make_client):
    with pytest.raises(ValueError):
        make_client().add_order(pair="XBTUSD", side="buy", ordertype="market", volume="1", cl_ord_id="x" * 19)
    assert stub.requests == []


def test_public_call_when_sent_then_get_without_credentials(stub, make_client):
    stub.script("/0/public/Depth", ok({"XXBTZUSD": {"asks": [["30384.10000", "2.059", 1688671659]], "bids": []}}))
    depth = make_client().depth("XBTUSD", count=10)
    assert depth.asks[0].price == Decimal("30384.10000")
    (request,) = stub.calls("/0/public/Depth")
    assert request.method == "GET" and request.query == {"pair": "XBTUSD", "count": "10"}
    assert "API-Key" not in request.headers and "API-Sign" not in request.headers
    assert request.headers["User-Agent"] == f"kraken-runtime/{VERSION}"


def test_base_url_when_given_with_trailing_zero_path_then_paths_are_not_doubled(stub, make_client):
    stub.script("/0/public/Time", ok({"unixtime": 1688669448, "rfc1123": "Thu, 06 Jul 23 18:50:48 +0000"}))
    assert make_client(base_url=stub.base_url + "/0/").time().unixtime == 1688669448
    assert [r.path for r in stub.requests] == ["/0/public/Time"]


def test_every_endpoint_when_called_then_hits_its_documented_path(stub, make_client):
    routes = {
        "/0/public/Time": ok({"unixtime": 1, "rfc1123": "x"}),
        "/0/public/SystemStatus": ok({"status": "online", "timestamp": "2023-07-06T18:52:00Z"}),
        "/0/public/AssetPairs": ok({}),
        "/0/public/Ticker": ok({}),
        "/0/public/Trades": ok({"XXBTZUSD": [], "last": "1"}),
        "/0/private/GetWebSocketsToken": ok({"token": "tok", "expires": 900}),
        "/0/private/CancelOrder": ok({"count": 1}),
        "/0/private/CancelAll": ok({"count": 4}),
        "/0/private/CancelAllOrdersAfter": ok({"currentTime": "a", "triggerTime": "b"}),
        "/0/private/OpenOrders": ok({"open": {"OQCLML-BW3P3-BUCMWZ": ORDER}}),
        "/0/private/ClosedOrders": ok({"closed": {}, "count": 0}),
        "/0/private/QueryOrders": ok({"OQCLML-BW3P3-BUCMWZ": ORDER}),
        "/0/private/TradesHistory": ok({"trades": {}, "count": 0}),
    }
    for path, response in routes.items():
        stub.script(path, response)
    client = make_client()
    client.time()
    assert client.system_status().status == "online"
    client.asset_pairs(["XBTUSD", "ETHUSD"])
    client.ticker(["XBTUSD"])
    client.trades("XBTUSD", since="1")
    assert client.get_websockets_token().expires_s == 900
    assert client.cancel_order(txid="OQCLML-BW3P3-BUCMWZ").count == 1
    assert client.cancel_order(cl_ord_id=CL_ORD_ID).count == 1
    assert client.cancel_all().count == 4
    assert client.cancel_all_orders_after(60).trigger_time == "b"
    assert client.open_orders()[0].vol == Decimal("1.25000000")
    assert client.closed_orders(start=1).count == 0
    assert client.query_orders(["OQCLML-BW3P3-BUCMWZ"])[0].cl_ord_id == CL_ORD_ID
    assert client.trades_history().count == 0
    assert {r.path for r in stub.requests} == set(routes)
    assert stub.calls("/0/public/AssetPairs")[0].query == {"pair": "XBTUSD,ETHUSD"}
    assert stub.calls("/0/private/CancelAllOrdersAfter")[0].form["timeout"] == "60"
    assert stub.calls("/0/private/QueryOrders")[0].form["txid"] == "OQCLML-BW3P3-BUCMWZ"


# ---- error mapping ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kraken", "expected"),
    [
        ("EOrder:Insufficient funds", errors.InsufficientFunds),
        ("EGeneral:Invalid arguments", errors.InvalidArguments),
        ("EAPI:Invalid key", errors.InvalidKey),
        ("EAPI:Invalid signature", errors.InvalidSignature),
        ("EGeneral:Permission denied", errors.PermissionDenied),
        ("EOrder:Rate limit exceeded", errors.OrderRateLimited),
        ("EService:Deadline elapsed", errors.DeadlineElapsed),
    ],
)
def test_add_order_when_kraken_rejects_then_typed_error_and_sent_once_without_lookup(
    stub, make_client, kraken, expected
):
    stub.script("/0/private/AddOrder", kraken_error(kraken))
    with pytest.raises(expected) as info:
        make_client().add_order(pair="XBTUSD", side="buy", ordertype="market", volume="1", cl_ord_id=CL_ORD_ID)
    assert info.value.errors == (kraken,) and info.value.endpoint == "AddOrder"
    assert [r.path for r in stub.requests] == ["/0/private/AddOrder"]


def test_cancel_order_when_order_unknown_then_unknown_order_and_not_retried(stub, make_client):
    stub.script("/0/private/CancelOrder", kraken_error("EOrder:Unknown order"))
    with pytest.raises(errors.UnknownOrder):
        make_client().cancel_order(txid="OXXXXX-XXXXX-XXXXXX")
    assert len(stub.requests) == 1


def test_private_call_when_http_error_carries_kraken_errors_then_maps_the_kraken_error(stub, make_client):
    stub.script("/0/private/Balance", kraken_error("EAPI:Invalid key", status=403))
    with pytest.raises(errors.InvalidKey):
        make_client().balance()


def test_call_when_http_error_without_kraken_body_then_http_status_error(stub, make_client):
    stub.script("/0/private/Balance", ("json", 401, {"errors": [{"type": "Invalid key"}]}))
    with pytest.raises(errors.HttpStatusError) as info:
        make_client().balance()
    assert info.value.status == 401 and len(stub.requests) == 1


def test_call_when_body_is_not_json_then_invalid_response(stub, make_client):
    stub.script("/0/public/Time", ("raw", 200, b"<html>maintenance</html>"))
    with pytest.raises(errors.InvalidResponse):
        make_client().time()


def test_call_when_response_has_warnings_then_result_returned_and_warning_logged(stub, make_client, caplog):
    stub.script(
        "/0/public/Time", ("json", 200, {"error": ["WGeneral:Deprecated"], "result": {"unixtime": 5, "rfc1123": "x"}})
    )
    with caplog.at_level(logging.WARNING, logger="kraken_runtime.core.kraken.rest"):
        assert make_client().time().unixtime == 5
    assert "WGeneral:Deprecated" in caplog.text


# ---- retry policy ----------------------------------------------------------------------------------------


def test_idempotent_call_when_service_unavailable_twice_then_retries_with_backoff_and_fresh_nonces(
    stub, make_client, fake_time
):
    stub.script(
        "/0/private/Balance",
        kraken_error("EService:Unavailable"),
        kraken_error("EService:Busy"),
        ok({"ZUSD": "1.0000"}),
    )
    assert make_client(backoff_initial_s=0.5, backoff_max_s=10.0).balance() == {"ZUSD": Decimal("1.0000")}
    nonces = [int(r.form["nonce"]) for r in stub.calls("/0/private/Balance")]
    assert len(nonces) == 3 and nonces == sorted(set(nonces))
    assert len(fake_time.sleeps) == 2
    assert 0.25 <= fake_time.sleeps[0] <= 0.5 and 0.5 <= fake_time.sleeps[1] <= 1.0


def test_idempotent_call_when_always_unavailable_then_gives_up_after_max_attempts(stub, make_client, fake_time):
    stub.script("/0/private/OpenOrders", kraken_error("EService:Unavailable"))
    with pytest.raises(errors.ServiceUnavailable):
        make_client(max_attempts=3).open_orders()
    assert len(stub.requests) == 3 and len(fake_time.sleeps) == 2


def test_backoff_when_many_attempts_then_capped_and_jittered(stub, make_client, fake_time):
    stub.script("/0/public/Time", ("raw", 502, b"bad gateway"))
    with pytest.raises(errors.HttpStatusError):
        make_client(max_attempts=8, backoff_initial_s=0.25, backoff_max_s=1.0).time()
    assert len(fake_time.sleeps) == 7
    assert all(0.5 <= s <= 1.0 for s in fake_time.sleeps[3:])  # capped at 1.0, never below half the cap
    assert len(set(fake_time.sleeps[3:])) > 1  # jittered


def test_public_call_when_bad_gateway_then_retried_until_success(stub, make_client):
    stub.script("/0/public/SystemStatus", ("raw", 502, b"bad gateway"), ok({"status": "online", "timestamp": "t"}))
    assert make_client().system_status().status == "online"
    assert len(stub.requests) == 2


def test_idempotent_call_when_invalid_nonce_then_retried_once_with_a_larger_nonce(stub, make_client):
    stub.script("/0/private/GetWebSocketsToken", kraken_error("EAPI:Invalid nonce"), ok({"token": "t", "expires": 900}))
    make_client().get_websockets_token()
    first, second = (int(r.form["nonce"]) for r in stub.calls("/0/private/GetWebSocketsToken"))
    assert second > first


@pytest.mark.parametrize(
    "kraken",
    ["EAPI:Invalid key", "EGeneral:Invalid arguments", "EAPI:Rate limit exceeded", "EGeneral:Permission denied"],
)
def test_idempotent_call_when_error_is_not_transient_then_not_retried(stub, make_client, kraken):
    stub.script("/0/private/ClosedOrders", kraken_error(kraken))
    with pytest.raises(errors.KrakenError):
        make_client().closed_orders()
    assert len(stub.requests) == 1


def test_cancel_order_when_reply_lost_then_retried_since_a_cancel_cannot_duplicate_an_order(stub, make_client):
    stub.script("/0/private/CancelOrder", DROP, ok({"count": 1}))
    assert make_client().cancel_order(txid="OQCLML-BW3P3-BUCMWZ").count == 1
    assert len(stub.calls("/0/private/CancelOrder")) == 2


def test_add_order_when_service_unavailable_then_not_resent_and_found_by_cl_ord_id(stub, make_client):
    stub.script("/0/private/AddOrder", kraken_error("EService:Unavailable"))
    stub.script("/0/private/OpenOrders", ok({"open": {"OQCLML-BW3P3-BUCMWZ": ORDER}}))
    result = make_client().add_order(
        pair="XBTUSD", side="buy", ordertype="limit", volume="1.25", price="27500.0", cl_ord_id=CL_ORD_ID
    )
    assert result.resolved_by_lookup and result.txids == ("OQCLML-BW3P3-BUCMWZ",)
    assert result.order is not None and result.order.cl_ord_id == CL_ORD_ID
    assert len(stub.calls("/0/private/AddOrder")) == 1
    assert stub.calls("/0/private/OpenOrders")[0].form["cl_ord_id"] == CL_ORD_ID


def test_add_order_when_reply_times_out_then_found_in_closed_orders_and_never_resent(stub, make_client):
    closed = dict(ORDER, status="closed", vol_exec="1.25000000", closetm=1688666560.1)
    stub.script("/0/private/AddOrder", HANG)
    stub.script("/0/private/OpenOrders", ok({"open": {}}))
    stub.script("/0/private/ClosedOrders", ok({"closed": {"OQCLML-BW3P3-BUCMWZ": closed}, "count": 1}))
    client = make_client(timeout_s=(2.0, 0.3))
    result = client.add_order(pair="XBTUSD", side="buy", ordertype="market", volume="1.25", cl_ord_id=CL_ORD_ID)
    assert result.resolved_by_lookup and result.order.status == "closed"
    assert result.order.vol_exec == Decimal("1.25000000")
    assert len(stub.calls("/0/private/AddOrder")) == 1
    assert stub.calls("/0/private/ClosedOrders")[0].form["cl_ord_id"] == CL_ORD_ID


def test_add_order_when_connection_drops_and_lookups_find_nothing_then_outcome_unknown_and_never_resent(
    stub, make_client
):
    stub.script("/0/private/AddOrder", DROP)
    stub.script("/0/private/OpenOrders", ok({"open": {}}))
    stub.script("/0/private/ClosedOrders", ok({"closed": {}, "count": 0}))
    with pytest.raises(errors.OrderOutcomeUnknown) as info:
        make_client(order_lookup_attempts=3).add_order(
            pair="XBTUSD", side="sell", ordertype="market", volume="1", cl_ord_id=CL_ORD_ID
        )
    assert info.value.cl_ord_id == CL_ORD_ID
    assert len(stub.calls("/0/private/AddOrder")) == 1
    assert len(stub.calls("/0/private/OpenOrders")) == 3 and len(stub.calls("/0/private/ClosedOrders")) == 3


def test_add_order_when_lookup_returns_another_orders_id_then_not_taken_as_ours(stub, make_client):
    other = dict(ORDER, cl_ord_id="someone-else")
    stub.script("/0/private/AddOrder", kraken_error("EGeneral:Internal error"))
    stub.script("/0/private/OpenOrders", ok({"open": {"OTHER1-XXXXX-XXXXXX": other}}))
    stub.script("/0/private/ClosedOrders", ok({"closed": {}, "count": 0}))
    with pytest.raises(errors.OrderOutcomeUnknown):
        make_client(order_lookup_attempts=1).add_order(
            pair="XBTUSD", side="buy", ordertype="market", volume="1", cl_ord_id=CL_ORD_ID
        )
    assert len(stub.calls("/0/private/AddOrder")) == 1


def test_add_order_when_lookups_fail_too_then_outcome_unknown(stub, make_client):
    stub.script("/0/private/AddOrder", ("raw", 504, b"gateway timeout"))
    stub.script("/0/private/OpenOrders", kraken_error("EAPI:Invalid key"))
    with pytest.raises(errors.OrderOutcomeUnknown) as info:
        make_client(order_lookup_attempts=2).add_order(
            pair="XBTUSD", side="buy", ordertype="market", volume="1", cl_ord_id=CL_ORD_ID
        )
    assert "InvalidKey" in str(info.value)
    assert len(stub.calls("/0/private/AddOrder")) == 1


def test_add_order_when_connection_refused_then_transport_error_without_lookup(make_client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(errors.TransportError) as info:
        client.add_order(pair="XBTUSD", side="buy", ordertype="market", volume="1", cl_ord_id=CL_ORD_ID)
    assert info.value.may_have_reached_exchange is False
    assert not isinstance(info.value, errors.OrderOutcomeUnknown)


def test_add_order_when_validate_only_and_service_busy_then_retried_because_nothing_can_be_placed(stub, make_client):
    stub.script(
        "/0/private/AddOrder",
        kraken_error("EService:Busy"),
        ok({"descr": {"order": "buy 1.45 XBTUSD @ limit 27500.0"}}),
    )
    result = make_client().add_order(
        pair="XBTUSD", side="buy", ordertype="limit", volume="1.45", price="27500", cl_ord_id=CL_ORD_ID, validate=True
    )
    assert result.validated_only and result.txids == ()
    calls = stub.calls("/0/private/AddOrder")
    assert len(calls) == 2 and all(c.form["validate"] == "true" for c in calls)


# ---- timeouts --------------------------------------------------------------------------------------------


def test_call_when_server_does_not_answer_then_read_timeout_becomes_transport_error(stub, make_client):
    stub.script("/0/public/Time", HANG)
    with pytest.raises(errors.TransportError) as info:
        make_client(timeout_s=(2.0, 0.2), max_attempts=2).time()
    assert info.value.may_have_reached_exchange is True
    assert "0.2" in str(info.value)
    assert len(stub.calls("/0/public/Time")) == 2  # public: retried


def test_timeouts_when_configured_then_connect_and_read_are_passed_to_requests(make_client):
    seen = []

    class RecordingSession(requests.Session):
        def request(self, method, url, **kwargs):
            seen.append(kwargs["timeout"])
            raise requests.exceptions.ConnectTimeout("no route")

    client = make_client(session=RecordingSession(), timeout_s=(1.5, 7.0), max_attempts=1)
    with pytest.raises(errors.TransportError) as info:
        client.time()
    assert seen == [(1.5, 7.0)]
    assert info.value.may_have_reached_exchange is False


def test_add_order_when_connect_times_out_then_not_looked_up(make_client):
    class RecordingSession(requests.Session):
        paths: list = []

        def request(self, method, url, **kwargs):
            self.paths.append(url)
            raise requests.exceptions.ConnectTimeout("no route")

    session = RecordingSession()
    with pytest.raises(errors.TransportError):
        make_client(session=session).add_order(
            pair="XBTUSD", side="buy", ordertype="market", volume="1", cl_ord_id=CL_ORD_ID
        )
    assert len(session.paths) == 1 and session.paths[0].endswith("/0/private/AddOrder")


# ---- rate limits -----------------------------------------------------------------------------------------


def test_private_calls_when_counter_fills_then_client_waits_for_decay_before_sending(stub, make_client, fake_time):
    stub.script("/0/private/Balance", ok({}))
    counter = RestCallCounter("intermediate", now=fake_time.now, initial_level=20)
    client = make_client(rest_counter=counter, rate_limit_max_wait_s=5.0)
    client.balance()
    assert fake_time.sleeps == [pytest.approx(2.0)]  # 1 unit at 0.5/s
    assert len(stub.requests) == 1


def test_private_call_when_wait_would_exceed_max_then_local_rate_limited_and_nothing_sent(stub, make_client, fake_time):
    stub.script("/0/private/TradesHistory", ok({"trades": {}, "count": 0}))
    counter = RestCallCounter("intermediate", now=fake_time.now, initial_level=20)
    client = make_client(rest_counter=counter, rate_limit_max_wait_s=5.0)
    with pytest.raises(errors.LocalRateLimited) as info:
        client.trades_history()  # costs 4: needs 8 s of decay
    assert info.value.retry_after_s == pytest.approx(8.0)
    assert stub.requests == [] and fake_time.sleeps == []


def test_private_calls_when_counted_then_costs_follow_the_documented_table(stub, make_client, fake_time):
    stub.script("/0/private/TradesHistory", ok({"trades": {}, "count": 0}))
    stub.script("/0/private/Balance", ok({}))
    stub.script("/0/private/AddOrder", ok({"descr": {"order": "x"}, "txid": ["O1"]}))
    counter = RestCallCounter("pro", now=fake_time.now)
    client = make_client(rest_counter=counter)
    client.trades_history()
    client.balance()
    client.add_order(pair="XBTUSD", side="buy", ordertype="market", volume="1", cl_ord_id=CL_ORD_ID)
    assert counter.level(fake_time.now) == pytest.approx(5.0)  # 4 + 1 + 0 (AddOrder uses the trading counter)


def test_kraken_rate_limit_when_reported_then_local_counter_saturates_and_next_call_waits(stub, make_client, fake_time):
    stub.script("/0/private/Balance", kraken_error("EAPI:Rate limit exceeded"), ok({}))
    counter = RestCallCounter("pro", now=fake_time.now)
    client = make_client(rest_counter=counter, rate_limit_max_wait_s=10.0)
    with pytest.raises(errors.ApiRateLimited):
        client.balance()
    client.balance()
    assert fake_time.sleeps == [pytest.approx(1.0)]  # full counter: 1 unit at 1/s


def test_cancels_when_counter_is_full_then_sent_at_once_because_they_reduce_risk(stub, make_client, fake_time):
    stub.script("/0/private/CancelAll", ok({"count": 2}))
    stub.script("/0/private/CancelAllOrdersAfter", ok({"currentTime": "a", "triggerTime": "b"}))
    counter = RestCallCounter("intermediate", now=fake_time.now, initial_level=20)
    client = make_client(rest_counter=counter, rate_limit_max_wait_s=0.0)
    client.cancel_all()
    client.cancel_all_orders_after(30)
    assert fake_time.sleeps == [] and len(stub.requests) == 2
    assert counter.level(fake_time.now) == pytest.approx(22.0)  # charged all the same


def test_add_order_when_pair_trading_counter_is_full_then_waits_or_refuses_locally(stub, make_client, fake_time):
    stub.script("/0/private/AddOrder", ok({"descr": {"order": "x"}, "txid": ["O1"]}))
    trading = TradingRateCounter("starter")
    trading.charge("XBTUSD", 60, fake_time.now)
    client = make_client(trading_counter=trading, rate_limit_max_wait_s=2.0)
    client.add_order(pair="XBTUSD", side="buy", ordertype="market", volume="1", cl_ord_id=CL_ORD_ID)
    assert fake_time.sleeps == [pytest.approx(1.0)]
    trading.charge("XBTUSD", 10, fake_time.now)
    with pytest.raises(errors.LocalRateLimited):
        client.add_order(pair="XBTUSD", side="buy", ordertype="market", volume="1", cl_ord_id=CL_ORD_ID)
    assert len(stub.calls("/0/private/AddOrder")) == 1


def test_cancel_order_when_pair_and_age_given_then_trading_counter_charged_the_age_penalty(
    stub, make_client, fake_time
):
    stub.script("/0/private/CancelOrder", ok({"count": 1}))
    trading = TradingRateCounter("pro")
    make_client(trading_counter=trading).cancel_order(txid="O1", pair="XBTUSD", order_age_s=3.0)
    assert trading.level("XBTUSD", fake_time.now) == 8


def test_order_rate_limit_when_reported_then_pair_counter_saturates(stub, make_client, fake_time):
    stub.script("/0/private/AddOrder", kraken_error("EOrder:Rate limit exceeded"))
    trading = TradingRateCounter("starter")
    with pytest.raises(errors.OrderRateLimited):
        make_client(trading_counter=trading).add_order(
            pair="XBTUSD", side="buy", ordertype="market", volume="1", cl_ord_id=CL_ORD_ID
        )
    assert trading.level("XBTUSD", fake_time.now) == 60


# ---- nonces across client instances ----------------------------------------------------------------------


def test_nonces_when_two_clients_share_a_key_from_many_threads_then_arrive_strictly_increasing(stub, api_key):
    stub.script("/0/private/Balance", ok({}))
    clients = [
        KrakenRestClient(
            version=VERSION, base_url=stub.base_url, api_key=api_key, api_secret=SECRET, timeout_s=(2.0, 5.0)
        )
        for _ in range(2)
    ]
    failures: list[BaseException] = []

    def worker(client):
        try:
            for _ in range(15):
                client.balance()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(clients[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    for client in clients:
        client.close()
    assert failures == []
    arrived = [int(r.form["nonce"]) for r in stub.calls("/0/private/Balance")]
    assert len(arrived) == 60
    assert all(
        a < b for a, b in zip(arrived, arrived[1:], strict=False)
    ), "nonces must reach the server in increasing order"


def test_nonces_when_client_is_recreated_after_a_restart_then_larger_than_before(stub, api_key):
    stub.script("/0/private/Balance", ok({}))
    first = KrakenRestClient(version=VERSION, base_url=stub.base_url, api_key=api_key, api_secret=SECRET)
    first.balance()
    first.close()
    rest_nonces._forget_all_for_tests()  # what a process restart loses
    second = KrakenRestClient(version=VERSION, base_url=stub.base_url, api_key=api_key, api_secret=SECRET)
    second.balance()
    second.close()
    before, after = (int(r.form["nonce"]) for r in stub.calls("/0/private/Balance"))
    assert after > before


# ---- secrets stay out of errors, reprs and logs ---------------------------------------------------------


def test_secrets_when_calls_fail_and_log_then_never_appear_in_errors_reprs_or_logs(stub, make_client, api_key, caplog):
    token = "nmc39wCfFqn0mirRrpHMFOu0xfq4VVghFy+UPzpVcJo"
    stub.script("/0/private/GetWebSocketsToken", ok({"token": token, "expires": 900}))
    stub.script("/0/private/AddOrder", DROP)
    stub.script("/0/private/OpenOrders", kraken_error("EService:Unavailable"))
    stub.script("/0/private/ClosedOrders", kraken_error("EService:Unavailable"))
    client = make_client(otp="my-static-otp-password", max_attempts=2, order_lookup_attempts=2)
    texts = [repr(client), str(client)]
    with caplog.at_level(logging.DEBUG):
        texts.append(repr(client.get_websockets_token()))
        with pytest.raises(errors.OrderOutcomeUnknown) as info:
            client.add_order(pair="XBTUSD", side="buy", ordertype="market", volume="1", cl_ord_id=CL_ORD_ID)
    chain = []
    exc: BaseException | None = info.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    texts += [str(e) for e in chain] + [repr(e) for e in chain] + [caplog.text]
    signatures = [r.headers["API-Sign"] for r in stub.requests]
    for text in texts:
        for secret in [SECRET, api_key, token, "my-static-otp-password", *signatures]:
            assert secret not in text
    assert stub.calls("/0/private/AddOrder")[0].form["otp"] == "my-static-otp-password"


def test_client_when_secret_is_not_base64_then_refuses_without_echoing_it():
    with pytest.raises(ValueError) as info:
        KrakenRestClient(version=VERSION, api_key="k", api_secret="%%%definitely-not-base64%%%")
    assert "definitely-not-base64" not in str(info.value)


def test_private_call_when_client_has_no_credentials_then_refuses_before_sending(stub):
    client = KrakenRestClient(version=VERSION, base_url=stub.base_url)
    with pytest.raises(ValueError):
        client.balance()
    client.close()
    assert stub.requests == []


def test_the_environments_proxies_and_ca_bundle_are_read_once_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests would read them on every call (~0.2 ms each, on an order's path); the client reads them once for
    its base URL, with the same meaning: HTTPS_PROXY applies unless NO_PROXY names the host."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy",
                 "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/company.pem")
    proxied = KrakenRestClient(version="t", base_url="https://api.kraken.com")
    assert proxied._session.proxies.get("https") == "http://proxy.example:3128"
    assert proxied._session.verify == "/etc/ssl/certs/company.pem" and proxied._session.trust_env is False
    monkeypatch.setenv("NO_PROXY", "api.kraken.com")
    assert not KrakenRestClient(version="t", base_url="https://api.kraken.com")._session.proxies
    monkeypatch.setenv("HTTPS_PROXY", "http://elsewhere.example:3128")  # read at construction, not per call
    assert proxied._session.proxies.get("https") == "http://proxy.example:3128"
