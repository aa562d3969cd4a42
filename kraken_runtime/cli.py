"""The `kraken-runtime` command line: one parser, one module per subcommand (kraken_runtime/commands/)."""

from __future__ import annotations

import argparse
import importlib
import sys

from kraken_runtime import __version__
from kraken_runtime import exitcodes
from kraken_runtime.commands._common import UsageParser


# Subcommand modules, in the order `--help` lists them. A module is listed only once it does real work.
COMMANDS: tuple[str, ...] = (
    "run",
    "ctl",
    "snapshot",
    "explain",
    "sim",
    "verify-capture",
    "record",
    "config",
    "db",
)


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="kraken-runtime",
        description="Autonomous, supervised trading runtime for Kraken spot.",
        epilog="Exit codes: 0 ok, 1 failed, 2 bad usage or input, 3 no daemon answered (ctl), 78 bad configuration, "
               "130 interrupted (Ctrl-C; `run` stops cleanly with 0).",
    )
    parser.add_argument("--version", action="version", version=f"kraken-runtime {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=UsageParser)
    for name in COMMANDS:
        importlib.import_module(f"kraken_runtime.commands.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return exitcodes.USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        # Ctrl-C cut the command short: 128 + SIGINT, as a shell reports it, so a script can tell. `run` is
        # the exception: SIGINT is how an operator stops the daemon (it installs its own handler and stops
        # cleanly with 0); an interrupt that reaches here came before that handler, during start-up, and
        # still counts as the stop the operator asked for.
        return exitcodes.OK if args.command == "run" else exitcodes.INTERRUPTED
    except BrokenPipeError:
        return exitcodes.OK


if __name__ == "__main__":
    raise SystemExit(main())
