"""What healthy, degraded and ready mean (core/health.py), as pure functions of their inputs."""

from __future__ import annotations

from dataclasses import replace

from kraken_runtime.core.health import LivenessInputs, ReadinessInputs, Verdict, liveness, readiness

ALIVE = LivenessInputs(supervisor_alive=True, sweep_age_s=0.05, max_sweep_age_s=2.0)
HEALTHY = Verdict(ok=True, reason="supervisor swept 0.05s ago")
READY = ReadinessInputs(children_started=True, stopping=False, symbols_total=3, symbols_ready=3, ready_min_symbols=1,
                        market_connected=True, lease_age_s=1.0, lease_max_age_s=24.0, control_failing_s=None,
                        control_max_failure_s=2.0)


def test_liveness_when_the_supervisor_is_dead_or_not_sweeping_then_unhealthy() -> None:
    assert liveness(replace(ALIVE, supervisor_alive=False)).line() == "unavailable: supervisor not running"
    assert liveness(replace(ALIVE, sweep_age_s=None)).line() == "unavailable: supervisor has not swept yet"
    assert liveness(replace(ALIVE, sweep_age_s=3.8)).line() == "unavailable: supervisor last swept 3.8s ago (limit 2s)"


def test_liveness_when_the_database_is_slow_then_healthy_but_degraded() -> None:
    verdict = liveness(replace(ALIVE, store_busy_s=15.2, store_slow_after_s=2.0))
    assert verdict.ok and verdict.line() == ("ok: supervisor swept 0.05s ago; degraded: database slow: a supervisor "
                                             "store call has been running for 15.2s")
    assert not liveness(replace(ALIVE, store_busy_s=1.0)).degraded  # under the threshold: nothing to say


def test_liveness_when_control_commands_are_unreadable_then_healthy_but_degraded() -> None:
    verdict = liveness(replace(ALIVE, control_failing_s=5.0, control_error="OperationalError: refused"))
    assert verdict.ok and "degraded: control commands unreadable for 5.0s: OperationalError: refused" in verdict.line()


def test_readiness_when_every_condition_holds_then_ready_with_the_symbol_count() -> None:
    assert readiness(HEALTHY, READY).line() == "ok: ready (3/3 symbols ready)"


def test_readiness_when_no_symbol_is_ready_then_not_ready_naming_the_count() -> None:
    verdict = readiness(HEALTHY, replace(READY, symbols_ready=0))
    assert verdict.line() == "unavailable: 0 of 3 symbols ready (need 1)"


def test_readiness_minimum_is_capped_at_the_symbol_count_and_zero_needs_none() -> None:
    assert readiness(HEALTHY, replace(READY, ready_min_symbols=5, symbols_ready=3)).ok
    assert not readiness(HEALTHY, replace(READY, ready_min_symbols=5, symbols_ready=2)).ok
    assert readiness(HEALTHY, replace(READY, ready_min_symbols=0, symbols_ready=0)).ok


def test_readiness_when_the_market_connection_is_down_then_not_ready() -> None:
    assert readiness(HEALTHY, replace(READY, market_connected=False)).line() == "unavailable: market-data connection down"


def test_readiness_when_the_lease_is_older_than_its_limit_then_not_ready() -> None:
    verdict = readiness(HEALTHY, replace(READY, lease_age_s=30.0))
    assert not verdict.ok and verdict.reason.startswith("run lease last renewed 30.0s ago (limit 24s)")


def test_readiness_when_control_is_unreadable_past_its_limit_then_not_ready() -> None:
    assert readiness(HEALTHY, replace(READY, control_failing_s=1.0)).ok
    verdict = readiness(HEALTHY, replace(READY, control_failing_s=2.5, control_error="refused"))
    assert verdict.line() == "unavailable: control commands unreadable for 2.5s (limit 2s): refused"


def test_readiness_when_a_critical_child_is_disabled_starting_or_stopping_then_not_ready() -> None:
    assert readiness(HEALTHY, replace(READY, blockers=("critical child executor is disabled",))).line() == (
        "unavailable: critical child executor is disabled")
    assert readiness(HEALTHY, replace(READY, children_started=False)).reason == "children starting"
    assert readiness(HEALTHY, replace(READY, stopping=True)).reason == "shutting down"


def test_readiness_when_unhealthy_then_the_health_verdict() -> None:
    dead = Verdict(ok=False, reason="supervisor not running")
    assert readiness(dead, READY) is dead


def test_readiness_keeps_the_degraded_note() -> None:
    assert readiness(Verdict(ok=True, reason="x", degraded="database slow"), READY).line().endswith("; degraded: database slow")
