"""Shared by the subcommands: the parser class, the configuration layers and the secrets."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn

from dotenv import dotenv_values

from kraken_runtime.core.config import ConfigError, Secrets, Settings, load_settings, secrets_from_env, SECRET_ENV_NAMES
from kraken_runtime import exitcodes
from kraken_runtime.storage.db import Database, DatabaseMissing, StorageError, open_database


class UsageParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(exitcodes.USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class CommandFailed(Exception):
    """Raised inside a command to exit with `code` after printing one line."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def add_config_arguments(parser: argparse.ArgumentParser, *, db: bool = True) -> None:
    parser.add_argument("--config", metavar="PATH", help="YAML configuration file (see config/default.yaml)")
    parser.add_argument("--env-file", metavar="PATH", default=".env",
                        help="file with KRAKEN_API_KEY / KRAKEN_API_SECRET / KRT_* settings (default: ./.env if present)")
    if db:
        parser.add_argument("--db", metavar="URL", help="database URL (sqlite:///PATH or postgresql://USER@HOST:PORT/DB)")


def effective_environment(env_file: str | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment over the .env file's values (the real environment wins)."""
    environ = dict(os.environ if environ is None else environ)
    merged: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        merged.update({key: value for key, value in dotenv_values(env_file).items() if value is not None})
    merged.update(environ)
    return merged


def load_from_args(args: argparse.Namespace, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[Settings, Secrets]:
    """Build settings and secrets from the layers; ConfigError (exit 78) on any problem."""
    yaml_text = None
    source = "config file"
    if getattr(args, "config", None):
        path = Path(args.config)
        source = str(path)
        try:
            yaml_text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"config error: cannot read --config {path}: {exc.strerror or exc}; expected a readable YAML file") from None
    env = effective_environment(getattr(args, "env_file", None))
    layered = {section: dict(values) for section, values in (overrides or {}).items()}
    if getattr(args, "db", None):
        layered.setdefault("storage", {})["db_url"] = args.db
    settings = load_settings(yaml_text=yaml_text, yaml_source=source, env=env, overrides=layered or None)
    return settings, secrets_from_env(env)


def secret_values(secrets: Secrets) -> list[str]:
    return [value.get_secret_value() for value in (secrets.api_key, secrets.api_secret) if value is not None]


def fail_config(error: ConfigError) -> int:
    print(str(error), file=sys.stderr)
    return exitcodes.CONFIG


__all__ = ["CommandFailed", "add_config_arguments", "effective_environment", "load_from_args", "secret_values",
           "fail_config", "SECRET_ENV_NAMES"]


def seconds_argument(max_s: float | None = None) -> Callable[[str], float]:
    """An argparse `type` for a number of seconds > 0 (and at most `max_s` when given)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not value > 0 or (max_s is not None and value > max_s):
            expected = "seconds > 0" if max_s is None else f"seconds in (0, {max_s:g}]"
            raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
        return value

    return parse


def open_reader_database(prog: str, settings: Settings, *, missing_exit: int = exitcodes.USAGE,
                         missing_prefix: str = "") -> Database | int:
    """The daemon's database for a reading command (schema must be current; a missing SQLite file is not created),
    or the exit code after one line on stderr: `missing_exit` for a file that does not exist, 1 otherwise."""
    try:
        return open_database(settings.storage.db_url, busy_timeout_ms=settings.storage.sqlite_busy_timeout_ms, migrate=False)
    except DatabaseMissing as error:
        print(f"{prog}: {missing_prefix}{error}", file=sys.stderr)
        return missing_exit
    except StorageError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return exitcodes.FAILED
