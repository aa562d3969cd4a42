"""`kraken-runtime config check|show`: validate or print the effective configuration."""

from __future__ import annotations

import argparse
import sys

import yaml

from kraken_runtime.core.config import ConfigError
from kraken_runtime import exitcodes
from kraken_runtime.commands._common import add_config_arguments, fail_config, load_from_args
from kraken_runtime.preflight import check_run
from kraken_runtime.storage.db import redact_url


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("config", help="check or show the effective configuration")
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate the configuration layers; exit 78 with one line on a problem")
    add_config_arguments(check)
    check.set_defaults(func=run)
    show = actions.add_parser("show", help="print the effective configuration as YAML, secrets redacted")
    add_config_arguments(show)
    show.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings, secrets = load_from_args(args)
    except ConfigError as error:
        return fail_config(error)
    if args.config_action == "check":
        problems = check_run(settings, secrets)  # the checks `run` makes before any side effect, same secrets
        if problems:
            for problem in problems:
                print(problem.line, file=sys.stderr)
            return max(problem.exit_code for problem in problems)
        print(
            f"config ok: mode={settings.runtime.mode} market={settings.runtime.market} "
            f"symbols={','.join(settings.runtime.symbols)} db={_redacted_url(settings.storage.db_url)} "
            f"credentials={'present' if secrets.present else 'absent'} hash={settings.config_hash()}"
        )
        return exitcodes.OK
    document = settings.to_plain()
    document["storage"]["db_url"] = _redacted_url(settings.storage.db_url)
    document["secrets"] = secrets.redacted()
    sys.stdout.write(yaml.safe_dump(document, sort_keys=False, default_flow_style=False))
    return exitcodes.OK


def _redacted_url(url: str) -> str:
    return redact_url(url)
