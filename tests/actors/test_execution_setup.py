"""actors/execution.py's set-up: what trades in paper mode when KRAKEN_ENABLED_PAIRS restricts it."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from kraken_runtime.actors.execution import execution_child_specs, execution_specs_for, sim_instrument_rules
from kraken_runtime.actors.execution_metrics import ExecutionMetrics
from kraken_runtime.actors.ingest import MarketSource
from kraken_runtime.core.config import load_settings
from kraken_runtime.core.supervision import Backoff, RestartBudget


def _specs(env: dict[str, str]) -> tuple[list[str], Any]:
    settings = load_settings(env=env)
    market = MarketSource(ws_public_url="ws://127.0.0.1:9", ws_l3_url=None, rest_url="http://127.0.0.1:9",
                          reference_url=None, api_key=None, api_secret=None, precisions={})
    printed: list[str] = []
    specs = execution_specs_for(settings, run_id=1, send=lambda name, message: True, market=market,
                                registry=CollectorRegistry(), safety_mode="active",
                                budget=RestartBudget(max_restarts=3, period_s=60.0),
                                backoff=Backoff(initial_s=0.1, max_s=1.0), out=printed.append)
    return printed, specs


def test_paper_mode_trades_only_the_enabled_pairs_and_says_so() -> None:
    printed, specs = _specs({"KRAKEN_ENABLED_PAIRS": "XRP"})
    assert printed == ["paper: trading XRP/USD (KRAKEN_ENABLED_PAIRS); the other symbols are watched only"]
    assert {spec.name for spec in specs} >= {"risk", "executor"}


def test_paper_mode_without_enabled_pairs_trades_every_symbol_silently() -> None:
    printed, _ = _specs({})
    assert printed == []


def test_the_executor_gets_the_whole_shutdown_budget_to_settle_at_a_live_venue() -> None:
    """Under load a live executor's clean stop (cancel, then poll final status over REST) outlasted its 5 s and was
    abandoned with a filled IOC order still `new` in the database (the SIGKILL test's final clean run)."""
    def stop_budget(mode: str) -> dict[str, float]:
        settings = load_settings(env={"KRT_RUNTIME__MODE": mode, "KRT_RUNTIME__SHUTDOWN_TIMEOUT_S": "12"})
        specs = execution_child_specs(settings, run_id=1, send=lambda name, message: True,
                                      instruments=sim_instrument_rules(settings.runtime.symbols),
                                      metrics=ExecutionMetrics(CollectorRegistry()), safety_mode="active",
                                      budget=RestartBudget(max_restarts=3, period_s=60.0),
                                      backoff=Backoff(initial_s=0.1, max_s=1.0), client_factory=lambda counter: None)
        return {spec.name: spec.shutdown_timeout_s for spec in specs}

    assert stop_budget("live") == {"risk": 5.0, "executor": 12.0}
    assert stop_budget("paper") == {"risk": 5.0, "executor": 5.0}
