"""KrakenVenue's bookkeeping against a scripted REST client: what happens to an order when the look that should
follow a cancel is refused (the key's REST counter spent). The venue against the real local exchange is tested in
tests/integration/test_live_execution.py; this pins the one ordering a live exchange cannot be made to produce on
demand: a cancel that succeeds, then a refused poll, while a fill raced the cancel."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any, cast

from kraken_runtime.actors.kraken_venue import KrakenVenue
from kraken_runtime.core.execution.orders import Acked, Canceled, Executed, OrderRecord
from kraken_runtime.core.kraken.errors import ApiRateLimited
from kraken_runtime.core.kraken.responses import AddOrderResult, OrderDescription, OrderInfo
from kraken_runtime.core.kraken.rest import KrakenRestClient

TXID = "OABCDE-FGHIJ-KLMNOP"


def info(status: str, vol_exec: str, cost: str) -> OrderInfo:
    return OrderInfo(txid=TXID, status=status, refid=None, userref=0, cl_ord_id="c1", link_id=None, open_time_ns=1,
                     start_time_ns=None, expire_time_ns=None, close_time_ns=None,
                     descr=OrderDescription(pair="XETHZUSD", type="buy", ordertype="limit", price="2000", price2=None,
                                            leverage=None, order="buy", close=None),
                     vol=D("1"), vol_exec=D(vol_exec), cost=D(cost), fee=D("0"), avg_price=D("0"), stopprice=None,
                     limitprice=None, trigger=None, misc="", oflags=("post",), reason="User requested", trades=())


@dataclass
class ScriptedClient:
    """query_orders answers from `answers` in turn; an exception in it is raised instead."""

    answers: list[Any] = field(default_factory=list)
    cancels: int = 0

    def add_order(self, **_: Any) -> AddOrderResult:
        return AddOrderResult(txids=(TXID,), description="", close_description=None, cl_ord_id="c1",
                              validated_only=False, resolved_by_lookup=False, order=None)

    def cancel_order(self, **_: Any) -> None:
        self.cancels += 1

    def query_orders(self, txids: Any) -> list[OrderInfo]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return cast(list[OrderInfo], answer)


def venue_with_resting_order(client: ScriptedClient) -> KrakenVenue:
    venue = KrakenVenue(client=cast(KrakenRestClient, client), pairs={"ETH/USD": "XETHZUSD"}, validate_only=False,
                        poll_interval_ns=1_000_000_000)
    order = OrderRecord(client_order_id="c1", symbol="ETH/USD", side="buy", qty=D("1"), price=D("2000"),
                        post_only=True, time_in_force="gtc")
    [(_, acked)] = venue.submit(order, now_ns=1)
    assert isinstance(acked, Acked)
    return venue


def test_a_cancel_whose_follow_up_look_is_refused_keeps_the_order_until_its_fills_are_known() -> None:
    client = ScriptedClient(answers=[ApiRateLimited("EAPI:Rate limit exceeded"),
                                     [info("canceled", "0.4", "800")]])
    venue = venue_with_resting_order(client)
    assert venue.cancel("c1", now_ns=2, reason="maker timeout") == []  # cancelled, but nothing known of fills yet
    assert venue.open_ids == ("c1",)
    events = venue.settle(now_ns=3)
    assert [type(e) for _, e in events] == [Executed, Canceled]
    fill = cast(Executed, events[0][1])
    assert fill.qty == D("0.4") and fill.price == D("2000") and fill.exec_id == f"{TXID}-0.4"
    assert venue.open_ids == ()


def test_a_cancel_followed_by_a_good_look_ends_the_order_with_the_raced_fill_first() -> None:
    client = ScriptedClient(answers=[[info("canceled", "0.25", "500")]])
    venue = venue_with_resting_order(client)
    events = venue.cancel("c1", now_ns=2, reason="maker timeout")
    assert [type(e) for _, e in events] == [Executed, Canceled] and venue.open_ids == ()
    assert client.cancels == 1
