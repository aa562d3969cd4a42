"""`kraken-runtime snapshot`: the Tier 1 / Tier 2 snapshot read straight from the database.

No daemon is needed: the same read model and documents the observer serves on /snapshot.json, over the
last 24 hours of UTC time ending now. Exit status: 0 printed, 1 the database could not be read,
2 bad usage or no database at the given path, 78 bad configuration.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import orjson

from kraken_runtime import exitcodes
from kraken_runtime.commands._common import add_config_arguments, fail_config, load_from_args, open_reader_database
from kraken_runtime.core.config import ConfigError
from kraken_runtime.core.snapshot import build_tier1, build_tier2, render_text, utc_window
from kraken_runtime.storage import readmodel
from kraken_runtime.storage.db import close_database, redact_url


def _tier(text: str) -> int:
    if text not in ("1", "2"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected 1 (public) or 2 (engineers)")
    return int(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("snapshot", help="Tier 1 / Tier 2 snapshot read from the database",
                                   description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the document as JSON (as /snapshot.json holds it)")
    parser.add_argument("--tier", metavar="1|2", type=_tier, default=None,
                        help="1: public cards, demo trades, notes; 2: state, health, modes, exposure, PnL, rejections, "
                             "latencies (default: both)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings, _ = load_from_args(args)
    except ConfigError as error:
        return fail_config(error)

    url = settings.storage.db_url
    db = open_reader_database("snapshot", settings)
    if isinstance(db, int):
        return db
    snapshot_ns = time.time_ns()
    window = utc_window(snapshot_ns)
    docs: dict[str, Any] = {}
    try:
        if args.tier in (None, 1):
            docs["tier1"] = build_tier1(readmodel.tier1_inputs(window, demo_trade_count=settings.observer.demo_trades),
                                        snapshot_ns=snapshot_ns)
        if args.tier in (None, 2):
            docs["tier2"] = build_tier2(readmodel.tier2_inputs(window), snapshot_ns=snapshot_ns)
    except Exception as error:  # a driver error: one line, not a traceback
        first_line = (str(error).strip().splitlines() or [""])[0]
        print(f"snapshot: {redact_url(url)}: {type(error).__name__}: {first_line}", file=sys.stderr)
        return exitcodes.FAILED
    finally:
        close_database(db)
    if args.json:
        payload: Any = docs if args.tier is None else next(iter(docs.values()))
        print(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
    else:
        print("\n\n".join(render_text(doc) for doc in docs.values()))
    return exitcodes.OK
