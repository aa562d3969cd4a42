"""Revival of disabled children (core/supervision.py): a pure policy over an injected clock."""

from __future__ import annotations

import pytest

from kraken_runtime.core.supervision import (
    ChildSpec,
    ChildState,
    ChildStatus,
    RestartBudget,
    RestartPolicy,
    RevivalPolicy,
    child_failed,
    child_revived,
    child_started,
    operator_restart,
    revival_due_at_s,
    revival_is_due,
)

SPEC = ChildSpec(name="run-lease", factory=lambda link: None, budget=RestartBudget(max_restarts=0, period_s=60))
POLICY = RevivalPolicy(initial_s=60, max_s=200)


def _disabled(now_s: float, status: ChildStatus | None = None, spec: ChildSpec = SPEC) -> ChildStatus:
    status = child_started(status or ChildStatus(name=spec.name), generation=(status.generation if status else 0) + 1)
    status, _ = child_failed(status, spec, generation=status.generation, error="OperationalError", now_s=now_s,
                             random=lambda: 0.5)
    assert status.state is ChildState.DISABLED
    return status


def test_a_disabled_child_is_revived_after_the_cool_off_and_each_revival_doubles_the_next_up_to_the_cap() -> None:
    status = _disabled(100.0)
    assert revival_due_at_s(status, SPEC, POLICY) == 160.0
    assert not revival_is_due(status, SPEC, POLICY, 159.9) and revival_is_due(status, SPEC, POLICY, 160.0)
    status = child_revived(status)
    assert status.state is ChildState.RESTARTING and status.revivals == 1 and status.restart_times_s == ()
    status = _disabled(200.0, status)
    assert revival_due_at_s(status, SPEC, POLICY) == 320.0
    status = _disabled(400.0, child_revived(status))
    assert revival_due_at_s(status, SPEC, POLICY) == 600.0  # 240 capped at 200


def test_operator_restart_resets_the_revival_cool_off() -> None:
    status = _disabled(0.0, child_revived(_disabled(0.0)))
    assert status.revivals == 1
    assert operator_restart(status).revivals == 0


def test_no_revival_when_turned_off_for_temporary_children_or_when_not_disabled() -> None:
    status = _disabled(0.0)
    assert revival_due_at_s(status, SPEC, RevivalPolicy(initial_s=0, max_s=0)) is None
    temporary = ChildSpec(name="once", factory=lambda link: None, policy=RestartPolicy.TEMPORARY)
    assert revival_due_at_s(_disabled(0.0, spec=temporary), temporary, POLICY) is None
    assert revival_due_at_s(child_started(ChildStatus(name="x"), generation=1), SPEC, POLICY) is None


def test_revival_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RevivalPolicy(initial_s=-1, max_s=10)
    with pytest.raises(ValueError):
        RevivalPolicy(initial_s=100, max_s=10)
