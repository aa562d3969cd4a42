"""The command line for config and db, run as an operator would: real processes, exit codes, one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from kraken_runtime.storage.migrations import LATEST_VERSION


def krt(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KRT_", "KRAKEN_"))}
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "kraken_runtime", *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=60)


def test_version_and_help(tmp_path):
    assert krt("--version", cwd=tmp_path).stdout.startswith("kraken-runtime ")
    out = krt("--help", cwd=tmp_path)
    assert out.returncode == 0 and "config" in out.stdout and "db" in out.stdout


def test_unknown_subcommand_is_usage_error(tmp_path):
    result = krt("frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_config_check_on_defaults_succeeds(tmp_path):
    result = krt("config", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "mode=paper market=sim" in result.stdout


def test_config_check_with_bad_file_exits_78_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("runtime:\n  mode: yolo\n")
    result = krt("config", "check", "--config", str(bad), cwd=tmp_path)
    assert result.returncode == 78
    assert result.stderr.strip().splitlines() == [
        f"config error: runtime.mode = 'yolo' (from {bad}): expected one of 'paper', 'shadow' or 'live'"
    ]


def test_config_check_with_missing_file_exits_78(tmp_path):
    result = krt("config", "check", "--config", str(tmp_path / "missing.yaml"), cwd=tmp_path)
    assert result.returncode == 78 and "cannot read --config" in result.stderr


def test_config_check_with_bad_environment_exits_78(tmp_path):
    result = krt("config", "check", cwd=tmp_path, env={"KRT_STORAGE__RETENTION_DAYS": "0"})
    assert result.returncode == 78
    assert "storage.retention_days = 0 (from environment KRT_STORAGE__RETENTION_DAYS)" in result.stderr


def test_config_show_redacts_secrets_from_env_file(tmp_path):
    (tmp_path / ".env").write_text("KRAKEN_API_KEY=my-visible-key\nKRAKEN_API_SECRET=c3VwZXJzZWNyZXQ=\nKRT_RUNTIME__MODE=shadow\n")
    result = krt("config", "show", "--db", "postgresql://postgres:hunter22@127.0.0.1:5432/test", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "my-visible-key" not in result.stdout and "c3VwZXJzZWNyZXQ=" not in result.stdout and "hunter22" not in result.stdout
    shown = yaml.safe_load(result.stdout)
    assert shown["runtime"]["mode"] == "shadow"  # .env settings are applied
    assert shown["secrets"] == {"KRAKEN_API_KEY": "<set, redacted>", "KRAKEN_API_SECRET": "<set, redacted>"}
    assert shown["storage"]["db_url"] == "postgresql://postgres:***@127.0.0.1:5432/test"


def test_environment_wins_over_env_file(tmp_path):
    (tmp_path / ".env").write_text("KRT_RUNTIME__MODE=shadow\n")
    result = krt("config", "show", cwd=tmp_path, env={"KRT_RUNTIME__MODE": "live"})
    assert yaml.safe_load(result.stdout)["runtime"]["mode"] == "live"


def test_db_upgrade_then_info_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first = krt("db", "upgrade", "--db", url, cwd=tmp_path)
    assert first.returncode == 0 and f"upgraded from schema version 0 to {LATEST_VERSION}" in first.stdout
    again = krt("db", "upgrade", "--db", url, cwd=tmp_path)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    info = krt("db", "info", "--json", "--db", url, cwd=tmp_path)
    assert orjson.loads(info.stdout)["schema_version"] == LATEST_VERSION


def test_db_info_on_postgres(pg_url, tmp_path):
    assert krt("db", "upgrade", "--db", pg_url, cwd=tmp_path).returncode == 0
    info = krt("db", "info", "--json", "--db", pg_url, cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert orjson.loads(info.stdout)["engine"] == "postgresql"


def test_db_info_when_server_unreachable_is_one_line_and_exit_1(tmp_path):
    result = krt("db", "info", "--db", "postgresql://postgres@127.0.0.1:1/test", cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "127.0.0.1" in result.stderr


@pytest.mark.parametrize("args, expected", [
    (("run", "--duration", "0"), "argument --duration: '0': expected seconds > 0"),
    (("record", "--symbols", "BTC/USD", "--out", "x.jsonl", "--duration", "soon"), "'soon' is not a number of seconds"),
    (("ctl", "--timeout", "4000", "status"), "argument --timeout: '4000': expected seconds in (0, 3600]"),
])
def test_bad_seconds_are_usage_errors_with_one_line(tmp_path, args, expected):
    result = krt(*args, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert expected in line


@pytest.mark.parametrize(
    ("args", "exit_code", "prefix"),
    [
        (("explain", "--db", "12"), 2, "explain: "),
        (("snapshot", "--db"), 2, "snapshot: "),
        (("db", "info", "--db"), 2, "db info: "),
        (("ctl", "--db", "status"), 3, "ctl: no daemon answering: "),
    ],
)
def test_readers_on_a_missing_sqlite_file_say_so_and_create_nothing(tmp_path, args, exit_code, prefix):
    missing = tmp_path / "nowhere" / "krt.db"
    at = args.index("--db") + 1  # each command's own place for --db
    result = krt(*args[:at], f"sqlite:///{missing}", *args[at:], cwd=tmp_path)
    assert result.returncode == exit_code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"{prefix}database sqlite:///{missing} does not exist; expected the daemon's --db "
                     "(has 'kraken-runtime run' started?)"]
    assert not missing.parent.exists()
