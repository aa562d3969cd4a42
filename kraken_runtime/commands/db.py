"""`kraken-runtime db upgrade|info`: bring the schema up to date in place, or describe the database."""

from __future__ import annotations

import argparse
import sys

import orjson

from kraken_runtime.core.config import ConfigError
from kraken_runtime import exitcodes
from kraken_runtime.commands._common import add_config_arguments, fail_config, load_from_args
from kraken_runtime.storage.db import DatabaseMissing, StorageError, close_database, describe, make_database, open_database, redact_url
from kraken_runtime.storage.migrations import current_version, upgrade


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("db", help="upgrade or describe the database")
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply forward migrations in place (safe to repeat)")
    add_config_arguments(upgrade)
    upgrade.set_defaults(func=run)
    info = actions.add_parser("info", help="engine, schema version and row counts")
    add_config_arguments(info)
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings, _ = load_from_args(args)
    except ConfigError as error:
        return fail_config(error)
    url = settings.storage.db_url
    try:
        if args.db_action == "upgrade":
            db = make_database(url, busy_timeout_ms=settings.storage.sqlite_busy_timeout_ms)
            db.connect()
            before = current_version(db)
            applied = upgrade(db)
            close_database(db)
            if applied:
                print(f"database {redact_url(url)}: upgraded from schema version {before} to {applied[-1]} (applied {', '.join(map(str, applied))})")
            else:
                print(f"database {redact_url(url)}: already at schema version {before}; nothing to do")
            return exitcodes.OK
        db = open_database(url, busy_timeout_ms=settings.storage.sqlite_busy_timeout_ms, migrate=False)
        info = describe(db)
        close_database(db)
    except DatabaseMissing as error:
        print(f"db {args.db_action}: {error}", file=sys.stderr)
        return exitcodes.USAGE
    except StorageError as error:
        print(f"db {args.db_action}: {error}", file=sys.stderr)
        return exitcodes.FAILED
    except Exception as error:  # a driver error: one line, not a traceback
        first_line = (str(error).strip().splitlines() or [""])[0]
        print(f"db {args.db_action}: {redact_url(url)}: {type(error).__name__}: {first_line}", file=sys.stderr)
        return exitcodes.FAILED
    if args.json:
        print(orjson.dumps(info).decode())
    else:
        print(f"engine: {info['engine']}\ndatabase: {info['database']}\nschema version: {info['schema_version']} (latest {info['latest_version']})")
        for table, count in info["tables"].items():
            print(f"  {table:<22} {count if count is not None else '-'}")
    return exitcodes.OK
