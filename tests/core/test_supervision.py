"""core/supervision.py: budgets, backoff, the child state machine, heartbeats, safety modes (pure, fake time)."""

from __future__ import annotations

import pytest

from kraken_runtime.core.supervision import (
    Backoff,
    ChildSpec,
    ChildState,
    ChildStatus,
    DisableChild,
    HeartbeatTrack,
    IgnoreReport,
    ModeSource,
    RestartAfter,
    RestartBudget,
    RestartPolicy,
    SafetyMode,
    StayStopped,
    backoff_delay_s,
    child_exited_normally,
    child_failed,
    child_started,
    heartbeat_answered,
    heartbeat_due,
    heartbeat_sent,
    is_hung,
    operator_restart,
    request_safety_mode,
    restart_is_due,
)


def spec(**kw) -> ChildSpec:
    kw.setdefault("budget", RestartBudget(max_restarts=3, period_s=60))
    kw.setdefault("backoff", Backoff(initial_s=1, max_s=8, jitter_ratio=0))
    return ChildSpec(name=kw.pop("name", "worker"), factory=lambda link: None, **kw)


def running(generation: int = 1) -> ChildStatus:
    return child_started(ChildStatus(name="worker"), generation=generation)


def mid() -> float:
    return 0.5


def test_backoff_when_attempts_grow_then_doubles_and_caps_at_max():
    b = Backoff(initial_s=0.5, max_s=4, jitter_ratio=0)
    assert [backoff_delay_s(b, n, mid) for n in range(6)] == [0.5, 1, 2, 4, 4, 4]


def test_backoff_when_jittered_then_stays_within_ratio_and_never_exceeds_max():
    b = Backoff(initial_s=1, max_s=2, jitter_ratio=0.5)
    assert backoff_delay_s(b, 0, lambda: 0.0) == pytest.approx(0.5)
    assert backoff_delay_s(b, 0, lambda: 0.999999) == pytest.approx(1.5, rel=1e-3)
    assert backoff_delay_s(b, 5, lambda: 0.999999) == 2  # capped after jitter


def test_failure_when_within_budget_then_restarts_after_backoff_and_counts():
    s, decision = child_failed(running(), spec(), generation=1, error="boom", now_s=10, random=mid)
    assert decision == RestartAfter(delay_s=1, attempt=0)
    assert s.state is ChildState.RESTARTING and s.restarts == 1 and s.last_error == "boom"
    assert not restart_is_due(s, 10.5) and restart_is_due(s, 11)


def test_failures_when_budget_exhausted_within_period_then_disables():
    sp = spec()
    s, now = running(), 0.0
    delays = []
    for generation in range(1, 4):
        s, decision = child_failed(s, sp, generation=generation, error="boom", now_s=now, random=mid)
        assert isinstance(decision, RestartAfter)
        delays.append(decision.delay_s)
        s = child_started(s, generation=generation + 1)
        now += 1
    assert delays == [1, 2, 4]
    s, decision = child_failed(s, sp, generation=4, error="boom again", now_s=now, random=mid)
    assert isinstance(decision, DisableChild) and "budget exhausted" in decision.reason and "boom again" in decision.reason
    assert s.state is ChildState.DISABLED and s.restarts == 3


def test_failures_when_spread_beyond_period_then_never_disable():
    sp = spec(budget=RestartBudget(max_restarts=2, period_s=10))
    s = running()
    for generation in range(1, 10):
        s, decision = child_failed(s, sp, generation=generation, error="x", now_s=generation * 11.0, random=mid)
        assert isinstance(decision, RestartAfter) and decision.attempt == 0
        s = child_started(s, generation=generation + 1)


def test_failure_when_report_is_from_an_older_generation_then_ignored():
    s = running(generation=3)
    same, decision = child_failed(s, spec(), generation=2, error="late", now_s=0, random=mid)
    assert isinstance(decision, IgnoreReport) and same == s


def test_failure_when_reported_twice_for_one_instance_then_counts_once():
    s, _ = child_failed(running(), spec(), generation=1, error="a", now_s=0, random=mid)
    s2, decision = child_failed(s, spec(), generation=1, error="b", now_s=0, random=mid)
    assert isinstance(decision, IgnoreReport) and s2.restarts == 1


def test_failure_when_policy_is_temporary_then_disabled_without_restart():
    s, decision = child_failed(running(), spec(policy=RestartPolicy.TEMPORARY), generation=1, error="x", now_s=0, random=mid)
    assert isinstance(decision, DisableChild) and s.state is ChildState.DISABLED and s.restarts == 0


def test_normal_exit_when_transient_then_stays_stopped_and_when_permanent_then_restarts():
    s, decision = child_exited_normally(running(), spec(policy=RestartPolicy.TRANSIENT), generation=1, now_s=0, random=mid)
    assert isinstance(decision, StayStopped) and s.state is ChildState.STOPPED
    s, decision = child_exited_normally(running(), spec(policy=RestartPolicy.PERMANENT), generation=1, now_s=0, random=mid)
    assert isinstance(decision, RestartAfter) and s.state is ChildState.RESTARTING


def test_operator_restart_when_disabled_then_fresh_budget():
    sp = spec(budget=RestartBudget(max_restarts=0, period_s=60))
    s, decision = child_failed(running(), sp, generation=1, error="x", now_s=0, random=mid)
    assert isinstance(decision, DisableChild)
    s = child_started(operator_restart(s), generation=2)
    assert s.state is ChildState.RUNNING and s.restart_times_s == () and s.disabled_reason is None


def test_spec_when_name_has_spaces_then_rejected():
    with pytest.raises(ValueError):
        ChildSpec(name="bad name", factory=lambda link: None)


def test_heartbeat_when_request_unanswered_past_deadline_then_hung():
    t = heartbeat_sent(HeartbeatTrack(), now_s=100)
    assert not is_hung(t, 10, 110) and is_hung(t, 10, 110.01)
    assert not heartbeat_due(t, 1, 200, started_s=0)  # one outstanding at a time
    t = heartbeat_answered(t, seq=t.seq, now_s=101)
    assert not is_hung(t, 10, 500)
    assert not heartbeat_due(t, 1, 101.5, started_s=0) and heartbeat_due(t, 1, 102, started_s=0)


def test_heartbeat_when_answer_has_wrong_seq_then_still_outstanding():
    t = heartbeat_sent(heartbeat_sent(HeartbeatTrack(), 0), 0)
    assert heartbeat_answered(t, seq=1, now_s=1).outstanding_since_s == 0


@pytest.mark.parametrize("source", list(ModeSource))
def test_safety_mode_when_tightened_then_any_source_may(source):
    assert request_safety_mode(SafetyMode.ACTIVE, SafetyMode.REDUCE_ONLY, source=source).mode is SafetyMode.REDUCE_ONLY
    assert request_safety_mode(SafetyMode.REDUCE_ONLY, SafetyMode.HALTED, source=source).mode is SafetyMode.HALTED


def test_safety_mode_when_automatic_source_loosens_then_refused():
    t = request_safety_mode(SafetyMode.HALTED, SafetyMode.ACTIVE, source=ModeSource.AUTOMATIC)
    assert t.mode is SafetyMode.HALTED and not t.changed and t.refused


def test_safety_mode_when_operator_asks_reduce_only_while_halted_then_refused_only_resume_leaves():
    t = request_safety_mode(SafetyMode.HALTED, SafetyMode.REDUCE_ONLY, source=ModeSource.OPERATOR)
    assert t.refused and "resume" in t.refused and t.mode is SafetyMode.HALTED
    t = request_safety_mode(SafetyMode.HALTED, SafetyMode.ACTIVE, source=ModeSource.OPERATOR)
    assert t.changed and t.mode is SafetyMode.ACTIVE


def test_safety_mode_when_resume_blocked_by_disabled_critical_child_then_refused():
    t = request_safety_mode(SafetyMode.HALTED, SafetyMode.ACTIVE, source=ModeSource.OPERATOR,
                            resume_blockers=("critical child risk is disabled",))
    assert t.mode is SafetyMode.HALTED and "risk" in t.refused


def test_safety_mode_severity_matches_the_metric():
    assert [m.severity for m in SafetyMode] == [0, 1, 2]
