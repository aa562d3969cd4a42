"""`kraken-runtime sim`: the local Kraken-compatible exchange.

Prints exactly one JSON line on stdout (endpoints and demo credentials), then serves until SIGTERM or
SIGINT and exits 0. Bad arguments: one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import signal
import sys
import threading
from decimal import InvalidOperation
from typing import Any

from kraken_runtime import exitcodes
from kraken_runtime.commands._common import UsageParser
from kraken_runtime.core.config import SimSettings
from kraken_runtime.core.sim.instruments import INSTRUMENTS

# `sim` and `run --market sim` serve the same market by default: one seed, the config schema's.
DEFAULT_SEED: int = SimSettings.model_fields["seed"].default


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sim", help="run the local Kraken-compatible exchange",
        description="Serve Kraken's WS v2 (public, level3, auth), REST and a reference feed on one port, "
                    "from a seeded market model or a recorded capture, with fault injection.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument("--symbols", default=None,
                        help="comma-separated WS v2 symbols, e.g. BTC/USD,ETH/USD (default: four majors)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"market model seed (default {DEFAULT_SEED}, as sim.seed for `run --market sim`)")
    parser.add_argument("--replay", default=None, metavar="FILE",
                        help="serve a recorded capture (JSON lines or {init, updates}) on the public endpoint")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed factor (default 1.0)")
    parser.add_argument("--account", action="append", default=[], metavar="KEY:SECRET",
                        help="API key and base64 secret (repeatable; default: one demo account)")
    parser.add_argument("--balance", action="append", default=[], metavar="ASSET=AMOUNT",
                        help="starting balance of every account (repeatable)")
    parser.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"kraken-runtime sim: error: {message}", file=sys.stderr)
    return exitcodes.USAGE


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the CLI imports every command module to register it, and the
    # server's import costs 0.35-0.5 s (measured with -X importtime) that no other command should pay.
    from kraken_runtime.sim_server.app import parse_balances, start_sim
    from kraken_runtime.sim_server.replay import load_capture

    if not 0 <= args.port <= 65535:
        return _fail("--port must be within 0..65535")
    if args.speed <= 0:
        return _fail("--speed must be > 0")
    symbols = None
    if args.symbols:
        symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
        if not symbols:
            return _fail("--symbols is empty")
        unknown = [s for s in symbols if s not in INSTRUMENTS]
        if unknown:
            return _fail(f"the local exchange does not list {', '.join(unknown)}; it lists {', '.join(sorted(INSTRUMENTS))}")
    accounts = None
    if args.account:
        accounts = {}
        for item in args.account:
            key, sep, secret = item.partition(":")
            if not sep or not key or not secret:
                return _fail(f"bad --account {item!r} (use KEY:SECRET)")
            try:
                base64.b64decode(secret, validate=True)
            except (binascii.Error, ValueError):
                return _fail(f"the secret of --account {key!r} is not base64")
            accounts[key] = secret
    try:
        balances = parse_balances(args.balance)
    except (ValueError, InvalidOperation) as exc:
        return _fail(str(exc))
    if args.replay is not None:
        try:
            load_capture(args.replay)
        except (OSError, ValueError) as exc:
            return _fail(f"cannot read --replay {args.replay}: {exc}")
    try:
        handle = start_sim(host=args.host, port=args.port, symbols=symbols, seed=args.seed, replay=args.replay,
                           speed=args.speed, accounts=accounts, balances=balances)
    except ValueError as exc:
        return _fail(str(exc))
    except OSError as exc:
        print(f"kraken-runtime sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return exitcodes.FAILED
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        sys.stdout.write(json.dumps(handle.endpoints) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            if not handle.thread.is_alive():
                print("kraken-runtime sim: the server stopped unexpectedly", file=sys.stderr)
                return exitcodes.FAILED
    finally:
        handle.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exitcodes.OK


def main(argv: list[str] | None = None) -> int:
    """`python -m kraken_runtime.commands.sim ...` (the same as `kraken-runtime sim ...`)."""
    parser = UsageParser(prog="kraken-runtime")
    register(parser.add_subparsers(dest="command", parser_class=UsageParser))
    args = parser.parse_args(["sim", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
