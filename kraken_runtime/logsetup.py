"""Logging: human-readable lines on the console, JSON lines to logs/ with size-based rotation.

Secrets never reach a log: every record passes a filter that replaces the configured secret values
(and the value of an API-Sign / API-Key / token / secret / password assignment) with a fixed mask. Only
values are replaced, never words: Kraken's error text (`EAPI:Invalid key`) and names that merely contain
"token" (`GetWebSocketsToken`) survive.

The console gets one line per record: a traceback goes to the JSON log only (the console line says so), and
pykka's own "Unhandled exception" report of an actor failure is left to the JSON log, because the
supervisor prints the failure's one line itself.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import time
from pathlib import Path
from typing import Iterable

import orjson

MASK = "<redacted>"
# A key standing alone (not the end of a longer name), then ':' or '=', then a value of 8+ secret-like characters.
_SIGN_RE = re.compile(r"(?i)(?<![A-Za-z0-9_])(api-sign|api-key|token|secret|password)([\"']?\s*[:=]\s*[\"']?)"
                      r"([A-Za-z0-9+/=_\-.~]{8,})")


class RedactSecrets(logging.Filter):
    """Replace secret values in the rendered message (and args) of every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(value for value in secrets if value and len(value) >= 4)

    def redact(self, text: str) -> str:
        for value in self._secrets:
            text = text.replace(value, MASK)
        return _SIGN_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "msg": record.getMessage(),
        }
        if record.exc_text:
            entry["exc"] = record.exc_text
        elif record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class ConsoleFormatter(logging.Formatter):
    """One line per record: a traceback is left to the JSON log, and the line says so."""

    def __init__(self) -> None:
        super().__init__("%(asctime)sZ %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
        self.converter = time.gmtime  # UTC

    def format(self, record: logging.LogRecord) -> str:
        exc_info, exc_text, stack_info = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None  # this handler's view only
        try:
            line = super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = exc_info, exc_text, stack_info
        return line + (" (traceback in the JSON log)" if exc_info or exc_text else "")


class DropActorCrashReports(logging.Filter):
    """pykka logs every actor failure with its traceback; the supervisor prints the failure's one line, so the
    console leaves pykka's report to the JSON log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("pykka") and record.levelno >= logging.ERROR)


def configure_logging(*, level: str, log_dir: str | None, max_bytes: int, backup_count: int, secrets: Iterable[str] = (),
                      json_name: str = "kraken-runtime.jsonl") -> None:
    """Set up the root logger once per process (replacing earlier handlers)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    redact = RedactSecrets(secrets)
    console = logging.StreamHandler()
    console.setFormatter(ConsoleFormatter())
    console.addFilter(redact)
    console.addFilter(DropActorCrashReports())
    root.addHandler(console)
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            Path(log_dir) / json_name, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
        )
        rotating.setFormatter(JsonLineFormatter())
        rotating.addFilter(redact)
        root.addHandler(rotating)
    root.setLevel(level)
    for noisy in ("websockets", "urllib3", "peewee", "pykka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
