"""Operator control, pure: the `ctl` commands as typed values, their validation, the shape of a result
and of the `status --json` document.

A command travels as a control_commands row (`command` name + JSON `args`); both ends use this module:
`ctl` validates before it writes the row (bad usage is exit 2 without touching the daemon), and the
supervisor parses the row again (a row written by anything else is refused, never trusted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

# The strategies of core/signals/ (STRATEGY_NAMES; a test keeps the two equal). `enable-strategy` /
# `disable-strategy` accept only these names. (Regime detection is the scanner's, not a strategy.)
KNOWN_STRATEGIES: tuple[str, ...] = ("imbalance", "spread_compression", "momentum", "premium_gap")

COMMAND_NAMES: tuple[str, ...] = (
    "status", "halt", "reduce-only", "resume", "disable-strategy", "enable-strategy", "restart", "inject-fault",
)

RESULT_STATUSES = ("applied", "refused", "failed")
MAX_FAULT_TIMES = 1000
_ACTOR_NAME = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")


class CommandError(ValueError):
    """A command or its arguments are not valid: one line, bad usage (exit 2 in ctl; refused in the daemon)."""


# --- commands -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowStatus:
    name = "status"


@dataclass(frozen=True, slots=True, kw_only=True)
class Halt:
    name = "halt"
    reason: str = "operator"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReduceOnly:
    name = "reduce-only"
    reason: str = "operator"


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume:
    name = "resume"
    reason: str = "operator"


@dataclass(frozen=True, slots=True, kw_only=True)
class DisableStrategy:
    name = "disable-strategy"
    strategy: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EnableStrategy:
    name = "enable-strategy"
    strategy: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartActor:
    name = "restart"
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InjectFault:
    name = "inject-fault"
    actor: str
    times: int = 1
    allow_in_live: bool = False


Command = ShowStatus | Halt | ReduceOnly | Resume | DisableStrategy | EnableStrategy | RestartActor | InjectFault


def _text(args: Mapping[str, Any], key: str, command: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CommandError(f"{command}: missing {key.upper()}")
    return value.strip()


def _reason(args: Mapping[str, Any]) -> str:
    reason = args.get("reason", "operator")
    if not isinstance(reason, str):
        raise CommandError("reason must be text")
    return reason[:500] or "operator"


def _strategy(args: Mapping[str, Any], command: str) -> str:
    name = _text(args, "strategy", command)
    if name not in KNOWN_STRATEGIES:
        raise CommandError(f"{command}: unknown strategy {name!r}; expected one of {', '.join(KNOWN_STRATEGIES)}")
    return name


def _actor(args: Mapping[str, Any], command: str) -> str:
    name = _text(args, "actor", command)
    if not _ACTOR_NAME.match(name):
        raise CommandError(f"{command}: actor name {name!r} is not a child name such as 'run-lease' or 'feed:BTC/USD'")
    return name


def parse_command(command: str, args: Mapping[str, Any] | None = None) -> Command:
    """The typed command for a name and its arguments, or CommandError naming what is wrong."""
    args = dict(args or {})
    match command:
        case "status":
            return ShowStatus()
        case "halt":
            return Halt(reason=_reason(args))
        case "reduce-only":
            return ReduceOnly(reason=_reason(args))
        case "resume":
            return Resume(reason=_reason(args))
        case "disable-strategy":
            return DisableStrategy(strategy=_strategy(args, command))
        case "enable-strategy":
            return EnableStrategy(strategy=_strategy(args, command))
        case "restart":
            return RestartActor(actor=_actor(args, command))
        case "inject-fault":
            times = args.get("times", 1)
            if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_FAULT_TIMES:
                raise CommandError(f"inject-fault: --times {times!r}; expected a whole number from 1 to {MAX_FAULT_TIMES}")
            allow = args.get("allow_in_live", False)
            if not isinstance(allow, bool):
                raise CommandError("inject-fault: allow_in_live must be true or false")
            return InjectFault(actor=_actor(args, command), times=times, allow_in_live=allow)
        case _:
            raise CommandError(f"unknown command {command!r}; expected one of {', '.join(COMMAND_NAMES)}")


def command_args(command: Command) -> dict[str, Any]:
    """The JSON `args` stored with a command (the inverse of parse_command)."""
    match command:
        case ShowStatus():
            return {}
        case Halt() | ReduceOnly() | Resume():
            return {"reason": command.reason}
        case DisableStrategy() | EnableStrategy():
            return {"strategy": command.strategy}
        case RestartActor():
            return {"actor": command.actor}
        case InjectFault():
            return {"actor": command.actor, "times": command.times, "allow_in_live": command.allow_in_live}
    raise TypeError(f"not a command: {command!r}")


def inject_fault_refusal(command: InjectFault, *, mode: str) -> str | None:
    """Fault drills are refused in live mode unless explicitly allowed."""
    if mode == "live" and not command.allow_in_live:
        return "inject-fault is refused in live mode; add --allow-in-live to drill on a live daemon"
    return None


# --- results ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandResult:
    """What the supervisor writes back: applied | refused | failed, one line, and data (status doc)."""

    status: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in RESULT_STATUSES:
            raise ValueError(f"result status {self.status!r}; expected one of {RESULT_STATUSES}")

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "data": dict(self.data)}


def applied(message: str, data: Mapping[str, Any] | None = None) -> CommandResult:
    return CommandResult(status="applied", message=message, data=data or {})


def refused(message: str) -> CommandResult:
    return CommandResult(status="refused", message=message)


def exit_code_for(status: str) -> int:
    """ctl's exit code for a result status: 0 applied, 1 refused or failed."""
    return 0 if status == "applied" else 1


# --- status document ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildReport:
    name: str
    state: str  # running | restarting | disabled | stopped
    restarts: int
    last_error: str | None
    mailbox: int
    critical: bool = False
    failures: int = 0


def status_document(*, safety_mode: str, safety_reason: str, children: tuple[ChildReport, ...],
                    strategies: Mapping[str, bool], run_id: int | None, mode: str, shard: str,
                    stuck_threads: int, dropped_messages: int) -> dict[str, Any]:
    """The `ctl status --json` document. The first three keys are the contract; more may follow."""
    return {
        "safety_mode": safety_mode,
        "children": [
            {"name": c.name, "state": c.state, "restarts": c.restarts, "last_error": c.last_error, "mailbox": c.mailbox,
             "critical": c.critical, "failures": c.failures}
            for c in children
        ],
        "strategies": {name: bool(strategies.get(name, True)) for name in KNOWN_STRATEGIES},
        "safety_reason": safety_reason,
        "run_id": run_id,
        "mode": mode,
        "shard": shard,
        "stuck_threads": stuck_threads,
        "messages_dropped": dropped_messages,
    }


_DOC_ORDER = ("safety_mode", "children", "strategies")
_CHILD_ORDER = ("name", "state", "restarts", "last_error", "mailbox")


def ordered_status_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document with the contract's keys first, in the contract's order (a JSON column may have
    sorted them); the rest follow sorted."""
    def order(mapping: Mapping[str, Any], first: tuple[str, ...]) -> dict[str, Any]:
        out = {key: mapping[key] for key in first if key in mapping}
        out.update({key: mapping[key] for key in sorted(mapping) if key not in out})
        return out

    doc = order(document, _DOC_ORDER)
    doc["children"] = [order(child, _CHILD_ORDER) for child in document.get("children", ())]
    doc["strategies"] = {name: document.get("strategies", {}).get(name, True) for name in KNOWN_STRATEGIES}
    return doc


def strategies_with_defaults(stored: Mapping[str, bool]) -> dict[str, bool]:
    """Every known strategy, enabled unless a stored setting says otherwise."""
    return {name: bool(stored.get(name, True)) for name in KNOWN_STRATEGIES}


def status_line(document: Mapping[str, Any]) -> str:
    """The daemon's periodic one-line status."""
    counts = {"running": 0, "restarting": 0, "disabled": 0, "stopped": 0}
    for child in document["children"]:
        counts[child["state"]] = counts.get(child["state"], 0) + 1
    off = sorted(name for name, on in document["strategies"].items() if not on)
    return (f"status: safety_mode={document['safety_mode']} children running={counts['running']} "
            f"restarting={counts['restarting']} disabled={counts['disabled']}"
            + (f" disabled_children={','.join(c['name'] for c in document['children'] if c['state'] == 'disabled')}" if counts['disabled'] else "")
            + f" strategies_off={','.join(off) or '-'} run={document.get('run_id')}")
