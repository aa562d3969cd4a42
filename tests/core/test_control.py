"""core/control.py: command parsing and validation, result and status shapes (pure)."""

from __future__ import annotations

import pytest

from kraken_runtime.core import control as ctl


@pytest.mark.parametrize("command", [
    ctl.ShowStatus(), ctl.Halt(reason="drill"), ctl.ReduceOnly(), ctl.Resume(), ctl.DisableStrategy(strategy="momentum"),
    ctl.EnableStrategy(strategy="premium_gap"), ctl.RestartActor(actor="feed:BTC/USD"),
    ctl.InjectFault(actor="run-lease", times=3, allow_in_live=True),
])
def test_command_when_written_as_row_then_parses_back_equal(command):
    assert ctl.parse_command(command.name, ctl.command_args(command)) == command


def test_known_strategies_are_the_five_of_the_design():
    assert ctl.KNOWN_STRATEGIES == ("imbalance", "spread_compression", "momentum", "premium_gap")


@pytest.mark.parametrize("name,args,needle", [
    ("disable-strategy", {"strategy": "martingale"}, "unknown strategy"),
    ("enable-strategy", {}, "missing STRATEGY"),
    ("restart", {"actor": "has space"}, "not a child name"),
    ("inject-fault", {"actor": "x", "times": 0}, "--times"),
    ("inject-fault", {"actor": "x", "times": True}, "--times"),
    ("inject-fault", {"actor": "x", "times": "3"}, "--times"),
    ("inject-fault", {"actor": "x", "allow_in_live": "yes"}, "allow_in_live"),
    ("launch", {}, "unknown command"),
])
def test_parse_when_arguments_invalid_then_command_error_names_the_problem(name, args, needle):
    with pytest.raises(ctl.CommandError, match=needle):
        ctl.parse_command(name, args)


def test_inject_fault_when_live_then_refused_unless_allowed():
    assert ctl.inject_fault_refusal(ctl.InjectFault(actor="a"), mode="live")
    assert ctl.inject_fault_refusal(ctl.InjectFault(actor="a", allow_in_live=True), mode="live") is None
    assert ctl.inject_fault_refusal(ctl.InjectFault(actor="a"), mode="paper") is None


def test_result_when_status_unknown_then_rejected_and_exit_codes_follow_status():
    with pytest.raises(ValueError):
        ctl.CommandResult(status="maybe", message="")
    assert [ctl.exit_code_for(s) for s in ctl.RESULT_STATUSES] == [0, 1, 1]


def test_status_document_has_the_contract_shape():
    doc = ctl.status_document(
        safety_mode="halted", safety_reason="x",
        children=(ctl.ChildReport(name="risk", state="disabled", restarts=5, last_error="boom", mailbox=0, critical=True),),
        strategies={"momentum": False}, run_id=3, mode="paper", shard="default", stuck_threads=0, dropped_messages=2,
    )
    assert list(doc)[:3] == ["safety_mode", "children", "strategies"]
    assert doc["safety_mode"] == "halted"
    assert {k: doc["children"][0][k] for k in ("name", "state", "restarts", "last_error", "mailbox")} == {
        "name": "risk", "state": "disabled", "restarts": 5, "last_error": "boom", "mailbox": 0}
    assert doc["strategies"] == {"imbalance": True, "spread_compression": True, "momentum": False, "premium_gap": True}
    line = ctl.status_line(doc)
    assert "safety_mode=halted" in line and "disabled=1" in line and "strategies_off=momentum" in line


def test_ordered_status_document_when_keys_were_sorted_by_storage_then_contract_order_restored():
    stored = {"strategies": {"premium_gap": False}, "mode": "paper", "safety_mode": "active",
              "children": [{"mailbox": 0, "state": "running", "name": "a", "restarts": 0, "last_error": None, "critical": False}]}
    doc = ctl.ordered_status_document(stored)
    assert list(doc) == ["safety_mode", "children", "strategies", "mode"]
    assert list(doc["children"][0]) == ["name", "state", "restarts", "last_error", "mailbox", "critical"]
    assert list(doc["strategies"]) == list(ctl.KNOWN_STRATEGIES) and doc["strategies"]["premium_gap"] is False
