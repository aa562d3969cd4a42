"""`kraken-runtime ctl`: operator commands through the database.

The command becomes a control_commands row; a running daemon's supervisor claims it, applies it within
a second and writes the result back; this command waits for that result and prints it.
Exit status: 0 applied, 1 refused or failed, or claimed by a daemon that did not answer in time
(outcome unknown: check `ctl status`), 2 bad usage, 3 not applied: no daemon answered within --timeout
(the row is then withdrawn, so a daemon started later never applies a stale command) or a daemon found
it older than supervisor.control_command_max_age_s, 78 bad config, 130 interrupted (Ctrl-C; the row is
withdrawn unless a daemon already claimed it).
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

import orjson

from kraken_runtime.core import control as ctl
from kraken_runtime.core.config import ConfigError
from kraken_runtime import exitcodes
from kraken_runtime.commands._common import (
    add_config_arguments, fail_config, load_from_args, open_reader_database, seconds_argument,
)
from kraken_runtime.storage import repo
from kraken_runtime.storage.db import close_database, redact_url

POLL_INTERVAL_S = 0.1
CLAIMED_GRACE_S = 5.0  # a daemon claimed the command just as we gave up: let it finish


def _times(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= ctl.MAX_FAULT_TIMES:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number from 1 to {ctl.MAX_FAULT_TIMES}")
    return int(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ctl", help="operator commands through the database (status, halt, resume, ...)",
                                   description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", default=False, help="print the result as JSON")
    parser.add_argument("--timeout", metavar="S", type=seconds_argument(max_s=3600), default=10.0,
                        help="seconds to wait for a daemon's answer (default 10)")
    parser.add_argument("--shard", metavar="NAME", help="only the daemon of this shard may apply it (default: any)")
    commands = parser.add_subparsers(dest="ctl_command", metavar="COMMAND", required=True, parser_class=type(parser))

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the result as JSON")
        sub.set_defaults(func=run)
        return sub

    add("status", "safety mode, children, strategies")
    for name, help_text in (("halt", "enter HALTED: no new orders, open orders cancelled"),
                            ("reduce-only", "enter REDUCE_ONLY: only orders that reduce exposure"),
                            ("resume", "leave REDUCE_ONLY / HALTED for ACTIVE (the only way out)")):
        add(name, help_text).add_argument("--reason", default="operator", help="recorded with the change")
    for name, verb in (("disable-strategy", "stop"), ("enable-strategy", "let")):
        add(name, f"{verb} a strategy contributing (persisted)").add_argument(
            "strategy", metavar="NAME", help="one of: " + ", ".join(ctl.KNOWN_STRATEGIES))
    add("restart", "restart a child now (also re-enables a disabled one)").add_argument("actor", metavar="ACTOR")
    fault = add("inject-fault", "operator fault drill: the actor raises on its next N messages")
    fault.add_argument("actor", metavar="ACTOR")
    fault.add_argument("--times", metavar="N", type=_times, default=1, help="how many messages raise (default 1)")
    fault.add_argument("--allow-in-live", action="store_true", help="permit the drill on a live-mode daemon")


def _command_from_args(args: argparse.Namespace) -> ctl.Command:
    name = args.ctl_command
    raw: dict[str, Any] = {}
    for key in ("reason", "strategy", "actor", "times", "allow_in_live"):
        if getattr(args, key, None) is not None:
            raw[key] = getattr(args, key)
    return ctl.parse_command(name, raw)


def _issued_by() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"[:128]


def _print_status_text(doc: dict[str, Any]) -> None:
    print(f"safety mode: {doc['safety_mode']}" + (f" ({doc['safety_reason']})" if doc.get("safety_reason") else ""))
    print(f"run: {doc.get('run_id')}  mode: {doc.get('mode')}  shard: {doc.get('shard')}  "
          f"stuck threads: {doc.get('stuck_threads', 0)}  messages dropped: {doc.get('messages_dropped', 0)}")
    if "ready" in doc:
        print(f"ready: {'yes' if doc['ready'] else 'no'} ({doc.get('ready_reason', '')})")
    if "lease_age_s" in doc:
        lease = f"run lease: renewed {doc['lease_age_s']}s ago" if doc["lease_age_s"] is not None else "run lease: never renewed"
        if doc.get("lease_failures"):
            lease += f" ({doc['lease_failures']} failed renewal(s) in a row: {doc.get('lease_error', '')})"
        print(lease)
    print("children:")
    for child in doc["children"]:
        error = f"  last error: {child['last_error']}" if child.get("last_error") else ""
        revive = f"  revived in {child['revive_in_s']}s" if child.get("revive_in_s") is not None else ""
        print(f"  {child['name']:<24} {child['state']:<10} restarts={child['restarts']:<3} mailbox={child['mailbox']}{revive}{error}")
    if "symbols" in doc:
        print(f"symbols: {doc.get('symbols_ready', 0)}/{doc.get('symbols_total', len(doc['symbols']))} ready")
        for row in doc["symbols"]:
            age = f"last message {row['last_message_age_s']}s ago" if row.get("last_message_age_s") is not None else "no message yet"
            print(f"  {row['symbol']:<24} {row['status']:<30} {age}")
    actors = {child["name"]: child["state"] for child in doc["children"]}
    print("strategies: " + ", ".join(f"{name}={'on' if on else 'off'} (actor {actors.get(f'strategy:{name}', 'none')})"
                                     for name, on in doc["strategies"].items()))


def handle_ctrl_c() -> None:
    """Ctrl-C (SIGINT) interrupts ctl even when it was started with SIGINT ignored (a shell's background job,
    nohup, some service wrappers pass SIG_IGN on): the wait must stay interruptible so the row is withdrawn."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run(args: argparse.Namespace) -> int:
    handle_ctrl_c()
    try:
        command = _command_from_args(args)
    except ctl.CommandError as error:
        print(f"ctl: {error}", file=sys.stderr)
        return exitcodes.USAGE
    try:
        settings, _ = load_from_args(args)
    except ConfigError as error:
        return fail_config(error)

    url = settings.storage.db_url
    db = open_reader_database("ctl", settings, missing_exit=exitcodes.TIMEOUT, missing_prefix="no daemon answering: ")
    if isinstance(db, int):
        return db
    if args.shard is None and command.name in FLEET_COMMANDS:
        try:
            shards = live_shards(settings)
            if len(shards) > 1:  # a fleet: every shard applies it (and status lists every shard)
                try:
                    return _fan_out(command, shards, args)
                finally:
                    close_database(db)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # a driver error: one line, not a traceback
            first_line = (str(error).strip().splitlines() or [""])[0]
            print(f"ctl: {redact_url(url)}: {type(error).__name__}: {first_line}", file=sys.stderr)
            close_database(db)
            return exitcodes.FAILED
    command_id: int | None = None
    try:
        command_id = repo.insert_control_command(command.name, ctl.command_args(command), issued_by=_issued_by(),
                                                 now_ns=time.time_ns(), target_shard=args.shard)
        outcome, record = _wait_for_result(repo, command_id, args.timeout)
    except KeyboardInterrupt:
        _withdraw_on_interrupt(repo, command_id)
        raise
    except Exception as error:  # a driver error: one line, not a traceback
        first_line = (str(error).strip().splitlines() or [""])[0]
        print(f"ctl: {redact_url(url)}: {type(error).__name__}: {first_line}", file=sys.stderr)
        return exitcodes.FAILED
    finally:
        close_database(db)
    if outcome == WITHDRAWN:
        print(f"ctl: no daemon answered {command.name!r} within {args.timeout:g}s; command #{command_id} withdrawn",
              file=sys.stderr)
        return exitcodes.TIMEOUT
    if outcome == UNKNOWN:
        run_text = f"run {record.applied_by_run}" if record is not None and record.applied_by_run is not None else "a daemon"
        print(f"ctl: command #{command_id} ({command.name}) claimed by {run_text}, outcome unknown; check `ctl status`",
              file=sys.stderr)
        return exitcodes.FAILED
    if record.status == "expired":  # a daemon found it too old (clock skew, or a --timeout beyond the maximum age)
        message = (record.result or {}).get("message", "expired")
        print(f"ctl: command #{command_id} ({command.name}) not applied: {message}", file=sys.stderr)
        return exitcodes.TIMEOUT
    result = dict(record.result or {})
    status = record.status if record.status in ctl.RESULT_STATUSES else "failed"
    message = result.get("message", "")
    data = result.get("data") or {}
    if args.json:
        if command.name == "status" and status == "applied":
            print(orjson.dumps(ctl.ordered_status_document(data)).decode())
        else:
            print(orjson.dumps({"command_id": command_id, "command": command.name, "status": status,
                                "message": message, "data": data}).decode())
    elif command.name == "status" and status == "applied":
        _print_status_text(data)
    else:
        stream = sys.stdout if status == "applied" else sys.stderr
        print(f"{command.name}: {status}: {message}", file=stream)
    return ctl.exit_code_for(status)


ANSWERED, WITHDRAWN, UNKNOWN = "answered", "withdrawn", "unknown"

# Without --shard these go to every live shard of the fleet (one row per shard), not to whichever claims first.
FLEET_COMMANDS = frozenset({"halt", "reduce-only", "resume", "status"})


def live_shards(settings: Any) -> list[str]:
    """Shards with a running run whose lease is fresh (the daemons that can answer), sorted."""
    window_s = max(30.0, 2 * settings.supervisor.heartbeat_deadline_ms / 1000)
    runs = repo.live_runs(since_ns=time.time_ns() - int(window_s * 1e9))
    return sorted({str(run["shard"]) for run in runs})


def _fan_out(command: ctl.Command, shards: list[str], args: argparse.Namespace) -> int:
    """One row per shard, each targeted; wait for every answer (one shared deadline); one line per shard."""
    ids: dict[str, int] = {}
    try:
        for shard in shards:
            ids[shard] = repo.insert_control_command(command.name, ctl.command_args(command), issued_by=_issued_by(),
                                                     now_ns=time.time_ns(), target_shard=shard)
        deadline = time.monotonic() + args.timeout
        outcomes = {shard: _wait_for_result(repo, command_id, max(0.0, deadline - time.monotonic()))
                    for shard, command_id in ids.items()}
    except KeyboardInterrupt:
        for command_id in ids.values():
            _withdraw_on_interrupt(repo, command_id)
        raise
    codes = []
    documents: dict[str, Any] = {}
    for shard, (outcome, record) in outcomes.items():
        if outcome == WITHDRAWN:
            codes.append(exitcodes.TIMEOUT)
            documents[shard] = {"status": "no answer", "message": f"no daemon of shard {shard} answered within {args.timeout:g}s"}
            continue
        if outcome == UNKNOWN or record is None:
            codes.append(exitcodes.FAILED)
            documents[shard] = {"status": "unknown", "message": "claimed, outcome unknown; check `ctl status`"}
            continue
        result = dict(record.result or {})
        status = record.status if record.status in ctl.RESULT_STATUSES else ("expired" if record.status == "expired" else "failed")
        codes.append(ctl.exit_code_for(status) if status != "expired" else exitcodes.TIMEOUT)
        documents[shard] = {"status": status, "message": result.get("message", ""), "data": result.get("data") or {}}
    if args.json:
        print(orjson.dumps({"command": command.name, "shards": {
            shard: (ctl.ordered_status_document(doc["data"]) if command.name == "status" and doc["status"] == "applied" else doc)
            for shard, doc in documents.items()}}).decode())
    else:
        for shard, doc in documents.items():
            if command.name == "status" and doc["status"] == "applied":
                print(f"== shard {shard} ==")
                _print_status_text(doc["data"])
            else:
                stream = sys.stdout if doc["status"] == "applied" else sys.stderr
                print(f"{command.name}: {doc['status']}: {doc['message']} (shard {shard})", file=stream)
    return max(codes) if codes else exitcodes.OK



def _wait_for_result(repo: Any, command_id: int, timeout_s: float) -> tuple[str, Any]:
    """(outcome, record): ANSWERED with the finished (or daemon-expired) record; WITHDRAWN when no daemon
    claimed it within the timeout (ctl expired the row); UNKNOWN when a daemon claimed it (`applying`) but
    wrote no result within the timeout plus a grace period: it may or may not have been applied."""
    deadline = time.monotonic() + timeout_s
    grace_until: float | None = None
    while True:
        record = repo.get_control_command(command_id)
        if record is not None and (record.status in ctl.RESULT_STATUSES or record.status == "expired"):
            return ANSWERED, record
        now = time.monotonic()
        if grace_until is not None and now >= grace_until:
            return UNKNOWN, record
        if grace_until is None and now >= deadline:
            if repo.expire_control_command(command_id, now_ns=time.time_ns()):
                return WITHDRAWN, None
            grace_until = now + CLAIMED_GRACE_S  # claimed meanwhile: the daemon is answering
        time.sleep(POLL_INTERVAL_S)


def _withdraw_on_interrupt(repo: Any, command_id: int | None) -> None:
    """Ctrl-C: withdraw the command unless a daemon claimed it already; say which, on one line."""
    if command_id is None:
        return  # interrupted before the row was written (or while writing it: the daemon's maximum age expires it)
    try:
        withdrawn = repo.expire_control_command(command_id, now_ns=time.time_ns())
    except Exception as error:  # noqa: BLE001 - interrupted anyway; the daemon's maximum age expires the row
        print(f"ctl: interrupted; could not withdraw command #{command_id}: {type(error).__name__}", file=sys.stderr)
        return
    if withdrawn:
        print(f"ctl: interrupted; command #{command_id} withdrawn", file=sys.stderr)
    else:
        print(f"ctl: interrupted; command #{command_id} was already claimed by a daemon; check `ctl status`", file=sys.stderr)
