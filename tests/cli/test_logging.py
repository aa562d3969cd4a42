"""Logs: console lines, rotating JSON lines, and secrets masked everywhere."""

from __future__ import annotations

import logging
import time

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


def test_redaction_keeps_krakens_error_codes_and_words_replacing_only_secret_values(tmp_path, capsys):
    """Finding: redaction garbled Kraken's error text into `InvalidKey: GetWebSocketsToken: <redacted> key`
    where Kraken said `EAPI:Invalid key`."""
    configure_logging(level="INFO", log_dir=str(tmp_path), max_bytes=1_000_000, backup_count=1, secrets=["k" * 56])
    log = logging.getLogger("krt.test")
    log.warning("level3 token: InvalidKey: GetWebSocketsToken: EAPI:Invalid key")
    log.warning("kraken said EAPI:Invalid nonce; secret key missing; token expired")
    log.warning('subscribe {"token": "WW91IGZvdW5kIGEgdG9rZW4K", "channel": "level3"} with API-Key: %s', "k" * 56)
    for handler in logging.getLogger().handlers:
        handler.flush()
    console = capsys.readouterr().err
    for text in (console, (tmp_path / "kraken-runtime.jsonl").read_text()):
        assert "GetWebSocketsToken: EAPI:Invalid key" in text
        assert "EAPI:Invalid nonce; secret key missing; token expired" in text
        assert "WW91IGZvdW5kIGEgdG9rZW4K" not in text and "k" * 56 not in text
        assert '"token": "<redacted>"' in text or '\\"token\\": \\"<redacted>\\"' in text


def test_an_actor_failure_prints_one_console_line_and_its_traceback_goes_to_the_json_log(tmp_path, capsys):
    """Finding: every injected fault printed a ~12-line pykka traceback on the console."""
    import pykka

    from kraken_runtime.actors.base import ChildLink, FaultBudget, SupervisedActor

    configure_logging(level="INFO", log_dir=str(tmp_path), max_bytes=1_000_000, backup_count=1)

    class Crashing(SupervisedActor):
        def handle(self, message):
            raise RuntimeError("crashed on purpose")

    reports = []
    ref = Crashing.start(link=ChildLink(name="crashing", generation=1, report=reports.append, fault=FaultBudget()))
    ref.tell("go")  # a tell: pykka logs the failure with its traceback and stops the actor
    deadline = time.monotonic() + 5
    while ref.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not ref.is_alive()
    logging.getLogger("kraken_runtime.actors.supervisor").warning("supervisor: crashing failed (message: RuntimeError)")
    try:
        raise ValueError("with a traceback")
    except ValueError:
        logging.getLogger("krt.test").exception("something failed")
    pykka.ActorRegistry.stop_all(block=True, timeout=5)
    for handler in logging.getLogger().handlers:
        handler.flush()
    console = capsys.readouterr().err.splitlines()
    assert not any(line.startswith(("Traceback", "  File")) for line in console), console
    assert [line for line in console if "crashing failed" in line]
    assert [line for line in console if line.endswith("something failed (traceback in the JSON log)")]
    written = [orjson.loads(line) for line in (tmp_path / "kraken-runtime.jsonl").read_text().splitlines()]
    assert any("ValueError: with a traceback" in entry.get("exc", "") for entry in written)
    assert any(entry["logger"].startswith("pykka") and "crashed on purpose" in entry.get("exc", "") for entry in written)
