"""The risk envelope's and executor's metrics, on the daemon's one registry.

Labels are bounded by configuration: symbol (configured symbols), side (buy | sell), status (the order
states), liquidity (maker | taker), rule (the nine rules, `all` for an approval, plus `expired`/`unstored`),
outcome (approve | resize | reject), kind (realised | unrealised | fees | net).
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from kraken_runtime.core.execution.orders import OPEN, TERMINAL

# Order acknowledgement latency: from the order row written to the venue's answer. Paper: the configured
# latency (50 ms); Kraken: tens of ms to seconds under load; 10 s is past the venue timeout.
ACK_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PNL_KINDS = ("realised", "unrealised", "fees", "net")


class ExecutionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.orders = Counter("krt_orders_total", "Order status changes, by symbol, side and the status reached.",
                              ["symbol", "side", "status"], registry=r)
        self.fills = Counter("krt_fills_total", "Executions stored (unique by execution id).",
                             ["symbol", "side", "liquidity"], registry=r)
        self.risk_decisions = Counter("krt_risk_decisions_total", "Risk envelope decisions, by deciding rule and outcome.",
                                      ["rule", "outcome"], registry=r)
        # Exported at 0 from the start: a refusal because the intent and its decision could not be stored is the
        # one a dashboard must see from its first occurrence (a series born at 1 shows no rate).
        self.risk_decisions.labels(rule="unstored", outcome="reject")
        self.exposure = Gauge("krt_exposure_usd", "Worst-case absolute exposure (position plus open orders) at the mid, USD.",
                              ["symbol"], registry=r)
        self.pnl = Gauge("krt_pnl_usd", "Session PnL over every symbol, USD, by kind (realised, unrealised, fees, net).",
                         ["kind"], registry=r)
        self.open_orders = Gauge("krt_open_orders", "Open orders, by symbol.", ["symbol"], registry=r)
        self.ack_seconds = Histogram("krt_order_ack_seconds", "From the order row written to the venue's acknowledgement.",
                                     buckets=ACK_BUCKETS_S, registry=r)
        self.dead_mans_switch = Gauge("krt_dead_mans_switch_armed",
                                      "1 while the venue's cancel-all-orders-after timer is armed (kraken venue).", registry=r)
        self.venue_ws_connected = Gauge("krt_venue_ws_connected",
                                        "1 while the kraken venue's private WebSocket (executions, balances, orders) is "
                                        "up; 0 while its orders go over REST.", registry=r)

    def register_symbols(self, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            self.exposure.labels(symbol=symbol).set(0)
            self.open_orders.labels(symbol=symbol).set(0)
            for side in ("buy", "sell"):
                for status in sorted(OPEN | TERMINAL):
                    self.orders.labels(symbol=symbol, side=side, status=status)
                for liquidity in ("maker", "taker"):
                    self.fills.labels(symbol=symbol, side=side, liquidity=liquidity)
        for kind in PNL_KINDS:
            self.pnl.labels(kind=kind).set(0)
        self.dead_mans_switch.set(0)
        self.venue_ws_connected.set(0)
