"""Logs: console lines, rotating JSON lines, and secrets masked everywhere."""

from __future__ import annotations

import logging

import orjson
import pytest

from kraken_runtime.logsetup import MASK, configure_logging


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def test_secrets_never_reach_console_or_json_log(tmp_path, capsys):
    secret = "c3VwZXJzZWNyZXRrZXlieXRlcw=="
    configure_logging(level="INFO", log_dir=str(tmp_path), max_bytes=1_000_000, backup_count=1, secrets=["my-api-key-123", secret])
    log = logging.getLogger("krt.test")
    log.info("signing with %s for key my-api-key-123", secret)
    log.info("headers API-Sign: abcdefgh token=WW91IGZvdW5k")
    try:
        raise RuntimeError(f"boom {secret}")
    except RuntimeError:
        log.exception("failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    console = capsys.readouterr().err
    written = (tmp_path / "kraken-runtime.jsonl").read_text()
    for text in (console, written):
        assert secret not in text and "my-api-key-123" not in text
        assert "abcdefgh" not in text and "WW91IGZvdW5k" not in text
        assert MASK in text
    lines = [orjson.loads(line) for line in written.splitlines()]
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "krt.test"
    assert "boom" in lines[2]["exc"]


def test_json_log_rotates_by_size(tmp_path):
    configure_logging(level="INFO", log_dir=str(tmp_path), max_bytes=4096, backup_count=2)
    log = logging.getLogger("krt.rotate")
    for n in range(200):
        log.info("line %d %s", n, "x" * 80)
    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == ["kraken-runtime.jsonl", "kraken-runtime.jsonl.1", "kraken-runtime.jsonl.2"]
