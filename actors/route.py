"""Route engine wiring: the child specs of the strategies (`strategy:<name>`, one per enabled strategy in
`strategies.*`) and the scanner, in start order. Each strategy is supervised alone: one that keeps crashing
is disabled alone, and the scanner keeps scoring with the others (it counts only running strategies). The
strategies' code runs on the scanner's thread; each strategy actor hands its instance over through the
StrategySlot made here (actors/strategy.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from kraken_runtime.actors.route_metrics import RouteMetrics
from kraken_runtime.actors.scanner import SCANNER_NAME, ScannerActor
from kraken_runtime.actors.strategy import StrategyActor, StrategySlot, strategy_child_name
from kraken_runtime.core.config import Settings
from kraken_runtime.core.messages import Signal
from kraken_runtime.core.signals import Strategy, build_strategy
from kraken_runtime.core.supervision import Backoff, ChildSpec, RestartBudget, RestartPolicy


def configured_strategies(settings: Settings) -> dict[str, Decimal]:
    """Enabled strategies of the configuration and their weights, in configuration order."""
    return {name: section.weight for name, section in settings.strategies.named().items() if section.enabled}


def route_child_specs(settings: Settings, *, run_id: int, send: Callable[[str, Any], bool],
                      send_latest: Callable[[str, Any, Any], bool], peer_state: Callable[[str], str | None],
                      metrics: RouteMetrics, budget: RestartBudget, backoff: Backoff,
                      risk_name: str = "risk", on_signal: Callable[[Signal], None] | None = None) -> tuple[ChildSpec, ...]:
    """`on_signal`: called on the scanner's thread with every signal the strategies produce (a test's tap)."""
    weights = configured_strategies(settings)
    slots = {name: StrategySlot(name) for name in weights}
    metrics.register(settings.runtime.symbols, weights)
    shutdown_s = min(5.0, settings.runtime.shutdown_timeout_s)
    sections = settings.strategies.named()

    def spec(name: str, factory: Callable[[Any], Any]) -> ChildSpec:
        return ChildSpec(name=name, factory=factory, policy=RestartPolicy.PERMANENT, budget=budget, backoff=backoff,
                         shutdown_timeout_s=shutdown_s, critical=False)

    def strategy_factory(name: str) -> Callable[[Any], Any]:
        def make_strategy() -> Strategy:
            return build_strategy(name, sections[name])

        def start(link: Any) -> Any:
            return StrategyActor.start(link=link, make_strategy=make_strategy, send=send, slot=slots[name], scanner_name=SCANNER_NAME)

        return start

    specs = [spec(strategy_child_name(name), strategy_factory(name)) for name in weights]
    specs.append(spec(SCANNER_NAME, lambda link: ScannerActor.start(
        link=link, run_id=run_id, settings=settings.scanner, symbols=settings.runtime.symbols, weights=weights, send=send,
        send_latest=send_latest, peer_state=peer_state, metrics=metrics, strategies=slots, shard=settings.runtime.shard,
        risk_name=risk_name, summary_interval_s=settings.runtime.status_interval_s, on_signal=on_signal)))
    return tuple(specs)
